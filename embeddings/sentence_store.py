"""Each passage's sentence spans and sentence vectors, kept beside the index generations.

Answers read them to choose a quote's key sentence without running the encoder or the
sentence splitter at question time. Rows are keyed by the passage's vector id, which is a
hash of its document, title and text, and the file is named for everything else the vectors
depend on (model, backend, title embedding, prefix). So a row is either right or absent, and
a generation never has to be copied to add one: the indexer writes rows for the passages it
encodes before it publishes the generation that holds them. An absent or unreadable row only
means that passage's quote is chosen the slow way.

Vectors are stored as int8 with one scale per vector (~0.4 kB a sentence): the cosines they
give differ from float32 by ~1e-3, far below what separates sentences. A sentence the
encoder did not see (past its truncation, rare with Steward's 170-word passages) is stored
as a NaN row and encoded when a question first needs it.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from corpus.store import immediate_transaction
from embeddings.generations import IndexSettings
from embeddings.spans import Span

log = logging.getLogger(__name__)

_SCHEMA = "CREATE TABLE IF NOT EXISTS sentences (vid INTEGER PRIMARY KEY, spans BLOB NOT NULL, vectors BLOB NOT NULL)"


def sentence_store_path(root: Path, signature: str) -> Path:
    """The file for vectors made under ``signature`` (model, backend, title and prefix)."""
    return Path(root) / f"sentences-{hashlib.sha256(signature.encode()).hexdigest()[:12]}.sqlite"


def sentence_store(root: Path, settings: IndexSettings, dimension: int) -> SentenceStore:
    """The sentence vectors made with these settings (the file changes when they do)."""
    e = settings.encoder
    signature = f"{e.model}|{e.backend}|{settings.embed_title}|{e.passage_prefix}|{dimension}"
    return SentenceStore(sentence_store_path(root, signature), dimension)


def remove_other_sentence_stores(root: Path, keep: Path) -> None:
    """After a full rebuild, vectors made with other settings (an older model) are dead weight."""
    for path in Path(root).glob("sentences-*.sqlite*"):
        if not path.name.startswith(keep.name):
            path.unlink(missing_ok=True)


class SentenceStore:
    def __init__(self, path: Path, dimension: int) -> None:
        self.path = Path(path)
        self.dimension = dimension
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken: int | None = None  # the inode of a file found unreadable

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    # -- writing (the indexer, under the generations lock) ---------------------------------

    def put(self, rows: Iterable[tuple[int, Sequence[Span], np.ndarray]]) -> None:
        """Store ``(vid, spans relative to the passage, float32 vectors)`` rows, replacing any.

        A write the disk refuses is logged, not raised: these rows only make quotes faster.
        """
        packed = [(int(vid), _pack_spans(spans), _pack_vectors(vectors)) for vid, spans, vectors in rows]
        if packed:
            self._write("INSERT OR REPLACE INTO sentences(vid, spans, vectors) VALUES(?,?,?)", packed)

    def remove(self, vids: Sequence[int]) -> None:
        self._write("DELETE FROM sentences WHERE vid=?", [(int(v),) for v in vids])

    def retain(self, vids: np.ndarray) -> None:
        """Delete the rows of passages not in ``vids`` (those no longer in the store)."""
        self._write("CREATE TEMP TABLE IF NOT EXISTS keep (vid INTEGER PRIMARY KEY)", [()])
        self._write("INSERT OR IGNORE INTO keep(vid) VALUES(?)", [(int(v),) for v in vids],
                    then="DELETE FROM sentences WHERE vid NOT IN (SELECT vid FROM keep)")
        self._write("DROP TABLE IF EXISTS temp.keep", [()])

    def _write(self, sql: str, rows: list[tuple], then: str | None = None) -> None:
        """``executemany(sql, rows)`` [and ``then``] in one transaction; failures are logged."""
        with self._lock:
            try:
                with immediate_transaction(self._writable()) as conn:
                    conn.executemany(sql, rows)
                    if then:
                        conn.execute(then)
            except sqlite3.DatabaseError as err:
                log.warning("sentence vectors not updated in %s (%s); quotes from the passages "
                            "concerned are chosen the slower way", self.path, err)

    def _writable(self) -> sqlite3.Connection:
        """The connection; a damaged file is set aside and started afresh (it can be rebuilt:
        `steward reindex --full`), so a broken cache never stops an ingest."""
        try:
            conn = self._connection()
            conn.execute("SELECT 1 FROM sentences LIMIT 1").fetchall()
            return conn
        except sqlite3.DatabaseError as err:
            self._close()
            aside = self.path.with_suffix(".damaged")
            log.warning("sentence vectors in %s are unreadable (%s); moved to %s, starting afresh "
                        "(`steward reindex --full` restores quick quotes for older passages)",
                        self.path, err, aside.name)
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{self.path}{suffix}")
                if part.exists():
                    part.replace(Path(f"{aside}{suffix}"))
            return self._connection()

    # -- reading (answers) -----------------------------------------------------------------

    def get(self, vids: Sequence[int]) -> dict[int, tuple[list[Span], np.ndarray]]:
        """``vid -> (spans relative to the passage, float32 unit vectors, NaN rows for sentences
        the encoder did not see)`` for the rows found.

        Never raises: an unreadable file is logged once and answers fall back to the slow way
        until the file is replaced (the indexer sets a damaged one aside and starts afresh).
        """
        try:
            inode = self.path.stat().st_ino
        except OSError:
            return {}
        if not vids or self._broken == inode:
            return {}
        marks = ",".join("?" * len(vids))
        try:
            with self._lock:
                if self._broken is not None:  # a new file since the damaged one: try again
                    self._close()
                    self._broken = None
                rows = self._connection().execute(
                    f"SELECT vid, spans, vectors FROM sentences WHERE vid IN ({marks})", [int(v) for v in vids]
                ).fetchall()
            return {vid: (_unpack_spans(s), _unpack_vectors(v, self.dimension)) for vid, s, v in rows}
        except sqlite3.OperationalError as err:  # busy or locked: this answer goes the slow way
            log.debug("sentence vectors busy in %s (%s)", self.path, err)
            return {}
        except (sqlite3.DatabaseError, ValueError) as err:
            self._broken = inode
            log.warning("cannot read sentence vectors from %s (%s); quotes are chosen without them", self.path, err)
            return {}

    def count(self) -> int:
        """Passages with rows (0 when the file is missing or unreadable)."""
        if not self.path.exists():
            return 0
        try:
            with self._lock:
                return int(self._connection().execute("SELECT COUNT(*) FROM sentences").fetchone()[0])
        except sqlite3.DatabaseError:
            return 0

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _pack_spans(spans: Sequence[Span]) -> bytes:
    return np.asarray(spans, dtype=np.int32).reshape(-1, 2).tobytes()


def _unpack_spans(raw: bytes) -> list[Span]:
    return [(int(s), int(e)) for s, e in np.frombuffer(raw, dtype=np.int32).reshape(-1, 2)]


def _pack_vectors(vectors: np.ndarray) -> bytes:
    """float32 scale per row, then int8 values: v ~= scale * q. A NaN row (a sentence past the
    encoder's truncation, which the passage's pass did not see) keeps a NaN scale."""
    v = np.asarray(vectors, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        scale = np.abs(v).max(axis=1) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.rint(np.nan_to_num(v / scale[:, None])), -127, 127).astype(np.int8)
    return scale.astype(np.float32).tobytes() + q.tobytes()


def _unpack_vectors(raw: bytes, dimension: int) -> np.ndarray:
    n = len(raw) // (4 + dimension)
    if n * (4 + dimension) != len(raw):
        raise ValueError("a sentence-vector row has the wrong size for this model")
    scale = np.frombuffer(raw, dtype=np.float32, count=n)
    q = np.frombuffer(raw, dtype=np.int8, offset=4 * n).reshape(n, dimension)
    with np.errstate(invalid="ignore"):
        v = q.astype(np.float32) * scale[:, None]
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
