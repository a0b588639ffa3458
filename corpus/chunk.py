"""Paragraph- and sentence-aware chunking of a document into passages.

A passage is a run of whole sentences of about ``target_words`` words, ending at a
paragraph boundary where it can, never longer than ``max_words`` unless one sentence alone
is (then that sentence is cut at word boundaries). Consecutive passages share
``overlap_sentences`` sentences so an answer that straddles a boundary is still found.
A heading (a short line without closing punctuation) never ends a passage: it stays with
the text it introduces.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from corpus.language import passage_language
from corpus.sentences import sentence_spans
from corpus.types import Document, Passage

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_WORD = re.compile(r"\S+")
_WORDLIKE = re.compile(r"\w")
_HEADING_MAX_WORDS = 14


@dataclass(frozen=True)
class ChunkerSettings:
    """How documents are cut into passages; recorded in every index manifest."""

    target_words: int = 110
    max_words: int = 170
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        if self.target_words < 1 or self.max_words < self.target_words:
            raise ValueError(
                "chunker: need 1 <= target_words <= max_words "
                f"(got target_words={self.target_words}, max_words={self.max_words})"
            )
        if self.overlap_sentences < 0:
            raise ValueError("chunker: overlap_sentences must be 0 or more")


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    words: int
    paragraph: int
    heading: bool


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the paragraphs (blocks separated by a blank line) of ``text``."""
    spans, start = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        if text[start : match.start()].strip():
            spans.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def is_heading(block: str) -> bool:
    """A paragraph that reads as a heading: one short line without closing punctuation."""
    block = block.strip()
    return (
        "\n" not in block
        and len(block.split()) <= _HEADING_MAX_WORDS
        and not block.endswith((".", "!", "?", ",", ";", ":", "…", "\"", "”"))
    )


def _split_long(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence at word boundaries into pieces of at most max_words."""
    words = list(_WORD.finditer(text, start, end))
    pieces = [
        (words[i].start(), words[min(i + max_words, len(words)) - 1].end())
        for i in range(0, len(words), max_words)
    ]
    # A piece of bare punctuation ("…", "— —") joins its neighbour rather than become a
    # passage of its own.
    merged: list[tuple[int, int]] = []
    for s, e in pieces:
        if merged and (not _WORDLIKE.search(text, s, e) or not _WORDLIKE.search(text, *merged[-1])):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _units(text: str, max_words: int, marked: frozenset[tuple[int, int]] = frozenset()) -> list[_Unit]:
    units = []
    for number, (p_start, p_end) in enumerate(paragraph_spans(text), start=1):
        heading = (p_start, p_end) in marked or is_heading(text[p_start:p_end])
        spans = [(p_start, p_end)] if heading else sentence_spans(text, p_start, p_end)
        for s, e in spans:
            n = len(_WORD.findall(text, s, e))
            pieces = _split_long(text, s, e, max_words) if n > max_words else [(s, e)]
            for ps, pe in pieces:
                units.append(_Unit(ps, pe, len(_WORD.findall(text, ps, pe)), number, heading))
    return units


def _group(units: list[_Unit], settings: ChunkerSettings) -> list[tuple[int, int]]:
    """Index ranges [i, j) of units forming each passage."""
    groups, i, n = [], 0, len(units)
    while i < n:
        j, words = i, 0
        while j < n:
            if j > i and words + units[j].words > settings.max_words and not units[j - 1].heading:
                break
            words += units[j].words
            j += 1
            paragraph_ends = j == n or units[j].paragraph != units[j - 1].paragraph
            if paragraph_ends and words >= settings.target_words and not units[j - 1].heading:
                break
        groups.append((i, j))
        if j >= n:
            break
        i = max(i + 1, j - settings.overlap_sentences)
    return groups


def passage_id(doc_id: str, title: str, text: str, occurrence: int = 0) -> str:
    """Stable id: the same document, title and passage text always give the same id."""
    key = f"{doc_id}\0{title}\0{text}\0{occurrence}" if occurrence else f"{doc_id}\0{title}\0{text}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def chunk_document(document: Document, settings: ChunkerSettings | None = None) -> list[Passage]:
    """Cut ``document`` into passages whose spans slice back exactly to their text."""
    settings = settings or ChunkerSettings()
    text = document.text
    units = _units(text, settings.max_words, frozenset(document.headings))
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for ordinal, (i, j) in enumerate(_group(units, settings)):
        start, end = units[i].start, units[j - 1].end
        body = text[start:end]
        first = units[i]
        heading = text[first.start : first.end] if first.heading else None
        page = document.page_at(start)
        base = passage_id(document.doc_id, document.title, body)
        occurrence = seen.get(base, 0)
        seen[base] = occurrence + 1
        passages.append(
            Passage(
                passage_id=passage_id(document.doc_id, document.title, body, occurrence),
                doc_id=document.doc_id,
                start=start,
                end=end,
                text=body,
                locator_kind="page" if page is not None else "paragraph",
                locator=page if page is not None else first.paragraph,
                ordinal=ordinal,
                heading=heading,
                sentences=tuple((u.start, u.end) for u in units[i:j]),
                headings=tuple((u.start, u.end) for u in units[i:j] if u.heading),
                language=passage_language(body, document.language),
            )
        )
    return passages
