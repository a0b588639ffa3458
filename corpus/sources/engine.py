"""One pass over one followed source: list it, fetch what changed, store it, drop what left.

Crash-safe by construction: each item's documents are stored in one transaction and its
state in the next, keyed by the item (a URL, a path) and by doc ids derived from it. A pass
killed anywhere leaves items either done or not; the next pass redoes the ones not recorded
(the store's content hash says "unchanged" for a document stored just before the kill), so
nothing is lost or stored twice. The kind's own state (a feed's ETag, WordPress's
high-water mark) advances only after a pass that finished every item.

Embedding is not done here (the corpus room knows no encoder): the caller publishes the index
after the pass, as an ingest does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.chunk import ChunkerSettings, chunk_document
from corpus.errors import ReadError
from corpus.load import load_source
from corpus.metadata import derive_doc_id
from corpus.sources import feed, folder, pattern, sitemap, state, wordpress
from corpus.sources.errors import SourceError
from corpus.sources.http import Client, Validators
from corpus.sources.model import Entry, Listing
from corpus.sources.reading import read_bytes
from corpus.sources.settings import SyncSettings
from corpus.store import Store
from corpus.types import Document, ReaderSettings

log = logging.getLogger(__name__)
GONE = (404, 410)


@dataclass
class PassResult:
    added: list[str] = field(default_factory=list)  # doc ids
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    requests: int = 0
    error: str | None = None  # one line
    failed: list[str] = field(default_factory=list)  # one line per item that could not be read
    notes: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    downloads: int = 0  # article bodies fetched or read this pass
    waiting: int = 0  # entries left for the next pass (max_items_per_pass)


class Engine:
    def __init__(self, store: Store, reader: ReaderSettings, settings: SyncSettings,
                 chunker: ChunkerSettings, chunker_key: str,
                 lock: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
                 sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.store = store
        self.reader = reader
        self.settings = settings
        self.chunker = chunker
        self.chunker_key = chunker_key
        self.lock = lock  # held around each write, so answers and other writers interleave
        self.sleep = sleep  # injected in tests: the pacing is counted, not waited for
        self.clock = clock

    def client(self) -> Client:
        extra: dict[str, Any] = {}
        if self.sleep is not None:
            extra["sleep"] = self.sleep
        if self.clock is not None:
            extra["clock"] = self.clock
        return Client(self.reader, self.settings, **extra)

    def listing(self, client: Client, row: state.SourceRow, known: dict[str, state.ItemState]) -> Listing:
        spec = row.spec
        if spec.kind == "folder":
            return folder.listing(spec)
        if spec.kind == "feed":
            return feed.listing(client, spec, row.state)
        if spec.kind == "wordpress":
            return wordpress.listing(client, spec, row.state)
        if spec.kind == "sitemap":
            return sitemap.listing(client, spec, row.state)
        if spec.kind == "pattern":
            return pattern.listing(client, spec, row.state, known, self.settings)
        raise SourceError(f"unknown kind {spec.kind!r}")

    def run(self, row: state.SourceRow, dry_run: bool = False,
            on_progress: Callable[[str], None] | None = None,
            client: Client | None = None) -> PassResult:
        """One pass; never raises for bad input upstream (the result's ``error`` says it).

        ``client``: one shared by the passes of a run, so that two sources on one host are
        paced together and read its robots.txt once."""
        result = PassResult()
        client = client or self.client()
        first_request = client.requests
        known = state.items(self.store, row.spec.id)
        try:
            listing = self.listing(client, row, known)
            if listing.complete and not listing.entries and known:
                # A site mid-migration or a broken plugin answers an empty list: that is not
                # "everything was deleted", so nothing is removed on its word.
                raise SourceError(f"{row.spec.url} listed no items, where {len(known)} were "
                                  "known; nothing was removed (check the site; `unfollow "
                                  "--remove-documents` if it really is empty)")
        except (SourceError, ReadError) as err:
            result.error = _one_line(str(err))
            result.requests = client.requests - first_request
            if not dry_run:  # `follows` shows the error; the next try waits for the interval
                state.finish_pass(self.store, row.spec.id, state=row.state, changed=False,
                                  error=result.error, every_s=row.every_s)
            return result
        result.notes += listing.notes
        if listing.not_modified:
            result.unchanged = len(known)
        listed: set[str] = set()
        gone = set(listing.gone)
        for n, entry in enumerate(listing.entries, start=1):
            if entry.key in listed:
                continue  # listed twice (a sitemap and its index both name it)
            listed.add(entry.key)
            if on_progress and n % 50 == 0:
                on_progress(f"{row.spec.url}: {n}/{len(listing.entries)} entries")
            try:
                if self._entry(client, row, entry, known.get(entry.key), result, dry_run):
                    gone.add(entry.key)
            except ReadError as err:
                result.failed.append(_one_line(str(err)))
        if result.waiting:
            result.notes.append(f"{result.waiting} entries wait for the next pass "
                                f"(max_items_per_pass = {self.settings.max_items_per_pass})")
        self._departures(row, listing, listed, gone, known, result, dry_run)
        if result.failed:
            result.error = (f"{len(result.failed)} items could not be read; first: "
                            f"{result.failed[0]}")
        result.requests = client.requests - first_request
        if not dry_run:
            # The kind's state (feed ETag, WordPress high-water mark) advances only after a
            # pass that finished everything, so nothing listed is skipped next time.
            complete = not result.failed and not result.waiting
            listing_state = listing.state if complete and listing.state else row.state
            changed = bool(result.added or result.changed or result.removed)
            state.finish_pass(self.store, row.spec.id, state=listing_state, changed=changed,
                              error=result.error,
                              every_s=row.every_s)
        return result

    # -- one entry ---------------------------------------------------------------------------

    def _entry(self, client: Client, row: state.SourceRow, entry: Entry,
               item: state.ItemState | None, result: PassResult, dry_run: bool) -> bool:
        """Bring one listed item up to date; True when the server says it is gone."""
        known = item is not None and bool(item.content_hash) and bool(item.doc_ids)
        if known and (entry.not_modified or (entry.lastmod and entry.lastmod == item.lastmod)):
            result.unchanged += 1
            self._seen(row, item, entry, dry_run)
            return False
        if result.downloads >= self.settings.max_items_per_pass:
            result.waiting += 1
            return False
        crawled = row.spec.kind in ("sitemap", "pattern")
        if crawled and entry.body is None and not client.allowed(entry.url):
            result.notes.append(f"robots.txt disallows {entry.url}; skipped")
            return False
        result.downloads += 1
        data, fmt, validators = self._download(client, row, entry, item if known else None)
        if data is None:
            if validators == "gone":
                return True
            result.unchanged += 1  # 304: not modified
            self._seen(row, item, entry, dry_run)
            return False
        digest = hashlib.sha256(data).hexdigest()
        assert isinstance(validators, Validators)
        new_item = state.ItemState(
            key=entry.key, url=entry.url, etag=validators.etag,
            last_modified=validators.last_modified, lastmod=entry.lastmod, content_hash=digest,
            doc_ids=list(item.doc_ids) if item else [], seen_at=state.now_iso())
        if known and item.content_hash == digest:
            result.unchanged += 1
            if not dry_run:
                state.save_item(self.store, row.spec.id, new_item)
            return False
        if dry_run:
            if known:
                result.changed += item.doc_ids
            else:
                result.added.append(derive_doc_id(entry.url))
            return False
        documents = self._read(row, entry, data, fmt)
        stored: list[str] = []
        with self.lock():
            for document in documents:
                passages = chunk_document(document, self.chunker)
                if not passages:
                    raise ReadError(entry.url, "no text to index after cleaning")
                outcome = self.store.upsert(document, passages, self.chunker_key)
                stored.append(document.doc_id)
                result.titles[document.doc_id] = document.title
                if outcome == "added":
                    result.added.append(document.doc_id)
                elif outcome == "updated":
                    result.changed.append(document.doc_id)
                else:
                    result.unchanged += 1
            for old in set(new_item.doc_ids) - set(stored):  # the page now splits otherwise
                self._remove_document(row.spec.id, entry.key, old, result)
            new_item.doc_ids = stored
            state.save_item(self.store, row.spec.id, new_item)
        return False

    def _download(self, client: Client, row: state.SourceRow, entry: Entry,
                  item: state.ItemState | None) -> tuple[bytes | None, str, Validators | str | None]:
        """(bytes, format, validators); (None, "", None) for not modified, (None, "", "gone")."""
        if entry.body is not None:
            return entry.body, entry.body_format, Validators(entry.etag, entry.last_modified)
        if row.spec.kind == "folder":
            path = Path(entry.url)
            try:
                size = path.stat().st_size
                if size > self.reader.max_file_bytes:
                    raise ReadError(entry.url, f"the file is over max_file_bytes = "
                                               f"{self.reader.max_file_bytes:,}")
                return path.read_bytes(), "", Validators()
            except FileNotFoundError:
                return None, "", "gone"
            except OSError as err:
                raise ReadError(entry.url, f"could not be read ({err.strerror or err})") from err
        asked = Validators(item.etag, item.last_modified) if item is not None else None
        fetched = client.get(entry.url, asked)
        if fetched.status == 304 and item is not None:
            return None, "", None
        if fetched.status in GONE:
            return None, "", "gone"
        if fetched.status != 200:
            raise ReadError(entry.url, f"the server answered {fetched.status}")
        return fetched.data, fetched.format or "html", Validators(fetched.etag, fetched.last_modified)

    def _read(self, row: state.SourceRow, entry: Entry, data: bytes, fmt: str) -> list[Document]:
        spec = row.spec
        meta = dict(entry.meta)
        tags = list(dict.fromkeys([*spec.tags, *(meta.get("tags") or [])]))
        meta.update(tags=tags or None, publication=spec.publication or meta.get("publication"),
                    language=spec.language or meta.get("language"))
        if spec.kind == "folder":
            overrides = {k: v for k, v in meta.items() if v}
            return load_source(entry.url, self.reader, overrides or None)
        # A sitemap's <lastmod> dates a page that states no date of its own (nor htmldate
        # finds one): an edit date is closer than none for /latest and date filters.
        fallback = _day(entry.lastmod) if spec.kind == "sitemap" else None
        return read_bytes(data, fmt, entry.url, derive_doc_id(entry.url), self.reader, meta,
                          fallback_date=fallback)

    def _seen(self, row: state.SourceRow, item: state.ItemState | None, entry: Entry,
              dry_run: bool) -> None:
        """An unchanged item listed again: only a pending grace period needs writing."""
        if item is not None and item.missing_since and not dry_run:
            item.missing_since = None
            item.lastmod = entry.lastmod or item.lastmod
            state.save_item(self.store, row.spec.id, item)

    # -- items that left --------------------------------------------------------------------

    def _departures(self, row: state.SourceRow, listing: Listing, listed: set[str], gone: set[str],
                    known: dict[str, state.ItemState], result: PassResult, dry_run: bool) -> None:
        now = dt.datetime.now(dt.UTC)
        grace = dt.timedelta(days=self.settings.grace_days)
        for key, item in known.items():
            if key in listed and key not in gone:
                continue
            missing = (key in gone or listing.complete
                       or (listing.window is not None and item.lastmod is not None
                           and item.lastmod >= listing.window))
            if not missing:
                continue
            since = dt.datetime.fromisoformat(item.missing_since) if item.missing_since else now
            if row.spec.keep_removed or now - since < grace:
                if not item.missing_since and not dry_run:
                    item.missing_since = state.now_iso(now)
                    state.save_item(self.store, row.spec.id, item)
                continue
            if dry_run:
                result.removed += item.doc_ids
                continue
            with self.lock():
                held = [d for d in item.doc_ids
                        if not self._remove_document(row.spec.id, key, d, result)]
                if held:
                    # Another source still follows these: keep the item (missing), so that
                    # its documents go once nobody else holds them, rather than never.
                    if not item.missing_since:
                        item.missing_since = state.now_iso(now)
                    state.save_item(self.store, row.spec.id, item)
                else:
                    state.delete_item(self.store, row.spec.id, key)

    def _remove_document(self, source_id: int, key: str, doc_id: str, result: PassResult) -> bool:
        """Remove ``doc_id`` unless another followed item holds it (then False)."""
        if state.doc_shared(self.store, doc_id, source_id, key):
            return False
        if self.store.remove(doc_id):
            result.removed.append(doc_id)
        return True


def _day(stamp: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(stamp[:10]) if stamp else None
    except ValueError:
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]
