"""Followed sources for the bot and the CLI: follow, unfollow, list, and sync them.

The corpus room (``corpus.sources``) lists each source, fetches what changed and stores it;
this module adds what only the bot has: the encoder. A pass that changed something publishes
a new index generation exactly as an ingest does (atomic swap, only new or changed passages
embedded), so answers keep coming from the previous generation meanwhile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import metrics
from corpus.language import normalize_language
from corpus.sources import detect, state
from corpus.sources.engine import Engine, PassResult
from corpus.sources.errors import SourceError
from corpus.sources.http import Client
from corpus.sources.interval import format_interval, parse_interval
from corpus.sources.model import KINDS, SourceSpec

if TYPE_CHECKING:
    from bot.app import Steward

log = logging.getLogger(__name__)
DUE_SLACK_S = 900  # see Sync.due


class SyncError(ValueError):
    """A bad URL, kind or interval, a source already followed or unknown: one line saying
    what to do."""


@dataclass(frozen=True)
class FollowedSource:
    id: int
    url: str
    kind: str
    every: str  # e.g. "6h"
    publication: str | None
    tags: tuple[str, ...]
    language: str | None
    match: str | None
    keep_removed: bool
    documents: int
    last_check: str | None  # ISO UTC
    last_change: str | None
    last_error: str | None
    next_due: str | None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "url": self.url, "kind": self.kind, "every": self.every,
                "publication": self.publication, "tags": list(self.tags),
                "language": self.language, "match": self.match,
                "keep_removed": self.keep_removed, "documents": self.documents,
                "last_check": self.last_check, "last_change": self.last_change,
                "last_error": self.last_error, "next_due": self.next_due}


def _is_due(row: state.SourceRow, now: dt.datetime) -> bool:
    slack = dt.timedelta(seconds=min(row.every_s / 10, DUE_SLACK_S))  # see Sync.due
    return row.next_due is None or dt.datetime.fromisoformat(row.next_due) <= now + slack


def _followed(row: state.SourceRow) -> FollowedSource:
    spec = row.spec
    return FollowedSource(
        id=spec.id, url=spec.url, kind=spec.kind, every=format_interval(row.every_s),
        publication=spec.publication, tags=spec.tags, language=spec.language, match=spec.match,
        keep_removed=spec.keep_removed, documents=row.documents, last_check=row.last_check,
        last_change=row.last_change, last_error=row.last_error, next_due=row.next_due)


@dataclass
class SyncOutcome:
    source: FollowedSource
    added: list[str] = field(default_factory=list)  # doc ids
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # doc id -> title (added/changed)
    unchanged: int = 0
    requests: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    downloads: int = 0  # article bodies fetched or read (0 on a pass where nothing changed)
    encoded: int = 0  # passages embedded for the new generation

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        line = (f"{self.source.url} ({self.source.kind}): {len(self.added)} {would}added, "
                f"{len(self.changed)} {would}changed, {len(self.removed)} {would}removed, "
                f"{self.unchanged} unchanged, {self.requests} requests")
        if self.error:
            line += f"; error: {self.error}"
        return line


class Sync:
    """The followed sources of one Steward (its store and index)."""

    def __init__(self, steward: Steward, *, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.steward = steward
        self.store = steward.store
        self.settings = steward.config.sync_settings()
        # Injected in tests, to count the pacing without waiting for it.
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._one_pass = threading.Lock()  # one source at a time, whoever asks

    # -- the list --------------------------------------------------------------------------

    def sources(self) -> list[FollowedSource]:
        return [_followed(row) for row in state.sources(self.store)]

    def get(self, ref: str) -> FollowedSource | None:
        row = state.get_source(self.store, str(ref))
        return _followed(row) if row else None

    def due(self, now: dt.datetime | None = None) -> list[FollowedSource]:
        """Sources whose next pass is due at ``now`` (a new one is due at once), by id.

        A source is due a little early (a tenth of its interval, at most 15 minutes): an
        hourly timer with a random delay, or a pass that took a while, would otherwise miss
        it by minutes and sync a 6h source every 7h."""
        now = now or dt.datetime.now(dt.UTC)
        return [_followed(row) for row in state.sources(self.store) if _is_due(row, now)]

    def follow(self, url: str, kind: str = "auto", every: str | None = None,
               publication: str | None = None, tags: Sequence[str] = (),
               language: str | None = None, match: str | None = None,
               keep_removed: bool = False) -> FollowedSource:
        """Start following ``url``; its first pass runs with the next sync (it is due now)."""
        url = (url or "").strip()
        if not url:
            raise SyncError("give the address of a site, feed or sitemap (or a folder) to follow")
        try:
            every_s = parse_interval(every or self.settings.every)
            if kind == "auto":
                found = detect.detect(self._client(), url)
                kind, url = found.kind, found.url
            else:
                url = detect.check(kind, url)
                if kind == "feed":  # a page's address: follow the feed it names
                    url = detect.feed_of(self._client(), url)
        except SourceError as err:
            raise SyncError(str(err)) from err
        code = None
        if language and language.strip():
            code = normalize_language(language)
            if code is None:
                raise SyncError(f"{language!r} is not a language; use a two-letter code such as en or es")
        clean_tags = tuple(dict.fromkeys(t.strip() for t in tags if t and t.strip()))
        if match and kind not in ("sitemap",):
            raise SyncError("--match filters sitemap entries; leave it out for a "
                            f"{kind} source")
        spec = SourceSpec(id=0, url=url, kind=kind, publication=(publication or "").strip() or None,
                          tags=clean_tags, language=code, match=(match or "").strip() or None,
                          keep_removed=keep_removed)
        try:
            row = state.add_source(self.store, spec, every_s, {})
        except SourceError as err:
            raise SyncError(str(err)) from err
        log.info("following %s (%s, every %s)", url, kind, format_interval(every_s))
        return _followed(row)

    def unfollow(self, ref: str, remove_documents: bool = False) -> FollowedSource:
        """Stop following a source (by id or URL); its documents stay unless
        ``remove_documents`` (a document another source also brought stays too)."""
        row = state.get_source(self.store, str(ref))
        if row is None:
            raise SyncError(f"no followed source {ref!r}; `steward follows` lists them by id and URL")
        followed = _followed(row)
        removed = 0
        # After a pass in progress, here or in another process (it would record items of a
        # source no longer followed).
        with self._one_pass, self._across_processes(None), self.steward.write_lock:
            if remove_documents:
                for key, item in state.items(self.store, row.spec.id).items():
                    for doc_id in item.doc_ids:
                        if not state.doc_shared(self.store, doc_id, row.spec.id, key):
                            removed += int(self.store.remove(doc_id))
            state.delete_source(self.store, row.spec.id)
            if removed:
                self.steward.indexer.sync()
        log.info("unfollowed %s (%d documents removed)", row.spec.url, removed)
        return followed

    # -- passes ----------------------------------------------------------------------------

    def run(self, ref: str | None = None, dry_run: bool = False, due_only: bool = False,
            on_progress: Callable[[str], None] | None = None) -> list[SyncOutcome]:
        """One pass over one source (``ref``) or all of them (``due_only``: those due), one
        at a time; a source's failure is its outcome's ``error``, and the others go on."""
        if ref is not None:
            row = state.get_source(self.store, str(ref))
            if row is None:
                raise SyncError(f"no followed source {ref!r}; `steward follows` lists them by id and URL")
            rows = [row]
        else:
            rows = state.sources(self.store)
            if due_only:
                due_ids = {s.id for s in self.due()}
                rows = [r for r in rows if r.spec.id in due_ids]
        outcomes = []
        client = self._client()  # shared: sources on one host are paced together
        for row in rows:
            with self._one_pass, self._across_processes(on_progress):
                # Read again once it is this source's turn: it may have been unfollowed, or
                # synced by another process (the bot's schedule, a timer) while this one waited.
                fresh = state.get_source(self.store, str(row.spec.id))
                if fresh is None or (due_only and not _is_due(fresh, dt.datetime.now(dt.UTC))):
                    continue
                outcomes.append(self._pass(fresh, dry_run, on_progress, client))
        if rows and not dry_run and not any(o.encoded or o.added or o.changed or o.removed
                                            for o in outcomes):
            self._catch_up()
        return outcomes

    @contextlib.contextmanager
    def _across_processes(self, on_progress: Callable[[str], None] | None) -> Iterator[None]:
        """One pass (or unfollow) at a time per data folder across processes too: the bot's
        schedule and a timer's `steward sync` together would double what each site is asked
        and fetch the same articles twice. The other waits for the pass in progress."""
        try:
            handle = open(self.steward.data_dir / "sync.lock", "a+b")  # noqa: SIM115 (held below)
        except OSError:  # an unwritable data folder: the pass itself will say what is wrong
            yield
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_progress:
                    on_progress("waiting for another sync of this data folder to finish")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _catch_up(self) -> None:
        """A pass killed between storing documents and publishing their generation left the
        index behind the store; a later pass with nothing new must still publish them. A
        no-op (nothing loaded but the current generation's ids) when the index is current."""
        if self.steward.generations.current_name() is None and self.store.counts()[1] == 0:
            return  # nothing stored, nothing indexed: no model to load for an empty index
        try:
            with self.steward.write_lock:
                report = self.steward.indexer.sync()
        except Exception:  # the next pass tries again; answers go on from the current one
            log.exception("bringing the index up to date after a sync failed")
            return
        if report.changed:
            log.info("index caught up with the store after an interrupted sync: %d encoded",
                     report.encoded)

    def _pass(self, row: state.SourceRow, dry_run: bool,
              on_progress: Callable[[str], None] | None, client: Client) -> SyncOutcome:
        if on_progress:
            on_progress(f"syncing {row.spec.url} ({row.spec.kind})")
        try:
            result = self._engine().run(row, dry_run=dry_run, on_progress=on_progress, client=client)
        except Exception as err:  # a store or reader failure: this source only
            log.exception("sync of %s failed", row.spec.url)
            result = PassResult(error=f"the pass failed ({type(err).__name__}: {err})"[:500])
            if not dry_run:
                self._record_failure(row, result.error or "")
        encoded = 0
        if not dry_run and (result.added or result.changed or result.removed):
            if on_progress:
                on_progress("embedding new passages")
            try:
                with self.steward.write_lock:
                    encoded = self.steward.indexer.sync().encoded
            except Exception as err:  # the documents are stored; the next index sync embeds them
                log.exception("index update after syncing %s failed", row.spec.url)
                result.error = (f"stored, but the index could not be updated ({err}); "
                                "run `steward reindex`")[:500]
        if not dry_run:
            metrics.run_finished(metrics.SYNC_RUNS, result.error is None)
        fresh = state.get_source(self.store, str(row.spec.id)) or row
        notes = list(result.notes) + result.failed[1:6]
        log.info("synced %s: %d added, %d changed, %d removed, %d unchanged, %d requests%s",
                 row.spec.url, len(result.added), len(result.changed), len(result.removed),
                 result.unchanged, result.requests, f"; error: {result.error}" if result.error else "")
        return SyncOutcome(
            source=_followed(fresh), added=result.added, changed=result.changed,
            removed=result.removed, titles={k: v for k, v in result.titles.items()
                                            if k in set(result.added) | set(result.changed)},
            unchanged=result.unchanged, requests=result.requests, error=result.error,
            notes=notes, dry_run=dry_run, downloads=result.downloads, encoded=encoded)

    def _record_failure(self, row: state.SourceRow, error: str) -> None:
        try:
            state.finish_pass(self.store, row.spec.id, state=row.state, changed=False,
                              error=error, every_s=row.every_s)
        except Exception:  # the store itself is failing: the outcome already says so
            log.exception("could not record the failed pass of %s", row.spec.url)

    def _client(self) -> Client:
        return Client(self.steward.config.reader_settings(), self.settings,
                      sleep=self._sleep, clock=self._clock)

    def _engine(self) -> Engine:
        config = self.steward.config
        chunker_key = repr(sorted(config.chunker.model_dump().items()))  # as Steward.ingest
        return Engine(self.store, config.reader_settings(), self.settings,
                      config.chunker_settings(), chunker_key,
                      lock=lambda: self.steward.write_lock, sleep=self._sleep, clock=self._clock)


__all__ = ["KINDS", "FollowedSource", "Sync", "SyncError", "SyncOutcome"]
