"""The sentences of indexed passages and their vectors, for choosing a quote's key sentence.

The indexer keeps each passage's sentence spans and vectors, pooled from the passage's own
encoder pass (``embeddings.sentence_store``), so usually nothing is encoded at question time.
Passages indexed without them (an encoder that cannot pool spans, an index from an older
Steward) have their sentences split (pysbd, ~5-15 ms a passage) and encoded when a question
first needs them, as do kept sentences past the encoder's truncation (NaN rows). Both are
cached, bounded, least recently used out: popular passages come back question after question.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpus.sentences import sentence_spans
from corpus.store import vector_id
from corpus.types import Passage
from embeddings.encoder import Encoder
from embeddings.sentence_store import SentenceStore
from embeddings.spans import Span

_SPAN_CACHE = 10_000  # passages (~10 MB)
_VECTOR_CACHE = 10_000  # sentences (~17 MB with 384-dimensional vectors)


@dataclass
class Sentences:
    """One passage's sentences: character spans in the passage's text (a quote never leaves
    its passage) and one unit vector per span, in the encoder's space."""

    spans: list[Span]
    vectors: np.ndarray


class SentenceVectors:
    """Sentences and vectors of passages: kept ones read, missing ones split and encoded."""

    def __init__(self, kept: SentenceStore, encoder: Encoder, passage_prefix: str = "") -> None:
        self._kept = kept
        self.encoder = encoder
        self.passage_prefix = passage_prefix  # what the indexer put before each passage it encoded
        self._cache_lock = threading.Lock()
        self._span_cache: OrderedDict[str, list[Span]] = OrderedDict()
        self._vector_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def of(self, passages: Sequence[Passage]) -> list[Sentences]:
        """Each passage's sentences, in order, every vector filled in."""
        kept = self.kept(passages)
        out = []
        for p in passages:
            found = kept.get(p.passage_id)
            if found is None or not found.spans:  # nothing kept: every sentence is to be encoded, as if unseen
                spans = self._sentence_spans(p.text) or [(0, len(p.text))]
                found = Sentences(spans, np.full((len(spans), self.encoder.dimension), np.nan, dtype=np.float32))
            out.append(found)
        self._encode_unseen(passages, out)
        return out

    def kept(self, passages: Sequence[Passage]) -> dict[str, Sentences]:
        """``passage_id -> Sentences`` where the indexer kept them (NaN rows for sentences the
        encoder did not see); a passage missing here has none."""
        vids = [vector_id(p.passage_id) for p in passages]
        rows = self._kept.get(vids)
        return {p.passage_id: Sentences(*rows[vid]) for p, vid in zip(passages, vids, strict=True) if vid in rows}

    def clear_cache(self) -> None:
        """Forget the sentences split and encoded so far (benchmarks measure a cold start)."""
        with self._cache_lock:
            self._span_cache.clear()
            self._vector_cache.clear()

    def _encode_unseen(self, passages: Sequence[Passage], found: list[Sentences]) -> None:
        """Fill the NaN rows (sentences past the encoder's truncation at ingest, or passages
        indexed without sentence vectors) by encoding those sentences now, in one call."""
        todo = [(k, j) for k, s in enumerate(found) for j in np.flatnonzero(np.isnan(s.vectors[:, 0]))]
        if not todo:
            return
        texts = [self.passage_prefix + passages[k].text[slice(*found[k].spans[j])] for k, j in todo]
        for (k, j), vector in zip(todo, self._sentence_vectors(texts), strict=True):
            found[k].vectors[j] = vector

    def _sentence_spans(self, body: str) -> list[Span]:
        """``sentence_spans(body)``, cached."""
        with self._cache_lock:
            spans = self._span_cache.get(body)
            if spans is not None:
                self._span_cache.move_to_end(body)
                return spans
        spans = sentence_spans(body)
        with self._cache_lock:
            self._span_cache[body] = spans
            while len(self._span_cache) > _SPAN_CACHE:
                self._span_cache.popitem(last=False)
        return spans

    def _sentence_vectors(self, texts: list[str]) -> np.ndarray:
        """The encoder's vectors for ``texts``, from the cache where it has them."""
        out = np.empty((len(texts), self.encoder.dimension), np.float32)
        missing: list[int] = []
        with self._cache_lock:
            for i, t in enumerate(texts):
                cached = self._vector_cache.get(t)
                if cached is None:
                    missing.append(i)
                else:
                    out[i] = cached
                    self._vector_cache.move_to_end(t)
        if missing:
            # Small length-sorted batches: a batch of short sentences pads only to its longest.
            fresh = self.encoder.encode([texts[i] for i in missing], batch_size=8)
            out[missing] = fresh
            with self._cache_lock:
                for i, v in zip(missing, fresh, strict=True):
                    self._vector_cache[texts[i]] = v
                while len(self._vector_cache) > _VECTOR_CACHE:
                    self._vector_cache.popitem(last=False)
        return out
