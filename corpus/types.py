"""The values that flow out of the corpus: documents and their passages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from corpus.chrome import DEFAULT_CHROME_CAPTIONS, DEFAULT_CHROME_LINES, DEFAULT_CHROME_SELECTORS


@dataclass
class Document:
    """One article, bulletin item or guide, cleaned and described.

    ``text`` is the normalised text Steward stores; every passage and every quote is a
    slice of it. ``pages`` holds, for paged formats (PDF), the character offset at which
    each page starts (page ``n`` starts at ``pages[n - 1]``); it is empty otherwise, and
    locators are then paragraph numbers (blocks separated by a blank line).
    """

    source: str
    title: str
    text: str
    doc_id: str = ""
    author: str | None = None
    date: dt.date | None = None
    publication: str | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()
    pages: tuple[int, ...] = ()
    format: str = "text"
    # Spans of the lines the format marks as headings (Markdown ``#``, HTML ``<h2>``), each a
    # paragraph of its own in ``text``; the chunker also treats short unpunctuated lines as
    # headings. A heading is never quoted as an answer.
    headings: tuple[tuple[int, int], ...] = ()
    # ISO 639-1 code ("en", "es"): as the metadata says, else detected at ingest
    # (corpus/language.py); None when unknown (too little text, or stored before languages).
    language: str | None = None
    # Translations (corpus/translations.py): the doc id or URL of the document this one
    # translates (front matter, sidecar, ``ingest --translation-of``), and the URLs of its
    # other-language versions the page names (HTML ``<link rel="alternate" hreflang>``).
    translation_of: str | None = None
    alternates: tuple[str, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset``, or None for unpaged text."""
        if not self.pages:
            return None
        page = 1
        for n, start in enumerate(self.pages, start=1):
            if start <= offset:
                page = n
            else:
                break
        return page


@dataclass(frozen=True)
class Passage:
    """A chunk of a document: ``document.text[start:end] == text`` always holds."""

    passage_id: str
    doc_id: str
    start: int
    end: int
    text: str
    locator_kind: str  # "paragraph" or "page"
    locator: int
    ordinal: int = 0  # position of the passage within its document
    heading: str | None = None
    # The chunker's sentences (a heading counts as one), as spans in the document like
    # ``start``/``end``; quotes are cut at these. Empty when not known (older stores).
    sentences: tuple[tuple[int, int], ...] = ()
    # Which of those sentences are heading lines (same coordinates): shown as a quote's section,
    # never chosen as its key sentence nor quoted alone.
    headings: tuple[tuple[int, int], ...] = ()
    # ISO 639-1 code, detected on the passage's own text (a bulletin may mix languages), else
    # its document's; what the language filter matches, and what keyword search can stem by.
    language: str | None = None

    @property
    def locator_label(self) -> str:
        return f"p. {self.locator}" if self.locator_kind == "page" else f"¶ {self.locator}"


@dataclass
class ReaderSettings:
    """Limits and rules the readers apply; ``[reader]`` in config.toml, whose defaults these are."""

    max_file_bytes: int = 25 * 1024 * 1024
    max_pdf_pages: int = 2000
    max_text_chars: int = 5_000_000
    read_timeout_s: float = 60.0
    url_timeout_s: float = 20.0
    url_max_bytes: int = 25 * 1024 * 1024
    url_max_redirects: int = 5
    allow_private_urls: bool = False
    # A DOCX is a ZIP: refuse one that unpacks past these (a decompression bomb).
    max_docx_unzipped_bytes: int = 256 * 1024 * 1024
    max_docx_entries: int = 5000
    # Read each source in a worker process that is killed at the deadline and whose memory is
    # capped (corpus/isolation.py); off, the limits are only checked between a reader's steps.
    isolate: bool = True
    max_read_memory_bytes: int = 1024 * 1024 * 1024
    # Lines removed wherever they appear as a whole line (site chrome); regular expressions.
    # Defaults and the reason for each rule: corpus/chrome.py. An empty list removes nothing.
    chrome_lines: list[str] = field(default_factory=lambda: list(DEFAULT_CHROME_LINES))
    # HTML elements removed before extracting the main content (CSS selectors).
    chrome_selectors: list[str] = field(default_factory=lambda: list(DEFAULT_CHROME_SELECTORS))
    # Photo captions: a short paragraph whose last line matches one of these (its credit) is
    # removed whole; regular expressions, searched in that line.
    chrome_captions: list[str] = field(default_factory=lambda: list(DEFAULT_CHROME_CAPTIONS))
