"""The SQLite store: no-op re-ingest, replace on change, atomic writes, filters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from corpus.chunk import chunk_document
from corpus.errors import StoreError
from corpus.store import Filters, Store
from corpus.types import Document


def doc(doc_id: str, text: str, **kw: object) -> Document:
    return Document(source=f"/src/{doc_id}.txt", title=kw.pop("title", doc_id.title()), text=text, doc_id=doc_id, **kw)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "s.sqlite3")


def put(store: Store, document: Document) -> str:
    return store.upsert(document, chunk_document(document))


def test_add_then_unchanged_then_updated(store: Store) -> None:
    d = doc("a", "Stewards listen first.\n\nThen they act.")
    assert put(store, d) == "added"
    assert put(store, d) == "unchanged"
    d2 = doc("a", "Stewards listen first.\n\nThen they act together.")
    assert put(store, d2) == "updated"
    assert store.document("a").text.endswith("together.")
    assert store.counts() == (1, len(chunk_document(d2)))


def test_metadata_change_counts_as_update(store: Store) -> None:
    put(store, doc("a", "Text.", publication="Bulletin"))
    assert put(store, doc("a", "Text.", publication="Newsletter")) == "updated"
    assert store.document_info("a").publication == "Newsletter"


def test_a_failed_write_leaves_the_previous_version(store: Store) -> None:
    good = doc("a", "The first version of the bulletin.")
    put(store, good)
    before = store.passages_of("a")
    bad = doc("a", "A second version that fails half way.")
    passages = chunk_document(bad)
    # A duplicate passage id makes the second INSERT fail after the deletes ran.
    with pytest.raises(Exception, match="UNIQUE"):
        store.upsert(bad, [*passages, passages[0]])
    assert store.document("a").text == good.text
    assert store.passages_of("a") == before


def test_remove_deletes_document_and_passages(store: Store) -> None:
    put(store, doc("a", "One.\n\nTwo."))
    put(store, doc("b", "Three."))
    assert store.remove("a") is True
    assert store.remove("a") is False
    assert [d.doc_id for d in store.documents()] == ["b"]
    assert store.passages_of("a") == []


def test_documents_newest_first_and_filters(store: Store) -> None:
    put(store, doc("old", "Old news.", date=dt.date(2020, 1, 1), publication="Bulletin", tags=("strike",)))
    put(store, doc("new", "New news.", date=dt.date(2024, 5, 1), publication="Newsletter", author="Ana Ruiz"))
    put(store, doc("undated", "No date."))
    assert [d.doc_id for d in store.documents()] == ["new", "old", "undated"]
    assert [d.doc_id for d in store.documents(Filters(since=dt.date(2021, 1, 1)))] == ["new"]
    assert [d.doc_id for d in store.documents(Filters(until=dt.date(2021, 1, 1)))] == ["old"]
    assert [d.doc_id for d in store.documents(Filters(publication="bulletin"))] == ["old"]
    assert [d.doc_id for d in store.documents(Filters(tag="STRIKE"))] == ["old"]
    assert [d.doc_id for d in store.documents(Filters(author="Ana Ruiz"))] == ["new"]
    assert store.distinct_values("publication") == ["Bulletin", "Newsletter"]
    assert store.distinct_values("author", "ana") == ["Ana Ruiz"]
    assert store.distinct_values("tag") == ["strike"]
    vids = store.vids_matching(Filters(publication="Newsletter"))
    assert vids == {p for p in store.all_vids() if store.passages_by_vid([p])[p].doc_id == "new"}


def test_a_damaged_store_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(path)


def test_heading_marks_are_kept_for_reindex_and_quotes(store: Store) -> None:
    text = "Your rights.\n\nYou can file a claim within two years."
    put(store, doc("h", text, headings=((0, 12),)))
    stored = store.document("h")
    assert stored is not None and stored.headings == ((0, 12),)
    vids = [vid for (vid,) in store.execute("SELECT vid FROM passages WHERE doc_id='h'")]
    (passage,) = store.passages_by_vid(vids).values()
    assert [text[s:e] for s, e in passage.headings] == ["Your rights."]


def test_a_store_from_before_heading_marks_gains_the_columns(tmp_path: Path) -> None:
    import sqlite3

    from corpus import store as store_module

    lines = [line for line in store_module._SCHEMA.split("\n") if "headings" not in line]
    old_schema = "\n".join(lines).replace("sentences TEXT,  -- JSON", "sentences TEXT  -- JSON")
    assert "headings" not in old_schema
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.close()
    store = Store(path)
    assert put(store, doc("a", "Stewards listen first.", headings=((0, 22),))) == "added"
    assert store.document("a").headings == ((0, 22),)
