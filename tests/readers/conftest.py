"""Fixtures for the corpus reader tests: real small files of every format, made here.

Helpers are handed out as fixtures (``make_pdf``, ``make_docx``, ``samples``) rather than
imported, because several folders of this test suite have a conftest.py of their own.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from corpus.types import ReaderSettings

SAMPLES = Path(__file__).resolve().parents[2] / "corpus" / "samples"


@pytest.fixture
def settings() -> ReaderSettings:
    return ReaderSettings()


@pytest.fixture(scope="session")
def samples() -> Path:
    """The folder of the shipped sample documents."""
    return SAMPLES


@pytest.fixture(scope="session")
def make_pdf() -> Callable[..., bytes]:
    return pdf_bytes


@pytest.fixture(scope="session")
def make_docx() -> Callable[..., bytes]:
    return docx_bytes


def pdf_bytes(pages: Sequence[Sequence[str]], title: str | None = None) -> bytes:
    """A PDF with one page per item; each page holds the given paragraphs."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title:
        pdf.set_title(title)
    for paragraphs in pages:
        pdf.add_page()
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(6)
    return bytes(pdf.output())


def docx_bytes(
    paragraphs: Sequence[str],
    *,
    title: str | None = None,
    author: str | None = None,
    created: object = None,
    table: Sequence[Sequence[str]] | None = None,
    heading: str | None = None,
) -> bytes:
    document = docx.Document()
    if heading:
        document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    props = document.core_properties
    if title is not None:
        props.title = title
    if author is not None:
        props.author = author
    if created is not None:
        props.created = created
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """write(name, content) → the path of a new file in tmp_path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return _write
