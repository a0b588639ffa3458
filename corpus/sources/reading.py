"""Downloaded article bytes in, Documents out, through the same readers as `steward ingest`.

The bytes are written to a private temporary file and read by :func:`corpus.load.load_source`,
so a followed article gets exactly an ingested file's treatment: the isolated reader process
with its time and memory limits, cleaning, site-chrome removal and language detection. The
listing's metadata (title, date, author, tags) wins over what the page says, and the admin's
(publication, tags, language given to `follow`) wins over both.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from corpus.clean import clean_field
from corpus.load import load_source
from corpus.metadata import title_from_source
from corpus.types import Document, ReaderSettings

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 300  # a 1 MB <title> is cut, not stored or refused
_SUFFIX = {"html": ".html", "text": ".txt", "markdown": ".md", "pdf": ".pdf", "docx": ".docx"}


def short_title(title: object) -> str | None:
    """A title fit to store: cleaned, cut at a word near ``MAX_TITLE_CHARS``."""
    if title is None:
        return None
    text = clean_field(" ".join(str(title)[: MAX_TITLE_CHARS * 4].split()))
    if len(text) <= MAX_TITLE_CHARS:
        return text or None
    cut = text[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] or text[:MAX_TITLE_CHARS]
    return cut + "…"


def read_bytes(data: bytes, fmt: str, url: str, doc_id: str, settings: ReaderSettings,
               meta: Mapping[str, object], fallback_date: dt.date | None = None) -> list[Document]:
    """Documents from an article's bytes (``fmt``: a reader's name); ReadError if unreadable.

    ``meta`` (title, date, author, tags, publication, language) overrides the page's own;
    ``fallback_date`` dates a document that states none (nor htmldate finds one).
    """
    overrides = {k: v for k, v in meta.items() if v not in (None, "", ())}
    overrides["id"] = doc_id
    overrides["url"] = url
    if "title" in overrides:
        overrides["title"] = short_title(overrides["title"])
    with tempfile.TemporaryDirectory(prefix="steward-sync-") as folder:
        path = Path(folder) / f"article{_SUFFIX.get(fmt, '.html')}"
        path.write_bytes(data)
        documents = load_source(str(path), settings, overrides)
    for document in documents:
        document.source = url  # not the temporary file: the hash and `sources` show the URL
        if "title" not in overrides and document.title == title_from_source(str(path)):
            document.title = title_from_source(url)  # the page had no title: name it by its URL
        document.title = short_title(document.title) or "Untitled"
        if document.date is None and fmt == "html":
            document.date = page_date(data)
        if document.date is None:
            document.date = fallback_date
    return documents


def page_date(data: bytes) -> dt.date | None:
    """The publication date htmldate finds in a page that states none Steward reads."""
    try:
        from htmldate import find_date

        found = find_date(data.decode("utf-8", "replace"), original_date=True,
                          extensive_search=False)
    except Exception:  # a date is a nicety: a page htmldate chokes on is still indexed
        log.debug("htmldate failed", exc_info=True)
        return None
    try:
        return dt.date.fromisoformat(found) if found else None
    except ValueError:
        return None
