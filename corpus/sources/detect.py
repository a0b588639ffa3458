"""The kind of a source, told from what the admin typed (``steward follow URL``).

In order: a folder on this machine; a URL with ``{n}`` (numbered pages); a ``/wp-json/`` URL;
then what the URL answers: a feed (by content type or its root element), a sitemap, or an
HTML page that names its WordPress API (``<link rel="https://api.w.org/">``) or its feed
(``<link rel="alternate" type="application/rss+xml">``); then the site's ``/wp-json/``
and its robots.txt ``Sitemap:`` lines. Nothing found is a SourceError naming ``--kind``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

from corpus.errors import ReadError
from corpus.fetch import Fetched
from corpus.sources import folder, pattern, sitemap
from corpus.sources.errors import SourceError
from corpus.sources.feed import FEED_TYPES
from corpus.sources.http import Client
from corpus.sources.model import KINDS
from corpus.sources.xmlsafe import root_name

_FEED_ROOTS = ("rss", "feed", "RDF")
_XML_TYPES = ("application/xml", "text/xml", *FEED_TYPES)


@dataclass(frozen=True)
class Detected:
    kind: str
    url: str  # what is followed: a feed found by autodiscovery replaces the page's URL
    note: str | None = None


class _Links(HTMLParser):
    """The ``<link>`` elements of a page's head: WordPress's API and alternate feeds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.api: str | None = None
        self.feeds: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        if "https://api.w.org/" in rel and a.get("href"):
            self.api = a["href"]
        elif "alternate" in rel and a.get("type", "").lower() in FEED_TYPES[:3] and a.get("href"):
            self.feeds.append(a["href"])


def is_web(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


def check(kind: str, url: str) -> str:
    """The URL to follow for an explicit ``kind``; SourceError when they do not fit."""
    if kind not in KINDS:
        raise SourceError(f"unknown kind {kind!r}; use one of auto, {', '.join(KINDS)}")
    if kind == "folder":
        return folder.check(url)
    if not is_web(url):
        raise SourceError(f"{url!r} is not an http(s) address; give the site's URL "
                          "(or a folder with --kind folder)")
    if kind == "pattern":
        pattern.template(url)
    elif "{n" in url:
        raise SourceError(f"{url}: {{n}} belongs in numbered-page URLs; use --kind pattern")
    return url


def _xml_root(data: bytes) -> str | None:
    data = data.removeprefix(b"\xef\xbb\xbf").lstrip()  # a UTF-8 byte-order mark is common
    return root_name(data) if data[:1] == b"<" else None


def detect(client: Client, url: str) -> Detected:
    """The kind of ``url`` (SourceError when it cannot be told: pass ``--kind``)."""
    if not is_web(url):
        if Path(url).expanduser().is_dir():
            return Detected("folder", folder.check(url))
        raise SourceError(f"{url!r} is neither an http(s) address nor a folder on this machine")
    if "{n" in url:
        pattern.template(url)
        return Detected("pattern", url)
    if "/wp-json" in urlsplit(url).path:
        return Detected("wordpress", url)
    fetched = _fetch_ok(client, url)
    ctype = fetched.content_type.lower()
    root = _xml_root(fetched.data) if (ctype in _XML_TYPES or not ctype or "xml" in ctype) else None
    if ctype in FEED_TYPES or root in _FEED_ROOTS:
        return Detected("feed", url)
    if root in ("urlset", "sitemapindex"):
        return Detected("sitemap", url)
    if fetched.format == "html" or b"<link" in fetched.data[:200_000].lower():
        links = _Links()
        try:
            links.feed(fetched.data[:2_000_000].decode("utf-8", "replace"))
        except Exception:  # a page html.parser cannot read names nothing
            links = _Links()
        if links.api:
            return Detected("wordpress", _site(url))
        if links.feeds:
            found = urljoin(fetched.url, links.feeds[0])
            return Detected("feed", found, note=f"following its feed {found}")
    if _has_wp_json(client, url):
        return Detected("wordpress", _site(url))
    if sitemap.is_sitemap_url(url) or client.sitemaps_in_robots(url):
        return Detected("sitemap", url)
    raise SourceError(f"could not tell what kind of source {url} is (no WordPress API, feed or "
                      "sitemap found); pass --kind wordpress, feed, sitemap or pattern "
                      "(a numbered-page URL with {n})")


def _fetch_ok(client: Client, url: str) -> Fetched:
    """``url`` fetched, or SourceError (unreachable, or not 200) saying so."""
    try:
        fetched = client.get(url)
    except ReadError as err:
        raise SourceError(str(err)) from err
    if fetched.status != 200:
        raise SourceError(f"{url} answered {fetched.status}; check the address")
    return fetched


def feed_of(client: Client, url: str) -> str:
    """``url`` when it is a feed, else the feed its page names (autodiscovery); SourceError
    when it is neither (`follow --kind feed` given a page)."""
    fetched = _fetch_ok(client, url)
    if fetched.content_type.lower() in FEED_TYPES or _xml_root(fetched.data) in _FEED_ROOTS:
        return url
    links = _Links()
    try:
        links.feed(fetched.data[:2_000_000].decode("utf-8", "replace"))
    except Exception:  # a page html.parser cannot read names no feed
        links = _Links()
    if links.feeds:
        return urljoin(fetched.url, links.feeds[0])
    raise SourceError(f"{url} is not an RSS or Atom feed and its page names none; give the feed's "
                      "address (often /feed/ or /rss.xml)")


def _site(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def _has_wp_json(client: Client, url: str) -> bool:
    parts = urlsplit(url)
    api = urlunsplit((parts.scheme, parts.netloc, "/wp-json/", "", ""))
    try:
        fetched = client.get(api)
        if fetched.status != 200:
            return False
        body = json.loads(fetched.data)
    except (ReadError, ValueError, RecursionError):
        return False
    return isinstance(body, dict) and any(
        re.fullmatch(r"wp/v2", str(n)) for n in body.get("namespaces") or [])
