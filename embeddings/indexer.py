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
from pathlib import Path

import numpy as np

from corpus.sentences import sentence_spans
from corpus.store import Store
from embeddings.bm25 import build_keyword
from embeddings.dense import DenseIndex
from embeddings.encoder import Encoder, SpanEncoder
from embeddings.errors import IndexError_
from embeddings.generations import (
    DENSE_FILE,
    KEYWORD_DIR,
    MANIFEST,
    Generations,
    IndexSettings,
    Manifest,
    checked_manifest,
    keyword_tokenizer_problem,
)
from embeddings.progress import progress_bar
from embeddings.sentence_store import SentenceStore, remove_other_sentence_stores, sentence_store
from embeddings.spans import shift

log = logging.getLogger(__name__)

_SENTENCE_CHUNK = 2048  # passages encoded per call when sentence vectors are kept (bounds memory)


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
            # A full rebuild needs nothing from the current generation, so it also works when
            # that one (or the pointer to it) is damaged: it is what the error messages advise.
            current = None if full else self.generations.current()
            dense: DenseIndex | None = None
            # Keyword terms made by another tokenizer are rebuilt from the store (cheap; the
            # vectors stay): searching refuses such a generation, so one is published even
            # when no passage changed.
            stale_keywords = False
            if current is not None and not full:
                manifest = checked_manifest(current, self.settings, keyword=False)
                stale_keywords = keyword_tokenizer_problem(manifest) is not None
                dense = DenseIndex.load(current / DENSE_FILE, settings=self.settings.dense,
                                        params=manifest.index_params)
            # Set arithmetic in numpy: at a million passages Python sets cost seconds.
            wanted = np.fromiter(self.store.all_vids(), np.int64)
            have = dense.ids() if dense is not None else np.empty(0, np.int64)
            to_add = np.setdiff1d(wanted, have, assume_unique=True).tolist()
            to_remove = np.setdiff1d(have, wanted, assume_unique=True)
            if dense is not None and not to_add and not len(to_remove) and not stale_keywords:
                return SyncReport(0, 0, len(wanted), current.name if current else None, False,
                                  time.perf_counter() - started)
            texts = self.store.texts_for_embedding(to_add)
            # A removal alone needs no model: the index knows its dimension.
            dimension = dense.dimension if dense is not None else self.encoder.dimension
            sentences = sentence_store(self.generations.root, self.settings, dimension)
            try:
                vectors = self._encode(to_add, texts, sentences, progress)
                if dense is None:
                    dense = DenseIndex.empty(self.encoder.dimension, self.settings.dense)
                dense.remove(to_remove.tolist())
                dense.add(np.asarray(to_add, dtype=np.int64), vectors)
                dense = dense.fit()  # exact or IVF by size (retrained as it grows)
                previous = current / KEYWORD_DIR if current is not None and not full and not stale_keywords else None
                name = self._publish(dense, wanted, previous, texts)
                self.generations.cleanup(self.settings.keep_generations)
                # After the swap: the generation that served until now still needed these rows.
                if full:
                    sentences.retain(wanted)
                    remove_other_sentence_stores(self.generations.root, sentences.path)
                elif len(to_remove):
                    sentences.remove(to_remove.tolist())
            finally:
                sentences.close()
        log.info("index generation %s: %d encoded, %d removed, %d passages",
                 name, len(to_add), len(to_remove), dense.size)
        return SyncReport(len(to_add), len(to_remove), dense.size, name, True,
                          time.perf_counter() - started)

    def _encode(
        self, vids: list[int], texts: dict[int, tuple[str, str]], sentences: SentenceStore, progress: bool
    ) -> np.ndarray:
        """The passages' vectors; with an encoder that can, their sentences' vectors too (into
        ``sentences``), from the same pass and a few thousand passages at a time."""
        if not vids:
            dim = self._encoder.dimension if self._encoder else 0
            return np.zeros((0, dim), dtype=np.float32)
        inputs = [embed_text(*texts[v], self.settings) for v in vids]
        batch = self.settings.encoder.batch_size
        if not isinstance(self.encoder, SpanEncoder):
            return self.encoder.encode(inputs, batch_size=batch, progress=progress and len(inputs) > 64)
        out = np.empty((len(vids), self.encoder.dimension), dtype=np.float32)
        bar = progress_bar(len(vids)) if progress and len(vids) > 64 else None
        for start in range(0, len(vids), _SENTENCE_CHUNK):
            part = range(start, min(len(vids), start + _SENTENCE_CHUNK))
            stored = self.store.sentences_for(vids[i] for i in part)
            # Passages stored by an older Steward have no sentences yet: split them now.
            spans = [stored.get(vids[i]) or sentence_spans(texts[vids[i]][1]) for i in part]
            offsets = [len(inputs[i]) - len(texts[vids[i]][1]) for i in part]  # the body ends the input
            vectors, pooled = self.encoder.encode_with_spans(
                [inputs[i] for i in part], [shift(sp, off) for sp, off in zip(spans, offsets, strict=True)],
                batch_size=batch,
            )
            out[part.start : part.stop] = vectors
            # Sentences past the encoder's truncation keep NaN rows: encoding them here would
            # cost ingest more than it saves (answers encode them if a question needs them).
            sentences.put((vids[i], sp, pv) for i, sp, pv in zip(part, spans, pooled, strict=True))
            if bar is not None:
                bar.update(len(part))
        if bar is not None:
            bar.close()
        return out

    def _publish(
        self,
        dense: DenseIndex,
        wanted: np.ndarray,
        previous_keyword: Path | None,
        texts: dict[int, tuple[str, str]],
    ) -> str:
        def keyword_texts(vids: list[int]) -> dict[int, str]:
            # Usually only the new passages: the previous generation's term counts cover
            # the rest (a full rebuild, or a changed tokenizer, asks for every passage).
            missing = [v for v in vids if v not in texts]
            found = {**texts, **(self.store.texts_for_embedding(missing) if missing else {})}
            return {v: f"{found[v][0]}\n{found[v][1]}" if self.settings.embed_title else found[v][1] for v in vids}

        def keyword_languages(vids: list[int]) -> dict[int, str | None]:
            # Each passage's stored language picks its stemmer and stop words (title included).
            languages = self.store.passage_languages()
            return {v: languages.get(v) for v in vids}

        manifest = Manifest(
            model=self.settings.encoder.model,
            dimension=dense.dimension,
            normalized=True,
            embed_title=self.settings.embed_title,
            chunker=dict(self.settings.chunker),
            passages=dense.size,
            index_type=dense.index_type,
            backend=self.settings.encoder.backend,
            index_params=dense.params,
        )
        try:
            with self.generations.new() as folder:
                dense.save(folder / DENSE_FILE)
                build_keyword(previous_keyword, wanted, keyword_texts, folder / KEYWORD_DIR, keyword_languages)
                (folder / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        except (OSError, RuntimeError) as err:  # FAISS reports a failed write as RuntimeError
            # The half-written folder is gone (Generations.new) and CURRENT was not touched.
            raise IndexError_(
                f"could not write a new index generation in {self.generations.root} "
                f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); the disk may be "
                "full. The previous generation still serves; free some space and run the command again."
            ) from err
        return self.generations.current_name() or ""


    def manifest(self) -> Manifest | None:
        current = self.generations.current()
        return Manifest.read(current / MANIFEST) if current else None

