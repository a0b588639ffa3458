"""Steward's one service object: the store, the index and the answerer behind every front end.

The CLI and the Discord bot both call these methods, so they do exactly the same things.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bot import metrics
from bot.answer import Answer, Answerer
from bot.answer_here import AnswerHere, AnswerHereStore, Kind
from bot.backup import BackupReport, BackupSettings, steward_version, take_backup
from bot.channel_defaults import ChannelDefaults, ChannelDefaultsStore
from bot.config import Config
from bot.metrics import HealthSettings
from bot.records import Records
from corpus.chunk import chunk_document
from corpus.context import paragraphs_around
from corpus.errors import ReadError, StoreError, UnsupportedFormat
from corpus.language import normalize_language
from corpus.load import expand_sources, load_source
from corpus.store import DocumentInfo, Filters, Store
from corpus.store_translations import translations
from corpus.translations import Links
from corpus.types import Document, ReaderSettings
from embeddings.encoder import Encoder, load_encoder
from embeddings.generations import Generations, keyword_tokenizer_problem
from embeddings.indexer import Indexer, SyncReport
from embeddings.search import Hit, Searcher
from embeddings.sentence_store import sentence_store

if TYPE_CHECKING:
    from bot.sync import Sync

log = logging.getLogger(__name__)

ProgressFn = Callable[[str], None]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)  # doc ids
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[ReadError] = field(default_factory=list)
    skipped: list[ReadError] = field(default_factory=list)  # unknown formats
    passages: int = 0  # passages in the documents read this time
    titles: dict[str, str] = field(default_factory=dict)
    sync: SyncReport | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        encoded = self.sync.encoded if self.sync else 0
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.failed)} failed",
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return f"documents: {', '.join(parts)}; passages: {self.passages} ({encoded} encoded)"


def samples_dir() -> Path:
    """The user's sample bulletins shipped with Steward (the ``*.txt`` files; SOURCES.md
    says where they came from, and each ``*.meta.toml`` sidecar holds a sample's metadata)."""
    return Path(str(resources.files("corpus") / "samples"))


class Steward:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir / "steward.sqlite3")
        self.records = Records(self.store, query_logging=config.logging.query_logging)
        self.expire_logged_questions()
        self._channel_defaults = ChannelDefaultsStore(self.store)
        self._answer_here = AnswerHereStore(self.store)
        self.generations = Generations(self.data_dir / "index")
        self.index_settings = config.index_settings()
        self._encoder: Encoder | None = None
        self._encoder_lock = threading.Lock()
        self.indexer = Indexer(self.store, self.generations, lambda: self.encoder, self.index_settings)
        self._searcher: Searcher | None = None
        self._answerer: Answerer | None = None
        # One writer at a time inside this process; Generations.lock covers other processes.
        self.write_lock = threading.Lock()

    # -- lazily built parts (loading the model takes seconds) -----------------------------

    @property
    def encoder(self) -> Encoder:
        with self._encoder_lock:
            if self._encoder is None:
                self._encoder = load_encoder(self.config.encoder_settings())
            return self._encoder

    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:
            self._searcher = Searcher(
                self.store, self.generations, self.encoder, self.index_settings,
                self.config.search_settings(),
            )
        return self._searcher

    @property
    def answerer(self) -> Answerer:
        if self._answerer is None:
            self._answerer = Answerer(self.searcher, self.store, self.config.answer_settings())
        return self._answerer

    @property
    def sync(self) -> Sync:
        """Followed sources (``bot/sync.py``): follow, unfollow, list and sync them."""
        if self.__dict__.get("_sync") is None:
            from bot.sync import Sync  # imported late: bot.sync imports this module's types

            self.__dict__["_sync"] = Sync(self)
        return self.__dict__["_sync"]

    def sync_schedule(self) -> tuple[bool, int]:
        """``[sync] schedule`` and ``announce_channel`` (0: none), for the running bot, which
        reads no configuration of its own beyond ``[discord]``."""
        return self.config.sync.schedule, self.config.sync.announce_channel

    def close(self) -> None:
        self.store.close()

    @property
    def query_logging(self) -> bool:
        """Whether the admins turned on query logging (question text in the store and logs)."""
        return self.records.query_logging

    def reader_settings(self) -> ReaderSettings:
        """The readers' limits (a front end that downloads an upload checks its size first)."""
        return self.config.reader_settings()

    def warm_up(self) -> str | None:
        """Load the current index generation and the model, so the first question is quick;
        the generation's name, or None when nothing is indexed yet (later generations are
        picked up on the next search)."""
        name = self.generations.current_name()
        if name is not None:
            self.searcher.refresh()
            self.searcher.encode_query("warm up")
        return name

    # -- admin work ------------------------------------------------------------------------

    @metrics.counts_ingest
    def ingest(
        self,
        sources: Sequence[str],
        overrides: Mapping[str, object] | None = None,
        progress: bool = False,
        on_progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Read, chunk and store each source, then bring the index up to date."""
        report = IngestReport()
        expanded, errors = expand_sources(list(sources))
        for err in errors:
            (report.skipped if isinstance(err, UnsupportedFormat) else report.failed).append(err)
        chunker = self.config.chunker_settings()
        chunker_key = repr(sorted(self.config.chunker.model_dump().items()))
        reader = self.config.reader_settings()
        with self.write_lock:
            for n, source in enumerate(_progress(expanded, progress), start=1):
                if on_progress:
                    on_progress(f"reading {n}/{len(expanded)}: {Path(source).name}")
                try:
                    documents = load_source(source, reader, overrides)
                except ReadError as err:
                    report.failed.append(err)
                    continue
                for document in documents:
                    passages = chunk_document(document, chunker)
                    if not passages:
                        report.failed.append(ReadError(source, "no text to index after cleaning"))
                        continue
                    outcome = self.store.upsert(document, passages, chunker_key)
                    getattr(report, outcome).append(document.doc_id)
                    report.titles[document.doc_id] = document.title
                    report.passages += len(passages)
            if on_progress:
                on_progress("embedding new passages")
            report.sync = self.indexer.sync(progress=progress)
        return report

    def reindex(self, progress: bool = False) -> SyncReport:
        """Re-chunk every stored document with the current settings and re-embed everything."""
        chunker = self.config.chunker_settings()
        chunker_key = repr(sorted(self.config.chunker.model_dump().items()))
        with self.write_lock:
            for info in self.store.documents():
                document = self.store.document(info.doc_id)
                if document is not None:
                    self.store.upsert(document, chunk_document(document, chunker), chunker_key)
            return self.indexer.sync(full=True, progress=progress)

    def remove(self, doc_id: str) -> SyncReport | None:
        """Remove a document; None when there is no such document."""
        with self.write_lock:
            if not self.store.remove(doc_id):
                return None
            return self.indexer.sync()

    def ensure_samples(self, on_progress: ProgressFn | None = None) -> IngestReport | None:
        """On an empty data folder, ingest the shipped samples (the out-of-the-box demo); on
        a folder whose index lacks its first generation or was built by an older Steward's
        keyword tokenizer, bring the index up to date (no passage is re-encoded)."""
        if not self.config.samples.auto_ingest or self.store.counts()[0] > 0:
            if self.store.counts()[0] > 0 and self.generations.current_name() is None:
                self.indexer.sync()  # an ingest was killed before its first generation
            elif (manifest := self.indexer.manifest()) is not None and keyword_tokenizer_problem(manifest):
                if on_progress:
                    on_progress("Updating the keyword index for this version of Steward (nothing is re-embedded)")
                with self.write_lock:
                    self.indexer.sync()
            return None
        if on_progress:
            on_progress(f"First run: ingesting the sample bulletins from {samples_dir()}")
        samples = sorted(str(p) for p in samples_dir().glob("*.txt"))
        return self.ingest(samples, on_progress=None)

    # -- questions -------------------------------------------------------------------------

    @metrics.counts_question
    def ask(
        self, question: str, filters: Filters | None = None, page: int = 0, context: str | None = None
    ) -> Answer:
        answer = self.answerer.ask(question, filters, page=page, context=context)
        if page == 0:
            try:
                self.records.question_answered(question, answer.answered, answer.passage_ids,
                                               self._closest_tags(answer))
            except StoreError as err:  # a full disk must not cost the member their answer
                log.warning("usage not recorded: %s", err)
        return answer

    def _closest_tags(self, answer: Answer) -> list[tuple[str, tuple[str, ...]]]:
        """(doc id, tags) of the documents nearest a question not found (gaps report)."""
        if answer.answered:
            return []
        infos = [(doc_id, self.store.document_info(doc_id)) for doc_id, _ in answer.closest]
        return [(doc_id, info.tags) for doc_id, info in infos if info is not None]

    def search(self, query: str, limit: int = 10, filters: Filters | None = None) -> list[Hit]:
        return self.searcher.search(query, limit=limit, filters=filters)

    def feedback(self, vote: int, passage_ids: Sequence[str]) -> None:
        """A 👍 (1) or 👎 (-1) on an answer's passages; who voted is not kept."""
        self.records.feedback(vote, passage_ids)

    def forget(self) -> int:
        """Erase every logged question; returns how many were erased."""
        return self.records.forget()

    def expire_logged_questions(self) -> int:
        """Erase logged questions past ``[logging] query_retention_days``; how many."""
        try:
            return self.records.expire(self.config.logging.query_retention_days)
        except StoreError as err:  # a busy or full disk: try again at the next check
            log.warning("old logged questions not erased yet: %s", err)
            return 0

    # -- keeping it running ----------------------------------------------------------------

    def backup(self, dest: str | Path, keep: int | None = None) -> BackupReport:
        """A consistent snapshot of the store, the current index generation, the sentence
        vectors and the config file in a new folder under ``dest`` (while questions are
        answered); with ``keep``, older backups there beyond that many are removed."""
        return take_backup(Path(dest), store_path=self.store.path, generations=self.generations,
                           config_path=self.config.path, write_lock=self.write_lock, keep=keep)

    def backup_settings(self) -> BackupSettings:
        """[backup]: scheduled backups (``every``, ``keep``, ``dir`` resolved)."""
        return self.config.backup_settings()

    def health_settings(self) -> HealthSettings:
        """[health]: whether and where to serve /healthz and /metrics."""
        return self.config.health_settings()

    def index_status(self) -> dict[str, object]:
        """Documents and passages stored, the current generation, and whether one is loaded
        for answering (for health checks and metrics; cheap: no sizes, no model)."""
        documents, passages = self.store.counts()
        searcher = self._searcher
        return {
            "documents": documents,
            "passages": passages,
            "generation": self.generations.current_name(),
            # The searcher holds a generation once warm_up or a first question loaded one.
            "loaded": searcher is not None and searcher._loaded is not None,
        }

    # -- a chat server's channels (see bot/channel_defaults.py and bot/answer_here.py) ------

    def set_channel_defaults(
        self, channel_id: int, guild_id: int, *, publication: str | None = None,
        tag: str | None = None, language: str | None = None, since: str | None = None,
        until: str | None = None,
    ) -> ChannelDefaults:
        """Make these the filters of questions asked in a channel (replacing its old ones);
        FilterError for a bad date or language."""
        chosen = parse_filters(publication=publication, tag=tag, language=language,
                               since=since, until=until)
        defaults = ChannelDefaults(channel_id, guild_id, chosen.publication, chosen.tag,
                                   chosen.language, chosen.since, chosen.until)
        self._channel_defaults.set(defaults)
        return defaults

    def clear_channel_defaults(self, channel_id: int) -> bool:
        return self._channel_defaults.clear(channel_id)

    def channel_defaults(self, channel_ids: Sequence[int]) -> ChannelDefaults | None:
        """The defaults of the nearest of ``channel_ids`` that has some (thread, channel,
        category)."""
        return self._channel_defaults.first(channel_ids)

    def guild_channel_defaults(self, guild_id: int) -> list[ChannelDefaults]:
        return self._channel_defaults.of_guild(guild_id)

    def set_answer_here(self, channel_id: int, guild_id: int, kind: Kind) -> None:
        self._answer_here.set(channel_id, guild_id, kind)

    def clear_answer_here(self, channel_id: int) -> bool:
        return self._answer_here.clear(channel_id)

    def answer_here(self, channel_id: int) -> AnswerHere | None:
        """Whether Steward answers by itself in a channel (from memory: checked per message)."""
        return self._answer_here.get(channel_id)

    def guild_answer_here(self, guild_id: int) -> list[AnswerHere]:
        return self._answer_here.of_guild(guild_id)

    def forget_channel(self, channel_id: int) -> None:
        """A deleted channel or thread: its defaults and answer-here setting go with it
        (read first: most deleted threads have neither, and a read takes no write lock)."""
        if self._channel_defaults.first([channel_id]) is not None:
            self._channel_defaults.clear(channel_id)
        if self._answer_here.get(channel_id) is not None:
            self._answer_here.clear(channel_id)

    # -- the documents ---------------------------------------------------------------------

    def documents(self, filters: Filters | None = None, limit: int | None = None
                  ) -> list[DocumentInfo]:
        """The stored documents that pass ``filters``, newest first."""
        return self.store.documents(filters, limit)

    def translations(self, doc_id: str) -> dict[str, Links]:
        """A document's versions in other languages, by language (translation families)."""
        return translations(self.store, doc_id)

    def document_info(self, doc_id: str) -> DocumentInfo | None:
        """One document's details (title, date, publication, passages…), or None."""
        return self.store.document_info(doc_id)

    def document(self, doc_id: str) -> Document | None:
        """One document with its full text, or None."""
        return self.store.document(doc_id)

    def field_values(self, field: str, prefix: str = "", limit: int = 25) -> list[str]:
        """Publications, authors, tags or languages (``field``) containing ``prefix``, for
        autocomplete; languages are ISO 639-1 codes, most passages first."""
        return self.store.distinct_values(field, prefix, limit)

    def source_context(self, doc_id: str, start: int, end: int, paragraphs: int = 1) -> str | None:
        """The paragraphs around ``start:end`` of a document's text (a quote), so a reader can
        check it in context; None when the document has been removed since."""
        document = self.store.document(doc_id)
        if document is None:
            return None
        return paragraphs_around(document.text, start, end, paragraphs)

    def stats(self) -> dict[str, object]:
        documents, passages = self.store.counts()
        manifest = self.indexer.manifest()
        store_bytes = sum(
            p.stat().st_size for p in self.data_dir.glob("steward.sqlite3*") if p.is_file()
        )
        return {
            "version": steward_version(),
            "documents": documents,
            "passages": passages,
            "generation": self.generations.current_name(),
            "model": manifest.model if manifest else self.config.index.model,
            "backend": manifest.backend if manifest else self.config.index.backend,
            "dimension": manifest.dimension if manifest else None,
            "index_type": manifest.index_type if manifest else None,
            "indexed_passages": manifest.passages if manifest else 0,
            # Passages whose quotes are chosen from kept sentence vectors; fewer than
            # indexed_passages after an upgrade until `steward reindex`.
            "passages_with_sentence_vectors": (
                sentence_store(self.generations.root, self.index_settings, manifest.dimension).count()
                if manifest else 0
            ),
            "index_created_at": manifest.created_at if manifest else None,
            "last_ingest": self.store.last_ingest(),
            "store_bytes": store_bytes,
            "index_bytes": self.generations.disk_bytes(),
            "data_dir": str(self.data_dir),
            **self.records.usage(),
        }


def _progress(items: list[str], enabled: bool) -> Sequence[str]:
    if not enabled or len(items) < 5:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="reading", unit="doc")  # type: ignore[return-value]


class FilterError(ValueError):
    """A filter or date a user typed that Steward cannot use. ``option`` names it as the
    service knows it ("since"), ``problem`` says what is wrong; each front end words the
    option its own way (``--since`` on the command line, ``since`` in Discord)."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option}: {problem}")
        self.option = option
        self.problem = problem


def parse_date(value: str | None, name: str) -> dt.date | None:
    """``YYYY-MM-DD`` as a date (None for nothing); FilterError naming ``name`` otherwise."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise FilterError(name, f"{value!r} is not a date; use YYYY-MM-DD") from err


def parse_filters(
    *, since: str | None = None, until: str | None = None, publication: str | None = None,
    author: str | None = None, tag: str | None = None, doc_id: str | None = None,
    language: str | None = None,
) -> Filters:
    """Filters from what a user typed (empty means no filter); FilterError for a bad date or
    a language that is not one ("es", "es-MX", "Spanish" and "español" all mean "es")."""
    return Filters(
        since=parse_date(since, "since"),
        until=parse_date(until, "until"),
        publication=publication or None,
        author=author or None,
        tag=tag or None,
        doc_id=doc_id or None,
        language=parse_language(language, "language"),
    )


def parse_language(value: str | None, name: str) -> str | None:
    """An ISO 639-1 code from a code, tag or name (None for nothing); FilterError otherwise."""
    if not value or not value.strip():
        return None
    code = normalize_language(value)
    if code is None:
        raise FilterError(name, f"{value!r} is not a language; use a two-letter code such as "
                                "en or es")
    return code
