"""The dense half of hybrid search: a FAISS index of passage vectors keyed by vector id."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import faiss
import numpy as np

from embeddings.errors import IndexError_


class DenseIndex:
    """Inner-product search over L2-normalised vectors (so scores are cosines).

    Vectors are keyed by 64-bit passage vector ids, so one passage can be removed or added
    without rebuilding the rest.
    """

    index_type = "flat"

    def __init__(self, index: faiss.Index) -> None:
        self._index = index
        self.dimension = index.d

    @classmethod
    def empty(cls, dimension: int) -> DenseIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    @classmethod
    def load(cls, path: Path, mmap: bool = False) -> DenseIndex:
        if not path.is_file():
            raise IndexError_(f"the index file {path} is missing; run `steward reindex`")
        flags = faiss.IO_FLAG_READ_ONLY | faiss.IO_FLAG_MMAP_IFC if mmap else 0
        try:
            return cls(faiss.read_index(str(path), flags))
        except RuntimeError as err:
            if mmap:  # some index types cannot be mapped; reading them whole still works
                try:
                    return cls(faiss.read_index(str(path)))
                except RuntimeError:
                    pass
            raise IndexError_(
                f"the index file {path} is damaged or unreadable ({str(err).splitlines()[0]}); "
                "run `steward reindex`"
            ) from err

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, vids: np.ndarray, vectors: np.ndarray) -> None:
        if len(vids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, np.float32), vids.astype(np.int64))

    def remove(self, vids: Iterable[int]) -> int:
        ids = np.fromiter(vids, dtype=np.int64)
        if not len(ids):
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def vectors(self, vids: Iterable[int]) -> np.ndarray:
        return np.vstack([self._index.reconstruct(int(v)) for v in vids] or [np.zeros((0, self.dimension))])

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ``(vids, cosines)``; ``allowed`` restricts to those vector ids."""
        if self.size == 0 or k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        params = None
        if allowed is not None:
            if not len(allowed):
                return np.empty(0, np.int64), np.empty(0, np.float32)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))
        scores, ids = self._index.search(
            np.ascontiguousarray(query.reshape(1, -1), np.float32), min(k, self.size), params=params
        )
        keep = ids[0] >= 0
        keep &= ids[0] != -1
        return ids[0][keep], scores[0][keep]
