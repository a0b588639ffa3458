"""Sentence boundaries as character spans, so quotes and passages stay exact slices."""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd

# pysbd is accurate on abbreviations ("Feb.", "U.S.") but slow on huge blocks; past this many
# characters a plain punctuation rule is used so a 10 MB single line cannot stall ingest.
_PYSBD_MAX_CHARS = 20_000
_WORDLIKE = re.compile(r"\w")
_SIMPLE_BOUNDARY = re.compile(r"(?<=[.!?…])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9À-Ý])")


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _simple_spans(block: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _SIMPLE_BOUNDARY.finditer(block):
        spans.append((start, match.start() + len(match.group(0).rstrip())))
        start = match.end()
    spans.append((start, len(block)))
    return spans


def _pysbd_spans(block: str) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for piece in _segmenter().segment(block):
        # pysbd's own offsets drift on some inputs; locate each piece from the cursor instead.
        found = block.find(piece.sent, cursor)
        if found < 0:
            return _simple_spans(block)
        spans.append((found, found + len(piece.sent)))
        cursor = found + len(piece.sent)
    return spans


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans ``(s, e)`` of the sentences in ``text[start:end]``, in ``text``'s coordinates.

    Spans never include surrounding whitespace and never cross a line break that separates
    paragraphs; a single line break inside a sentence is kept.
    """
    end = len(text) if end is None else end
    block = text[start:end]
    if not block.strip():
        return []
    raw = _simple_spans(block) if len(block) > _PYSBD_MAX_CHARS else _pysbd_spans(block)
    spans: list[tuple[int, int]] = []
    lead: int | None = None  # bare punctuation at the very start, joined to what follows
    for s, e in raw:
        s, e = _trim(block, s, e)
        if s >= e:
            continue
        if not _WORDLIKE.search(block, s, e):
            # A run of bare punctuation ("limitations.." splits as "limitations." + ".") ends
            # the sentence before it; it is never a sentence (or a passage start) of its own.
            if spans:
                spans[-1] = (spans[-1][0], start + e)
            elif lead is None:
                lead = s
            continue
        spans.append((start + (s if lead is None else lead), start + e))
        lead = None
    if lead is not None:  # nothing but punctuation in the block
        spans.append((start + lead, start + _trim(block, lead, len(block))[1]))
    return spans
