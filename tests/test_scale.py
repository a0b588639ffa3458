"""Scale features: the index tier chosen by size, the approximate index's by-id updates and
recall, incremental BM25 that equals a full rebuild, and the fast BM25 top-k. Not timed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from stewardtest import HashEncoder

from corpus.chunk import ChunkerSettings, chunk_document
from corpus.store import Store
from corpus.types import Document
from embeddings import bm25
from embeddings.dense import FLAT, IVF_SQ8, DenseIndex, DenseSettings
from embeddings.encoder import EncoderSettings
from embeddings.errors import IndexError_
from embeddings.generations import DENSE_FILE, KEYWORD_DIR, Generations, IndexSettings
from embeddings.indexer import Indexer
from embeddings.keyword import KeywordIndex, tokenize

CHUNKER = ChunkerSettings(target_words=20, max_words=30, overlap_sentences=0)
WORDS = [
    "wages",
    "safety",
    "grievance",
    "overtime",
    "contract",
    "steward",
    "ballot",
    "strike",
    "picket",
    "union",
    "meeting",
    "dues",
    "nurses",
    "drivers",
    "teachers",
    "warehouse",
    "heat",
    "breaks",
    "schedule",
    "seniority",
    "layoff",
    "bargaining",
    "vote",
]


def bulletin(n: int) -> Document:
    rng = np.random.default_rng(n)
    paragraphs = [
        " ".join(rng.choice(WORDS, size=12)).capitalize() + f" at shop {n}. Members met on item {p} of {n}."
        for p in range(1, 5)
    ]
    return Document(source=f"/b/{n}.txt", title=f"Bulletin {n}", text="\n\n".join(paragraphs), doc_id=f"b{n}")


def make(tmp_path: Path, dense: DenseSettings) -> tuple[Store, Generations, Indexer]:
    store = Store(tmp_path / "s.sqlite3")
    gens = Generations(tmp_path / "index")
    settings = IndexSettings(encoder=EncoderSettings(), chunker=CHUNKER.__dict__.copy(), dense=dense)
    return store, gens, Indexer(store, gens, HashEncoder, settings)


def manifest(gens: Generations) -> dict:
    return json.loads((gens.current() / "manifest.json").read_text())


def clustered(n: int, d: int = 64, clusters: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)).astype(np.float32)
    x = centres[rng.integers(0, clusters, n)] + 0.35 * rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_index_type_follows_size_and_is_recorded(tmp_path: Path) -> None:
    store, gens, indexer = make(tmp_path, DenseSettings(exact_max_passages=60, nlist=2))
    for n in range(10):
        store.upsert(bulletin(n), chunk_document(bulletin(n), CHUNKER))
    indexer.sync()
    small = manifest(gens)
    assert small["index_type"] == FLAT and small["passages"] <= 60
    assert small["index_params"]["exact_max_passages"] == 60
    for n in range(10, 40):
        store.upsert(bulletin(n), chunk_document(bulletin(n), CHUNKER))
    indexer.sync()
    big = manifest(gens)
    assert big["passages"] > 60
    assert big["index_type"] == IVF_SQ8
    assert big["index_params"]["nlist"] == 2 and big["index_params"]["trained_on"] == big["passages"]
    # Removing documents works by id on the IVF index; far below the threshold it is exact again.
    for n in range(5, 40):
        store.remove(f"b{n}")
    indexer.sync()
    again = manifest(gens)
    assert again["index_type"] == FLAT
    assert set(DenseIndex.load(gens.current() / DENSE_FILE).ids().tolist()) == store.all_vids()


def test_ivf_removes_adds_and_reconstructs_by_id() -> None:
    x = clustered(3000)
    vids = np.arange(3000, dtype=np.int64) * 1_000_003 - 10**12  # negative and sparse ids
    index = DenseIndex.build(vids, x, DenseSettings(exact_max_passages=100))
    assert index.index_type == IVF_SQ8
    assert sorted(index.ids().tolist()) == sorted(vids.tolist())
    assert np.abs(index.vectors(vids[:5]) - x[:5]).max() < 0.01  # 8-bit codes
    assert index.remove(vids[:10].tolist()) == 10 and index.size == 2990
    found, _ = index.search(x[3], 20)
    assert vids[3] not in found.tolist()
    index.add(vids[:10], x[:10])
    found, _ = index.search(x[3], 5)
    assert found[0] == vids[3]
    # A filter searches every list, so it finds the allowed passages wherever they are.
    allowed = vids[::97]
    found, _ = index.search(x[0], 10, allowed=allowed)
    assert len(found) == 10 and set(found.tolist()) <= set(allowed.tolist())


def test_ivf_recall_against_exact_on_clustered_vectors() -> None:
    x = clustered(4000, seed=1)
    queries = clustered(200, seed=2)
    vids = np.arange(4000, dtype=np.int64)
    exact = DenseIndex.build(vids, x, DenseSettings(exact_max_passages=10**6))
    approx = DenseIndex.build(vids, x, DenseSettings(exact_max_passages=0))
    assert exact.index_type == FLAT and approx.index_type == IVF_SQ8
    recall = np.mean(
        [len(set(exact.search(q, 10)[0].tolist()) & set(approx.search(q, 10)[0].tolist())) / 10 for q in queries]
    )
    assert recall >= 0.95


def test_memory_mapped_index_refuses_changes(tmp_path: Path) -> None:
    x = clustered(500)
    index = DenseIndex.build(np.arange(500, dtype=np.int64), x, DenseSettings(exact_max_passages=10))
    index.save(tmp_path / "d.faiss")
    mapped = DenseIndex.load(tmp_path / "d.faiss", mmap=True)
    assert mapped.search(x[7], 1)[0][0] == 7
    with pytest.raises(IndexError_):
        mapped.add(np.array([1000]), x[:1])  # FAISS itself would abort the process
    with pytest.raises(IndexError_):
        mapped.remove([1])


def keyword_scores(index: KeywordIndex, query: str) -> dict[int, float]:
    vids, scores = index.search(query, 10_000)
    return dict(zip(vids.tolist(), scores.tolist(), strict=True))


def test_incremental_bm25_equals_a_full_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, gens, indexer = make(tmp_path, DenseSettings())
    tokenised: list[int] = []
    original = bm25.passage_tokens

    def counting(text: str, language: str | None = None) -> list[str]:
        tokenised.append(1)
        return original(text, language)

    monkeypatch.setattr(bm25, "passage_tokens", counting)
    for n in range(12):
        store.upsert(bulletin(n), chunk_document(bulletin(n), CHUNKER))
    indexer.sync()
    first = len(tokenised)
    store.remove("b3")
    store.upsert(bulletin(40), chunk_document(bulletin(40), CHUNKER))
    changed = bulletin(5)
    changed.text += "\n\nA new paragraph about heat and breaks."
    store.upsert(changed, chunk_document(changed, CHUNKER))
    indexer.sync()
    # Only the new and changed passages were tokenised the second time.
    new_passages = len(chunk_document(bulletin(40), CHUNKER)) + len(chunk_document(changed, CHUNKER))
    assert len(tokenised) - first <= new_passages
    served = KeywordIndex.load(gens.current() / KEYWORD_DIR)
    vids, texts = [], []
    for vid, title, text in store.iter_passage_texts():
        vids.append(vid)
        texts.append(f"{title}\n{text}")
    rebuilt = KeywordIndex.build(vids, texts)
    for query in ("heat breaks", "grievance at shop 7", "union strike vote seniority", "members met"):
        assert keyword_scores(served, query) == keyword_scores(rebuilt, query)  # bit for bit


def test_changed_tokenizer_ignores_the_term_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, gens, indexer = make(tmp_path, DenseSettings())
    for n in range(3):
        store.upsert(bulletin(n), chunk_document(bulletin(n), CHUNKER))
    indexer.sync()
    folder = gens.current() / KEYWORD_DIR
    assert bm25.TermCounts.load(folder) is not None
    monkeypatch.setattr(bm25, "tokenizer_signature", lambda: "another-tokenizer")
    assert bm25.TermCounts.load(folder) is None


def test_fast_bm25_top_k_matches_scoring_every_passage() -> None:
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 30)))) for _ in range(800)]
    vids = rng.permutation(10_000)[:800].astype(np.int64)
    index = KeywordIndex.build(vids, texts)
    mask = index.mask_for(set(vids[::3].tolist()))
    for query in ("wages safety", "strike picket union", "nurses heat breaks overtime", "zzz unknown"):
        for allowed in (None, mask):
            tokens = [t for t in tokenize(query) if t in index._model.vocab_dict]
            got_vids, got = index.search(query, 50, allowed)
            if not tokens:
                assert not len(got_vids)
                continue
            every = index._model.get_scores(tokens) * (allowed if allowed is not None else 1)
            expected = np.sort(every[every > 0])[::-1][:50].astype(np.float32)
            assert np.array_equal(got, expected)
            by_vid = dict(zip(index.vids.tolist(), every.tolist(), strict=True))
            assert all(by_vid[v] == s for v, s in zip(got_vids.tolist(), got.tolist(), strict=True))
