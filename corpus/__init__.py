"""Documents in, passages out: readers per format, cleaning, metadata, chunking, the store.

This package knows nothing of ``embeddings`` or ``bot``.
"""

from corpus.errors import ReadError
from corpus.types import Document, Passage

__all__ = ["Document", "Passage", "ReadError"]
