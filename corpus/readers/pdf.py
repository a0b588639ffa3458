"""PDF: text page by page (pypdf), with each page's start offset kept for citations.

Pages are joined with one blank line, so a page always starts a new paragraph; within a
page, pypdf's line breaks are kept. ``Extracted.pages[n - 1]`` is the offset in the text
where page ``n`` starts (an empty page starts where the next text would).
"""

from __future__ import annotations

import io
import logging

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from corpus.clean import clean_text
from corpus.readers import Extracted, ReadContext

log = logging.getLogger(__name__)
_HEADER_WINDOW = 1024  # the PDF spec lets "%PDF-" sit anywhere in the first 1 KB


def _open(data: bytes, ctx: ReadContext) -> PdfReader:
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise ctx.fail("not a PDF file (it does not start with %PDF-); check that it is "
                       "the right file, or give it its real extension")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as err:  # pypdf raises many types for damaged files
        raise ctx.fail(f"the PDF is damaged and could not be read ({err}); open it in a "
                       "PDF viewer and save or print it to a new PDF") from err
    if reader.is_encrypted:
        try:
            # Many PDFs are "encrypted" with an empty password just to restrict printing.
            decrypted = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except DependencyError as err:
            raise ctx.fail("the PDF is encrypted with AES, which needs the 'cryptography' "
                           "package; install it, or remove the password and try again") from err
        except Exception:
            decrypted = False
        if not decrypted:
            raise ctx.fail("PDF is encrypted; remove the password and try again")
    return reader


def _page_count(reader: PdfReader, ctx: ReadContext) -> int:
    try:
        count = len(reader.pages)
    except Exception as err:
        raise ctx.fail(f"the PDF is damaged: its page list could not be read ({err})") from err
    limit = ctx.settings.max_pdf_pages
    if count > limit:
        raise ctx.fail(f"the PDF has {count:,} pages, more than max_pdf_pages = {limit:,}; "
                       "split it, or raise max_pdf_pages in config.toml [reader]")
    return count


def _document_info(reader: PdfReader) -> dict[str, object]:
    """Title and author from the document information dictionary, where they look real."""
    meta: dict[str, object] = {}
    try:
        info = reader.metadata
        title, author = (info.title, info.author) if info else (None, None)
    except Exception:  # a damaged info dictionary is no reason to refuse the text
        return meta
    if isinstance(title, str) and title.strip() and title.strip().lower() != "untitled" \
            and not title.startswith("Microsoft Word - "):
        meta["title"] = " ".join(title.split())
    if isinstance(author, str) and author.strip():
        meta["author"] = " ".join(author.split())
    return meta


def read(data: bytes, ctx: ReadContext) -> Extracted:
    reader = _open(data, ctx)
    count = _page_count(reader, ctx)
    chrome = ctx.settings.chrome_lines
    text, starts = "", []
    first_error: Exception | None = None
    for number in range(count):
        ctx.check_time()
        try:
            page_text = clean_text(reader.pages[number].extract_text(), chrome, ctx.settings.chrome_captions)
        except (MemoryError, RecursionError):
            raise  # the whole file is too big or too deep, not one damaged page (load_source says so)
        except Exception as err:  # one unreadable page should not lose the others
            log.warning("%s: page %d could not be read (%s); it is left empty",
                        ctx.source, number + 1, err)
            first_error = first_error or err
            page_text = ""
        if text and page_text:
            text += "\n\n"
        starts.append(len(text))
        text += page_text
        ctx.check_length(len(text))
    if not text and first_error is not None:  # not a scan: e.g. a decompression bomb pypdf refused
        raise ctx.fail(f"the PDF is damaged: no page could be read ({first_error}); open it in a "
                       "PDF viewer and save or print it to a new PDF")
    if not text:
        raise ctx.fail("the PDF has no text to extract (it is probably scanned images); "
                       "run OCR on it first (e.g. ocrmypdf) and add the result")
    return Extracted(text=text, meta=_document_info(reader), pages=tuple(starts))
