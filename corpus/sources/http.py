"""Polite fetching for followed sources, on top of :func:`corpus.fetch.fetch_url`.

Every request goes through the existing URL rules (http/https only, private addresses refused
at every redirect hop, size and time limits) and adds: Steward's User-Agent, at most
``rate_per_host`` requests a second to one host (waiting, not failing), conditional GET
(``If-None-Match`` / ``If-Modified-Since``, a 304 comes back as "not modified"), robots.txt
for the crawled kinds, and a count of the requests made.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from corpus.fetch import Fetched, fetch_url
from corpus.sources.settings import SyncSettings
from corpus.types import ReaderSettings


@dataclass(frozen=True)
class Validators:
    """What a server said about a response, to ask next time whether it changed."""

    etag: str | None = None
    last_modified: str | None = None


class Client:
    """One pass's HTTP client: pacing per host, robots.txt per host, a request count."""

    def __init__(self, reader: ReaderSettings, settings: SyncSettings,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reader = reader
        self.settings = settings
        self.requests = 0
        self._sleep = sleep
        self._clock = clock
        self._last: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._lock = threading.Lock()

    def _pace(self, url: str) -> None:
        rate = self.settings.rate_per_host
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            if rate > 0:
                wait = self._last.get(host, -1e18) + 1.0 / rate - self._clock()
                if wait > 0:
                    self._sleep(wait)
            self._last[host] = self._clock()
            self.requests += 1

    def get(self, url: str, validators: Validators | None = None) -> Fetched:
        """GET ``url`` (raw: any status comes back in ``status``); ReadError for a refused or
        failed request (private address, timeout, too large)."""
        headers = {"User-Agent": self.settings.user_agent}
        if validators is not None:
            if validators.etag:
                headers["If-None-Match"] = validators.etag
            if validators.last_modified:
                headers["If-Modified-Since"] = validators.last_modified
        self._pace(url)
        return fetch_url(url, self.reader, headers=headers, raw=True)

    def allowed(self, url: str) -> bool:
        """Whether the site's robots.txt lets Steward's User-Agent fetch ``url`` (a site
        without one, or whose robots.txt cannot be read, allows everything)."""
        robots = self.robots(url)
        return robots is None or robots.can_fetch(self.settings.user_agent, url)

    def robots(self, url: str) -> urllib.robotparser.RobotFileParser | None:
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        if origin not in self._robots:
            self._robots[origin] = self._read_robots(origin + "/robots.txt")
        return self._robots[origin]

    def _read_robots(self, url: str) -> urllib.robotparser.RobotFileParser | None:
        from corpus.errors import ReadError

        try:
            fetched = self.get(url)
        except ReadError:
            return None
        parser = urllib.robotparser.RobotFileParser(url)
        if fetched.status in (401, 403):
            parser.disallow_all = True  # as urllib's own reader treats them
        elif fetched.status == 200:
            parser.parse(fetched.data.decode("utf-8", "replace").splitlines())
        else:
            return None
        return parser

    def sitemaps_in_robots(self, url: str) -> list[str]:
        robots = self.robots(url)
        return list(robots.site_maps() or []) if robots is not None else []


def validators_of(fetched: Fetched) -> Validators:
    return Validators(etag=fetched.etag, last_modified=fetched.last_modified)
