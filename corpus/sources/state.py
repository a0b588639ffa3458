"""Followed sources and their items in the SQLite store (tables of migration
``0020-followed-sources``).

``follow_sources``: one row per source (its settings, the kind's own state as JSON, and the
last pass's times and error). ``follow_items``: one row per item upstream, with what makes
the next pass cheap: the server's ETag and Last-Modified (conditional GET), the listing's
lastmod, the hash of the bytes last read, and the documents they became. ``missing_since``
starts the grace period of an item that disappeared upstream.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from corpus.sources.errors import SourceError
from corpus.sources.model import SourceSpec
from corpus.store import Store

_SOURCE_COLUMNS = ("id, url, kind, every_s, publication, tags, language, match, keep_removed,"
                   " state, created_at, last_check, last_change, last_error, next_due")


def now_iso(clock: dt.datetime | None = None) -> str:
    return (clock or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat()


@dataclass
class SourceRow:
    spec: SourceSpec
    every_s: int
    state: dict[str, Any]
    created_at: str
    last_check: str | None
    last_change: str | None
    last_error: str | None
    next_due: str | None
    documents: int = 0


@dataclass
class ItemState:
    key: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    lastmod: str | None = None
    content_hash: str | None = None
    doc_ids: list[str] = field(default_factory=list)
    seen_at: str | None = None
    missing_since: str | None = None


def _row(r: tuple, documents: int) -> SourceRow:
    spec = SourceSpec(id=r[0], url=r[1], kind=r[2], publication=r[4], tags=tuple(json.loads(r[5])),
                      language=r[6], match=r[7], keep_removed=bool(r[8]))
    return SourceRow(spec=spec, every_s=r[3], state=json.loads(r[9]), created_at=r[10],
                     last_check=r[11], last_change=r[12], last_error=r[13], next_due=r[14],
                     documents=documents)


def _documents(store: Store, source_id: int) -> int:
    rows = store.execute("SELECT COALESCE(SUM(json_array_length(doc_ids)), 0) FROM follow_items"
                         " WHERE source_id=?", (source_id,))
    return int(rows[0][0])


def add_source(store: Store, spec: SourceSpec, every_s: int, state: dict[str, Any]) -> SourceRow:
    """Record a new source (its id is chosen here); SourceError if its URL is followed already."""
    if store.execute("SELECT id FROM follow_sources WHERE url=?", (spec.url,)):
        raise SourceError(f"{spec.url} is followed already; `follows` lists it "
                          "(unfollow it first to change how it is followed)")
    now = now_iso()
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO follow_sources(url, kind, every_s, publication, tags, language, match,"
            " keep_removed, state, created_at, next_due) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
            (spec.url, spec.kind, every_s, spec.publication, json.dumps(list(spec.tags)),
             spec.language, spec.match, int(spec.keep_removed), json.dumps(state), now, now))
        new_id = int(cursor.lastrowid or 0)
    found = get_source(store, str(new_id))
    assert found is not None
    return found


def sources(store: Store) -> list[SourceRow]:
    rows = store.execute(f"SELECT {_SOURCE_COLUMNS} FROM follow_sources ORDER BY id")
    return [_row(r, _documents(store, r[0])) for r in rows]


def get_source(store: Store, ref: str) -> SourceRow | None:
    """A source by its id ("3") or its URL as followed."""
    ref = ref.strip()
    if ref.isdigit():
        rows = store.execute(f"SELECT {_SOURCE_COLUMNS} FROM follow_sources WHERE id=?", (int(ref),))
    else:
        bare = ref.rstrip("/")  # with or without the trailing slash it was followed with
        rows = store.execute(f"SELECT {_SOURCE_COLUMNS} FROM follow_sources WHERE url IN (?,?,?)",
                             (ref, bare, bare + "/"))
    return _row(rows[0], _documents(store, rows[0][0])) if rows else None


def delete_source(store: Store, source_id: int) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM follow_items WHERE source_id=?", (source_id,))
        conn.execute("DELETE FROM follow_sources WHERE id=?", (source_id,))


def finish_pass(store: Store, source_id: int, *, state: dict[str, Any], changed: bool,
                error: str | None, every_s: int) -> None:
    """Record a pass: when it ran, whether anything changed, its error, when the next is due."""
    now = dt.datetime.now(dt.UTC)
    with store.transaction() as conn:
        conn.execute(
            "UPDATE follow_sources SET state=?, last_check=?, last_error=?, next_due=?,"
            " last_change=CASE WHEN ? THEN ? ELSE last_change END WHERE id=?",
            (json.dumps(state), now_iso(now), error,
             now_iso(now + dt.timedelta(seconds=every_s)), int(changed), now_iso(now), source_id))


def items(store: Store, source_id: int) -> dict[str, ItemState]:
    rows = store.execute(
        "SELECT key, url, etag, last_modified, lastmod, content_hash, doc_ids, seen_at,"
        " missing_since FROM follow_items WHERE source_id=?", (source_id,))
    return {r[0]: ItemState(key=r[0], url=r[1], etag=r[2], last_modified=r[3], lastmod=r[4],
                            content_hash=r[5], doc_ids=json.loads(r[6]), seen_at=r[7],
                            missing_since=r[8]) for r in rows}


def save_item(store: Store, source_id: int, item: ItemState) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO follow_items(source_id, key, url, etag, last_modified, lastmod,"
            " content_hash, doc_ids, seen_at, missing_since) VALUES(?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(source_id, key) DO UPDATE SET url=excluded.url, etag=excluded.etag,"
            " last_modified=excluded.last_modified, lastmod=excluded.lastmod,"
            " content_hash=excluded.content_hash, doc_ids=excluded.doc_ids,"
            " seen_at=excluded.seen_at, missing_since=excluded.missing_since",
            (source_id, item.key, item.url, item.etag, item.last_modified, item.lastmod,
             item.content_hash, json.dumps(item.doc_ids), item.seen_at, item.missing_since))


def delete_item(store: Store, source_id: int, key: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM follow_items WHERE source_id=? AND key=?", (source_id, key))


def doc_shared(store: Store, doc_id: str, source_id: int, key: str) -> bool:
    """Whether another item (of any source) also became ``doc_id``: then it is not removed."""
    rows = store.execute(
        "SELECT 1 FROM follow_items i, json_each(i.doc_ids) d WHERE d.value=?"
        " AND NOT (i.source_id=? AND i.key=?) LIMIT 1", (doc_id, source_id, key))
    return bool(rows)
