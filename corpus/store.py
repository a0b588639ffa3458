"""The SQLite store: the system of record for documents and passages.

WAL mode so the bot can read while an ingest writes; every document is written in one
transaction, so a crash mid-ingest leaves the store as it was before that document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from corpus.errors import StoreError
from corpus.migrations import CORPUS_MIGRATIONS, Migration, migrate
from corpus.types import Document, Passage

# The layout of Steward 0.1 was schema 1; each corpus migration since adds one. A store of a
# higher number was written by a newer Steward and is refused rather than misread.
SCHEMA_VERSION = 1 + len(CORPUS_MIGRATIONS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    author TEXT,
    date TEXT,
    publication TEXT,
    url TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    format TEXT NOT NULL,
    pages TEXT NOT NULL DEFAULT '[]',
    headings TEXT NOT NULL DEFAULT '[]',
    language TEXT,  -- ISO 639-1 code ("en", "es"); NULL when unknown
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    passage_id TEXT PRIMARY KEY,
    vid INTEGER NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    locator_kind TEXT NOT NULL,
    locator INTEGER NOT NULL,
    heading TEXT,
    text TEXT NOT NULL,
    language TEXT,  -- ISO 639-1 code detected on the passage (else its document's); NULL if unknown
    sentences TEXT,  -- JSON [[start, end], ...] relative to the passage's start; NULL if unknown
    headings TEXT  -- JSON [[start, end], ...] of its heading lines, relative; NULL if none
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id, ordinal);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
"""


def _spans_json(spans: tuple[tuple[int, int], ...], start: int) -> str | None:
    if not spans:
        return None
    return json.dumps([[s - start, e - start] for s, e in spans], separators=(",", ":"))


def _parse_sentences(raw: str | None, start: int) -> tuple[tuple[int, int], ...]:
    return tuple((start + int(s), start + int(e)) for s, e in json.loads(raw)) if raw else ()


def vector_id(passage_id: str) -> int:
    """The signed 64-bit integer FAISS keys a passage by (the first 8 bytes of its id)."""
    value = int(passage_id[:16], 16)
    return value - (1 << 64) if value >= (1 << 63) else value


def content_hash(document: Document, chunker_key: str = "") -> str:
    """Hash of everything that changes a document's passages or citations."""
    meta = {
        "title": document.title,
        "author": document.author,
        "date": document.date.isoformat() if document.date else None,
        "publication": document.publication,
        "url": document.url,
        "tags": list(document.tags),
        "pages": list(document.pages),
        "source": document.source,
        "chunker": chunker_key,
    }
    if document.headings:  # only when known, so documents stored before them keep their hash
        meta["headings"] = [list(h) for h in document.headings]
    if document.language:  # likewise; a document stored before languages is updated once
        meta["language"] = document.language
    if document.translation_of or document.alternates:  # likewise (translations)
        meta["translation_of"] = document.translation_of
        meta["alternates"] = list(document.alternates)
    payload = json.dumps(meta, sort_keys=True, ensure_ascii=False) + "\0" + document.text
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DocumentInfo:
    """A document's description without its text (what lists and citations need)."""

    doc_id: str
    source: str
    title: str
    author: str | None
    date: dt.date | None
    publication: str | None
    url: str | None
    tags: tuple[str, ...]
    format: str
    passages: int
    ingested_at: str
    updated_at: str
    language: str | None = None  # ISO 639-1 code; None when unknown


@dataclass(frozen=True)
class Filters:
    """Metadata filters for search; ``None`` means no constraint."""

    since: dt.date | None = None
    until: dt.date | None = None
    publication: str | None = None
    author: str | None = None
    tag: str | None = None
    doc_id: str | None = None
    # ISO 639-1 code: a passage matches when its language is this one; a document, when it is
    # written in it or holds a passage in it.
    language: str | None = None

    def active(self) -> bool:
        return any(v is not None for v in vars(self).values())


def _parse_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE on an autocommit connection; COMMIT on success, ROLLBACK on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # After some errors (a full disk) SQLite has rolled back already; a second ROLLBACK
        # would hide the real error behind "no transaction is active".
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _write_failure(path: Path, err: sqlite3.OperationalError) -> str:
    if "full" in str(err):
        return (f"could not write to the store {path}: the disk is full. Nothing stored before "
                "was lost; free some space and run the command again")
    return (f"could not write to the store {path} ({err}); check the disk and the file's "
            "permissions, then run the command again")


class Store:
    """Documents and passages in one SQLite file. Safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self._check_version()
            migrate(self._conn, CORPUS_MIGRATIONS)
            self._conn.execute("UPDATE meta SET value=? WHERE key='schema_version'",
                               (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"cannot open the store {self.path}: {err}. If the file is damaged, move it "
                "away and run `steward ingest` on your documents again."
            ) from err

    def _check_version(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._conn.execute("INSERT INTO meta(key, value) VALUES('schema_version', '1')")
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer Steward (schema {row[0]}, this version "
                f"reads up to {SCHEMA_VERSION}); upgrade Steward, or restore a backup made by "
                "this version"
            )

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the bot's own table changes (see ``corpus.migrations``); their names."""
        with self._lock:
            try:
                return migrate(self._conn, migrations)
            except sqlite3.OperationalError as err:
                raise StoreError(_write_failure(self.path, err)) from err

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: committed on success, rolled back on any error.

        A write the disk refuses (full, read-only, I/O error) is a StoreError saying so; the
        store is then as it was before the transaction.
        """
        with self._lock:
            try:
                with immediate_transaction(self._conn):
                    yield self._conn
            except sqlite3.OperationalError as err:
                raise StoreError(_write_failure(self.path, err)) from err

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run one statement and return its rows (for the bot's own tables)."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def executescript(self, sql: str) -> None:
        with self._lock:
            self._conn.executescript(sql)

    # -- writing ---------------------------------------------------------------------------

    def upsert(self, document: Document, passages: Sequence[Passage], chunker_key: str = "") -> str:
        """Store ``document`` and its passages; returns "added", "updated" or "unchanged"."""
        digest = content_hash(document, chunker_key)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT content_hash, ingested_at FROM documents WHERE doc_id=?", (document.doc_id,)
            ).fetchone()
            if row is not None and row[0] == digest:
                return "unchanged"
            now = _now()
            conn.execute("DELETE FROM passages WHERE doc_id=?", (document.doc_id,))
            conn.execute("DELETE FROM documents WHERE doc_id=?", (document.doc_id,))
            conn.execute(
                "INSERT INTO documents(doc_id, source, title, author, date, publication, url,"
                " tags, format, pages, headings, text, content_hash, ingested_at, updated_at,"
                " language, translation_of, alternates) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    document.doc_id,
                    document.source,
                    document.title,
                    document.author,
                    document.date.isoformat() if document.date else None,
                    document.publication,
                    document.url,
                    json.dumps(list(document.tags), ensure_ascii=False),
                    document.format,
                    json.dumps(list(document.pages)),
                    json.dumps([list(h) for h in document.headings]),
                    document.text,
                    digest,
                    row[1] if row else now,
                    now,
                    document.language,
                    document.translation_of,
                    json.dumps(list(document.alternates), ensure_ascii=False),
                ),
            )
            conn.executemany(
                "INSERT INTO passages(passage_id, vid, doc_id, ordinal, start, end,"
                " locator_kind, locator, heading, text, sentences, headings, language)"
                " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        p.passage_id,
                        vector_id(p.passage_id),
                        p.doc_id,
                        p.ordinal,
                        p.start,
                        p.end,
                        p.locator_kind,
                        p.locator,
                        p.heading,
                        p.text,
                        _spans_json(p.sentences, p.start),
                        _spans_json(p.headings, p.start),
                        p.language,
                    )
                    for p in passages
                ],
            )
            return "updated" if row else "added"

    def remove(self, doc_id: str) -> bool:
        """Delete a document and its passages; False when there was no such document."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM passages WHERE doc_id=?", (doc_id,))
            return conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,)).rowcount > 0

    # -- reading ---------------------------------------------------------------------------

    def document(self, doc_id: str) -> Document | None:
        rows = self.execute(
            "SELECT doc_id, source, title, author, date, publication, url, tags, format, pages,"
            " text, headings, language, translation_of, alternates FROM documents WHERE doc_id=?",
            (doc_id,),
        )
        if not rows:
            return None
        r = rows[0]
        return Document(
            doc_id=r[0],
            source=r[1],
            title=r[2],
            author=r[3],
            date=_parse_date(r[4]),
            publication=r[5],
            url=r[6],
            tags=tuple(json.loads(r[7])),
            format=r[8],
            pages=tuple(json.loads(r[9])),
            text=r[10],
            headings=tuple((int(s), int(e)) for s, e in json.loads(r[11])),
            language=r[12],
            translation_of=r[13],
            alternates=tuple(json.loads(r[14] or "[]")),
        )

    def documents(self, filters: Filters | None = None, limit: int | None = None) -> list[DocumentInfo]:
        """Documents newest first (undated last), optionally filtered."""
        where, params = self._where(filters or Filters(), alias="d")
        sql = (
            "SELECT d.doc_id, d.source, d.title, d.author, d.date, d.publication, d.url, d.tags,"
            " d.format, (SELECT COUNT(*) FROM passages p WHERE p.doc_id=d.doc_id),"
            " d.ingested_at, d.updated_at, d.language FROM documents d"
            f" {where} ORDER BY d.date IS NULL, d.date DESC, d.title"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [
            DocumentInfo(
                doc_id=r[0],
                source=r[1],
                title=r[2],
                author=r[3],
                date=_parse_date(r[4]),
                publication=r[5],
                url=r[6],
                tags=tuple(json.loads(r[7])),
                format=r[8],
                passages=r[9],
                ingested_at=r[10],
                updated_at=r[11],
                language=r[12],
            )
            for r in self.execute(sql, params)
        ]

    def document_info(self, doc_id: str) -> DocumentInfo | None:
        found = self.documents(Filters(doc_id=doc_id))
        return found[0] if found else None

    def passages_by_vid(self, vids: Iterable[int]) -> dict[int, Passage]:
        vids = list(vids)
        found: dict[int, Passage] = {}
        for i in range(0, len(vids), 500):
            chunk = vids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.execute(
                "SELECT vid, passage_id, doc_id, start, end, text, locator_kind, locator,"
                f" ordinal, heading, sentences, headings, language FROM passages WHERE vid IN ({marks})",
                chunk,
            ):
                found[r[0]] = Passage(
                    passage_id=r[1],
                    doc_id=r[2],
                    start=r[3],
                    end=r[4],
                    text=r[5],
                    locator_kind=r[6],
                    locator=r[7],
                    ordinal=r[8],
                    heading=r[9],
                    sentences=_parse_sentences(r[10], r[3]),
                    headings=_parse_sentences(r[11], r[3]),
                    language=r[12],
                )
        return found

    def sentences_for(self, vids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
        """``vid -> sentence spans relative to the passage's start`` for the passages whose
        sentences are stored (those written by an older Steward have none)."""
        vids = list(vids)
        found: dict[int, list[tuple[int, int]]] = {}
        for i in range(0, len(vids), 500):
            chunk = vids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for vid, raw in self.execute(
                f"SELECT vid, sentences FROM passages WHERE vid IN ({marks}) AND sentences IS NOT NULL", chunk
            ):
                found[vid] = list(_parse_sentences(raw, 0))
        return found

    def passages_of(self, doc_id: str) -> list[Passage]:
        rows = self.execute("SELECT vid FROM passages WHERE doc_id=? ORDER BY ordinal", (doc_id,))
        by_vid = self.passages_by_vid(r[0] for r in rows)
        return [by_vid[r[0]] for r in rows]

    def passage(self, passage_id: str) -> Passage | None:
        rows = self.execute("SELECT vid FROM passages WHERE passage_id=?", (passage_id,))
        return self.passages_by_vid([rows[0][0]]).get(rows[0][0]) if rows else None

    def all_vids(self) -> set[int]:
        return {r[0] for r in self.execute("SELECT vid FROM passages")}

    def texts_for_embedding(self, vids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """``vid -> (document title, passage text)`` for the given passages."""
        vids = list(vids)
        found: dict[int, tuple[str, str]] = {}
        for i in range(0, len(vids), 500):
            chunk = vids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.execute(
                "SELECT p.vid, d.title, p.text FROM passages p JOIN documents d USING(doc_id)"
                f" WHERE p.vid IN ({marks})",
                chunk,
            ):
                found[r[0]] = (r[1], r[2])
        return found

    def iter_passage_texts(self) -> Iterator[tuple[int, str, str]]:
        """Every passage as ``(vid, title, text)``, in a stable order."""
        yield from self.execute(
            "SELECT p.vid, d.title, p.text FROM passages p JOIN documents d USING(doc_id)"
            " ORDER BY p.vid"
        )

    def passage_languages(self) -> dict[int, str | None]:
        """``vid -> language`` of every passage (ISO 639-1 code, None when unknown), for
        search that treats each language by its own rules."""
        return dict(self.execute("SELECT vid, language FROM passages"))

    def vids_matching(self, filters: Filters) -> set[int]:
        where, params = self._where(filters, alias="d", passage_alias="p")
        return {
            r[0]
            for r in self.execute(
                f"SELECT p.vid FROM passages p JOIN documents d USING(doc_id) {where}", params
            )
        }

    def distinct_values(self, field: str, prefix: str = "", limit: int = 25) -> list[str]:
        """Known publications, authors, tags or languages (for autocomplete), most common
        first; languages are counted over passages, which the language filter matches."""
        if field == "tag":
            rows = self.execute("SELECT tags FROM documents")
            counts: dict[str, int] = {}
            for (raw,) in rows:
                for tag in json.loads(raw):
                    counts[tag] = counts.get(tag, 0) + 1
            values = sorted(counts, key=lambda t: (-counts[t], t.lower()))
        elif field == "language":
            values = [
                r[0]
                for r in self.execute(
                    "SELECT language, COUNT(*) c FROM passages WHERE language IS NOT NULL"
                    " GROUP BY language ORDER BY c DESC, language"
                )
            ]
        elif field in ("publication", "author"):
            values = [
                r[0]
                for r in self.execute(
                    f"SELECT {field}, COUNT(*) c FROM documents WHERE {field} IS NOT NULL"
                    f" GROUP BY {field} ORDER BY c DESC, {field}"
                )
            ]
        else:
            raise ValueError(f"no such field: {field}")
        prefix = prefix.casefold()
        return [v for v in values if prefix in v.casefold()][:limit]

    def counts(self) -> tuple[int, int]:
        docs = self.execute("SELECT COUNT(*) FROM documents")[0][0]
        passages = self.execute("SELECT COUNT(*) FROM passages")[0][0]
        return docs, passages

    def last_ingest(self) -> str | None:
        return self.execute("SELECT MAX(updated_at) FROM documents")[0][0]

    @staticmethod
    def _where(filters: Filters, alias: str, passage_alias: str | None = None
               ) -> tuple[str, list[object]]:
        """SQL conditions for ``filters`` on documents (``alias``), and on passages when the
        query reads them (``passage_alias``)."""
        clauses: list[str] = []
        params: list[object] = []
        if filters.since:
            clauses.append(f"{alias}.date >= ?")
            params.append(filters.since.isoformat())
        if filters.until:
            clauses.append(f"{alias}.date <= ?")
            params.append(filters.until.isoformat())
        for name in ("publication", "author"):
            value = getattr(filters, name)
            if value:
                clauses.append(f"{alias}.{name} = ? COLLATE NOCASE")
                params.append(value)
        if filters.tag:
            clauses.append(
                f"EXISTS (SELECT 1 FROM json_each({alias}.tags) WHERE value = ? COLLATE NOCASE)"
            )
            params.append(filters.tag)
        if filters.doc_id:
            clauses.append(f"{alias}.doc_id = ?")
            params.append(filters.doc_id)
        if filters.language:
            if passage_alias:
                clauses.append(f"{passage_alias}.language = ?")
                params.append(filters.language)
            else:
                clauses.append(
                    f"({alias}.language = ? OR EXISTS (SELECT 1 FROM passages lp"
                    f" WHERE lp.doc_id = {alias}.doc_id AND lp.language = ?))"
                )
                params += [filters.language, filters.language]
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params
