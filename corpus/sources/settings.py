"""The ``[sync]`` settings of followed sources; config.toml's defaults are these."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_USER_AGENT = "Steward/0.1 (union bulletin sync; +https://github.com/steward-bot/steward)"


@dataclass
class SyncSettings:
    every: str = "6h"  # how often a source is synced unless `follow --every` says otherwise
    # Requests per second to one host (robots.txt, listings and articles alike); 0 = no limit.
    rate_per_host: float = 1.0
    # Article downloads per source and pass; the rest wait for the next pass (a 100,000-entry
    # sitemap is worked through over many passes, not refused).
    max_items_per_pass: int = 1000
    # Days an item may be missing upstream before its documents are removed (0: at once);
    # a source followed with --keep-removed never loses its documents.
    grace_days: float = 7.0
    user_agent: str = DEFAULT_USER_AGENT
    # Numbered pages: consecutive 404s that end the walk upward.
    missing_run: int = 10
    # Numbered pages: known numbers re-checked per pass (the newest, then older in turn).
    recheck: int = 20
