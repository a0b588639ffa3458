"""The keyword half of hybrid search: BM25 over the same passages, via bm25s.

Each passage is tokenized by its own language's rules (``RULES``: a stemmer and stop
words; English for a language without rules of its own, or none known) and a question by its
language's (``query_language``), with accents folded so that "mexico" finds "México".
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_SPANISH

from corpus.language import detect_language, likeliest_language

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# BM25 term saturation and length normalisation: Anserini's defaults, which also scored best
# on SciFact's training claims (k1 0.9-1.5 x b 0.4-0.9 tried; docs/quality.md, "What was tried").
K1 = 0.9
B = 0.4


def fold(text: str) -> str:
    """``text`` without accents or other combining marks ("México" -> "Mexico", "año" -> "ano")."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass(frozen=True)
class Rules:
    """How one language's text becomes BM25 terms: lower-cased, accents folded, stop words
    dropped, the rest stemmed."""

    stemmer: str  # "spanish-light" (spanish_light_stem) or a PyStemmer (Snowball) algorithm
    stopwords: frozenset[str]  # folded, matched before stemming


def spanish_light_stem(word: str) -> str:
    """Savoy's light Spanish stemmer (Lucene's SpanishLightStemmer) on a folded word: the
    plural and the gender ending go ("trabajadoras", "trabajadores" -> "trabajador"; "veces"
    -> "vez"), nothing else.

    Chosen over Snowball's Spanish stemmer by measurement (organizer dev set, tune half,
    Spanish questions about the Estatuto, multilingual-e5-small): the first quote holds the
    answer for 6 of 16 with this stemmer, 4 with Snowball, 5 with no stemming (one of the
    first three: 7, 4, 6; search's top 10: 11, 10, 9); with all-MiniLM-L6-v2 one of the first
    three for 7 against Snowball's 6. Snowball conflates too much in a short legal text
    ("despido" -> "desp", "jornada" -> "jorn", "cuantía" and "cuánto" -> "cuant").
    It reads folded words, so a question typed without accents gets the same terms.
    """
    if len(word) < 5:
        return word
    if word[-1] in "oae":
        return word[:-1]
    if word[-1] == "s":
        if word.endswith("eses"):
            return word[:-2]
        if word.endswith("ces"):
            return word[:-3] + "z"
        if word[-2] in "oae":
            return word[:-2]
    return word


# NLTK's Spanish list (bm25s') less its content words ("estado(s)" is also the State and
# "sentido" a meaning; labour law speaks of both), plus "cuánto" and its forms, which it lacks
# beside "cuando", "como" and "cual".
_SPANISH_STOPWORDS = (frozenset(STOPWORDS_SPANISH) - {
    "estado", "estados", "estada", "estadas", "sentid", "sentido", "sentidos", "sentida",
    "sentidas", "siente", "sintiendo",
}) | {"cuánto", "cuánta", "cuántos", "cuántas"}
RULES: dict[str, Rules] = {
    "en": Rules("english", frozenset(fold(w) for w in STOPWORDS_EN)),
    "es": Rules("spanish-light", frozenset(fold(w) for w in _SPANISH_STOPWORDS)),
}
DEFAULT_LANGUAGE = "en"
# Positions in this tuple are the language codes a keyword index stores per passage.
LANGUAGES: tuple[str, ...] = tuple(RULES)


def rules_language(language: str | None) -> str:
    """The language whose rules tokenize text in ``language`` (English when it has none)."""
    return language if language in RULES else DEFAULT_LANGUAGE


@cache
def _stemmer(algorithm: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(algorithm)


def tokenize(text: str, language: str | None = None) -> list[str]:
    """Lower-cased, accent-folded, stop-word-free, stemmed tokens by ``language``'s rules
    (English when None or a language without rules); passages and questions use the same.
    Accents are folded first, so "mexico" finds "México" and "afiliacion" "afiliación"."""
    rules = RULES[rules_language(language)]
    words = [w for w in _TOKEN.findall(fold(text.lower())) if w not in rules.stopwords]
    if rules.stemmer == "spanish-light":
        return [spanish_light_stem(w) for w in words]
    return _stemmer(rules.stemmer).stemWords(words)


def query_language(question: str) -> str:
    """The language whose rules tokenize ``question``: its detected language when py3langid is
    confident; else (most chat questions are too short for that) the language more of whose
    stop words it uses (only words one language's list holds); else the likelier of the
    languages with rules by py3langid's ranking; else English.

    On the organizer dev set's 309 questions this reads every one right; confident detection
    alone leaves 92 undecided (35 of them Spanish), and the ranking alone then reads one
    English question ("best tacos in puebla?") as Spanish.
    """
    detected = detect_language(question)
    if detected is not None:
        return rules_language(detected)
    words = _WORD.findall(fold(question.lower()))
    votes = {code: sum(w in rules.stopwords and all(w not in other.stopwords for c, other in RULES.items()
                                                    if c != code) for w in words)
             for code, rules in RULES.items()}
    best = max(votes.values())
    leaders = [code for code, n in votes.items() if n == best]
    if best and len(leaders) == 1:
        return leaders[0]
    return likeliest_language(question, LANGUAGES) or DEFAULT_LANGUAGE


_WORD = re.compile(r"(?u)\b\w+\b")


# Texts whose tokens change whenever tokenization does (rules, stop words, folding, stemmer).
_PROBES = {
    "en": "The stewards' Committee met on Feb. 1, 2023 at Local 1199: nurses, drivers and teachers "
          "voted 94% to STRIKE over unpaid overtime, heat, and safe-staffing ratios — naïve café x2",
    "es": "¿Cuántos días de vacaciones tendrán los trabajadores? El Estado garantizará la afiliación "
          "sindical en México; las huelgas, despidos e indemnizaciones del año según el artículo 4.º",
}


@lru_cache(maxsize=1)
def tokenizer_recipe() -> dict[str, object]:
    """What makes a keyword index's terms, recorded in every generation's manifest: an index
    made by another recipe cannot answer questions tokenized by this one."""
    languages = {}
    for code, rules in RULES.items():
        stop = hashlib.sha256(" ".join(sorted(rules.stopwords)).encode("utf-8")).hexdigest()[:12]
        languages[code] = {"stemmer": rules.stemmer, "stopwords": stop, "fold": "before stemming"}
    probes = json.dumps({code: tokenize(text, code) for code, text in _PROBES.items()}, sort_keys=True)
    return {
        "per_language": True,
        "default": DEFAULT_LANGUAGE,
        "languages": languages,
        "probe": hashlib.sha256(probes.encode("utf-8")).hexdigest()[:12],
    }


LANGUAGES_FILE = "languages.npy"


def language_codes(languages: Sequence[str | None]) -> np.ndarray:
    """Each language's rules language as its position in LANGUAGES (what an index stores)."""
    position = {code: i for i, code in enumerate(LANGUAGES)}
    return np.fromiter((position[rules_language(lang)] for lang in languages), np.uint8, len(languages))


# numpy parses every .npy header with ast.literal_eval, and the AST constructor of CPython 3.11
# is not thread-safe (python/cpython#106905: "SystemError: AST constructor recursion depth
# mismatch", seen here when a search loaded a new generation while an ingest read the previous
# one). Every .npy load of a keyword index holds this lock.
NPY_LOCK = threading.Lock()


class KeywordIndex:
    """BM25 scores for passages keyed by their vector ids (``vids``)."""

    def __init__(self, model: bm25s.BM25, vids: np.ndarray, languages: np.ndarray | None = None) -> None:
        self._model = model
        self.vids = vids
        # Each passage's rules language, as its position in LANGUAGES (by position, as vids).
        self.languages = np.zeros(len(vids), np.uint8) if languages is None else languages
        self._by_vid: tuple[np.ndarray, np.ndarray] | None = None  # (order, sorted vids), built on first use
        # The last query's scores: a hybrid search scores the same query twice (top k, then
        # the passages only FAISS found), and at 1M passages each costs ~10 ms. One slot for
        # all threads (the scores depend only on the query), so memory stays one array.
        self._recent: tuple[tuple[str, ...], np.ndarray] | None = None

    @classmethod
    def build(
        cls, vids: Sequence[int], texts: Sequence[str], k1: float = K1, b: float = B,
        languages: Sequence[str | None] | None = None,
    ) -> KeywordIndex:
        """BM25 over ``texts``, each tokenized by its language's rules (``languages``, aligned
        with ``texts``; None: every text by the default rules)."""
        langs = list(languages) if languages is not None else [None] * len(texts)
        model = bm25s.BM25(k1=k1, b=b)
        tokens = [tokenize(t, lang) or ["\u2205"] for t, lang in zip(texts, langs, strict=True)]
        if tokens:
            model.index(tokens, show_progress=False)
        return cls(model, np.asarray(vids, dtype=np.int64), language_codes(langs))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if len(self.vids):
            self._model.save(str(directory), show_progress=False)
        np.save(directory / "vids.npy", self.vids)
        np.save(directory / LANGUAGES_FILE, self.languages)

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> KeywordIndex:
        with NPY_LOCK:
            vids = np.load(directory / "vids.npy")
            # A generation from before per-language keywords has none (and its manifest says so).
            langs_path = directory / LANGUAGES_FILE
            languages = np.load(langs_path) if langs_path.exists() else None
            if languages is not None and len(languages) != len(vids):
                raise ValueError(f"{langs_path} holds {len(languages)} languages for {len(vids)} passages")
            if not len(vids):
                return cls(bm25s.BM25(), vids, languages)
            model = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0)
        return cls(model, vids, languages)

    def _query_tokens(self, query: str, language: str | None) -> list[str]:
        """``query``'s terms by ``language``'s rules (None: ``query_language``) that some
        passage holds."""
        if not len(self.vids):
            return []
        lang = query_language(query) if language is None else language
        return [t for t in tokenize(query, lang) if t in self._model.vocab_dict]

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None, language: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ``(vids, scores)`` with a positive score; ``allowed`` masks by position;
        ``query`` is tokenized by ``language``'s rules (None: its detected language's)."""
        if not len(self.vids):
            return np.empty(0, np.int64), np.empty(0, np.float32)
        tokens = self._query_tokens(query, language)
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

    def scores_of(self, query: str, vids: np.ndarray, language: str | None = None) -> np.ndarray:
        """BM25 scores of the passages ``vids`` (0 for one without the query's words or not
        in this index), so a passage found only by meaning can be fused with its exact score."""
        out = np.zeros(len(vids), np.float32)
        tokens = self._query_tokens(query, language)
        if not tokens or not len(vids):
            return out
        dense = self._all_scores(tokens)
        positions = self._positions(np.asarray(vids, np.int64))
        found = positions >= 0
        out[found] = dense[positions[found]]
        return out

    def languages_of(self, vids: np.ndarray) -> list[str | None]:
        """The rules language each of ``vids`` was tokenized by (None: not in this index)."""
        positions = self._positions(np.asarray(vids, np.int64)) if len(self.vids) else np.full(len(vids), -1)
        return [LANGUAGES[int(self.languages[p])] if p >= 0 else None for p in positions.tolist()]

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
