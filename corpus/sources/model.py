"""What every kind of source hands the sync engine: a listing of entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("wordpress", "feed", "sitemap", "pattern", "folder")


@dataclass(frozen=True)
class SourceSpec:
    """A followed source as the engine needs it (bot/sync.py adds the bookkeeping)."""

    id: int
    url: str
    kind: str
    publication: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None
    match: str | None = None
    keep_removed: bool = False


@dataclass
class Entry:
    """One item upstream: an article URL (or a file) and what the listing says about it."""

    key: str  # stable identity within the source (the article's URL, the file's path)
    url: str  # where to fetch it (a path for folders)
    lastmod: str | None = None  # the listing's change marker; equal to the stored one = unchanged
    meta: dict[str, Any] = field(default_factory=dict)  # title, author, date, tags, url, language
    body: bytes | None = None  # the listing carried the article itself (WordPress content)
    body_format: str = "html"
    # The listing fetched the item already (numbered pages): its validators, or a 304.
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


@dataclass
class Listing:
    entries: list[Entry] = field(default_factory=list)
    # Every item that exists upstream is listed, so one not listed has disappeared. When only
    # part is listed (a feed's latest entries), ``window`` is the oldest date the listing
    # covers: a known item dated on or after it and not listed has disappeared too.
    complete: bool = False
    window: str | None = None
    gone: list[str] = field(default_factory=list)  # keys the server answered 404/410 for
    not_modified: bool = False  # the listing answered 304: every known item is unchanged
    notes: list[str] = field(default_factory=list)  # one line each, shown with the result
    state: dict[str, Any] = field(default_factory=dict)  # the kind's own state, saved after the pass
