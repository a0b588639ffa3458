"""Test support shared by several test files (imported by name; conftest.py is not)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docx
import numpy as np
from fpdf import FPDF

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config.toml"


class HashEncoder:
    """A deterministic bag-of-words encoder: fast, so index mechanics can be tested in bulk.

    It counts how many texts it encoded, which is what incremental-indexing tests check.
    Questions about meaning use the real model instead.
    """

    name = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)

    def _vector(self, text: str) -> np.ndarray:
        out = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            out[h % self.dimension] += 1.0
        norm = np.linalg.norm(out)
        return out / norm if norm else out


class SpanHashEncoder(HashEncoder):
    """HashEncoder that, like the shipped encoders, gives its texts' span vectors in the same
    pass (``encoded`` counts the texts only, as a real encoder runs once per text). Spans
    reaching past ``seen_chars`` get NaN rows, as spans past a real encoder's truncation do."""

    def __init__(self, seen_chars: int = 10**9) -> None:
        super().__init__()
        self.seen_chars = seen_chars

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], batch_size: int = 32,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        pooled = [
            np.array(
                [self._vector(t[a:b]) if b <= self.seen_chars else np.full(self.dimension, np.nan) for a, b in sp],
                dtype=np.float32,
            ).reshape(len(sp), self.dimension)
            for t, sp in zip(texts, spans, strict=True)
        ]
        return self.encode(texts), pooled


def make_steward(data_dir: Path, encoder: object | None = None, **overrides: object):
    """A Steward on ``data_dir`` with the repo's config; ``encoder`` replaces the model."""
    from bot.app import Steward
    from bot.config import load_config

    config = load_config(CONFIG, data_dir)
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        setattr(getattr(config, section), key, value)
    steward = Steward(config)
    if encoder is not None:
        steward._encoder = encoder
    return steward


# -- real small files, for reader and robustness tests ----------------------------------------


def pdf_bytes(pages: Sequence[Sequence[str]], title: str | None = None, author: str | None = None) -> bytes:
    """A PDF with one page per item; each page holds the given paragraphs."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
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


@contextlib.contextmanager
def http_server(
    handler: type[BaseHTTPRequestHandler], release: threading.Event | None = None, **attributes: object
) -> Iterator[str]:
    """A local HTTP server on a free port, as its base URL; ``attributes`` are set on the
    server for the handler to read. ``release`` is set before shutting down, so handlers
    held waiting on it (slow responses) let the server stop."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    for name, value in attributes.items():
        setattr(server, name, value)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if release is not None:
            release.set()
        server.shutdown()
        server.server_close()
