"""Which sentences around the key sentence a quote shows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.answer import Answerer, AnswerSettings


def answerer(**settings: object) -> Answerer:
    # _window needs only the settings; no index is searched here.
    return Answerer(searcher=None, store=None, settings=AnswerSettings(**settings))  # type: ignore[arg-type]


def spans_of(lengths: list[int]) -> list[tuple[int, int]]:
    spans, at = [], 0
    for n in lengths:
        spans.append((at, at + n))
        at += n + 1
    return spans


def test_a_quote_reaches_a_strong_sentence_two_along() -> None:
    # Sentence 4 is nearly as good as the key (2); growing toward the better immediate
    # neighbour (1, then 3) would leave it out.
    scores = [0.1, 0.5, 0.9, 0.45, 0.8]
    assert answerer()._window(spans_of([100] * 5), scores, 2) == (2, 4)


def test_a_quote_keeps_to_the_character_limit() -> None:
    # 1..3 and 0..2 are longer than 700 characters; of the two-sentence runs, 1..2 scores best.
    spans = spans_of([100, 500, 150, 150])
    first, last = answerer(quote_max_chars=700)._window(spans, [0.1, 0.8, 0.9, 0.7], 2)
    assert spans[last][1] - spans[first][0] <= 700
    assert (first, last) == (1, 2)


def test_a_long_key_sentence_is_quoted_alone() -> None:
    spans = spans_of([100, 900, 100])
    assert answerer(quote_max_chars=700)._window(spans, [0.5, 0.9, 0.5], 1) == (1, 1)


@given(
    lengths=st.lists(st.integers(1, 400), min_size=1, max_size=12),
    scores=st.lists(st.floats(-1, 3), min_size=12, max_size=12),
    most=st.integers(1, 4),
    limit=st.integers(80, 900),
    data=st.data(),
)
def test_the_window_holds_the_key_and_is_as_long_as_the_limits_allow(
    lengths: list[int], scores: list[float], most: int, limit: int, data: st.DataObject
) -> None:
    spans = spans_of(lengths)
    key = data.draw(st.integers(0, len(spans) - 1))
    first, last = answerer(quote_max_sentences=most, quote_max_chars=limit)._window(spans, scores[: len(spans)], key)
    assert first <= key <= last
    assert last - first + 1 <= most
    assert first == last or spans[last][1] - spans[first][0] <= limit
    # No longer run around the key fits the limits.
    for a in range(max(0, key - most + 1), key + 1):
        for b in range(key, min(len(spans), a + most)):
            if b - a > last - first:
                assert spans[b][1] - spans[a][0] > limit
