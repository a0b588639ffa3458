"""Followed sources: sites and folders that Steward syncs by itself.

One module per kind (:mod:`wordpress`, :mod:`feed`, :mod:`sitemap`, :mod:`pattern`,
:mod:`folder`), each turning a source into a :class:`~corpus.sources.model.Listing`;
:mod:`detect` tells the kind from a URL; :mod:`engine` runs one pass (fetch what changed,
store it, drop what left) with the per-item state of :mod:`state`; :mod:`http` fetches
politely through :mod:`corpus.fetch`'s rules. Embedding is the caller's (``bot/sync.py``).
"""

from corpus.sources.errors import SourceError
from corpus.sources.model import KINDS, Entry, Listing, SourceSpec
from corpus.sources.settings import SyncSettings

__all__ = ["KINDS", "Entry", "Listing", "SourceError", "SourceSpec", "SyncSettings"]
