"""Answers on the shipped samples with the real model: right quotes, honest abstention,
verbatim text, stable JSON."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import render
from corpus.store import Filters

HERMANSON = "Maximizing México’s ‘CIO Moment’: Tri-National Labor Unity"


def test_union_growth_question_quotes_the_1935_sentence_and_cites_hermanson(sample_steward) -> None:
    answer = sample_steward.ask("How much did US union membership grow after 1935?")
    assert answer.answered
    first = answer.quotes[0]
    assert "from three million union members in 1935 to six million in 1940" in first.key_sentence
    assert first.citation.title == HERMANSON
    assert first.citation.date == dt.date(2023, 2, 1)
    assert first.citation.publication == "Bulletin"
    assert re.fullmatch(r"¶ \d+", first.citation.locator)
    assert [q.n for q in answer.quotes] == list(range(1, len(answer.quotes) + 1))
    assert 1 <= len(answer.quotes) <= 3


def test_welga_ng_bayan_quotes_scipes_on_the_peoples_strike(sample_steward) -> None:
    answer = sample_steward.ask("What is a welga ng bayan?")
    assert answer.answered
    first = answer.quotes[0]
    assert "welga ng bayan" in first.text and "people’s strike" in first.text
    assert first.citation.author == "Kim Scipes"


def test_pizza_dough_is_not_answered_and_names_the_closest_titles(sample_steward) -> None:
    answer = sample_steward.ask("What is a good recipe for pizza dough?")
    assert not answer.answered and answer.quotes == []
    titles = [title for _doc, title in answer.closest]
    assert HERMANSON in titles and len(titles) == 2
    text = render.answer_text(answer)
    assert "don't seem to cover" in text and HERMANSON in text


def test_quotes_are_trimmed_to_a_few_sentences(sample_steward) -> None:
    answer = sample_steward.ask("How did NAFTA affect unions in Mexico?")
    for quote in answer.quotes:
        assert len(quote.text) <= 700 or quote.text == quote.key_sentence
        assert quote.key_sentence in quote.text


def test_filters_limit_the_documents_quoted(sample_steward) -> None:
    answer = sample_steward.ask("How can unions build solidarity across borders?", Filters(publication="Bulletin"))
    assert answer.answered and {q.citation.title for q in answer.quotes} == {HERMANSON}
    later = sample_steward.ask("How can unions build solidarity across borders?", Filters(since=dt.date(2030, 1, 1)))
    assert not later.answered and later.quotes == []


def test_more_passages_gives_new_ones(sample_steward) -> None:
    first = sample_steward.ask("What did US unions do about NAFTA?")
    more = sample_steward.ask("What did US unions do about NAFTA?", page=1)
    assert more.quotes and not set(first.passage_ids) & set(more.passage_ids)


def test_json_shape_is_the_documented_interface(sample_steward) -> None:
    data = render.answer_json(sample_steward.ask("What is a welga ng bayan?"))
    assert set(data) == {"question", "answered", "quotes", "closest"}
    quote = data["quotes"][0]
    assert set(quote) == {"n", "text", "key_sentence", "doc_id", "passage_id", "score", "citation", "also_in"}
    assert set(quote["citation"]) == {"title", "publication", "date", "author", "locator", "url"}
    assert set(data["closest"][0]) == {"doc_id", "title"}


def test_terminal_text_numbers_quotes_and_marks_the_key_sentence(sample_steward) -> None:
    answer = sample_steward.ask("How much did US union membership grow after 1935?")
    text = render.answer_text(answer, color=False)
    assert text.startswith("[1] “") and "Sources:" in text
    assert "**" in text and "[1] Maximizing México" in text


def _corpus_words(steward) -> list[str]:
    words: set[str] = set()
    for info in steward.store.documents():
        words.update(w for w in re.findall(r"[A-Za-zÀ-ÿ’']{3,}", steward.store.document(info.doc_id).text))
    return sorted(words)


@pytest.fixture(scope="module")
def corpus_words(sample_steward) -> list[str]:
    return _corpus_words(sample_steward)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_quote_is_verbatim_from_its_document(sample_steward, corpus_words, data) -> None:
    words = data.draw(st.lists(st.sampled_from(corpus_words), min_size=1, max_size=8))
    question = " ".join(words) + "?"
    answer = sample_steward.ask(question)
    for quote in answer.quotes:
        text = sample_steward.store.document(quote.doc_id).text
        assert text[quote.start : quote.end] == quote.text
        assert quote.key_sentence in quote.text
        assert quote.citation.doc_id == quote.doc_id
