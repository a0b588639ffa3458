"""Passages in, hits out: the encoder, FAISS and BM25 indexes, fusion, incremental indexing.

May use ``corpus`` types; knows nothing of ``bot``.
"""

from embeddings.errors import IndexError_, IndexMismatch

__all__ = ["IndexError_", "IndexMismatch"]
