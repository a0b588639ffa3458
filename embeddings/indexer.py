"""Bring the index in line with the store: encode only what is new, drop what is gone.

The store is the system of record. ``sync`` compares the passages in the store with the
vectors in the current generation, encodes the missing passages, removes the stale ones and
publishes the result as a new generation. A kill at any point leaves the previous
generation serving; the next ``sync`` finishes the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from corpus.store import Store
from embeddings.dense import DenseIndex
from embeddings.encoder import Encoder, EncoderSettings
from embeddings.errors import IndexMismatch
from embeddings.generations import Generations, Manifest
from embeddings.keyword import KeywordIndex

log = logging.getLogger(__name__)

DENSE_FILE = "dense.faiss"
KEYWORD_DIR = "keyword"


@dataclass(frozen=True)
class IndexSettings:
    encoder: EncoderSettings
    chunker: dict[str, int]
    embed_title: bool = True
    keep_generations: int = 2


@dataclass
class SyncReport:
    encoded: int
    removed: int
    passages: int
    generation: str | None
    changed: bool
    seconds: float


def embed_text(title: str, text: str, settings: IndexSettings) -> str:
    """What the encoder sees for a passage (the stored text stays as it is)."""
    body = f"{title}\n{text}" if settings.embed_title and title else text
    return settings.encoder.passage_prefix + body


def check_manifest(manifest: Manifest, settings: IndexSettings, dimension: int | None = None) -> None:
    """Raise IndexMismatch when the index was built differently from the configuration."""
    problems = []
    if manifest.model != settings.encoder.model:
        problems.append(f"model {manifest.model!r} (configured: {settings.encoder.model!r})")
    if dimension is not None and manifest.dimension != dimension:
        problems.append(f"dimension {manifest.dimension} (the model gives {dimension})")
    if manifest.embed_title != settings.embed_title:
        problems.append(f"embed_title={manifest.embed_title} (configured: {settings.embed_title})")
    if manifest.chunker != settings.chunker:
        problems.append(f"chunker {manifest.chunker} (configured: {settings.chunker})")
    if problems:
        raise IndexMismatch(
            "the index was built with " + "; ".join(problems)
            + ". Run `steward reindex` to rebuild it with the current settings."
        )


class Indexer:
    def __init__(
        self,
        store: Store,
        generations: Generations,
        encoder: Callable[[], Encoder],
        settings: IndexSettings,
    ) -> None:
        self.store = store
        self.generations = generations
        self._encoder_factory = encoder
        self._encoder: Encoder | None = None
        self.settings = settings

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._encoder_factory()
        return self._encoder

    def sync(self, full: bool = False, progress: bool = False) -> SyncReport:
        """Publish a generation matching the store; ``full`` re-encodes every passage."""
        started = time.perf_counter()
        with self.generations.lock():
            current = self.generations.current()
            dense: DenseIndex | None = None
            if current is not None and not full:
                check_manifest(Manifest.read(current / "manifest.json"), self.settings)
                dense = DenseIndex.load(current / DENSE_FILE)
            wanted = self.store.all_vids()
            have = set(dense.ids().tolist()) if dense is not None else set()
            to_add = sorted(wanted - have)
            to_remove = have - wanted
            if dense is not None and not to_add and not to_remove:
                return SyncReport(0, 0, len(wanted), current.name if current else None, False,
                                  time.perf_counter() - started)
            vectors = self._encode(to_add, progress)
            if dense is None:
                dense = DenseIndex.empty(self.encoder.dimension)
            dense.remove(to_remove)
            dense.add(np.asarray(to_add, dtype=np.int64), vectors)
            name = self._publish(dense)
            self.generations.cleanup(self.settings.keep_generations)
        log.info("index generation %s: %d encoded, %d removed, %d passages",
                 name, len(to_add), len(to_remove), dense.size)
        return SyncReport(len(to_add), len(to_remove), dense.size, name, True,
                          time.perf_counter() - started)

    def _encode(self, vids: list[int], progress: bool) -> np.ndarray:
        if not vids:
            dim = self._encoder.dimension if self._encoder else 0
            return np.zeros((0, dim), dtype=np.float32)
        texts = self.store.texts_for_embedding(vids)
        inputs = [embed_text(*texts[v], self.settings) for v in vids]
        return self.encoder.encode(
            inputs, batch_size=self.settings.encoder.batch_size, progress=progress and len(inputs) > 64
        )

    def _publish(self, dense: DenseIndex) -> str:
        vids, texts = [], []
        for vid, title, text in self.store.iter_passage_texts():
            vids.append(vid)
            texts.append(f"{title}\n{text}" if self.settings.embed_title else text)
        keyword = KeywordIndex.build(vids, texts)
        manifest = Manifest(
            model=self.settings.encoder.model,
            dimension=dense.dimension,
            normalized=True,
            embed_title=self.settings.embed_title,
            chunker=dict(self.settings.chunker),
            passages=dense.size,
            index_type=dense.index_type,
            backend=self.settings.encoder.backend,
        )
        with self.generations.new() as folder:
            dense.save(folder / DENSE_FILE)
            keyword.save(folder / KEYWORD_DIR)
            (folder / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        return self.generations.current_name() or ""


    def manifest(self) -> Manifest | None:
        current = self.generations.current()
        return Manifest.read(current / "manifest.json") if current else None

