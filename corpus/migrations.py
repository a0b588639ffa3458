"""Schema changes of the SQLite store, applied once each, in order, on open.

A store written by an older Steward is brought up to date in place: each migration runs in
its own transaction and is recorded by name in ``migrations``, so a crash between two
leaves a store that the next open finishes. Names are never reused or renamed.

The corpus's own changes are ``CORPUS_MIGRATIONS``; the bot registers the tables it keeps
in the same file (``Store.migrate``) with its own list, so ``corpus`` never learns of them.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from corpus.errors import StoreError

_TABLE = """
CREATE TABLE IF NOT EXISTS migrations (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Migration:
    """One change: ``sql`` (a script) or ``apply`` (a function of the open connection, for
    changes that depend on what is there). It runs inside a transaction it must not end."""

    name: str
    sql: str = ""
    apply: Callable[[sqlite3.Connection], None] | None = None

    def run(self, conn: sqlite3.Connection) -> None:
        if self.apply is not None:
            self.apply(conn)
        for statement in _statements(self.sql):
            conn.execute(statement)


def _statements(script: str) -> list[str]:
    """A script's statements (``executescript`` would commit the open transaction)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {current.strip()[:60]!r}")
    return out


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _add_01_columns(conn: sqlite3.Connection) -> None:
    """Columns added during 0.1 without a schema change: passages' sentences, heading lines
    and language; documents' heading lines and language. Filled on a document's next ingest."""
    passages = _columns(conn, "passages")
    for name in ("sentences", "headings", "language"):
        if name not in passages:
            conn.execute(f"ALTER TABLE passages ADD COLUMN {name} TEXT")
    documents = _columns(conn, "documents")
    if "headings" not in documents:
        conn.execute("ALTER TABLE documents ADD COLUMN headings TEXT NOT NULL DEFAULT '[]'")
    if "language" not in documents:
        conn.execute("ALTER TABLE documents ADD COLUMN language TEXT")


_FOLLOWED_SOURCES = """
CREATE TABLE IF NOT EXISTS follow_sources (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    every_s INTEGER NOT NULL,
    publication TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    language TEXT,
    match TEXT,
    keep_removed INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    last_check TEXT,
    last_change TEXT,
    last_error TEXT,
    next_due TEXT
);
CREATE TABLE IF NOT EXISTS follow_items (
    source_id INTEGER NOT NULL REFERENCES follow_sources(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    lastmod TEXT,
    content_hash TEXT,
    doc_ids TEXT NOT NULL DEFAULT '[]',
    seen_at TEXT,
    missing_since TEXT,
    PRIMARY KEY (source_id, key)
);
"""


def _add_translations(conn: sqlite3.Connection) -> None:
    """Documents' translation links (corpus/translations.py): the doc id or URL a document
    translates, and the URLs of its other-language versions (JSON list). The family itself is
    found when asked, so either member may arrive first and removing one unlinks it."""
    documents = _columns(conn, "documents")
    if "translation_of" not in documents:
        conn.execute("ALTER TABLE documents ADD COLUMN translation_of TEXT")
    if "alternates" not in documents:
        conn.execute("ALTER TABLE documents ADD COLUMN alternates TEXT NOT NULL DEFAULT '[]'")
    conn.execute("CREATE INDEX IF NOT EXISTS documents_url ON documents(url)")
    conn.execute("CREATE INDEX IF NOT EXISTS documents_translation_of ON documents(translation_of)")


CORPUS_MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001-columns-of-0.1", apply=_add_01_columns),
    # Followed sources (corpus/sources/state.py says what each column holds).
    Migration("0020-followed-sources", sql=_FOLLOWED_SOURCES),
    # Translations as one document family (issue 13).
    Migration("0021-translations", apply=_add_translations),
)


def applied(conn: sqlite3.Connection) -> set[str]:
    conn.execute(_TABLE)
    return {row[0] for row in conn.execute("SELECT name FROM migrations")}


def pending(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[Migration]:
    done = applied(conn)
    return [m for m in migrations if m.name not in done]


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration],
            on_applied: Callable[[Migration], None] | None = None) -> list[str]:
    """Apply the ``migrations`` this store lacks, each in one transaction; their names.

    ``conn`` must be in autocommit mode (``isolation_level=None``), as the store's is.
    """
    names = [m.name for m in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"two migrations share a name: {names}")
    done: list[str] = []
    for migration in pending(conn, migrations):
        try:
            conn.execute("BEGIN IMMEDIATE")
            migration.run(conn)
            conn.execute("INSERT INTO migrations(name, applied_at) VALUES(?, ?)",
                         (migration.name, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(
                f"could not bring the store up to date (migration {migration.name}: {err}); "
                "nothing was changed by it. Restore a backup or run `steward reindex` after "
                "moving the store away"
            ) from err
        done.append(migration.name)
        if on_applied is not None:
            on_applied(migration)
    return done
