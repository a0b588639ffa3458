"""A stored document's translations: its family, found in the store when asked.

Each document keeps only the links it declared (``translation_of``, ``alternates``); the
family is worked out here at read time (corpus/translations.py says when two documents are
linked), so the order of ingest does not matter and a removed member simply drops out.
"""

from __future__ import annotations

import json

from corpus.store import Store
from corpus.translations import Links, linked, url_key, url_variants

# A family is a bulletin's versions: a handful at most. The walk stops there, so a site whose
# every page names every other as an alternate cannot make one answer read the whole store.
MAX_FAMILY = 8

_COLUMNS = "doc_id, title, url, language, translation_of, alternates"


def _links(row: tuple) -> Links:
    return Links(doc_id=row[0], title=row[1], url=row[2], language=row[3], translation_of=row[4],
                 alternates=tuple(json.loads(row[5] or "[]")))


def links_of(store: Store, doc_id: str) -> Links | None:
    rows = store.execute(f"SELECT {_COLUMNS} FROM documents WHERE doc_id=?", (doc_id,))
    return _links(rows[0]) if rows else None


def _candidates(store: Store, doc: Links) -> list[Links]:
    """Documents that may be linked with ``doc`` (then checked with ``linked``)."""
    names = [doc.doc_id, *url_variants(doc.url)]
    wanted = [doc.translation_of] if doc.translation_of else []
    wanted += url_variants(doc.translation_of) + [v for u in doc.alternates for v in url_variants(u)]
    rows: list[tuple] = []
    for i in range(0, len(names), 200):
        chunk = names[i : i + 200]
        marks = ",".join("?" * len(chunk))
        rows += store.execute(f"SELECT {_COLUMNS} FROM documents WHERE translation_of IN ({marks})", chunk)
    for i in range(0, len(wanted), 200):
        chunk = wanted[i : i + 200]
        marks = ",".join("?" * len(chunk))
        rows += store.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE doc_id IN ({marks}) OR url IN ({marks})", chunk + chunk)
    # Alternates are a JSON list per page: those naming this page's URL (any spelling).
    own = url_key(doc.url)
    if own:
        rows += store.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE alternates != '[]' AND instr(lower(alternates), ?) > 0",
            (own.lower(),))
    paths = url_variants(doc.url)
    for i in range(0, len(paths), 200):
        chunk = paths[i : i + 200]
        marks = ",".join("?" * len(chunk))
        rows += store.execute(f"SELECT {_COLUMNS} FROM documents WHERE url IN ({marks})", chunk)
    seen: dict[str, Links] = {}
    for row in rows:
        seen.setdefault(row[0], _links(row))
    return list(seen.values())


def family(store: Store, doc_id: str) -> list[Links]:
    """The other stored versions of ``doc_id`` (not itself), in the order they were found;
    [] when it has none or is not stored."""
    start = links_of(store, doc_id)
    if start is None:
        return []
    members: dict[str, Links] = {doc_id: start}
    queue = [start]
    while queue and len(members) < MAX_FAMILY:
        current = queue.pop(0)
        for other in _candidates(store, current):
            if other.doc_id not in members and linked(current, other):
                members[other.doc_id] = other
                queue.append(other)
                if len(members) >= MAX_FAMILY:
                    break
    return [m for d, m in members.items() if d != doc_id]


def translations(store: Store, doc_id: str) -> dict[str, Links]:
    """``language -> document`` of ``doc_id``'s versions in other languages than its own
    (the first found for each language)."""
    own = links_of(store, doc_id)
    out: dict[str, Links] = {}
    for member in family(store, doc_id):
        if member.language and member.language != (own.language if own else None):
            out.setdefault(member.language, member)
    return out
