"""Keyword search per language: Spanish text stemmed by Spanish rules, accents folded, the
question tokenized by its own language's rules, passages in another language than the
question not punished in fusion, and an index made by the old tokenizer rebuilt or refused."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from stewardtest import HashEncoder

from bot.answer import topic_terms
from corpus.chunk import ChunkerSettings, chunk_document
from corpus.store import Store
from corpus.types import Document
from embeddings.encoder import EncoderSettings
from embeddings.errors import IndexMismatch
from embeddings.generations import MANIFEST, Generations, IndexSettings
from embeddings.indexer import Indexer
from embeddings.keyword import KeywordIndex, query_language, tokenize
from embeddings.search import Searcher, SearchSettings, cross_language_rule

CHUNKER = ChunkerSettings(target_words=40, max_words=60, overlap_sentences=0)
SETTINGS = IndexSettings(encoder=EncoderSettings(), chunker={"target_words": 40, "max_words": 60,
                                                             "overlap_sentences": 0})


def ranked(index: KeywordIndex, query: str, language: str | None = None) -> list[int]:
    vids, _scores = index.search(query, 10, language=language)
    return vids.tolist()


# -- tokenization ----------------------------------------------------------------------------


def test_a_spanish_question_finds_the_other_inflection_of_its_word() -> None:
    texts = [
        "Las trabajadoras despedidas podrán reclamar ante el juzgado en veinte días.",
        "El salario se paga en moneda de curso legal cada mes.",
        "Las vacaciones anuales no podrán ser inferiores a treinta días naturales.",
    ]
    index = KeywordIndex.build([10, 11, 12], texts, languages=["es", "es", "es"])
    # "trabajador despedido" (masculine singular) against "trabajadoras despedidas".
    assert ranked(index, "¿qué puede hacer un trabajador despedido?", "es")[0] == 10
    assert ranked(index, "vacación anual", "es")[0] == 12
    # English rules would not have matched those inflections.
    english = KeywordIndex.build([10, 11, 12], texts)
    assert 10 not in ranked(english, "trabajador despedido", "en")
    assert tokenize("trabajadores", "es") == tokenize("trabajadora", "es") == tokenize("trabajador", "es")


def test_accents_are_folded_for_matching_in_both_languages() -> None:
    index = KeywordIndex.build(
        [1, 2, 3],
        ["Organizing auto plants in México after the reform.", "La afiliación sindical creció en 1935.",
         "Heat rules for warehouse workers."],
        languages=["en", "es", "en"],
    )
    assert ranked(index, "mexico auto plants", "en")[0] == 1
    assert ranked(index, "afiliacion sindical", "es")[0] == 2  # typed without its accent
    assert tokenize("México café") == tokenize("Mexico cafe")
    assert tokenize("afiliación", "es") == tokenize("afiliacion", "es") == ["afiliacion"]


def test_a_passage_in_a_language_without_rules_takes_the_english_ones() -> None:
    assert tokenize("the workers voted", "fr") == tokenize("the workers voted") == tokenize("the workers voted", None)


@pytest.mark.parametrize(("question", "language"), [
    ("¿Cuántos días de vacaciones me corresponden al año?", "es"),
    ("vacaciones?", "es"),  # too short to detect: the likelier of English and Spanish
    ("cuanto me pagan si me despiden", "es"),
    ("How many vacation days do I get each year?", "en"),
    ("best tacos in puebla?", "en"),  # Spanish words, English question: its stop words tell
    ("overtime", "en"),
])
def test_the_question_language_picks_the_tokenizer(question: str, language: str) -> None:
    assert query_language(question) == language


def test_a_question_is_searched_by_its_own_language_rules_when_none_is_given() -> None:
    index = KeywordIndex.build([1, 2], ["Los trabajadores despedidos pueden reclamar.",
                                        "Workers who were fired can file a complaint."], languages=["es", "en"])
    # Detected as Spanish, so "despedido" meets "despedidos" (English rules keep them apart).
    assert ranked(index, "¿qué pasa si me han despedido?")[0] == 1
    assert ranked(index, "¿qué pasa si me han despedido?", "en") == []


def test_spanish_question_words_are_not_what_a_question_is_about() -> None:
    terms = set(tokenize("¿cómo puedo saber cuántos días de vacaciones tengo?", "es"))
    assert topic_terms(terms, "es") == set(tokenize("días vacaciones", "es"))
    # A question made only of such words keeps them: something must be matched.
    assert topic_terms(set(tokenize("¿cómo puedo saber?", "es")), "es") == set(tokenize("cómo puedo saber", "es"))


# -- fusion across languages -----------------------------------------------------------------


class TranslatingEncoder(HashEncoder):
    """A bag-of-words encoder that reads a few Spanish words as their English translations,
    as a multilingual model would: a Spanish question lands near the English passage that
    answers it."""

    name = "multilingual-e5-small"
    SPANISH: ClassVar[dict[str, str]] = {
        "huelga": "strike", "enfermeras": "nurses", "votaron": "voted", "calor": "heat", "turnos": "shifts",
    }

    def _vector(self, text: str) -> np.ndarray:
        words = [self.SPANISH.get(w, w) for w in re.findall(r"\w+", text.lower())]
        return super()._vector(" ".join(words))


def _mixed_index(tmp_path: Path, encoder: HashEncoder) -> tuple[Store, Generations]:
    store = Store(tmp_path / "s.sqlite3")
    gens = Generations(tmp_path / "index")
    docs = [
        Document(source="/en", title="Bulletin", doc_id="en", language="en",
                 text="Nurses at the hospital voted to strike over heat and long shifts."),
        *[
            Document(source=f"/es{n}", title=f"Boletín {n}", doc_id=f"es{n}", language="es",
                     text=f"La asamblea {n} de la huelga general habló del comedor y la huelga del transporte.")
            for n in range(4)
        ],
    ]
    for d in docs:
        store.upsert(d, chunk_document(d, CHUNKER))
    Indexer(store, gens, lambda: encoder, SETTINGS).sync()
    return store, gens


def _rank_of(hits: Sequence[object], doc_id: str) -> int:
    return next(n for n, h in enumerate(hits, 1) if h.passage.doc_id == doc_id)  # type: ignore[attr-defined]


def test_a_passage_in_another_language_is_not_ranked_below_dense_search_by_its_missing_keywords(
    tmp_path: Path,
) -> None:
    encoder = TranslatingEncoder()
    store, gens = _mixed_index(tmp_path, encoder)
    question = "¿Por qué votaron huelga las enfermeras del hospital?"
    either = Searcher(store, gens, encoder, SETTINGS, SearchSettings(cross_language="either"))
    dense_rank = _rank_of(either.search(question, 5, mode="dense"), "en")
    assert dense_rank == 1
    assert _rank_of(either.search(question, 5), "en") <= dense_rank
    # Fused like a Spanish passage, its zero keyword score sank it below the Spanish ones
    # that share the word "huelga" (what the rule is for).
    plain = Searcher(store, gens, encoder, SETTINGS, SearchSettings(cross_language="keyword"))
    assert _rank_of(plain.search(question, 5), "en") > dense_rank
    for fusion in ("rrf", "minmax"):
        other = Searcher(store, gens, encoder, SETTINGS, SearchSettings(fusion=fusion, cross_language="either"))
        assert _rank_of(other.search(question, 5), "en") <= dense_rank, fusion


def test_the_cross_language_rule_follows_the_encoder() -> None:
    assert cross_language_rule("auto", "multilingual-e5-small") == "either"
    assert cross_language_rule("auto", "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2") == "either"
    assert cross_language_rule("auto", "sentence-transformers/all-MiniLM-L6-v2") == "keyword"
    assert cross_language_rule("keyword", "multilingual-e5-small") == "keyword"
    with pytest.raises(ValueError, match="cross_language"):
        SearchSettings(cross_language="sometimes")


# -- the tokenizer recipe in the manifest ----------------------------------------------------


def _as_if_old_tokenizer(gens: Generations) -> None:
    """Make the current generation look like one an older Steward wrote: no recipe."""
    path = gens.current() / MANIFEST  # type: ignore[operator]
    manifest = json.loads(path.read_text())
    del manifest["keyword_tokenizer"]
    path.write_text(json.dumps(manifest))


def test_an_index_from_the_old_tokenizer_is_refused_with_reindex_advice(tmp_path: Path) -> None:
    encoder = HashEncoder()
    store, gens = _mixed_index(tmp_path, encoder)
    _as_if_old_tokenizer(gens)
    with pytest.raises(IndexMismatch, match=r"keyword tokenizer.*steward reindex"):
        Searcher(store, gens, encoder, SETTINGS).search("nurses strike")


def test_the_next_ingest_rebuilds_keywords_made_by_the_old_tokenizer_without_re_encoding(tmp_path: Path) -> None:
    encoder = HashEncoder()
    store, gens = _mixed_index(tmp_path, encoder)
    before = gens.current_name()
    _as_if_old_tokenizer(gens)
    encoded = encoder.encoded
    report = Indexer(store, gens, lambda: encoder, SETTINGS).sync()
    assert report.changed and report.generation != before
    assert encoder.encoded == encoded  # the vectors were kept; only the keyword terms were remade
    hits = Searcher(store, gens, encoder, SETTINGS).search("¿Qué dijo la asamblea de la huelga?", 5, mode="keyword")
    assert {h.passage.doc_id for h in hits} >= {"es0", "es1"}



def test_an_upgraded_data_folder_is_brought_up_to_date_when_steward_starts(fast_steward, tmp_path: Path) -> None:
    # What `steward run`, `ask` and the bot do first: an index whose keyword terms an older
    # Steward made is rebuilt in place (no re-encoding), so the upgrade needs no command.
    doc = tmp_path / "huelga.txt"
    doc.write_text("La asamblea votó la huelga general del transporte por unanimidad.", encoding="utf-8")
    fast_steward.ingest([str(doc)])
    _as_if_old_tokenizer(fast_steward.generations)
    with pytest.raises(IndexMismatch):
        Searcher(fast_steward.store, fast_steward.generations, fast_steward.encoder,
                 fast_steward.index_settings).search("huelga")
    said: list[str] = []
    encoded = fast_steward.encoder.encoded
    fast_steward.ensure_samples(on_progress=said.append)
    assert said and "keyword index" in said[0]
    assert fast_steward.encoder.encoded == encoded
    assert fast_steward.search("¿votaron la huelga?", 3)[0].passage.doc_id == fast_steward.documents()[0].doc_id
