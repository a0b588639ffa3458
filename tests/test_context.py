"""The paragraphs shown around a quote ("source N" in the CLI, "Show source" in Discord)."""

from __future__ import annotations

from corpus.context import paragraph_window, paragraphs_around

TEXT = "One first.\n\nTwo second.\n\nThree third has the quote.\n\nFour fourth.\n\nFive fifth."


def test_one_paragraph_either_side_of_the_quote() -> None:
    start = TEXT.index("has the quote")
    end = start + len("has the quote")
    assert paragraphs_around(TEXT, start, end) == (
        "Two second.\n\nThree third has the quote.\n\nFour fourth.")
    assert paragraphs_around(TEXT, start, end, paragraphs=0) == "Three third has the quote."


def test_the_window_stops_at_the_edges_of_the_text() -> None:
    assert paragraph_window(TEXT, 0, 3) == (0, TEXT.index("\n\nThree"))
    start = TEXT.index("fifth")
    assert paragraph_window(TEXT, start, len(TEXT), paragraphs=2) == (
        TEXT.index("Three"), len(TEXT))
    assert paragraphs_around("no blank lines here", 3, 8) == "no blank lines here"
