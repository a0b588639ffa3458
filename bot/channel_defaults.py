"""Channel defaults: filters every question asked in one Discord channel (or category) gets
unless the member says otherwise, e.g. ``#amazon-campaign`` → tag ``amazon``.

Kept in the store (bot-level table ``channel_defaults``), keyed by the channel's id; what a
member types always wins over a default, and ``any`` as a member's value means "no filter".
No Discord import here: the service stores and combines plain values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from corpus.migrations import Migration
from corpus.store import Store

ANY = "any"  # a member's value meaning "no filter here, whatever the channel's default"

# The filters a channel may default, in the order they are shown.
FIELDS = ("publication", "tag", "language", "since", "until")

MIGRATIONS = (
    Migration("server-0001-channel-defaults", sql="""
        CREATE TABLE IF NOT EXISTS channel_defaults (
            channel_id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            publication TEXT,
            tag TEXT,
            language TEXT,
            since TEXT,
            until TEXT,
            set_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS channel_defaults_guild ON channel_defaults(guild_id);
    """),
)


@dataclass(frozen=True)
class ChannelDefaults:
    """One channel's (or category's) default filters; None means no default for it."""

    channel_id: int
    guild_id: int
    publication: str | None = None
    tag: str | None = None
    language: str | None = None  # ISO 639-1
    since: dt.date | None = None
    until: dt.date | None = None

    def values(self) -> dict[str, str]:
        """The defaults that are set, as text, in FIELDS order."""
        out: dict[str, str] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return out


def is_any(value: str | None) -> bool:
    return value is not None and value.strip().casefold() == ANY


def combine(defaults: ChannelDefaults | None, chosen: Mapping[str, str | None]
            ) -> tuple[dict[str, str | None], dict[str, str]]:
    """The filter values to search with, from what the member typed (``chosen``: option
    name → text or None) over the channel's ``defaults``; and the defaults that applied
    (those the member left empty). ``any`` clears a filter."""
    applied = {name: value for name, value in (defaults.values() if defaults else {}).items()
               if not chosen.get(name)}
    merged: dict[str, str | None] = {name: (None if is_any(value) else value or None)
                                     for name, value in chosen.items()}
    merged.update(applied)
    return merged, applied


class ChannelDefaultsStore:
    """The ``channel_defaults`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(MIGRATIONS)

    def set(self, defaults: ChannelDefaults) -> None:
        """Replace a channel's defaults (all of them: an option left out is no default)."""
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO channel_defaults(channel_id, guild_id, publication, tag,"
                " language, since, until, set_at) VALUES(?,?,?,?,?,?,?,?)",
                (defaults.channel_id, defaults.guild_id, defaults.publication, defaults.tag,
                 defaults.language, _iso(defaults.since), _iso(defaults.until),
                 dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
            )

    def clear(self, channel_id: int) -> bool:
        """Remove a channel's defaults; whether it had any."""
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM channel_defaults WHERE channel_id=?",
                                (channel_id,)).rowcount > 0

    def first(self, channel_ids: Sequence[int]) -> ChannelDefaults | None:
        """The defaults of the first of ``channel_ids`` that has some (a thread, then its
        channel, then the channel's category: the nearest wins)."""
        if not channel_ids:
            return None
        marks = ",".join("?" * len(channel_ids))
        rows = self.store.execute(f"{_SELECT} WHERE channel_id IN ({marks})", list(channel_ids))
        found = {row[0]: _row(row) for row in rows}
        return next((found[c] for c in channel_ids if c in found), None)

    def of_guild(self, guild_id: int) -> list[ChannelDefaults]:
        rows = self.store.execute(f"{_SELECT} WHERE guild_id=? ORDER BY channel_id", (guild_id,))
        return [_row(row) for row in rows]


_SELECT = ("SELECT channel_id, guild_id, publication, tag, language, since, until"
           " FROM channel_defaults")


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _row(row: tuple) -> ChannelDefaults:
    channel_id, guild_id, publication, tag, language, since, until = row
    return ChannelDefaults(
        channel_id=channel_id, guild_id=guild_id, publication=publication, tag=tag,
        language=language,
        since=dt.date.fromisoformat(since) if since else None,
        until=dt.date.fromisoformat(until) if until else None,
    )
