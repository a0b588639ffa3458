"""Hybrid search: dense and BM25 candidates fused, filtered, diversified, recency-aware.

The serving side reads the current generation and notices a new one (from a CLI ingest or
an admin command in another process) with one ``stat`` per search, so the bot picks up new
bulletins without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpus.store import DocumentInfo, Filters, Store
from corpus.types import Passage
from embeddings.encoder import Encoder
from embeddings.errors import IndexError_
from embeddings.generations import Generations, IndexSettings, LoadedGeneration, load_generation
from embeddings.keyword import query_language, rules_language
from embeddings.memory import tune_malloc
from embeddings.sentence_store import sentence_store
from embeddings.sentences import Sentences, SentenceVectors

log = logging.getLogger(__name__)

# convex: weighted sum of each ranking's scores divided by its best score (dense cosines and
#   BM25 both have 0 as their natural floor), with both scores computed exactly for every
#   candidate either ranking found; minmax: the same sum with min-max normalised scores, a
#   missing score counting 0; rrf: weighted reciprocal rank fusion. On SciFact's training
#   claims convex beat minmax by ~0.005 and rrf by ~0.025 nDCG@10 (docs/quality.md, "What was tried").
FUSIONS = ("convex", "minmax", "rrf")
# How a passage in another language than the question is fused (each passage's language is
# the one its keyword terms were made by: embeddings.keyword.rules_language):
# "either": its keyword share is the better of its keyword score's and its dense score's
#   (each over its ranking's best), so having none of the question's words never ranks it
#   below passages in the question's language that have some, while a name or number both
#   languages write alike still helps it. When no candidate is in the question's language
#   (a Spanish question put to English bulletins) no keyword score is unfair to another and
#   all are fused as usual.
# "keyword": fused like any other passage, its keyword score (mostly 0) counting.
# "auto": "either" with a multilingual encoder, whose cosines carry meaning across languages,
#   else "keyword" (all-MiniLM-L6-v2's cross-language cosines are noise: the names and numbers
#   both languages write alike are what finds such a passage).
# Measured on the organizer dev set's tune half, multilingual-e5-small with every corpus in one
# index (python -m bench.devset --split tune --index mixed): English questions about Spanish
# text have the answer in the first quote for 4 of 13 with "either", 0 with "keyword"; Spanish
# questions about English text 8 of 13 against 4. With each corpus in its own index "either"
# is "keyword" (15 of those 26 first). Two other rules measured worse: the dense score alone
# in place of the keyword score (12 of the 26 with an index per corpus) and keyword scores
# normalised per language (1 of the 13 English questions in one index).
CROSS_LANGUAGE = ("auto", "either", "keyword")


def cross_language_rule(setting: str, model: str) -> str:
    """``setting`` ("auto", "either" or "keyword") for the encoder ``model``: "either" or "keyword"."""
    if setting != "auto":
        return setting
    name = model.lower()
    return "either" if "multilingual" in name or "labse" in name else "keyword"


@dataclass(frozen=True)
class SearchSettings:
    fusion: str = "convex"
    dense_weight: float = 0.55
    keyword_weight: float = 0.45
    rrf_k: int = 60
    candidates: int = 100
    max_per_document: int = 2
    # Two passages from different documents at least this similar "say the same thing":
    # the newer document then ranks first. 1.0 turns the rule off.
    recency_similarity: float = 0.9
    cross_language: str = "auto"

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"search.fusion must be one of {', '.join(FUSIONS)}, not {self.fusion!r}")
        if self.cross_language not in CROSS_LANGUAGE:
            raise ValueError(f"search.cross_language must be one of {', '.join(CROSS_LANGUAGE)}, "
                             f"not {self.cross_language!r}")
        if self.candidates < 1:
            raise ValueError("search.candidates must be at least 1")


@dataclass
class Hit:
    passage: Passage
    document: DocumentInfo
    score: float  # the fused score that ranked it
    dense: float  # cosine between question and passage vectors
    keyword: float  # BM25 score (0 when the passage has none of the question's words)
    vector: np.ndarray


class Searcher:
    def __init__(
        self,
        store: Store,
        generations: Generations,
        encoder: Encoder,
        index_settings: IndexSettings,
        settings: SearchSettings | None = None,
    ) -> None:
        self.store = store
        self.generations = generations
        self.encoder = encoder
        self.index_settings = index_settings
        self.settings = settings or SearchSettings()
        self.cross_language = cross_language_rule(self.settings.cross_language, index_settings.encoder.model)
        self._loaded: LoadedGeneration | None = None
        self._unloadable = ""  # a newer generation that failed to load (logged once)
        self._lock = threading.Lock()
        # The sentences of hits, for quotes: read where the indexer kept them, else encoded
        # (and cached) here, where the encoder and the settings the passages were encoded with are.
        self.sentence_vectors = SentenceVectors(
            sentence_store(generations.root, index_settings, encoder.dimension),
            encoder,
            index_settings.encoder.passage_prefix,
        )
        tune_malloc()  # two malloc arenas: one per asking thread kept ~270 MB of freed arrays at 1M

    # -- generations -----------------------------------------------------------------------

    @property
    def generation(self) -> LoadedGeneration:
        self.refresh()
        if self._loaded is None:
            raise IndexError_("there is no index yet; run `steward ingest PATH` first")
        return self._loaded

    def refresh(self) -> bool:
        """Load the current generation if it changed; True when a new one was loaded.

        A new generation that cannot be loaded (damaged on disk, built with another model) is
        an error only while nothing is served yet: otherwise the loaded generation keeps
        serving, the problem is logged once, and the next new generation is tried.
        """
        try:
            name = self.generations.current_name()
        except IndexError_ as err:  # a damaged CURRENT pointer
            return self._keep_serving("CURRENT", err)
        if name is None or (self._loaded is not None and name in (self._loaded.name, self._unloadable)):
            return False
        with self._lock:
            if self._loaded is not None and self._loaded.name == name:
                return False
            try:
                loaded = load_generation(self.generations.root / name, self.index_settings)
                if loaded.manifest.dimension != self.encoder.dimension:
                    raise IndexError_(
                        f"the index has {loaded.manifest.dimension}-dimensional vectors but the model "
                        f"gives {self.encoder.dimension}; run `steward reindex`"
                    )
            except IndexError_ as err:
                return self._keep_serving(name, err)
            self._loaded = loaded
            log.info("serving index generation %s (%d passages)", name, loaded.dense.size)
            return True

    def _keep_serving(self, name: str, err: IndexError_) -> bool:
        if self._loaded is None:
            raise err
        if self._unloadable != name:
            self._unloadable = name
            log.error("cannot switch to index generation %s (%s); still serving %s",
                      name, err, self._loaded.name)
        return False

    # -- searching -------------------------------------------------------------------------

    def sentences(self, passages: Sequence[Passage]) -> list[Sentences]:
        """Each passage's sentences (spans in the passage's text) and their unit vectors, in
        the order given: kept at ingest where the indexer could, else split and encoded now."""
        return self.sentence_vectors.of(passages)

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """``term -> idf`` over the serving generation's passages, in the order given; terms
        are tokenized (``embeddings.keyword.tokenize``) and one no passage holds weighs most."""
        return dict(zip(terms, self.generation.keyword.idf(terms), strict=True))

    def encode_query(self, query: str) -> np.ndarray:
        prefix = self.index_settings.encoder.query_prefix
        return self.encoder.encode([prefix + query])[0]

    def search(
        self,
        query: str,
        limit: int = 10,
        filters: Filters | None = None,
        diversify: bool = True,
        query_vector: np.ndarray | None = None,
        mode: str = "hybrid",
        language: str | None = None,
    ) -> list[Hit]:
        """The best ``limit`` passages for ``query``; ``mode`` is hybrid, dense or keyword;
        ``language`` is the question's (None: detected, ``embeddings.keyword.query_language``)."""
        gen = self.generation
        qvec = self.encode_query(query) if query_vector is None else query_vector
        lang = rules_language(language) if language is not None else query_language(query)
        k = max(self.settings.candidates, limit * 3)
        allowed_dense = allowed_kw = None
        if filters is not None and filters.active():
            allowed = self.store.vids_matching(filters)
            allowed_dense = np.fromiter(allowed, np.int64, len(allowed))
            allowed_kw = gen.keyword.mask_for(allowed)
        ranked_lists: list[tuple[np.ndarray, np.ndarray, float]] = []
        keyword: dict[int, float] = {}
        if mode in ("hybrid", "dense"):
            vids, scores = gen.dense.search(qvec, k, allowed_dense)
            ranked_lists.append((vids, scores, self.settings.dense_weight))
        if mode in ("hybrid", "keyword"):
            vids, scores = gen.keyword.search(query, k, allowed_kw, language=lang)
            ranked_lists.append((vids, scores, self.settings.keyword_weight))
            keyword = dict(zip(vids.tolist(), scores.tolist(), strict=True))
        if mode != "hybrid":
            fused = _single(ranked_lists[0])
        else:
            other = self._other_language(gen, lang, ranked_lists)
            if self.settings.fusion == "convex":
                fused = self._convex(gen, query, lang, qvec, ranked_lists, keyword, other)
            else:
                fused = self._fuse(ranked_lists, other)
        return self._hits(gen, qvec, fused, keyword, limit, diversify)

    def _other_language(
        self, gen: LoadedGeneration, lang: str, lists: Sequence[tuple[np.ndarray, np.ndarray, float]],
    ) -> set[int]:
        """The candidates in another language than the question (see ``CROSS_LANGUAGE``);
        none when the settings fuse them like the others, or when no candidate is in the
        question's language."""
        if self.cross_language == "keyword":
            return set()
        cand = np.unique(np.concatenate([vids for vids, _s, _w in lists]))
        codes = gen.keyword.languages_of(cand)
        if lang not in codes:
            return set()
        return {v for v, code in zip(cand.tolist(), codes, strict=True) if code is not None and code != lang}

    def _convex(
        self,
        gen: LoadedGeneration,
        query: str,
        lang: str,
        qvec: np.ndarray,
        lists: Sequence[tuple[np.ndarray, np.ndarray, float]],
        keyword: dict[int, float],
        other: set[int],
    ) -> list[tuple[int, float]]:
        """``w_d * cos / best cos + w_k * bm25 / best bm25`` over every candidate, with the
        cosine of a passage only BM25 found and the BM25 of one only FAISS found computed
        exactly (``keyword`` gains the latter); for a passage in ``other`` languages the BM25
        share is the better of its own and its cosine share (``CROSS_LANGUAGE``)."""
        (d_vids, d_scores, w_d), (k_vids, k_scores, w_k) = lists
        cand = np.unique(np.concatenate([d_vids, k_vids]))
        if not len(cand):
            return []
        dense = dict(zip(d_vids.tolist(), d_scores.tolist(), strict=True))
        only_kw = [v for v in k_vids.tolist() if v not in dense]
        if only_kw:
            dense.update(zip(only_kw, (gen.dense.vectors(only_kw) @ qvec).tolist(), strict=True))
        only_dense = np.asarray([v for v in d_vids.tolist() if v not in keyword], np.int64)
        if len(only_dense):
            keyword.update(zip(only_dense.tolist(), gen.keyword.scores_of(query, only_dense, lang).tolist(),
                               strict=True))
        d_top = float(d_scores.max()) if len(d_scores) and d_scores.max() > 0 else 1.0
        k_top = float(k_scores.max()) if len(k_scores) and k_scores.max() > 0 else 1.0
        fused = {}
        for v in cand.tolist():
            d_share, k_share = dense[v] / d_top, keyword.get(v, 0.0) / k_top
            if v in other:
                k_share = max(k_share, d_share)
            fused[v] = w_d * d_share + w_k * k_share
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))

    def _fuse(
        self, lists: Sequence[tuple[np.ndarray, np.ndarray, float]], other: set[int],
    ) -> list[tuple[int, float]]:
        """rrf or minmax over the (dense, keyword) rankings; for a passage in ``other``
        languages the keyword share is the better of its own and its dense share
        (``CROSS_LANGUAGE``)."""
        (d_vids, d_scores, w_d), (k_vids, k_scores, w_k) = lists
        d_part, k_part = self._part(d_vids, d_scores), self._part(k_vids, k_scores)
        scores: dict[int, float] = {}
        for vid in [*d_part, *(v for v in k_part if v not in d_part)]:  # ties: in ranking order
            d_share, k_share = d_part.get(vid, 0.0), k_part.get(vid, 0.0)
            if vid in other:
                k_share = max(k_share, d_share)
            scores[vid] = w_d * d_share + w_k * k_share
        return sorted(scores.items(), key=lambda item: -item[1])

    def _part(self, vids: np.ndarray, raw: np.ndarray) -> dict[int, float]:
        """One ranking's share per passage: ``1 / (rrf_k + rank)`` (rrf) or its min-max
        normalised score (minmax)."""
        if self.settings.fusion == "rrf":
            return {vid: 1.0 / (self.settings.rrf_k + rank + 1) for rank, vid in enumerate(vids.tolist())}
        if not len(vids):
            return {}
        lo, hi = float(raw.min()), float(raw.max())
        span = hi - lo or 1.0
        return {vid: (s - lo) / span for vid, s in zip(vids.tolist(), raw.tolist(), strict=True)}

    def _hits(
        self,
        gen: LoadedGeneration,
        qvec: np.ndarray,
        fused: list[tuple[int, float]],
        keyword: dict[int, float],
        limit: int,
        diversify: bool,
    ) -> list[Hit]:
        docs: dict[str, DocumentInfo | None] = {}
        per_doc: dict[str, int] = {}
        hits: list[Hit] = []
        # Passages are read from the store a few at a time, in rank order: the hits are almost
        # always among the first candidates, and reading (and parsing) all ~200 of them cost
        # more than the searches themselves on a small corpus.
        step = max(4 * limit, 16)
        for start in range(0, len(fused), step):
            part = fused[start : start + step]
            passages = self.store.passages_by_vid(v for v, _ in part)
            for vid, score in part:
                passage = passages.get(vid)
                if passage is None:  # removed from the store since this generation was written
                    continue
                if passage.doc_id not in docs:
                    docs[passage.doc_id] = self.store.document_info(passage.doc_id)
                document = docs[passage.doc_id]
                if document is None:
                    continue
                if diversify and per_doc.get(passage.doc_id, 0) >= self.settings.max_per_document:
                    continue
                per_doc[passage.doc_id] = per_doc.get(passage.doc_id, 0) + 1
                vector = gen.dense.vectors([vid])[0]
                hits.append(
                    Hit(passage, document, float(score), float(vector @ qvec), keyword.get(vid, 0.0), vector)
                )
                if len(hits) >= limit * 2:
                    return _prefer_recent(hits, self.settings.recency_similarity)[:limit]
        return _prefer_recent(hits, self.settings.recency_similarity)[:limit]


def _single(ranked: tuple[np.ndarray, np.ndarray, float]) -> list[tuple[int, float]]:
    vids, scores, _w = ranked
    return list(zip(vids.tolist(), scores.tolist(), strict=True))


def _prefer_recent(hits: list[Hit], threshold: float) -> list[Hit]:
    """Move a newer near-duplicate ahead of an older one it nearly repeats."""
    if threshold >= 1.0:
        return hits
    ordered = list(hits)
    i = 0
    while i < len(ordered):
        older = ordered[i]
        for j in range(i + 1, len(ordered)):
            newer = ordered[j]
            if (
                newer.document.doc_id != older.document.doc_id
                and newer.document.date
                and older.document.date
                and newer.document.date > older.document.date
                and float(newer.vector @ older.vector) >= threshold
            ):
                ordered.insert(i, ordered.pop(j))
                break
        else:
            i += 1
            continue
        i += 1
    return ordered
