"""DOCX: body paragraphs and tables in order (python-docx); core properties as metadata.

A DOCX is a ZIP archive, so its entries and unpacked size are checked against
``max_docx_entries`` / ``max_docx_unzipped_bytes`` before anything is unpacked: a small
file that unpacks to gigabytes (a decompression bomb) is refused. Page headers and footers
are not read (they repeat on every page, like site chrome).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from corpus.clean import clean_text
from corpus.readers import Extracted, ReadContext

_MB = 1024 * 1024
_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n)+")
# python-docx's own template says this; it describes the library, not the document.
_TEMPLATE_AUTHOR = "python-docx"
_TEMPLATE_CREATED = dt.datetime(2013, 12, 23, 23, 15, tzinfo=dt.UTC)


def _check_zip(data: bytes, ctx: ReadContext) -> None:
    settings = ctx.settings
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise ctx.fail("not a valid DOCX file (it is not a ZIP archive); if it is an old "
                       "Word .doc, open it in Word or LibreOffice and save it as .docx") from err
    if len(entries) > settings.max_docx_entries:
        raise ctx.fail(f"the DOCX holds {len(entries):,} files, more than max_docx_entries = "
                       f"{settings.max_docx_entries:,}; it may be a decompression bomb, refused")
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > settings.max_docx_unzipped_bytes:
        raise ctx.fail(f"the DOCX would unpack to {unpacked / _MB:,.0f} MB, more than "
                       f"max_docx_unzipped_bytes = {settings.max_docx_unzipped_bytes / _MB:,.0f}"
                       " MB; it may be a decompression bomb, refused")
    if "word/document.xml" not in {entry.filename for entry in entries}:
        raise ctx.fail("not a Word document (the archive has no word/document.xml); "
                       "save it from your word processor as .docx")


def _blocks(document: docx.document.Document) -> list[str]:
    """Paragraphs and tables in body order; a table is one block, a row per line."""
    blocks = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            blocks.append(item.text)
        elif isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells, seen = [], set()
                for cell in row.cells:
                    if id(cell._tc) not in seen:  # a merged cell is listed once per column
                        seen.add(id(cell._tc))
                        cells.append(" ".join(cell.text.split()))
                rows.append(" ".join(c for c in cells if c))
            blocks.append("\n".join(rows))
    return [block for block in blocks if block.strip()]


def _core_properties(document: docx.document.Document) -> dict[str, object]:
    props = document.core_properties
    meta: dict[str, object] = {}
    if props.title and props.title.strip():
        meta["title"] = " ".join(props.title.split())
    if props.author and props.author.strip() and props.author != _TEMPLATE_AUTHOR:
        meta["author"] = " ".join(props.author.split())
    created = props.created
    if isinstance(created, dt.datetime) and created != _TEMPLATE_CREATED.replace(
        tzinfo=created.tzinfo
    ):
        meta["date"] = created.date()
    return meta


def _heading_title(document: docx.document.Document) -> str | None:
    """The first paragraph styled Title or Heading 1, when the properties give no title."""
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if style in ("Title", "Heading 1") and paragraph.text.strip():
            return " ".join(paragraph.text.split())
    return None


def read(data: bytes, ctx: ReadContext) -> Extracted:
    _check_zip(data, ctx)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = _blocks(document)
        meta = _core_properties(document)
        if not meta.get("title") and (title := _heading_title(document)):
            meta["title"] = title
    except Exception as err:  # python-docx and lxml raise many types for damaged files
        raise ctx.fail(f"the DOCX is damaged and could not be read ({err}); open it in Word "
                       "or LibreOffice and save it again") from err
    # A blank line inside one Word paragraph (two Shift+Enter) must not split it.
    text = "\n\n".join(_BLANK_LINES.sub("\n", block) for block in blocks)
    return Extracted(text=clean_text(text, ctx.settings.chrome_lines, ctx.settings.chrome_captions), meta=meta)
