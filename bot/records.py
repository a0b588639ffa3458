"""What Steward remembers about its own use: counts, 👍/👎 feedback, and opt-in query logs.

Privacy by default (organizing is sensitive; employers surveil it): question text is stored
only when an admin turns ``[logging] query_logging`` on, kept ``query_retention_days``, and
``steward forget`` erases it. Feedback keeps the answer's passage ids and the vote, never who
voted. For the gaps report (bot/gaps.py) Steward also counts, per day, questions answered and
not found, and for the ones not found which documents and tags came closest: numbers and
document ids only, never words of the question.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence

from corpus.migrations import Migration
from corpus.store import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (outcome TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    passage_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS query_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    passage_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS daily_usage (
    day TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, outcome)
);
CREATE TABLE IF NOT EXISTS not_found_closest (
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('doc', 'tag')),
    key TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, kind, key)
);
"""


def _add_vote(conn: sqlite3.Connection) -> None:
    """A logged question's 👍/👎 (stores logged before the gaps report have none)."""
    if "vote" not in {row[1] for row in conn.execute("PRAGMA table_info(query_log)")}:
        conn.execute("ALTER TABLE query_log ADD COLUMN vote INTEGER")


RECORDS_MIGRATIONS = (Migration("records-0001-query-vote", apply=_add_vote),)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class Records:
    def __init__(self, store: Store, query_logging: bool = False) -> None:
        self.store = store
        self.query_logging = query_logging
        store.executescript(_SCHEMA)
        store.migrate(RECORDS_MIGRATIONS)

    def question_answered(self, question: str, answered: bool, passage_ids: Sequence[str],
                          closest: Sequence[tuple[str, Sequence[str]]] = ()) -> None:
        """Count one question; ``closest`` (doc id, its tags) are the documents that came
        nearest to a question not found, counted per day for the gaps report."""
        outcome = "answered" if answered else "not_found"
        day = _now()[:10]
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO usage(outcome, count) VALUES(?, 1)"
                " ON CONFLICT(outcome) DO UPDATE SET count = count + 1",
                (outcome,),
            )
            conn.execute(
                "INSERT INTO daily_usage(day, outcome, count) VALUES(?, ?, 1)"
                " ON CONFLICT(day, outcome) DO UPDATE SET count = count + 1",
                (day, outcome),
            )
            if not answered:
                keys = [("doc", doc_id) for doc_id, _ in closest]
                keys += [("tag", tag) for tag in dict.fromkeys(t for _, tags in closest for t in tags)]
                conn.executemany(
                    "INSERT INTO not_found_closest(day, kind, key, count) VALUES(?, ?, ?, 1)"
                    " ON CONFLICT(day, kind, key) DO UPDATE SET count = count + 1",
                    [(day, kind, key) for kind, key in keys],
                )
            if self.query_logging:
                conn.execute(
                    "INSERT INTO query_log(at, question, answered, passage_ids) VALUES(?,?,?,?)",
                    (_now(), question, int(answered), json.dumps(list(passage_ids))),
                )

    def feedback(self, vote: int, passage_ids: Sequence[str]) -> None:
        if vote not in (-1, 1):
            raise ValueError("vote must be 1 or -1")
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO feedback(at, vote, passage_ids) VALUES(?,?,?)",
                (_now(), vote, json.dumps(list(passage_ids))),
            )
            if self.query_logging:
                # The vote belongs to the latest logged question that was given these quotes.
                conn.execute(
                    "UPDATE query_log SET vote=? WHERE id=(SELECT MAX(id) FROM query_log"
                    " WHERE passage_ids=?)",
                    (vote, json.dumps(list(passage_ids))),
                )

    def usage(self) -> dict[str, int]:
        counts = dict(self.store.execute("SELECT outcome, count FROM usage"))
        votes = dict(self.store.execute("SELECT vote, COUNT(*) FROM feedback GROUP BY vote"))
        return {
            "answered": counts.get("answered", 0),
            "not_found": counts.get("not_found", 0),
            "thumbs_up": votes.get(1, 0),
            "thumbs_down": votes.get(-1, 0),
            "logged_questions": self.store.execute("SELECT COUNT(*) FROM query_log")[0][0],
        }

    def logged_questions(self) -> list[tuple[str, str, bool]]:
        rows = self.store.execute("SELECT at, question, answered FROM query_log ORDER BY id")
        return [(at, q, bool(a)) for at, q, a in rows]

    def expire(self, retention_days: int, now: dt.datetime | None = None) -> int:
        """Erase logged questions older than ``retention_days`` (0: keep them until
        ``steward forget``); returns how many were erased. Counts are kept."""
        if retention_days <= 0:
            return 0
        cutoff = ((now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=retention_days))
        cutoff_text = cutoff.replace(microsecond=0).isoformat()
        if not self.store.execute("SELECT 1 FROM query_log WHERE at < ? LIMIT 1", (cutoff_text,)):
            return 0  # nothing to erase: no write lock taken (a start on a busy store)
        # secure_delete overwrites the erased rows' bytes, so the text leaves the file
        # without rewriting the whole store (VACUUM) every day.
        self.store.executescript("PRAGMA secure_delete=ON;")
        try:
            with self.store.transaction() as conn:
                erased = conn.execute("DELETE FROM query_log WHERE at < ?", (cutoff_text,)).rowcount
        finally:
            self.store.executescript("PRAGMA secure_delete=OFF;")
        self.store.executescript("PRAGMA wal_checkpoint(TRUNCATE);")
        return erased

    def forget(self) -> int:
        """Erase every logged question; returns how many were erased."""
        with self.store.transaction() as conn:
            erased = conn.execute("DELETE FROM query_log").rowcount
        # Deleted text must not linger in free pages or in the write-ahead log.
        self.store.executescript("PRAGMA secure_delete=ON; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
        return erased
