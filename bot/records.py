"""What Steward remembers about its own use: counts, 👍/👎 feedback, and opt-in query logs.

Privacy by default (organizing is sensitive; employers surveil it): question text is stored
only when an admin turns ``[logging] query_logging`` on, and ``steward forget`` erases it.
Feedback keeps the answer's passage ids and the vote, never who voted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

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
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class Records:
    def __init__(self, store: Store, query_logging: bool = False) -> None:
        self.store = store
        self.query_logging = query_logging
        store.executescript(_SCHEMA)

    def question_answered(self, question: str, answered: bool, passage_ids: Sequence[str]) -> None:
        outcome = "answered" if answered else "not_found"
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO usage(outcome, count) VALUES(?, 1)"
                " ON CONFLICT(outcome) DO UPDATE SET count = count + 1",
                (outcome,),
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

    def forget(self) -> int:
        """Erase every logged question; returns how many were erased."""
        with self.store.transaction() as conn:
            erased = conn.execute("DELETE FROM query_log").rowcount
        # Deleted text must not linger in free pages or in the write-ahead log.
        self.store.executescript("PRAGMA secure_delete=ON; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
        return erased
