"""Settings from config.toml, validated, with secrets from the environment only.

``--config PATH`` or ``STEWARD_CONFIG`` picks the file (default: ``config.toml`` in the
working directory, else built-in defaults, which equal the shipped config.toml).
``--data-dir`` or ``STEWARD_DATA_DIR`` says where the store and indexes live (default:
``data/`` beside the config file).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.answer import AnswerSettings
from bot.backup import BackupSettings, parse_every
from bot.metrics import HealthSettings
from bot.thresholds import bad_pairs
from corpus.chunk import ChunkerSettings
from corpus.sources.errors import SourceError
from corpus.sources.interval import parse_interval
from corpus.sources.settings import SyncSettings
from corpus.types import ReaderSettings
from embeddings.dense import DenseSettings
from embeddings.encoder import E5_MODEL, EncoderSettings, with_model_defaults
from embeddings.generations import IndexSettings
from embeddings.search import SearchSettings

MB = 1024 * 1024

# The defaults of the [reader], [chunker], [index], [search] and [answer] sections are read
# from the settings dataclasses of the packages that use them (one source of truth: a default
# changed there is changed here and in the views below); the sections add only what a file
# needs: bounds, choices, unknown names refused, and MB where the code counts bytes.


# [answer] min_confidence = "auto": the threshold calibrated for the configured model, else
# AnswerSettings' (all-MiniLM-L6-v2's). multilingual-e5-small's cosines sit much higher (an
# unrelated question's best quote scores 0.55-0.85), so at 0.35 it declined nothing. 0.64 was
# calibrated on the organizer dev set's tune half (python -m bench.devset --split tune --set
# index.model='"multilingual-e5-small"'): it declines 2 of 120 answerable questions (2 of 78
# English ones about English text, none of the 42 across or in Spanish) and 16 of 38 uncovered
# ones (15 of 25 English, 1 of 11 Spanish); 0.65 would decline 4 of the 78 English ones (5.1%).
MIN_CONFIDENCE_BY_MODEL = {E5_MODEL: 0.64, f"intfloat/{E5_MODEL}": 0.64}


def min_confidence_for(model: str) -> float:
    """The ``min_confidence`` that "auto" means for the encoder ``model``."""
    return MIN_CONFIDENCE_BY_MODEL.get(model, AnswerSettings.min_confidence)


# [answer] min_confidence_by_pair = "auto": per language pair (question -> quoted passage), the
# thresholds fitted for the configured model on the organizer dev set's tune half (python -m
# bench.pairfit; docs/quality.md, "Two languages"); a pair not named uses min_confidence.
# multilingual-e5-small scores a question against text in the other language higher than an
# unrelated one in its own, so the cross pairs need a higher bar: on tune it declines 6 of the
# 8 uncovered cross-language questions (was 0) and no covered one. all-MiniLM-L6-v2 gets es-es
# only (AnswerSettings' default, bot/thresholds.py): across languages its confidence does not
# separate covered from uncovered questions.
_E5_PAIRS = {"es-es": 0.6056, "en-es": 0.7816, "es-en": 0.7977}
MIN_CONFIDENCE_BY_PAIR: dict[str, dict[str, float]] = {E5_MODEL: _E5_PAIRS, f"intfloat/{E5_MODEL}": _E5_PAIRS}


def min_confidence_by_pair_for(model: str) -> dict[str, float]:
    """The per-pair thresholds that "auto" means for the encoder ``model``."""
    return dict(MIN_CONFIDENCE_BY_PAIR.get(model, AnswerSettings().min_confidence_by_pair))


class ConfigError(Exception):
    """A setting is wrong; the message names the file, the setting and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(_Section):
    dir: str = "data"


class ChromeSection(_Section):
    lines: list[str] = Field(default_factory=lambda: ReaderSettings().chrome_lines)
    selectors: list[str] = Field(default_factory=lambda: ReaderSettings().chrome_selectors)
    captions: list[str] = Field(default_factory=lambda: ReaderSettings().chrome_captions)


class ReaderSection(_Section):
    max_file_mb: float = Field(ReaderSettings.max_file_bytes / MB, gt=0)
    max_pdf_pages: int = Field(ReaderSettings.max_pdf_pages, gt=0)
    max_text_chars: int = Field(ReaderSettings.max_text_chars, gt=0)
    read_timeout_s: float = Field(ReaderSettings.read_timeout_s, gt=0)
    url_timeout_s: float = Field(ReaderSettings.url_timeout_s, gt=0)
    url_max_mb: float = Field(ReaderSettings.url_max_bytes / MB, gt=0)
    url_max_redirects: int = Field(ReaderSettings.url_max_redirects, ge=0)
    allow_private_urls: bool = ReaderSettings.allow_private_urls
    max_docx_unzipped_mb: float = Field(ReaderSettings.max_docx_unzipped_bytes / MB, gt=0)
    max_docx_entries: int = Field(ReaderSettings.max_docx_entries, gt=0)
    isolate: bool = ReaderSettings.isolate
    max_read_memory_mb: float = Field(ReaderSettings.max_read_memory_bytes / MB, gt=0)
    chrome: ChromeSection = ChromeSection()


class ChunkerSection(_Section):
    target_words: int = Field(ChunkerSettings.target_words, gt=0)
    max_words: int = Field(ChunkerSettings.max_words, gt=0)
    overlap_sentences: int = Field(ChunkerSettings.overlap_sentences, ge=0)


class IndexSection(_Section):
    model: str = EncoderSettings.model
    backend: Literal["torch", "onnx", "onnx-int8"] = EncoderSettings.backend  # type: ignore[assignment]
    batch_size: int = Field(EncoderSettings.batch_size, gt=0)
    threads: int = Field(EncoderSettings.threads, ge=0)
    allow_download: bool = EncoderSettings.allow_download
    embed_title: bool = IndexSettings.embed_title
    keep_generations: int = Field(IndexSettings.keep_generations, ge=1)
    query_prefix: str = EncoderSettings.query_prefix
    passage_prefix: str = EncoderSettings.passage_prefix
    exact_max_passages: int = Field(DenseSettings.exact_max_passages, ge=0)
    nprobe: int = Field(DenseSettings.nprobe, ge=0)
    nlist: int = Field(DenseSettings.nlist, ge=0)
    retrain_growth: float = Field(DenseSettings.retrain_growth, gt=1)
    search_threads: int = Field(DenseSettings.search_threads, ge=1)
    model_cache: str = EncoderSettings.model_cache


class SearchSection(_Section):
    fusion: Literal["convex", "minmax", "rrf"] = SearchSettings.fusion  # type: ignore[assignment]
    dense_weight: float = Field(SearchSettings.dense_weight, ge=0)
    keyword_weight: float = Field(SearchSettings.keyword_weight, ge=0)
    rrf_k: int = Field(SearchSettings.rrf_k, gt=0)
    candidates: int = Field(SearchSettings.candidates, gt=0)
    max_per_document: int = Field(SearchSettings.max_per_document, gt=0)
    recency_similarity: float = Field(SearchSettings.recency_similarity, gt=0, le=1)
    cross_language: Literal["auto", "either", "keyword"] = SearchSettings.cross_language  # type: ignore[assignment]


class AnswerSection(_Section):
    max_quotes: int = Field(AnswerSettings.max_quotes, ge=1, le=3)
    min_confidence: Annotated[float, Field(ge=-1, le=1)] | Literal["auto"] = "auto"
    min_confidence_by_pair: dict[str, float] | Literal["auto"] = "auto"
    quote_max_sentences: int = Field(AnswerSettings.quote_max_sentences, ge=1)
    quote_max_chars: int = Field(AnswerSettings.quote_max_chars, ge=80)
    closest_titles: int = Field(AnswerSettings.closest_titles, ge=0)

    # Checked before pydantic's union does, so a wrong table is one line, not one per type tried.
    @field_validator("min_confidence_by_pair", mode="before")
    @classmethod
    def _language_pairs(cls, value: object) -> object:
        if value == "auto":
            return value
        if not isinstance(value, dict):
            raise ValueError('should be "auto" or a table of language pairs, e.g. { "es-en" = 0.3 }')
        wrong = bad_pairs(value)
        if wrong:
            raise ValueError(f"{wrong[0]!r} is not a language pair: name the question's language, then the "
                             "quoted passage's, as two-letter codes (\"es-en\": a Spanish question, an English "
                             "passage)")
        for key, number in value.items():
            if isinstance(number, bool) or not isinstance(number, int | float) or not -1 <= number <= 1:
                raise ValueError(f'"{key}" = {number!r}: should be a number from -1 to 1')
        return value


class SamplesSection(_Section):
    auto_ingest: bool = True


class DiscordSection(_Section):
    admin_role: str = ""
    cooldown_rate: int = Field(4, ge=1)
    cooldown_per_s: float = Field(30, gt=0)
    api_base: str = ""
    thread_context: bool = True
    search_page_size: int = Field(5, ge=1, le=10)
    message_content: bool = False
    answered_tag: str = "answered"


class LoggingSection(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str = ""
    max_file_mb: float = Field(5, gt=0)
    backups: int = Field(3, ge=0)
    query_logging: bool = False
    # Days a logged question is kept (0: until `steward forget`); counts are kept.
    query_retention_days: int = Field(90, ge=0)


class BackupSection(_Section):
    every: str = BackupSettings.every
    keep: int = Field(BackupSettings.keep, ge=1)
    dir: str = BackupSettings.dir

    @field_validator("every")
    @classmethod
    def _a_period(cls, value: str) -> str:
        parse_every(value)  # "1d", "12h"... or "": a clear error at start, not at the first backup
        return value


class HealthSection(_Section):
    enabled: bool = HealthSettings.enabled
    host: str = HealthSettings.host
    port: int = Field(HealthSettings.port, ge=0, le=65535)


class SyncSection(_Section):
    every: str = SyncSettings.every
    rate_per_host: float = Field(SyncSettings.rate_per_host, ge=0)
    max_items_per_pass: int = Field(SyncSettings.max_items_per_pass, ge=1)
    grace_days: float = Field(SyncSettings.grace_days, ge=0)
    user_agent: str = Field(SyncSettings.user_agent, min_length=1)
    missing_run: int = Field(SyncSettings.missing_run, ge=1)
    recheck: int = Field(SyncSettings.recheck, ge=0)
    # The running bot: sync due sources by itself; post new documents in this channel (0: no).
    schedule: bool = True
    announce_channel: int = Field(0, ge=0)

    @field_validator("every")
    @classmethod
    def _an_interval(cls, value: str) -> str:
        try:
            parse_interval(value)  # "6h", "1d"...: a clear error at start, not at the first sync
        except SourceError as err:
            raise ValueError(str(err)) from err
        return value


class Config(_Section):
    data: DataSection = DataSection()
    reader: ReaderSection = ReaderSection()
    chunker: ChunkerSection = ChunkerSection()
    index: IndexSection = IndexSection()
    search: SearchSection = SearchSection()
    answer: AnswerSection = AnswerSection()
    samples: SamplesSection = SamplesSection()
    discord: DiscordSection = DiscordSection()
    logging: LoggingSection = LoggingSection()
    backup: BackupSection = BackupSection()
    health: HealthSection = HealthSection()
    sync: SyncSection = SyncSection()

    # Not settings: where this configuration came from, filled in by load_config.
    path: Path | None = Field(default=None, exclude=True)
    data_dir: Path = Field(default=Path("data"), exclude=True)

    # -- views for the other rooms ---------------------------------------------------------

    def reader_settings(self) -> ReaderSettings:
        r = self.reader
        return ReaderSettings(
            max_file_bytes=int(r.max_file_mb * MB),
            max_pdf_pages=r.max_pdf_pages,
            max_text_chars=r.max_text_chars,
            read_timeout_s=r.read_timeout_s,
            url_timeout_s=r.url_timeout_s,
            url_max_bytes=int(r.url_max_mb * MB),
            url_max_redirects=r.url_max_redirects,
            allow_private_urls=r.allow_private_urls,
            max_docx_unzipped_bytes=int(r.max_docx_unzipped_mb * MB),
            max_docx_entries=r.max_docx_entries,
            isolate=r.isolate,
            max_read_memory_bytes=int(r.max_read_memory_mb * MB),
            chrome_lines=list(r.chrome.lines),
            chrome_selectors=list(r.chrome.selectors),
            chrome_captions=list(r.chrome.captions),
        )

    def chunker_settings(self) -> ChunkerSettings:
        return ChunkerSettings(**self.chunker.model_dump())

    def encoder_settings(self) -> EncoderSettings:
        i = self.index
        return with_model_defaults(EncoderSettings(
            model=i.model,
            backend=i.backend,
            batch_size=i.batch_size,
            threads=i.threads,
            allow_download=i.allow_download,
            query_prefix=i.query_prefix,
            passage_prefix=i.passage_prefix,
            model_cache=i.model_cache,
        ))

    def index_settings(self) -> IndexSettings:
        return IndexSettings(
            encoder=self.encoder_settings(),
            chunker=self.chunker.model_dump(),
            embed_title=self.index.embed_title,
            keep_generations=self.index.keep_generations,
            dense=DenseSettings(
                exact_max_passages=self.index.exact_max_passages,
                nprobe=self.index.nprobe,
                nlist=self.index.nlist,
                retrain_growth=self.index.retrain_growth,
                search_threads=self.index.search_threads,
            ),
        )

    def search_settings(self) -> SearchSettings:
        return SearchSettings(**self.search.model_dump())

    def answer_settings(self) -> AnswerSettings:
        values = self.answer.model_dump()
        if values["min_confidence"] == "auto":
            values["min_confidence"] = min_confidence_for(self.index.model)
        if values["min_confidence_by_pair"] == "auto":
            values["min_confidence_by_pair"] = min_confidence_by_pair_for(self.index.model)
        return AnswerSettings(**values)

    def backup_settings(self) -> BackupSettings:
        """[backup], its ``dir`` resolved beside the config file (as [data] dir is)."""
        base = self.path.parent if self.path else Path.cwd()
        return BackupSettings(every=self.backup.every, keep=self.backup.keep,
                              dir=str((base / self.backup.dir).resolve()))

    def health_settings(self) -> HealthSettings:
        return HealthSettings(**self.health.model_dump())

    def sync_settings(self) -> SyncSettings:
        """[sync] as the followed-sources engine takes it (schedule and announce_channel are
        the bot's own)."""
        values = self.sync.model_dump(exclude={"schedule", "announce_channel"})
        return SyncSettings(**values)


def _describe(err: ValidationError, path: Path | None) -> str:
    where = str(path) if path else "built-in defaults"
    lines = [f"{where}: invalid settings"]
    for e in err.errors():
        loc = e["loc"]
        name = f"[{loc[0]}] {'.'.join(str(x) for x in loc[1:])}" if len(loc) > 1 else str(loc[0])
        msg = "unknown setting (check the spelling against config.toml)" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {name}: {msg}")
    return "\n".join(lines)


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to read: explicit path, then $STEWARD_CONFIG, then ./config.toml."""
    chosen = explicit or os.environ.get("STEWARD_CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path.resolve()
    default = Path("config.toml")
    return default.resolve() if default.is_file() else None


def load_config(
    path: str | os.PathLike[str] | None = None, data_dir: str | os.PathLike[str] | None = None
) -> Config:
    """Read and validate the configuration; raises ConfigError with a readable message."""
    file = find_config(path)
    raw: dict[str, object] = {}
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{file}: not valid TOML: {err}") from err
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{file}: cannot read it: {err}") from err
    try:
        config = Config.model_validate(raw)
        config.chunker_settings()
    except ValidationError as err:
        raise ConfigError(_describe(err, file)) from err
    except ValueError as err:
        raise ConfigError(f"{file or 'settings'}: {err}") from err
    config.path = file
    base = file.parent if file else Path.cwd()
    chosen = data_dir or os.environ.get("STEWARD_DATA_DIR")
    config.data_dir = Path(chosen).expanduser().resolve() if chosen else (base / config.data.dir).resolve()
    return config


def discord_token() -> str | None:
    """The bot token, from the environment only (never from a file, never printed)."""
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    return token or None
