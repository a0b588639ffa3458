"""The keyword half of hybrid search: BM25 over the same passages, via bm25s."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed tokens; queries and passages use the same rule."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOPWORDS]
    return _stemmer().stemWords(words)


class KeywordIndex:
    """BM25 scores for passages keyed by their vector ids (``vids``)."""

    def __init__(self, model: bm25s.BM25, vids: np.ndarray) -> None:
        self._model = model
        self.vids = vids

    @classmethod
    def build(cls, vids: Sequence[int], texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> KeywordIndex:
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
        scores = self._model.get_scores(tokens)
        if allowed is not None:
            scores = scores * allowed
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        keep = scores[top] > 0
        return self.vids[top[keep]], scores[top[keep]].astype(np.float32)

    def mask_for(self, allowed_vids: set[int]) -> np.ndarray:
        return np.isin(self.vids, np.fromiter(allowed_vids, np.int64, len(allowed_vids))).astype(
            np.float32
        )
