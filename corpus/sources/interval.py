"""Sync intervals as admins type them: "30m", "6h", "1d", "2h30m"."""

from __future__ import annotations

import re

from corpus.sources.errors import SourceError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
MIN_INTERVAL_S = 60  # a politeness floor: nobody needs a bulletin site polled more often


def parse_interval(text: str) -> int:
    """Seconds in ``text`` ("6h", "30m", "1d", "1h30m"); SourceError otherwise."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise SourceError(f"{text!r} is not an interval; use a number and a unit, e.g. 30m, 6h or 1d")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds < MIN_INTERVAL_S:
        raise SourceError(f"{text!r} is too often; sync at most once a minute (e.g. 30m, 6h)")
    return seconds


def format_interval(seconds: int) -> str:
    """The shortest way to write ``seconds`` back ("6h", "1d", "90m")."""
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
