"""Fixtures for the corpus reader tests: real small files of every format, made here.

Helpers are handed out as fixtures (``make_pdf``, ``make_docx``, ``samples``) rather than
imported, because several folders of this test suite have a conftest.py of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from stewardtest import docx_bytes, pdf_bytes

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
