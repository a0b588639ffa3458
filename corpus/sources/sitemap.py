"""Sitemaps: ``robots.txt`` → sitemap index → sitemaps → article URLs with ``<lastmod>``.

Parsed here with defusedxml rather than ultimate-sitemap-parser: that library fetches with
its own HTTP client, so it would bypass Steward's fetch rules (private addresses refused at
every redirect hop, size and time limits, pacing per host, the User-Agent). The sitemap
protocol itself is two small XML shapes (``urlset`` and ``sitemapindex``), plain or gzipped.

An index that lists one of its own ancestors is a loop, refused with a one-line reason; so is
nesting deeper than ``MAX_DEPTH`` or more than ``MAX_SITEMAPS`` files.
"""

from __future__ import annotations

import fnmatch
import zlib
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from corpus.sources.errors import SourceError
from corpus.sources.http import Client
from corpus.sources.model import Entry, Listing, SourceSpec
from corpus.sources.xmlsafe import child_text, local, parse_xml

MAX_DEPTH = 5
MAX_SITEMAPS = 1000


def matches(url: str, pattern: str | None) -> bool:
    """``--match``: a path prefix ("/voices/"), a URL prefix, or a wildcard pattern ("*/voices/*")."""
    if not pattern:
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(url, pattern) or fnmatch.fnmatchcase(urlsplit(url).path, pattern)
    if pattern.startswith("/"):
        return urlsplit(url).path.startswith(pattern)
    return url.startswith(pattern)


def is_sitemap_url(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return path.endswith((".xml", ".xml.gz")) and "sitemap" in path


def roots(client: Client, url: str) -> list[str]:
    """Where a site's sitemaps start: the URL itself when it names one, else robots.txt's
    ``Sitemap:`` lines, else ``/sitemap.xml``."""
    if urlsplit(url).path.lower().endswith((".xml", ".xml.gz")):
        return [url]  # followed as a sitemap: an XML address is the sitemap itself
    parts = urlsplit(url)
    return client.sitemaps_in_robots(url) or [urlunsplit((parts.scheme, parts.netloc, "/sitemap.xml", "", ""))]


def _gunzip(data: bytes, limit: int, url: str) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(31)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise SourceError(f"refused the sitemap {url}: it unpacks past url_max_bytes ({limit:,} bytes)")
    return out


def listing(client: Client, spec: SourceSpec, state: dict[str, Any]) -> Listing:
    out = Listing(complete=True, state=dict(state))
    fetched_count = 0

    def read(url: str, ancestors: tuple[str, ...]) -> None:
        nonlocal fetched_count
        if url in ancestors:
            raise SourceError(f"refused: the sitemap index {ancestors[-1]} lists {url}, which "
                              "contains it (a sitemap index loop)")
        if len(ancestors) >= MAX_DEPTH:
            raise SourceError(f"refused: sitemap indexes nested deeper than {MAX_DEPTH} at {url}")
        fetched_count += 1
        if fetched_count > MAX_SITEMAPS:
            raise SourceError(f"refused: more than {MAX_SITEMAPS} sitemap files under {spec.url}")
        fetched = client.get(url)
        if fetched.status != 200:
            raise SourceError(f"the sitemap {url} answered {fetched.status}; check the address")
        root = parse_xml(_gunzip(fetched.data, client.reader.url_max_bytes, url), f"the sitemap {url}")
        kind = local(root.tag)
        if kind == "sitemapindex":
            children = [urljoin(url, loc) for node in root if local(node.tag) == "sitemap"
                        if (loc := child_text(node, "loc"))]
            for child in dict.fromkeys(children):
                read(child, (*ancestors, url))
        elif kind == "urlset":
            for node in root:
                if local(node.tag) != "url":
                    continue
                loc = child_text(node, "loc")
                if loc and matches(urljoin(url, loc), spec.match):
                    link = urljoin(url, loc)
                    out.entries.append(Entry(key=link, url=link, lastmod=child_text(node, "lastmod")))
        else:
            raise SourceError(f"{url} is not a sitemap (its root element is <{kind}>)")

    for root_url in roots(client, spec.url):
        read(root_url, ())
    return out
