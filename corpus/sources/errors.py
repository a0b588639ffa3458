"""The one error a followed source raises for bad input: one line saying what to do."""

from __future__ import annotations


class SourceError(ValueError):
    """A bad URL, an unknown kind, a hostile or unreadable listing: the whole message is one
    line, safe to show an admin; other sources keep syncing."""
