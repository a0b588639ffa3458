"""Languages: detected per document and per passage at ingest, set by metadata, stored, filtered."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from corpus.chunk import ChunkerSettings, chunk_document
from corpus.language import detect_language, normalize_language, passage_language
from corpus.load import load_source
from corpus.store import _SCHEMA, Filters, Store
from corpus.types import Document, ReaderSettings

SPANISH = ("Los trabajadores de la planta de General Motors en Silao votaron por un sindicato "
           "independiente. La votación duró dos días y la participación fue muy alta.")
ENGLISH = ("The workers at the General Motors plant in Silao voted for an independent union. "
           "The vote lasted two days and turnout was very high.")
# A bulletin with an English article and its Spanish summary.
MIXED = f"{ENGLISH}\n\n{SPANISH}"
CHUNKER = ChunkerSettings(target_words=20, max_words=40, overlap_sentences=0)


@pytest.mark.parametrize(("value", "code"), [
    ("es", "es"), ("ES", "es"), ("es-MX", "es"), ("es_419", "es"), ("spa", "es"),
    ("Spanish", "es"), ("español", "es"), ("en-US", "en"), ("English", "en"),
    ("klingon", None), ("", None), ("e", None), ("xx", None),
])
def test_normalize_language(value: str, code: str | None) -> None:
    assert normalize_language(value) == code


def test_detection_knows_spanish_and_english_and_says_nothing_for_short_text() -> None:
    assert detect_language(SPANISH) == "es"
    assert detect_language(ENGLISH) == "en"
    assert detect_language("Hola") is None
    assert passage_language("Hola", "es") == "es"


def test_each_passage_gets_its_own_language_and_short_ones_the_documents() -> None:
    document = Document(source="/b.txt", title="B", text=MIXED, doc_id="b", language="en")
    passages = chunk_document(document, CHUNKER)
    assert {p.text: p.language for p in passages} == {ENGLISH: "en", SPANISH: "es"}
    short = Document(source="/s.txt", title="S", text="Sí.", doc_id="s", language="es")
    (passage,) = chunk_document(short, CHUNKER)
    assert passage.language == "es"  # too short to tell: the document's language


def test_ingest_detects_the_document_language(tmp_path: Path) -> None:
    path = tmp_path / "boletin.txt"
    path.write_text(f"Boletín\n\n{SPANISH}\n", encoding="utf-8")
    (document,) = load_source(str(path), ReaderSettings(isolate=False))
    assert document.language == "es"


def test_isolated_read_carries_the_stated_language(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(f'<html lang="es"><body><p>{ENGLISH}</p></body></html>', encoding="utf-8")
    (document,) = load_source(str(path), ReaderSettings(isolate=True))
    assert document.language == "es"  # the page says so; detection does not overrule it


def test_explicit_language_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(f"{ENGLISH}\n", encoding="utf-8")
    settings = ReaderSettings(isolate=False)
    assert load_source(str(path), settings)[0].language == "en"
    (document,) = load_source(str(path), settings, {"language": "Spanish"})
    assert document.language == "es"
    (tmp_path / "a.txt.meta.toml").write_text('language = "fr"\n', encoding="utf-8")
    assert load_source(str(path), settings)[0].language == "fr"
    short = tmp_path / "b.md"
    short.write_text("---\nlanguage: es\n---\nOK.\n", encoding="utf-8")
    (document,) = load_source(str(short), settings)
    assert [p.language for p in chunk_document(document, CHUNKER)] == ["es"]


def _store_mixed(store: Store) -> None:
    english = Document(source="/en.txt", title="En", text=ENGLISH, doc_id="en", language="en")
    mixed = Document(source="/mx.txt", title="Mx", text=MIXED, doc_id="mx", language="en")
    for document in (english, mixed):
        store.upsert(document, chunk_document(document, CHUNKER))


def test_languages_are_stored_and_filtered(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    _store_mixed(store)
    assert store.document("mx").language == "en"
    assert {d.doc_id: d.language for d in store.documents()} == {"en": "en", "mx": "en"}
    spanish = store.vids_matching(Filters(language="es"))
    passages = store.passages_by_vid(spanish)
    assert [p.text for p in passages.values()] == [SPANISH]
    assert all(p.language == "es" for p in passages.values())
    # A document matches when it is written in the language or holds a passage in it.
    assert [d.doc_id for d in store.documents(Filters(language="es"))] == ["mx"]
    assert sorted(d.doc_id for d in store.documents(Filters(language="en"))) == ["en", "mx"]
    assert store.documents(Filters(language="fr")) == []
    assert store.distinct_values("language") == ["en", "es"]
    languages = store.passage_languages()
    assert sorted(languages.values()) == ["en", "en", "es"]
    assert {languages[v] for v in spanish} == {"es"}


def test_a_store_from_before_languages_gains_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(re.sub(r"\n\s*language TEXT,[^\n]*", "", _SCHEMA))
        assert "language" not in {r[1] for r in conn.execute("PRAGMA table_info(passages)")}
    store = Store(path)
    _store_mixed(store)
    assert store.document("en").language == "en"
    assert store.vids_matching(Filters(language="es"))
