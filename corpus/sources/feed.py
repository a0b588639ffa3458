"""RSS 2.0 and Atom feeds, read with feedparser (the de-facto standard: RSS 0.9x-2.0, Atom,
RDF, broken-but-common dialects, dates in every format feeds use).

A feed's summary is not the article: each entry's link is fetched and read with the HTML
reader. A feed lists only its latest entries, so an item missing from it is gone only when it
is newer than the oldest entry the feed still lists (``Listing.window``).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from corpus.sources.errors import SourceError
from corpus.sources.http import Client, Validators, validators_of
from corpus.sources.model import Entry, Listing, SourceSpec
from corpus.sources.xmlsafe import refuse_hostile

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
              "application/feed+json")


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    stamp = dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC)
    return stamp.replace(microsecond=0).isoformat()


def parse_feed(data: bytes, url: str) -> Any:
    """feedparser's result for ``data``, after the defused XML check; SourceError when the
    feed is hostile or so broken that no entry can be read."""
    import feedparser

    # Entity declarations (XML bombs) are refused first; a merely malformed feed (a bare "&"
    # in a title is common) is left to feedparser's lenient parser, refused below only when
    # it yields no entry.
    refuse_hostile(data, f"the feed {url}")
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    if parsed.get("bozo") and not any(e.get("link") for e in parsed.entries):
        # Broken, and nothing usable came out of it (an empty but well-formed feed is fine).
        raise SourceError(f"the feed {url} could not be read ({parsed.get('bozo_exception')}); "
                          "check that the address is its RSS or Atom feed")
    if not parsed.get("version") and not parsed.entries:
        raise SourceError(f"{url} is not an RSS or Atom feed")
    return parsed


def entry_of(item: Any) -> Entry | None:
    link = item.get("link")
    if not link:
        return None
    published = _iso(item.get("published_parsed"))
    updated = _iso(item.get("updated_parsed")) or published
    meta: dict[str, Any] = {"title": item.get("title")}
    if published or updated:
        meta["date"] = dt.date.fromisoformat((published or updated or "")[:10])
    if item.get("author"):
        meta["author"] = item.get("author")
    terms = [t.get("term") for t in item.get("tags") or [] if t.get("term")]
    if terms:
        meta["tags"] = terms
    # An entry with no date at all is re-checked with a conditional GET on every pass.
    return Entry(key=link, url=link, lastmod=updated, meta=meta)


def listing(client: Client, spec: SourceSpec, state: dict[str, Any]) -> Listing:
    saved = state.get("feed", {})
    fetched = client.get(spec.url, Validators(saved.get("etag"), saved.get("last_modified")))
    out = Listing(state=dict(state))
    if fetched.status == 304:
        out.notes.append("the feed has not changed since the last pass")
        out.not_modified = True
        return out
    if fetched.status != 200:
        raise SourceError(f"the feed {spec.url} answered {fetched.status}; check that it still exists")
    parsed = parse_feed(fetched.data, spec.url)
    for item in parsed.entries:
        entry = entry_of(item)
        if entry is not None:
            out.entries.append(entry)
    dated = [e.lastmod for e in out.entries if e.lastmod]
    out.window = min(dated) if dated else None
    v = validators_of(fetched)
    out.state["feed"] = {"etag": v.etag, "last_modified": v.last_modified}
    return out
