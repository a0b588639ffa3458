"""Translations as one document family: which stored documents are versions of each other.

A bulletin published in two languages is stored as two documents. They are one family when

* one names the other in ``translation_of`` (its doc id or its URL: front matter, the
  ``.meta.toml`` sidecar, ``steward ingest --translation-of``, ``/admin add``);
* one page lists the other's URL as ``<link rel="alternate" hreflang=…>`` (often only the
  English page does, so the link is known from one side only);
* their URLs differ only by a leading language segment (``https://x.org/es/foo/`` and
  ``https://x.org/foo/``) and their languages differ.

Links are kept as each document declares them and the family is worked out when asked, so
either member may be ingested first, and removing one leaves the other alone, unlinked.
These are pure functions; ``corpus.store_translations`` finds the candidates in the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from corpus.language import normalize_language

# Language segments recognised at the start of a URL's path ("/es/", "/es-mx/", "/en/"): the
# languages Steward speaks. Any two-letter segment would also take "/us/" or "/go/" for one.
PATH_LANGUAGES = frozenset(("es", "en"))
_SEGMENT = re.compile(r"/(?P<seg>[A-Za-z]{2}(?:[-_][A-Za-z0-9]{2,4})?)(?=/|$)")


@dataclass(frozen=True)
class Links:
    """What a stored document says about its translations (and what they are matched on)."""

    doc_id: str
    title: str = ""
    url: str | None = None
    language: str | None = None
    translation_of: str | None = None
    alternates: tuple[str, ...] = ()


def url_key(url: str | None) -> str | None:
    """A URL as compared for translations: no scheme, host in lower case, no fragment, no
    trailing slash ("https://X.org/es/foo/" and "http://x.org/es/foo" are one page)."""
    if not url or not re.match(r"https?://", url, re.I):
        return None
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{(parts.hostname or '').lower()}{f':{parts.port}' if parts.port else ''}{path}{query}"


def path_language(url: str | None) -> tuple[str | None, str | None]:
    """(the language its path's first segment names, the key of the URL without it);
    (None, the URL's key) when the path starts with no language segment."""
    key = url_key(url)
    if key is None:
        return None, None
    host, _, rest = key.partition("/")
    path = "/" + rest
    m = _SEGMENT.match(path)
    code = normalize_language(m.group("seg")) if m else None
    if m is None or code not in PATH_LANGUAGES:
        return None, key
    return code, host + path[m.end() :]


def _neutral(url: str | None) -> str | None:
    return path_language(url)[1]


def _names(links: Links) -> set[str]:
    """What another document may call this one by: its doc id and its URL."""
    names = {links.doc_id}
    if key := url_key(links.url):
        names.add(key)
    return names


def _refers_to(a: Links, b: Links) -> bool:
    """``a`` names ``b`` as what it translates, or as one of its alternates."""
    names = _names(b)
    if a.translation_of and (a.translation_of in names or url_key(a.translation_of) in names):
        return True
    return any(url_key(u) in names for u in a.alternates)


def _path_pair(a: Links, b: Links) -> bool:
    """``/es/foo`` and ``/foo`` on one site, in two languages."""
    lang_a, rest_a = path_language(a.url)
    lang_b, rest_b = path_language(b.url)
    if rest_a is None or rest_a != rest_b or lang_a == lang_b:
        return False
    # One page in one language served at two addresses is not a translation.
    return not (a.language and b.language and a.language == b.language)


def linked(a: Links, b: Links) -> bool:
    """True when ``a`` and ``b`` are translations of each other (see the module docstring)."""
    if a.doc_id == b.doc_id:
        return False
    return _refers_to(a, b) or _refers_to(b, a) or _path_pair(a, b)


def url_variants(url: str | None) -> list[str]:
    """The spellings a stored URL may have for the page ``url`` names: either scheme, with
    or without the trailing slash; with and without a language segment (for path pairs)."""
    key = url_key(url)
    if key is None:
        return []
    _, neutral = path_language(url)
    keys = {key}
    if neutral is not None:
        host, _, rest = neutral.partition("/")
        keys |= {neutral} | {f"{host}/{code}" + (f"/{rest}" if rest else "") for code in PATH_LANGUAGES}
    out: list[str] = []
    for k in sorted(keys):
        for scheme in ("https://", "http://"):
            out += [scheme + k, scheme + k + "/"]
    return out
