"""Index generations: incremental encoding, atomic swaps, clear errors, kills survived."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from stewardtest import HashEncoder

from corpus.chunk import ChunkerSettings, chunk_document
from corpus.store import Store
from corpus.types import Document
from embeddings.dense import DenseIndex
from embeddings.encoder import EncoderSettings
from embeddings.errors import IndexError_, IndexMismatch
from embeddings.generations import DENSE_FILE, Generations, IndexSettings
from embeddings.indexer import Indexer
from embeddings.search import Searcher

CHUNKER = ChunkerSettings(target_words=20, max_words=30, overlap_sentences=0)
SETTINGS = IndexSettings(
    encoder=EncoderSettings(), chunker={"target_words": 20, "max_words": 30, "overlap_sentences": 0}
)


def bulletin(n: int, extra: str = "") -> Document:
    paragraphs = [
        f"Bulletin {n} paragraph {p}: members at shop {n} met about wages and safety. "
        f"They voted to file grievance {n}-{p} together.{extra if p == 2 else ''}"
        for p in range(1, 5)
    ]
    return Document(source=f"/b/{n}.txt", title=f"Bulletin {n}", text="\n\n".join(paragraphs), doc_id=f"b{n}")


def setup(tmp_path: Path, encoder: HashEncoder) -> tuple[Store, Generations, Indexer]:
    store = Store(tmp_path / "s.sqlite3")
    gens = Generations(tmp_path / "index")
    return store, gens, Indexer(store, gens, lambda: encoder, SETTINGS)


def put(store: Store, d: Document) -> str:
    return store.upsert(d, chunk_document(d, CHUNKER))


def indexed_ids(gens: Generations) -> set[int]:
    return set(DenseIndex.load(gens.current() / DENSE_FILE).ids().tolist())


def test_incremental_sync_encodes_only_new_and_changed(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    for n in range(5):
        put(store, bulletin(n))
    first = indexer.sync()
    assert first.encoded == hash_encoder.encoded == store.counts()[1] > 0
    again = indexer.sync()
    assert again.encoded == 0 and not again.changed and again.generation == first.generation

    before = {p.passage_id for p in store.passages_of("b3")}
    assert put(store, bulletin(3, extra=" A new sentence about overtime.")) == "updated"
    after = {p.passage_id for p in store.passages_of("b3")}
    changed = len(after - before)
    assert 0 < changed < len(after)
    report = indexer.sync()
    assert report.encoded == changed
    assert report.removed == len(before - after)
    assert indexed_ids(gens) == store.all_vids()


def test_removing_a_document_removes_its_vectors(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    for n in range(3):
        put(store, bulletin(n))
    indexer.sync()
    store.remove("b1")
    report = indexer.sync()
    assert report.encoded == 0 and report.removed == 4
    assert indexed_ids(gens) == store.all_vids()


def test_generations_are_new_folders_and_old_ones_are_cleaned(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    (gens.root).mkdir(parents=True)
    (gens.root / ".tmp-gen-000099-999999999").mkdir()  # left by a killed writer
    names = []
    for n in range(4):
        put(store, bulletin(n))
        names.append(indexer.sync().generation)
    assert names == ["gen-000001", "gen-000002", "gen-000003", "gen-000004"]
    assert gens.names() == ["gen-000003", "gen-000004"]
    assert gens.current_name() == "gen-000004"
    assert not list(gens.root.glob(".tmp-*"))
    manifest = json.loads((gens.current() / "manifest.json").read_text())
    assert manifest["model"] == SETTINGS.encoder.model and manifest["dimension"] == 384
    assert manifest["chunker"] == SETTINGS.chunker and manifest["passages"] == store.counts()[1]
    assert manifest["index_type"] == "flat" and manifest["normalized"] is True


def test_another_model_is_a_clear_error_naming_reindex(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    put(store, bulletin(1))
    indexer.sync()
    other = IndexSettings(encoder=EncoderSettings(model="intfloat/e5-small-v2"), chunker=SETTINGS.chunker)
    with pytest.raises(IndexMismatch, match=r"all-MiniLM-L6-v2.*steward reindex"):
        Indexer(store, gens, lambda: hash_encoder, other).sync()
    searcher = Searcher(store, gens, hash_encoder, other)
    with pytest.raises(IndexMismatch, match="steward reindex"):
        searcher.search("wages")
    # A full rebuild with the new settings is what `reindex` does, and it works.
    assert Indexer(store, gens, lambda: hash_encoder, other).sync(full=True).encoded == store.counts()[1]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete", "manifest", "pointer"])
def test_damaged_index_files_are_clear_errors(tmp_path: Path, hash_encoder: HashEncoder, damage: str) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    put(store, bulletin(1))
    indexer.sync()
    current = gens.current()
    dense = current / DENSE_FILE
    if damage == "truncate":
        dense.write_bytes(dense.read_bytes()[:100])
    elif damage == "garbage":
        dense.write_bytes(os.urandom(5000))
    elif damage == "delete":
        dense.unlink()
    elif damage == "manifest":
        (current / "manifest.json").write_text("{not json")
    else:
        gens.pointer.write_text("gen-000777\n")
    with pytest.raises(IndexError_, match="steward reindex"):
        Searcher(store, gens, hash_encoder, SETTINGS).search("wages")


def test_a_running_searcher_picks_up_a_new_generation(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    put(store, bulletin(1))
    indexer.sync()
    searcher = Searcher(store, gens, hash_encoder, SETTINGS)
    assert {h.passage.doc_id for h in searcher.search("pension fund quorum", 10)} == {"b1"}
    put(store, Document(source="/x", title="Pensions", text="The pension fund quorum is twelve members.", doc_id="p"))
    indexer.sync()
    hits = searcher.search("pension fund quorum", 10)
    assert hits[0].passage.doc_id == "p"


def _ingest_forever(root: str, start: int, delay: float) -> None:
    """Child process: ingest bulletins one after another, syncing after each."""
    encoder = HashEncoder()
    original = encoder.encode

    def slow(texts, batch_size=32, progress=False):  # type: ignore[no-untyped-def]
        time.sleep(delay)  # widen the window in which a kill lands mid-encode
        return original(texts, batch_size, progress)

    encoder.encode = slow  # type: ignore[method-assign]
    store, _gens, indexer = setup(Path(root), encoder)
    n = start
    while True:
        put(store, bulletin(n))
        if n % 3 == 0:
            store.remove(f"b{n - 1}")
        indexer.sync()
        n += 1


def test_sigkill_at_random_moments_never_breaks_the_index(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    put(store, bulletin(0))
    indexer.sync()
    rng = random.Random(7)
    ctx = mp.get_context("fork")
    kills = 0
    for round_ in range(20):
        child = ctx.Process(target=_ingest_forever, args=(str(tmp_path), 1 + round_ * 50, 0.01))
        child.start()
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        kills += 1
        # The previous (or a newer, complete) generation still serves.
        searcher = Searcher(store, gens, hash_encoder, SETTINGS)
        assert searcher.search("grievance wages", 5)
        # The next sync completes the work: store and index agree.
        indexer.sync()
        assert indexed_ids(gens) == store.all_vids()
        vectors = DenseIndex.load(gens.current() / DENSE_FILE)
        assert vectors.size == store.counts()[1]
    assert kills == 20
    leftovers = [p.name for p in gens.root.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []


def test_vectors_are_normalised_cosines(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    put(store, bulletin(1))
    indexer.sync()
    hits = Searcher(store, gens, hash_encoder, SETTINGS).search("members shop wages safety", 3)
    assert all(-1.0001 <= h.dense <= 1.0001 for h in hits)
    assert np.isclose(np.linalg.norm(hits[0].vector), 1.0, atol=1e-5)


def _dated(doc_id: str, text: str, date: str) -> Document:
    import datetime as dt

    return Document(source=f"/d/{doc_id}", title="Dues", text=text, doc_id=doc_id, date=dt.date.fromisoformat(date))


def test_the_newer_bulletin_ranks_first_when_two_say_the_same(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    text = "Monthly dues are two hours of pay, collected on the first Friday of the month."
    put(store, _dated("old", text, "2021-01-01"))
    put(store, _dated("new", text + " Still true.", "2024-01-01"))
    indexer.sync()
    hits = Searcher(store, gens, hash_encoder, SETTINGS).search("how much are monthly dues", 5)
    assert [h.passage.doc_id for h in hits[:2]] == ["new", "old"]
    # The rule is a setting: at 1.0 it is off and plain relevance decides.
    from embeddings.search import SearchSettings

    plain = Searcher(store, gens, hash_encoder, SETTINGS, SearchSettings(recency_similarity=1.0))
    assert [h.passage.doc_id for h in plain.search("how much are monthly dues", 5)][:1] == ["old"]


def test_at_most_two_passages_of_one_document_by_default(tmp_path: Path, hash_encoder: HashEncoder) -> None:
    store, gens, indexer = setup(tmp_path, hash_encoder)
    put(store, bulletin(1))
    put(store, bulletin(2))
    indexer.sync()
    searcher = Searcher(store, gens, hash_encoder, SETTINGS)
    hits = searcher.search("members shop wages safety grievance", 10)
    per_doc = {d: sum(h.passage.doc_id == d for h in hits) for d in ("b1", "b2")}
    assert per_doc == {"b1": 2, "b2": 2}
    assert len(searcher.search("members shop wages safety grievance", 10, diversify=False)) > 4
