"""The paragraphs around a span of a document's text, so a reader can check a quote in place.

Paragraphs are blocks separated by a blank line, as in :class:`corpus.types.Document`.
"""

from __future__ import annotations


def paragraph_window(text: str, start: int, end: int, paragraphs: int = 1) -> tuple[int, int]:
    """The span of ``text`` from ``paragraphs`` paragraphs before the one holding ``start``
    to ``paragraphs`` paragraphs after the one holding ``end`` (clipped to the text).

    A span starting on a paragraph's first character (or ending on its last) is counted
    from the paragraph before (or after) it, so it gets one more paragraph on that side.
    """
    lo = start
    for _ in range(paragraphs + 1):
        found = text.rfind("\n\n", 0, max(lo - 1, 0))
        lo = 0 if found < 0 else found + 2
        if found < 0:
            break
    hi = end
    for _ in range(paragraphs + 1):
        found = text.find("\n\n", hi + 1)
        hi = len(text) if found < 0 else found
        if found < 0:
            break
    return lo, hi


def paragraphs_around(text: str, start: int, end: int, paragraphs: int = 1) -> str:
    """The text of :func:`paragraph_window`, without the blank lines at its edges."""
    lo, hi = paragraph_window(text, start, end, paragraphs)
    return text[lo:hi].strip()
