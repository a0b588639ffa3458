"""Passages: exact spans, sentence-aware sizes, headings kept with their text, stable ids."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.chunk import ChunkerSettings, chunk_document, paragraph_spans
from corpus.types import Document

SAMPLE = (
    "Why we organize\n\n"
    "Workers win when they act together. The union is its members. "
    "Every shop needs a steward who listens.\n\n"
    "Filing a grievance\n\n"
    "A grievance starts with the facts. Write down who, what, when and where. "
    "Then talk to your steward within five days."
)


def doc(text: str, **kw: object) -> Document:
    return Document(source="mem", title="T", text=text, doc_id="d1", **kw)


def test_spans_slice_back_to_text_and_cover_every_sentence() -> None:
    passages = chunk_document(doc(SAMPLE), ChunkerSettings(target_words=10, max_words=20))
    assert all(SAMPLE[p.start : p.end] == p.text for p in passages)
    joined = " ".join(p.text for p in passages)
    for sentence in ("Workers win when they act together.", "Then talk to your steward within five days."):
        assert sentence in joined


def test_heading_stays_with_the_text_it_introduces() -> None:
    passages = chunk_document(doc(SAMPLE), ChunkerSettings(target_words=10, max_words=30, overlap_sentences=0))
    for p in passages:
        assert not p.text.rstrip().endswith(("Why we organize", "Filing a grievance"))
    grievance = next(p for p in passages if "Filing a grievance" in p.text)
    assert grievance.text.startswith("Filing a grievance\n\nA grievance starts with the facts.")
    assert grievance.heading == "Filing a grievance"


def test_passages_respect_max_words_and_never_cut_a_sentence() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(60))
    passages = chunk_document(doc(text), ChunkerSettings(target_words=30, max_words=40))
    assert len(passages) > 5
    for p in passages:
        assert len(p.text.split()) <= 40
        assert p.text.startswith("Sentence") and p.text.endswith("words.")


def test_a_sentence_longer_than_the_limit_is_cut_at_word_boundaries() -> None:
    text = " ".join(["solidarity"] * 95) + "."
    passages = chunk_document(doc(text), ChunkerSettings(target_words=20, max_words=40, overlap_sentences=0))
    assert [len(p.text.split()) for p in passages] == [40, 40, 15]
    assert all(text[p.start : p.end] == p.text for p in passages)


def test_overlap_repeats_the_boundary_sentence() -> None:
    text = " ".join(f"Point {i} matters." for i in range(20))
    one = chunk_document(doc(text), ChunkerSettings(target_words=9, max_words=12, overlap_sentences=1))
    assert one[0].text.split(".")[-2].strip() in one[1].text


def test_ids_are_stable_and_depend_on_the_text() -> None:
    a = chunk_document(doc(SAMPLE))
    b = chunk_document(doc(SAMPLE))
    assert [p.passage_id for p in a] == [p.passage_id for p in b]
    changed = chunk_document(doc(SAMPLE.replace("five days", "ten days")))
    assert a[0].passage_id == changed[0].passage_id or len(a) == 1
    assert a[-1].passage_id != changed[-1].passage_id


def test_repeated_paragraphs_get_distinct_ids() -> None:
    para = "The same paragraph appears twice in this scraped page, word for word."
    settings = ChunkerSettings(target_words=5, max_words=20, overlap_sentences=0)
    passages = chunk_document(doc(f"{para}\n\n{para}"), settings)
    assert len({p.passage_id for p in passages}) == len(passages) == 2


def test_locators_are_paragraph_numbers_or_pages() -> None:
    passages = chunk_document(doc(SAMPLE), ChunkerSettings(target_words=10, max_words=30, overlap_sentences=0))
    assert passages[0].locator_kind == "paragraph" and passages[0].locator == 1
    grievance = next(p for p in passages if p.text.startswith("Filing"))
    assert grievance.locator == 3 and grievance.locator_label == "¶ 3"
    page_two = SAMPLE.index("Filing")
    settings = ChunkerSettings(target_words=10, max_words=30, overlap_sentences=0)
    paged = chunk_document(doc(SAMPLE, pages=(0, page_two)), settings)
    assert [p.locator_label for p in paged][-1] == "p. 2"
    assert paged[0].locator_label == "p. 1"


def test_paragraph_spans_ignore_blank_blocks() -> None:
    text = "One.\n\n   \n\nTwo.\nstill two.\n\nThree."
    assert [text[s:e] for s, e in paragraph_spans(text)] == ["One.", "Two.\nstill two.", "Three."]


def test_bad_settings_are_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="target_words"):
        ChunkerSettings(target_words=200, max_words=100)


_words = st.sampled_from(
    ["union", "strike", "Dr.", "U.S.", "wage", "“quote”", "pay.", "Why?", "1935", "—", "…", "limitations..", "..."]
)
_sentence = st.lists(_words, min_size=1, max_size=25).map(lambda ws: " ".join(ws))
_paragraph = st.lists(_sentence, min_size=1, max_size=6).map(lambda ss: " ".join(ss))
_text = st.lists(_paragraph, min_size=1, max_size=8).map(lambda ps: "\n\n".join(ps))


@settings(max_examples=150, deadline=None)
@given(text=_text, target=st.integers(3, 40), extra=st.integers(0, 30), overlap=st.integers(0, 2))
def test_property_every_span_slices_back_to_its_text(text: str, target: int, extra: int, overlap: int) -> None:
    document = doc(text)
    passages = chunk_document(document, ChunkerSettings(target, target + extra, overlap))
    assert passages, "non-empty text gives at least one passage"
    for p in passages:
        assert document.text[p.start : p.end] == p.text
        assert p.text == p.text.strip()
    # Every word of the document is in some passage.
    covered = set()
    for p in passages:
        covered.update(range(p.start, p.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    # No sentence is bare punctuation ("limitations.." once left a lone "." to start the next
    # passage) unless its whole paragraph is.
    paragraphs = paragraph_spans(text)
    for p in passages:
        for s, e in p.sentences:
            ps, pe = next(span for span in paragraphs if span[0] <= s and e <= span[1])
            assert any(ch.isalnum() for ch in text[s:e]) or not any(ch.isalnum() for ch in text[ps:pe])


def test_a_doubled_full_stop_stays_with_its_sentence() -> None:
    text = "Some rules have limitations.. The next passage must not start with a dot. It is a sentence."
    passages = chunk_document(doc(text), ChunkerSettings(target_words=4, max_words=12, overlap_sentences=0))
    assert [p.text for p in passages][:2] == [
        "Some rules have limitations..", "The next passage must not start with a dot.",
    ]
    assert all(not p.text.startswith(".") for p in passages)


def test_headings_the_reader_marked_are_headings_even_with_a_full_stop() -> None:
    text = "You have the right to be paid overtime.\n\nHours over forty are paid at time and a half. Ask for it."
    marked = doc(text, headings=((0, 39),))
    (passage,) = chunk_document(marked, ChunkerSettings(target_words=50, max_words=80))
    assert passage.heading == "You have the right to be paid overtime."
    assert [text[s:e] for s, e in passage.headings] == ["You have the right to be paid overtime."]
    # Without the mark, a line that ends like a sentence is a sentence.
    (plain,) = chunk_document(doc(text), ChunkerSettings(target_words=50, max_words=80))
    assert plain.heading is None and plain.headings == ()
