"""The dense half of hybrid search: a FAISS index of passage vectors keyed by vector id.

Two tiers, chosen by corpus size (``DenseSettings.exact_max_passages``) and recorded in each
generation's manifest (``index_type`` / ``index_params``):

* ``flat``: exact inner-product search (``IndexIDMap2(IndexFlatIP)``), 1.5 KB per passage.
  One query scans every vector: ~10 ms per 100k passages on one core.
* ``ivf-sq8``: an inverted file (``IndexIVFScalarQuantizer``, flat quantizer, 8-bit scalar
  quantisation, raw vectors rather than residuals) with a hash-table direct map, so passages
  can still be removed, added and reconstructed by id. 0.4 KB per passage, and a query reads
  only ``nprobe`` lists, so 1M passages answer in milliseconds and stay well inside the memory
  budget when the file is memory-mapped. ``nprobe`` is tuned so recall@10 against exact search
  stays >= 0.98 on real embeddings (``python -m bench.speed`` measures and prints it); a third
  of the lists is needed, so IVF reads ~1/3 of the codes, at ~1/4 of the bytes of exact search.

Anything that implements :class:`VectorIndex` can stand in for :class:`DenseIndex` (a sharded
FAISS index, or a client for Qdrant, Milvus or OpenSearch): the searcher and the indexer use
nothing else.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from embeddings.errors import IndexError_

FLAT = "flat"
IVF_SQ8 = "ivf-sq8"
INDEX_TYPES = (FLAT, IVF_SQ8)


@dataclass(frozen=True)
class DenseSettings:
    """How the vector index is chosen and searched; ``[index]`` in config.toml."""

    # Exact search up to this many passages, then IVF+SQ8. Exact search over 200k vectors
    # takes ~20 ms on one core, inside the query latency target with room for the rest.
    exact_max_passages: int = 200_000
    # IVF lists probed per query (more: higher recall, slower). 0: a third of the lists.
    nprobe: int = 0
    # IVF lists; 0: automatic, a power of two near 2*sqrt(passages).
    nlist: int = 0
    # Retrain the IVF centroids once the index has grown this many times past its training.
    retrain_growth: float = 2.0
    # FAISS threads for one query; more threads only add overhead to a single query.
    search_threads: int = 1

    def __post_init__(self) -> None:
        if self.exact_max_passages < 0 or self.nprobe < 0 or self.nlist < 0:
            raise ValueError("index.exact_max_passages, index.nprobe and index.nlist must be >= 0")
        if self.retrain_growth <= 1.0:
            raise ValueError("index.retrain_growth must be more than 1")
        if self.search_threads < 1:
            raise ValueError("index.search_threads must be at least 1")


def auto_nlist(passages: int) -> int:
    """A power of two near 2*sqrt(n): a few hundred vectors per list, a cheap quantizer."""
    if passages <= 0:
        return 1
    return int(min(65536, max(64, 2 ** round(math.log2(2 * math.sqrt(passages))))))


def auto_nprobe(nlist: int) -> int:
    """A third of the lists (at least 16): real sentence embeddings are not very clustered.

    Measured on 25k real all-MiniLM-L6-v2 vectors (SciFact abstracts and sentences, the 1,109
    SciFact claims as queries), IVF-SQ8 recall@10 against exact search with 256 lists is 0.94
    at 10% of the lists, 0.977 at 25%, ~0.984 at a third and 0.992 at half (8-bit codes alone
    cap it near 0.994). ``python -m bench.speed`` re-measures it.
    """
    return max(1, min(nlist, max(16, math.ceil(nlist / 3))))


class VectorIndex(Protocol):
    """What the searcher and indexer need from a vector store (any backend can implement it)."""

    dimension: int

    @property
    def index_type(self) -> str: ...

    @property
    def params(self) -> dict[str, object]: ...

    @property
    def size(self) -> int: ...

    def ids(self) -> np.ndarray: ...

    def add(self, vids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, vids: Iterable[int]) -> int: ...

    def vectors(self, vids: Iterable[int]) -> np.ndarray: ...

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path: Path) -> None: ...


class DenseIndex:
    """Inner-product search over L2-normalised vectors (so scores are cosines).

    Vectors are keyed by 64-bit passage vector ids, so one passage can be removed or added
    without rebuilding the rest.
    """

    def __init__(self, index: faiss.Index, settings: DenseSettings | None = None, read_only: bool = False,
                 params: dict[str, object] | None = None) -> None:
        self._index = index
        self.dimension = index.d
        self.settings = settings or DenseSettings()
        # A memory-mapped index must never be changed: FAISS aborts the process (not an exception).
        self.read_only = read_only
        self._params = dict(params or {})
        if isinstance(index, faiss.IndexIVF):
            self._params.setdefault("nlist", int(index.nlist))
            self._params.setdefault("trained_on", int(index.ntotal))

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def empty(cls, dimension: int, settings: DenseSettings | None = None) -> DenseIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), settings)

    @classmethod
    def build(cls, vids: np.ndarray, vectors: np.ndarray, settings: DenseSettings | None = None,
              dimension: int | None = None) -> DenseIndex:
        """The tier ``settings`` choose for this many vectors, holding exactly these."""
        settings = settings or DenseSettings()
        dimension = dimension or int(vectors.shape[1])
        if len(vids) <= settings.exact_max_passages:
            index = cls.empty(dimension, settings)
            index.add(np.asarray(vids, np.int64), vectors)
            return index
        return cls._ivf(np.asarray(vids, np.int64), np.ascontiguousarray(vectors, np.float32), settings)

    @classmethod
    def _ivf(cls, vids: np.ndarray, vectors: np.ndarray, settings: DenseSettings) -> DenseIndex:
        n, d = vectors.shape
        nlist = settings.nlist or auto_nlist(n)
        nlist = max(1, min(nlist, n // 39 or 1))  # k-means wants >= 39 points per centroid
        index = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(d), d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        # Raw vectors (not residuals): one scalar-quantizer range for every list, and no
        # per-list precomputation at query time.
        index.by_residual = False
        # 64 points per centroid train as well as all of them, in a fraction of the time.
        sample = vectors
        if n > 64 * nlist:
            rng = np.random.default_rng(0)
            sample = vectors[np.sort(rng.choice(n, 64 * nlist, replace=False))]
        with _threads(0):
            index.train(sample)
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            index.add_with_ids(vectors, vids)
        return cls(index, settings, params={"nlist": int(nlist), "trained_on": int(n)})

    def fit(self) -> DenseIndex:
        """This index, or a rebuilt one of the tier its size now calls for.

        Flat grows into IVF past ``exact_max_passages``; IVF is retrained once it has grown
        ``retrain_growth`` times past its training set, and goes back to flat below half the
        threshold. IVF vectors are reconstructed from their 8-bit codes (error ~1e-3 per
        component; `steward reindex` re-encodes from the text).
        """
        s = self.settings
        n = self.size
        if self.index_type == FLAT:
            if n <= s.exact_max_passages:
                return self
        else:
            trained = int(self._params.get("trained_on", n) or 1)
            grown = n >= s.retrain_growth * trained
            if n > s.exact_max_passages // 2 and not grown and (not s.nlist or s.nlist == self._params.get("nlist")):
                return self
        vids = self.ids()
        return DenseIndex.build(vids, self.vectors(vids), s, self.dimension)

    # -- files -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, mmap: bool = False, settings: DenseSettings | None = None,
             params: dict[str, object] | None = None) -> DenseIndex:
        """Read an index; ``mmap`` maps it read-only so processes share one copy in memory."""
        if not path.is_file():
            raise IndexError_(f"the index file {path} is missing; run `steward reindex`")
        flags = faiss.IO_FLAG_READ_ONLY | faiss.IO_FLAG_MMAP_IFC if mmap else 0
        try:
            return cls(faiss.read_index(str(path), flags), settings, read_only=mmap, params=params)
        except RuntimeError as err:
            if mmap:  # some index types cannot be mapped; reading them whole still works
                try:
                    return cls(faiss.read_index(str(path)), settings, params=params)
                except RuntimeError:
                    pass
            raise IndexError_(
                f"the index file {path} is damaged or unreadable ({str(err).splitlines()[0]}); "
                "run `steward reindex`"
            ) from err

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    # -- what it holds -----------------------------------------------------------------------

    @property
    def index_type(self) -> str:
        return IVF_SQ8 if isinstance(self._index, faiss.IndexIVF) else FLAT

    @property
    def params(self) -> dict[str, object]:
        """What the manifest records about this index (``index_params``)."""
        if self.index_type == FLAT:
            return {"metric": "inner_product", "exact_max_passages": self.settings.exact_max_passages}
        return {
            "metric": "inner_product",
            "quantizer": "flat",
            "codes": "sq8",
            "by_residual": False,
            "nlist": int(self._params["nlist"]),
            "nprobe": self.nprobe,
            "trained_on": int(self._params["trained_on"]),
            "exact_max_passages": self.settings.exact_max_passages,
        }

    @property
    def nprobe(self) -> int:
        if self.index_type == FLAT:
            return 0
        nlist = int(self._index.nlist)
        return min(nlist, self.settings.nprobe or auto_nprobe(nlist))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        if self.index_type == FLAT:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        invlists = self._index.invlists
        parts = [np.empty(0, np.int64)]
        for lst in range(self._index.nlist):
            n = invlists.list_size(lst)
            if n:
                parts.append(faiss.rev_swig_ptr(invlists.get_ids(lst), n).copy())
        return np.concatenate(parts).astype(np.int64)

    # -- changing it -------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.read_only:
            raise IndexError_("a memory-mapped index generation is read-only; load it without mmap to change it")

    def add(self, vids: np.ndarray, vectors: np.ndarray) -> None:
        if len(vids):
            self._writable()
            with _threads(0):
                self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), vids.astype(np.int64))

    def remove(self, vids: Iterable[int]) -> int:
        ids = np.ascontiguousarray(np.fromiter(vids, dtype=np.int64))
        if not len(ids):
            return 0
        self._writable()
        if self.index_type == FLAT:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))
        # The IVF hash-table direct map removes only through an explicit id array.
        return int(self._index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))))

    # -- reading it --------------------------------------------------------------------------

    def vectors(self, vids: Iterable[int]) -> np.ndarray:
        keys = np.ascontiguousarray(np.fromiter(vids, dtype=np.int64))
        if not len(keys):
            return np.zeros((0, self.dimension), np.float32)
        return self._index.reconstruct_batch(keys)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ``(vids, cosines)``; ``allowed`` restricts to those vector ids."""
        if self.size == 0 or k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        sel = None
        if allowed is not None:
            if not len(allowed):
                return np.empty(0, np.int64), np.empty(0, np.float32)
            sel = faiss.IDSelectorBatch(allowed.astype(np.int64))
        if self.index_type == FLAT:
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
        else:
            # A filter may leave few passages in the probed lists: probe every list then, so
            # a filtered search is exhaustive over the allowed passages (only they are scored).
            nprobe = int(self._index.nlist) if sel is not None else self.nprobe
            params = faiss.SearchParametersIVF(nprobe=nprobe, sel=sel) if sel is not None else \
                faiss.SearchParametersIVF(nprobe=nprobe)
        faiss.omp_set_num_threads(self.settings.search_threads)  # per calling thread in OpenMP
        scores, ids = self._index.search(
            np.ascontiguousarray(query.reshape(1, -1), np.float32), min(k, self.size), params=params
        )
        keep = ids[0] != -1  # FAISS pads with -1; vector ids themselves may be negative
        return ids[0][keep], scores[0][keep]


class _threads:
    """Use ``n`` OpenMP threads (0: every core) for bulk work in this thread, then restore."""

    def __init__(self, n: int) -> None:
        self.n = n or len(os.sched_getaffinity(0))

    def __enter__(self) -> None:
        self.saved = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        faiss.omp_set_num_threads(self.saved)
