"""Incremental BM25: each generation's keyword index from the previous one plus the changes.

bm25s builds its index from every passage's tokens in Python loops (30 s per 100k passages
here) and the indexer used to re-tokenise the whole store every generation (another ~50 s
per 100k). A new bulletin changes every passage's BM25 scores (N, average length and
document frequencies move), but not their term counts, so a generation keeps its term
counts beside the bm25s files and the next one:

1. drops the removed passages' entries and appends the new passages' (only they are
   tokenised), keeping the column-major (CSC) layout bm25s searches, and
2. recomputes every score from the counts in a few vectorised passes.

The scores are bit-for-bit those of ``bm25s.BM25.index`` (same float64 formula, same float32
rounding; tests/test_scale.py checks it), and the files are bm25s' own, so
``KeywordIndex.load`` reads them unchanged. Extra files per generation::

    keyword/tf.npy       float32 term count of every (term, passage) entry, aligned with
                         data.csc.index.npy / indices.csc.index.npy
    keyword/doclen.npy   int64 token count of every passage (by position, as vids.npy)
    keyword/terms.json   {"tokenizer": signature of keyword.tokenize, "format": 2}

and ``keyword/languages.npy`` (each passage's rules language, written by ``KeywordIndex.save``),
so a passage keeps the rules it was tokenised by. When tokenisation changes (see
``tokenizer_signature``) the cache is ignored and the next generation tokenises everything once.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np

from embeddings import keyword
from embeddings.keyword import LANGUAGES_FILE, KeywordIndex, language_codes, tokenize, tokenizer_recipe

TERMS_FILE = "terms.json"
FORMAT = 2  # 2: per-language tokenisation, languages.npy beside the counts
EMPTY_DOC = "\u2205"  # KeywordIndex.build's token for a passage with no words
IDF_METHODS = ("lucene", "robertson", "atire")


@lru_cache(maxsize=1)
def tokenizer_signature() -> str:
    """Changes when tokenisation changes: ``tokenize``'s source, its pattern, and the recipe
    (each language's stemmer, stop words, folding, and the output on probe texts); edits
    elsewhere in keyword.py keep the cache."""
    parts = [
        inspect.getsource(keyword.tokenize),
        getattr(getattr(keyword, "_TOKEN", None), "pattern", ""),
        json.dumps(tokenizer_recipe(), sort_keys=True),
    ]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]


def build_params() -> dict[str, object]:
    """The BM25 parameters ``KeywordIndex.build`` uses by default (k1, b, and bm25s' default
    idf method, which it does not change)."""
    return {"k1": keyword.K1, "b": keyword.B, "method": "lucene"}


def passage_tokens(text: str, language: str | None = None) -> list[str]:
    """What ``KeywordIndex.build`` indexes for one passage in ``language``."""
    return tokenize(text, language) or [EMPTY_DOC]


@dataclass
class TermCounts:
    """Term counts of every passage in column-major (term, passage) order."""

    vids: np.ndarray  # int64 [N]: position -> passage vector id
    doclen: np.ndarray  # int64 [N]: tokens in each passage (with repeats)
    indptr: np.ndarray  # int64 [V+1]: entries of term t are indptr[t]:indptr[t+1]
    indices: np.ndarray  # int32 [nnz]: passage positions, ascending within a term
    tf: np.ndarray  # float32 [nnz]: count of the term in the passage
    vocab: dict[str, int]
    languages: np.ndarray | None = None  # uint8 [N]: rules language (keyword.LANGUAGES position)

    def __post_init__(self) -> None:
        if self.languages is None:
            self.languages = np.zeros(len(self.vids), np.uint8)

    @classmethod
    def empty(cls) -> TermCounts:
        # bm25s puts an empty token "" in every vocabulary; keep one so the layouts match.
        return cls(
            vids=np.empty(0, np.int64),
            doclen=np.empty(0, np.int64),
            indptr=np.zeros(2, np.int64),
            indices=np.empty(0, np.int32),
            tf=np.empty(0, np.float32),
            vocab={"": 0},
        )

    @classmethod
    def load(cls, directory: Path) -> TermCounts | None:
        """The counts saved with a generation's keyword index, or None if unusable."""
        try:
            meta = json.loads((directory / TERMS_FILE).read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT or meta.get("tokenizer") != tokenizer_signature():
                return None
            with keyword.NPY_LOCK:  # see embeddings.keyword: np.load is not thread-safe on 3.11
                vids = np.load(directory / "vids.npy")
                if not len(vids):
                    return cls.empty()
                vocab = json.loads((directory / "vocab.index.json").read_text(encoding="utf-8"))
                counts = cls(
                    vids=vids.astype(np.int64, copy=False),
                    doclen=np.load(directory / "doclen.npy").astype(np.int64, copy=False),
                    indptr=np.load(directory / "indptr.csc.index.npy").astype(np.int64, copy=False),
                    indices=np.load(directory / "indices.csc.index.npy").astype(np.int32, copy=False),
                    tf=np.load(directory / "tf.npy").astype(np.float32, copy=False),
                    vocab=vocab,
                    languages=np.load(directory / LANGUAGES_FILE).astype(np.uint8, copy=False),
                )
        except (OSError, ValueError, KeyError):
            return None
        if (
            len(counts.doclen) != len(counts.vids)
            or len(counts.tf) != len(counts.indices)
            or len(counts.indptr) != len(counts.vocab) + 1
            or int(counts.indptr[-1]) != len(counts.indices)
            or len(counts.languages) != len(counts.vids)  # type: ignore[arg-type]
        ):
            return None
        return counts

    def update(
        self, removed: np.ndarray, added_vids: Sequence[int], added_tokens: Sequence[list[str]],
        added_languages: Sequence[str | None] | None = None,
    ) -> TermCounts:
        """New counts without the ``removed`` vids and with the added passages at the end
        (tokenised by the rules of ``added_languages``; None: the default rules)."""
        n_terms = len(self.indptr) - 1
        indptr, indices, tf = self.indptr, self.indices, self.tf
        vids, doclen, langs = self.vids, self.doclen, self.languages
        assert langs is not None  # set by __post_init__
        keep = ~np.isin(vids, np.asarray(removed, np.int64)) if len(removed) else None
        if keep is not None and not keep.all():
            new_position = (np.cumsum(keep) - 1).astype(np.int32)
            entry_keep = keep[indices]
            terms = np.repeat(np.arange(n_terms, dtype=np.int64), np.diff(indptr))[entry_keep]
            indices = new_position[indices[entry_keep]]
            tf = tf[entry_keep]
            indptr = np.zeros(n_terms + 1, np.int64)
            np.cumsum(np.bincount(terms, minlength=n_terms), out=indptr[1:])
            vids, doclen, langs = vids[keep], doclen[keep], langs[keep]
        vocab = self.vocab
        if len(added_vids):
            vocab = dict(vocab)
            base = len(vids)
            new_terms: list[int] = []
            new_docs: list[int] = []
            new_tf: list[int] = []
            lengths = []
            for i, tokens in enumerate(added_tokens):
                lengths.append(len(tokens))
                for token, count in Counter(tokens).items():
                    new_terms.append(vocab.setdefault(token, len(vocab)))
                    new_docs.append(base + i)
                    new_tf.append(count)
            t = np.asarray(new_terms, np.int64)
            d = np.asarray(new_docs, np.int32)
            order = np.lexsort((d, t))
            t, d, f = t[order], d[order], np.asarray(new_tf, np.float32)[order]
            grown = len(vocab)
            old_ptr = np.concatenate([indptr, np.full(grown - n_terms, indptr[-1], np.int64)])
            # New passages sort after every old one, so each goes at the end of its term's run.
            at = old_ptr[t + 1]
            indices = np.insert(indices, at, d)
            tf = np.insert(tf, at, f)
            indptr = old_ptr.copy()
            indptr[1:] += np.cumsum(np.bincount(t, minlength=grown))
            vids = np.concatenate([vids, np.asarray(added_vids, np.int64)])
            doclen = np.concatenate([doclen, np.asarray(lengths, np.int64)])
            added = list(added_languages) if added_languages is not None else [None] * len(added_vids)
            langs = np.concatenate([langs, language_codes(added)])
        return TermCounts(vids, doclen, indptr, indices.astype(np.int32, copy=False), tf, vocab, langs)

    def scores(self, k1: float, b: float, method: str = "lucene") -> np.ndarray:
        """BM25 score of every entry, exactly as bm25s computes and rounds it."""
        n = len(self.vids)
        if method not in IDF_METHODS:
            raise ValueError(f"incremental BM25 supports {', '.join(IDF_METHODS)}, not {method!r}")
        df = np.diff(self.indptr).tolist()
        # Python floats and math.log, as bm25s does per term, so every bit matches.
        if method == "lucene":
            idf_list = [math.log(1 + (n - x + 0.5) / (x + 0.5)) if x else 0.0 for x in df]
        elif method == "robertson":
            idf_list = [math.log(max(1, (n - x + 0.5) / (x + 0.5))) if x else 0.0 for x in df]
        else:
            idf_list = [math.log(n / x) if x else 0.0 for x in df]
        idf = np.asarray(idf_list, np.float32)
        avg = self.doclen.mean()  # bm25s: np.array(lengths).mean(), exact for integer sums
        norm = k1 * ((1 - b) + (b * self.doclen.astype(np.float64)) / avg)
        tf = self.tf.astype(np.float64)
        tfc = norm[self.indices]
        tfc += tf
        np.divide(tf, tfc, out=tfc)
        # Each term's idf repeated over its entries (float32 -> float64 is exact).
        tfc *= np.repeat(idf.astype(np.float64), np.diff(self.indptr))
        return tfc.astype(np.float32)

    def keyword_index(self, k1: float, b: float, method: str = "lucene") -> KeywordIndex:
        """A KeywordIndex over these counts (bm25s' own object, so it saves and loads as usual)."""
        if not len(self.vids):
            return KeywordIndex(bm25s.BM25(), self.vids, self.languages)
        model = bm25s.BM25(k1=k1, b=b, method=method)
        model.scores = {
            "data": self.scores(k1, b, method),
            "indices": self.indices,
            "indptr": self.indptr,
            "num_docs": len(self.vids),
        }
        model.vocab_dict = self.vocab
        model.nonoccurrence_array = None  # only BM25L and BM25+ have one
        model.unique_token_ids_set = set(self.vocab.values())
        return KeywordIndex(model, self.vids, self.languages)

    def save_extra(self, directory: Path) -> None:
        """The counts beside a saved KeywordIndex (which wrote vids, indices, indptr, vocab)."""
        directory.mkdir(parents=True, exist_ok=True)
        if len(self.vids):
            np.save(directory / "tf.npy", self.tf)
            np.save(directory / "doclen.npy", self.doclen)
        meta = {"format": FORMAT, "tokenizer": tokenizer_signature()}
        (directory / TERMS_FILE).write_text(json.dumps(meta), encoding="utf-8")


def build_keyword(
    previous: Path | None,
    wanted: np.ndarray,
    texts_for: Callable[[list[int]], dict[int, str]],
    out: Path,
    languages_for: Callable[[list[int]], Mapping[int, str | None]] | None = None,
) -> tuple[KeywordIndex, int]:
    """Write the keyword index for the passages ``wanted`` into ``out``.

    ``previous`` is the current generation's keyword folder (None: start from nothing);
    ``texts_for(vids)`` gives ``{vid: text to index}`` for passages it has to tokenise, and
    ``languages_for(vids)`` their languages (None: every passage by the default rules).
    Returns the index and how many passages were tokenised.
    """
    params = build_params()
    k1, b, method = float(params["k1"]), float(params["b"]), str(params["method"])  # type: ignore[arg-type]
    counts = TermCounts.load(previous) if previous is not None else None
    if counts is None:
        counts = TermCounts.empty()
    wanted = np.asarray(wanted, np.int64)
    removed = np.setdiff1d(counts.vids, wanted, assume_unique=True)
    added = np.setdiff1d(wanted, counts.vids, assume_unique=True).tolist()
    texts = texts_for(added) if added else {}
    found = languages_for(added) if added and languages_for is not None else {}
    languages = [found.get(v) for v in added]
    tokens = [passage_tokens(texts[v], lang) for v, lang in zip(added, languages, strict=True)]
    counts = counts.update(removed, added, tokens, languages)
    index = counts.keyword_index(k1, b, method)
    index.save(out)
    counts.save_extra(out)
    return index, len(added)
