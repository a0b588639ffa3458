"""The keyword half of hybrid search: BM25 over the same passages, via bm25s."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)
# BM25 term saturation and length normalisation: Anserini's defaults, which also scored best
# on SciFact's training claims (k1 0.9-1.5 x b 0.4-0.9 tried; docs/quality.md, "What was tried").
K1 = 0.9
B = 0.4


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed tokens; queries and passages use the same rule."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
    return _stemmer().stemWords(words)


# numpy parses every .npy header with ast.literal_eval, and the AST constructor of CPython 3.11
# is not thread-safe (python/cpython#106905: "SystemError: AST constructor recursion depth
# mismatch", seen here when a search loaded a new generation while an ingest read the previous
# one). Every .npy load of a keyword index holds this lock.
NPY_LOCK = threading.Lock()


class KeywordIndex:
    """BM25 scores for passages keyed by their vector ids (``vids``)."""

    def __init__(self, model: bm25s.BM25, vids: np.ndarray) -> None:
        self._model = model
        self.vids = vids
        self._by_vid: tuple[np.ndarray, np.ndarray] | None = None  # (order, sorted vids), built on first use
        # The last query's scores: a hybrid search scores the same query twice (top k, then
        # the passages only FAISS found), and at 1M passages each costs ~10 ms. One slot for
        # all threads (the scores depend only on the query), so memory stays one array.
        self._recent: tuple[tuple[str, ...], np.ndarray] | None = None

    @classmethod
    def build(cls, vids: Sequence[int], texts: Sequence[str], k1: float = K1, b: float = B) -> KeywordIndex:
        model = bm25s.BM25(k1=k1, b=b)
        tokens = [tokenize(t) or ["\u2205"] for t in texts]
        if tokens:
            model.index(tokens, show_progress=False)
        return cls(model, np.asarray(vids, dtype=np.int64))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if len(self.vids):
            self._model.save(str(directory), show_progress=False)
        np.save(directory / "vids.npy", self.vids)

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> KeywordIndex:
        with NPY_LOCK:
            vids = np.load(directory / "vids.npy")
            if not len(vids):
                return cls(bm25s.BM25(), vids)
            model = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0)
        return cls(model, vids)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ``(vids, scores)`` with a positive score; ``allowed`` masks by position."""
        if not len(self.vids):
            return np.empty(0, np.int64), np.empty(0, np.float32)
        tokens = [t for t in tokenize(query) if t in self._model.vocab_dict]
        if not tokens:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        positions, scores = self._touched(tokens)
        if allowed is not None:
            scores = scores * allowed[positions]
        keep = scores > 0
        positions, scores = positions[keep], scores[keep]
        if k < len(scores):
            part = np.argpartition(-scores, k - 1)[:k]
            positions, scores = positions[part], scores[part]
        order = np.lexsort((positions, -scores))  # best first; equal scores in index order
        return self.vids[positions[order]], scores[order].astype(np.float32)

    def _touched(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(positions, scores)`` of the passages holding a query token.

        The same float32 sums, in the same token order, as bm25s' ``get_scores``, but reading
        only the query terms' postings and ranking only the passages they touch (O(postings),
        not O(passages) in Python-visible work; at 1M passages that is the difference).
        """
        dense = self._all_scores(tokens)
        positions = np.flatnonzero(dense)
        return positions, dense[positions]

    def _all_scores(self, tokens: list[str]) -> np.ndarray:
        """Every passage's score (by position) for ``tokens``; the last query's are kept (one slot)."""
        key = tuple(tokens)
        recent = self._recent
        if recent is not None and recent[0] == key:
            return recent[1]
        model = self._model
        dense = np.zeros(int(model.scores["num_docs"]), np.float32)
        if getattr(model, "nonoccurrence_array", None) is not None:  # BM25L/BM25+: every passage scores
            dense = model.get_scores(tokens)
        else:
            data, indices, indptr = model.scores["data"], model.scores["indices"], model.scores["indptr"]
            for t in model.get_tokens_ids(tokens):
                start, end = int(indptr[t]), int(indptr[t + 1])
                dense[indices[start:end]] += data[start:end]  # a passage appears once per term
        self._recent = (key, dense)
        return dense

    def _positions(self, vids: np.ndarray) -> np.ndarray:
        """Each vid's position in this index, -1 for one it does not hold."""
        if self._by_vid is None:
            order = np.argsort(self.vids, kind="stable")
            self._by_vid = (order, self.vids[order])
        order, ordered = self._by_vid
        at = np.minimum(np.searchsorted(ordered, vids), len(ordered) - 1)
        return np.where(ordered[at] == vids, order[at], -1)

    def scores_of(self, query: str, vids: np.ndarray) -> np.ndarray:
        """BM25 scores of the passages ``vids`` (0 for one without the query's words or not
        in this index), so a passage found only by meaning can be fused with its exact score."""
        out = np.zeros(len(vids), np.float32)
        tokens = [t for t in tokenize(query) if t in self._model.vocab_dict] if len(self.vids) else []
        if not tokens or not len(vids):
            return out
        dense = self._all_scores(tokens)
        positions = self._positions(np.asarray(vids, np.int64))
        found = positions >= 0
        out[found] = dense[positions[found]]
        return out

    def idf(self, tokens: Sequence[str]) -> list[float]:
        """Lucene's idf of each (already tokenized) term over the passages; a term no
        passage holds gets the highest value, so it weighs most when it is missing."""
        if not len(self.vids):
            return [math.log(2.0)] * len(tokens)
        n = int(self._model.scores["num_docs"])
        indptr, vocab = self._model.scores["indptr"], self._model.vocab_dict
        out = []
        for token in tokens:
            i = vocab.get(token)
            df = int(indptr[i + 1]) - int(indptr[i]) if i is not None else 0
            out.append(math.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out

    def mask_for(self, allowed_vids: set[int]) -> np.ndarray:
        return np.isin(self.vids, np.fromiter(allowed_vids, np.int64, len(allowed_vids))).astype(
            np.float32
        )
