"""Feeds as sites really publish them: Atom as well as RSS (its author, dates and categories
become the document's), a feed with a bare "&" that is not well-formed XML but readable (read,
not refused), a byte-order mark before the XML declaration (still detected as a feed), and a
feed too broken to read (one line on that source, the others synced)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_site import Site, serve, steward_for

ARTICLES = 4
ATOM = {"Content-Type": "application/atom+xml"}
RSS = {"Content-Type": "application/rss+xml"}


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(Site.generated(ARTICLES)) as s:
        yield s


@pytest.fixture
def steward(tmp_path: Path):
    s = steward_for(tmp_path)
    yield s
    s.close()


def atom(site: Site) -> bytes:
    entries = "".join(
        f"<entry><title>{html.escape(a.title)}</title><link href=\"{site.url(n)}\"/>"
        f"<id>tag:local1,2026:{n}</id><updated>2026-03-0{n}T09:00:00Z</updated>"
        f"<published>2026-02-0{n}T09:00:00Z</published><author><name>Maria Lopez</name></author>"
        "<category term=\"contract\"/><summary>Summary only.</summary></entry>"
        for n, a in sorted(site.articles.items()))
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Local 1</title><id>tag:local1,2026:feed</id><updated>2026-03-04T09:00:00Z</updated>"
            f"{entries}</feed>").encode()


def test_an_atom_feed_gives_each_article_its_author_date_and_categories(steward, site: Site) -> None:
    site.routes["/atom.xml"] = (200, ATOM, atom(site))
    followed = steward.sync.follow(site.base + "/atom.xml")  # detected by its content type
    assert followed.kind == "feed"
    [outcome] = steward.sync.run()
    assert outcome.error is None and len(outcome.added) == ARTICLES
    infos = sorted((steward.document_info(d) for d in outcome.added), key=lambda i: i.url)
    first = infos[0]
    assert first.url == site.url(1) and first.author == "Maria Lopez"
    assert first.date is not None and first.date.isoformat() == "2026-02-01"  # published, not updated
    assert "contract" in first.tags
    assert first.title == site.articles[1].title
    # The article's page was read, not the feed's summary.
    assert "Summary only" not in steward.document(first.doc_id).text
    [again] = steward.sync.run()
    assert (again.added, again.changed, again.downloads) == ([], [], 0)


def test_a_feed_with_a_bare_ampersand_is_read_not_refused(steward, site: Site) -> None:
    items = "".join(f"<item><title>Pay & hours {n}</title><link>{site.url(n)}</link>"
                    f"<pubDate>Mon, 0{n} Nov 2026 10:00:00 GMT</pubDate></item>" for n in site.articles)
    site.routes["/rss"] = (200, RSS, f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local 1 & 2'
                                     f"</title>{items}</channel></rss>".encode())
    steward.sync.follow(site.base + "/rss", kind="feed")
    [outcome] = steward.sync.run()
    assert outcome.error is None and len(outcome.added) == ARTICLES
    titles = {steward.document_info(d).title for d in outcome.added}
    assert titles == {f"Pay & hours {n}" for n in site.articles}


def test_a_feed_after_a_byte_order_mark_is_detected_as_a_feed(steward, site: Site) -> None:
    site.routes["/news"] = (200, {"Content-Type": "text/xml"}, b"\xef\xbb\xbf" + atom(site))
    followed = steward.sync.follow(site.base + "/news")
    assert (followed.kind, followed.url) == ("feed", site.base + "/news")


def test_a_feed_too_broken_to_read_is_one_line_and_the_others_sync(steward, site: Site) -> None:
    site.routes["/broken"] = (200, RSS, b"<rss version='2.0'><channel><item><title>Half a feed")
    steward.sync.follow(site.base + "/broken", kind="feed")
    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    broken, good = steward.sync.run()
    assert broken.error is not None and "\n" not in broken.error
    assert "could not be read" in broken.error and "RSS or Atom feed" in broken.error
    assert broken.added == [] and broken.requests == 1
    assert good.error is None and len(good.added) == ARTICLES
    assert "could not be read" in (steward.sync.get("1").last_error or "")
