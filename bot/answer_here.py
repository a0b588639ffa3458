"""The channels Steward answers by itself (``/admin answer-here``): every new post of a forum
channel, or every new top-level message of a text channel, gets the normal answer.

Kept in the store (bot-level table ``answer_here``) so a restart keeps them. No Discord
import here: the service stores channel ids and their kind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from corpus.migrations import Migration
from corpus.store import Store

Kind = Literal["forum", "text"]

MIGRATIONS = (
    Migration("server-0002-answer-here", sql="""
        CREATE TABLE IF NOT EXISTS answer_here (
            channel_id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('forum', 'text')),
            set_at TEXT NOT NULL
        );
    """),
)


@dataclass(frozen=True)
class AnswerHere:
    channel_id: int
    guild_id: int
    kind: Kind


class AnswerHereStore:
    """The ``answer_here`` table, with an in-memory copy: every message in a server is
    checked against it, so the check must not touch the disk."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(MIGRATIONS)
        rows = store.execute("SELECT channel_id, guild_id, kind FROM answer_here")
        self._channels = {row[0]: AnswerHere(*row) for row in rows}

    def set(self, channel_id: int, guild_id: int, kind: Kind) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO answer_here(channel_id, guild_id, kind, set_at)"
                " VALUES(?,?,?,?)",
                (channel_id, guild_id, kind, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
            )
        self._channels[channel_id] = AnswerHere(channel_id, guild_id, kind)

    def clear(self, channel_id: int) -> bool:
        """Stop answering in a channel; whether Steward was answering there."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM answer_here WHERE channel_id=?", (channel_id,))
        return self._channels.pop(channel_id, None) is not None

    def get(self, channel_id: int) -> AnswerHere | None:
        return self._channels.get(channel_id)

    def of_guild(self, guild_id: int) -> list[AnswerHere]:
        return sorted((a for a in self._channels.values() if a.guild_id == guild_id),
                      key=lambda a: a.channel_id)
