"""One small reader per format: bytes in, cleaned text and declared metadata out.

Each module exposes ``read(data: bytes, ctx: ReadContext) -> Extracted``. Readers never
touch the filesystem or the network (``corpus.load`` and ``corpus.fetch`` do), so the same
reader serves files, URLs and Discord attachments. Every text a reader returns has been
through :func:`corpus.clean.clean_text`.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import ReadError
from corpus.types import ReaderSettings

# File suffix (lower case) → format name; the format name is also the reader module's name.
FORMAT_BY_SUFFIX = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUPPORTED = ".txt .md .html .pdf .docx"  # as said in messages


@dataclass
class ReadContext:
    """What a reader needs besides the bytes."""

    source: str  # the file or URL as the user named it, for error messages
    settings: ReaderSettings
    charset: str | None = None  # declared by an HTTP Content-Type header
    base_url: str | None = None  # for resolving relative links in HTML
    split: str | None = None  # "h2": split an HTML issue at its <h2> headings
    started: float = field(default_factory=time.monotonic)

    def fail(self, reason: str) -> ReadError:
        return ReadError(self.source, reason)

    def check_time(self) -> None:
        """Give up once reading has taken longer than ``read_timeout_s``."""
        limit = self.settings.read_timeout_s
        if time.monotonic() - self.started > limit:
            raise self.fail(f"reading took longer than read_timeout_s = {limit:g} s; the file "
                            "may be malformed, or raise read_timeout_s in config.toml [reader]")

    def check_length(self, chars: int) -> None:
        limit = self.settings.max_text_chars
        if chars > limit:
            raise self.fail(f"the extracted text is over max_text_chars = {limit:,} characters; "
                            "split the document or raise max_text_chars in config.toml [reader]")


@dataclass
class Article:
    """One article of a multi-article issue."""

    title: str
    text: str


@dataclass
class Extracted:
    """What a reader found: the cleaned text and the metadata the format declares."""

    text: str
    meta: dict[str, object] = field(default_factory=dict)
    pages: tuple[int, ...] = ()  # PDF: offset in ``text`` where each page starts
    articles: list[Article] = field(default_factory=list)  # set when an issue was split
    headings: tuple[tuple[int, int], ...] = ()  # spans of heading lines in ``text``


Reader = Callable[[bytes, ReadContext], Extracted]


def format_for_path(path: Path) -> str | None:
    """The format of a file, from its suffix; None when Steward does not read it."""
    return FORMAT_BY_SUFFIX.get(path.suffix.lower())


def unknown_format_reason(path: Path) -> str:
    what = path.suffix.lower() if path.suffix else "(no file extension)"
    return f"skipped: unknown format {what} (Steward reads {SUPPORTED})"


def get_reader(fmt: str) -> Reader:
    """The ``read`` function for a format name; imported on first use (pypdf, docx are big)."""
    if fmt not in set(FORMAT_BY_SUFFIX.values()):
        raise ValueError(f"no reader for format {fmt!r}")
    module = importlib.import_module(f"corpus.readers.{fmt}")
    return module.read
