"""An encoder wrapper that caches vectors by content hash, so benchmark loops are fast.

It has the ``Encoder`` interface (``name``, ``dimension``, ``encode``), so Steward's own
indexer, searcher and answerer use it unchanged. A vector is keyed by
``sha256(model, backend, text)`` and kept in one SQLite file under ``bench/.cache/``
(git-ignored); the model is loaded only when some text is not cached yet.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder, EncoderSettings, load_encoder

CACHE_DIR = Path(__file__).resolve().parent / ".cache"


class CachedEncoder:
    """``encode`` looks every text up first and runs the real model only on the misses."""

    def __init__(self, settings: EncoderSettings, cache_dir: Path = CACHE_DIR, chunk: int = 256) -> None:
        self.settings = settings
        self.name = settings.model
        self._tag = f"{settings.model}\0{settings.backend}\0".encode()
        self._chunk = chunk
        cache_dir.mkdir(parents=True, exist_ok=True)
        self._models_dir = cache_dir / "models"
        self._db = sqlite3.connect(cache_dir / "embeddings.sqlite3")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, v BLOB NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS spanvec (key BLOB PRIMARY KEY, v BLOB NOT NULL, s BLOB NOT NULL)")
        self._inner: Encoder | None = None
        self.hits = 0
        self.misses = 0
        self.encode_seconds = 0.0
        row = self._db.execute("SELECT v FROM meta WHERE k=?", (self._tag.hex(),)).fetchone()
        self.dimension = int(row[0]) if row else self.inner.dimension

    @property
    def inner(self) -> Encoder:
        if self._inner is None:
            self._inner = load_encoder(self.settings, self._models_dir)
            self._db.execute(
                "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)",
                (self._tag.hex(), str(self._inner.dimension)),
            )
            self._db.commit()
        return self._inner

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(self._tag + text.encode("utf-8")).digest()

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        missing: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            row = self._db.execute("SELECT v FROM vec WHERE key=?", (key,)).fetchone()
            if row is None:
                missing.setdefault(key, []).append(i)
            else:
                out[i] = np.frombuffer(row[0], dtype=np.float32)
        self.hits += len(texts) - sum(len(v) for v in missing.values())
        if not missing:
            return out
        # Longest first across the whole call, so every chunk pads little.
        todo = sorted(missing, key=lambda k: -len(texts[missing[k][0]]))
        self.misses += len(todo)
        started = time.perf_counter()
        # Chunks keep the work saved if a long run is interrupted.
        for n in range(0, len(todo), self._chunk):
            part = todo[n : n + self._chunk]
            vectors = self.inner.encode([texts[missing[k][0]] for k in part], batch_size=batch_size)
            self._db.executemany(
                "INSERT OR REPLACE INTO vec(key, v) VALUES(?, ?)",
                [(k, v.astype(np.float32).tobytes()) for k, v in zip(part, vectors, strict=True)],
            )
            self._db.commit()
            for k, v in zip(part, vectors, strict=True):
                out[missing[k]] = v
            if progress and len(todo) > self._chunk:
                done = min(n + self._chunk, len(todo))
                rate = done / max(time.perf_counter() - started, 1e-9)
                print(f"  encoded {done}/{len(todo)} ({rate:.1f}/s)", file=sys.stderr, flush=True)
        self.encode_seconds += time.perf_counter() - started
        return out

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], batch_size: int = 32,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The inner encoder's ``encode_with_spans``, cached by text and spans."""
        dim = self.dimension
        out = np.zeros((len(texts), dim), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, dim), np.float32)] * len(texts)
        keys = [hashlib.sha256(self._tag + b"spans\0" + t.encode() + repr(list(sp)).encode()).digest()
                for t, sp in zip(texts, spans, strict=True)]
        missing = []
        for i, key in enumerate(keys):
            row = self._db.execute("SELECT v, s FROM spanvec WHERE key=?", (key,)).fetchone()
            if row is None:
                missing.append(i)
            else:
                out[i] = np.frombuffer(row[0], dtype=np.float32)
                pooled[i] = np.frombuffer(row[1], dtype=np.float32).reshape(-1, dim).copy()
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        started = time.perf_counter()
        for n in range(0, len(missing), self._chunk):
            part = missing[n : n + self._chunk]
            vectors, fresh = self.inner.encode_with_spans(  # type: ignore[attr-defined]
                [texts[i] for i in part], [spans[i] for i in part], batch_size=batch_size
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO spanvec(key, v, s) VALUES(?, ?, ?)",
                [(keys[i], v.astype(np.float32).tobytes(), f.astype(np.float32).tobytes())
                 for i, v, f in zip(part, vectors, fresh, strict=True)],
            )
            self._db.commit()
            for i, v, f in zip(part, vectors, fresh, strict=True):
                out[i], pooled[i] = v, f
            if progress and len(missing) > self._chunk:
                done = min(n + self._chunk, len(missing))
                print(f"  encoded {done}/{len(missing)} with sentences", file=sys.stderr, flush=True)
        self.encode_seconds += time.perf_counter() - started
        return out, pooled

    def close(self) -> None:
        self._db.close()
