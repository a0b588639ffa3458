"""Followed sources against hostile or careless sites: XML bombs, a 1 MB title, a redirect to
a private address, a sitemap-index loop, a run of missing numbered pages, robots.txt, the
per-host rate limit, a 100,000-entry sitemap, a sync killed mid-pass, and one bad source
among good ones. Every refusal is one line on that source; the others keep syncing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_site import WORDS, Site, serve, steward_for

import corpus.fetch
import corpus.sources.engine
from bot.sync import Sync, SyncError

ARTICLES = 6
BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<rss version="2.0"><channel><title>&lol3;</title><item><title>&lol3;</title>'
        b'<link>http://example.org/a</link></item></channel></rss>')
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(Site.generated(ARTICLES)) as s:
        yield s


@pytest.fixture
def steward(tmp_path: Path):
    s = steward_for(tmp_path)
    yield s
    s.close()


def test_an_xml_bomb_is_refused_and_the_other_sources_still_sync(steward, site: Site) -> None:
    site.routes["/bomb.xml"] = (200, {"Content-Type": "application/rss+xml"}, BOMB)
    site.routes["/sitemap-bomb.xml"] = (200, XML, BOMB.replace(b"<rss", b"<urlset").replace(b"</rss>", b"</urlset>"))
    steward.sync.follow(site.base + "/bomb.xml", kind="feed")
    steward.sync.follow(site.base + "/sitemap-bomb.xml", kind="sitemap")
    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    bomb, sitemap_bomb, good = steward.sync.run()
    for bad in (bomb, sitemap_bomb):
        assert bad.error is not None and "XML bomb" in bad.error and "\n" not in bad.error
        assert bad.added == []
    assert good.error is None and len(good.added) == ARTICLES
    assert "XML bomb" in (steward.sync.get("1").last_error or "")


def test_a_one_megabyte_title_is_cut_not_stored_whole(steward, site: Site) -> None:
    huge = "Strike " * 150_000  # ~1 MB
    site.routes["/big.xml"] = (200, {"Content-Type": "application/rss+xml"}, (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>{huge}</title>'
        f"<link>{site.url(1)}</link><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>"
        "</channel></rss>").encode())
    steward.sync.follow(site.base + "/big.xml", kind="feed")
    [outcome] = steward.sync.run()
    assert outcome.error is None and len(outcome.added) == 1
    title = steward.document_info(outcome.added[0]).title
    assert title.startswith("Strike Strike") and len(title) <= 301


def test_a_redirect_to_a_private_address_is_refused_when_private_urls_are_not_allowed(
        tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    # "bulletins.example" stands in for a public site (it is served locally); every other
    # host goes through the real check, so the redirect's 127.0.0.1 is refused.
    real = corpus.fetch.resolve

    def resolve(url: str, host: str, port: int, settings: object) -> list[str]:
        return ["127.0.0.1"] if host == "bulletins.example" else real(url, host, port, settings)

    monkeypatch.setattr(corpus.fetch, "resolve", resolve)
    port = site.base.rsplit(":", 1)[1]
    local, site.base = site.base, f"http://bulletins.example:{port}"
    site.routes["/voices/2/"] = (302, {"Location": f"{local}/voices/2/"}, b"")
    site.routes["/moved.xml"] = (301, {"Location": f"{local}/feed.xml"}, b"")
    steward = steward_for(tmp_path, reader__allow_private_urls=False)
    try:
        steward.sync.follow(site.base + "/feed.xml", kind="feed")
        with pytest.raises(SyncError, match=r"refused: 127\.0\.0\.1 is a private or local address"):
            steward.sync.follow(site.base + "/moved.xml", kind="feed")
        # A feed that redirects there later: refused at sync time, one line on that source.
        site.routes["/moved.xml"] = (200, {"Content-Type": "application/rss+xml"}, b"")
        steward.sync.follow(site.base + "/moved.xml", kind="feed")
        site.routes["/moved.xml"] = (301, {"Location": f"{local}/feed.xml"}, b"")
        articles, moved = steward.sync.run()
    finally:
        steward.close()
    assert len(articles.added) == ARTICLES - 1  # the others were read
    assert articles.error is not None and "refused: 127.0.0.1 is a private or local address" in articles.error
    assert moved.error is not None and "private or local address" in moved.error and moved.added == []
    # Asked when following and when syncing it, never through a redirect to 127.0.0.1.
    assert [p for p, _ in site.log].count("/feed.xml") == 2


def test_a_sitemap_index_loop_is_refused(steward, site: Site) -> None:
    def index(*children: str) -> bytes:
        locs = "".join(f"<sitemap><loc>{site.base}{c}</loc></sitemap>" for c in children)
        return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</sitemapindex>'.encode()

    site.routes["/sitemap-index.xml"] = (200, XML, index("/sitemap-a.xml"))
    site.routes["/sitemap-a.xml"] = (200, XML, index("/sitemap-b.xml", "/sitemap.xml"))
    site.routes["/sitemap-b.xml"] = (200, XML, index("/sitemap-index.xml"))
    steward.sync.follow(site.base + "/sitemap-index.xml", kind="sitemap")
    [outcome] = steward.sync.run()
    assert outcome.error is not None and "sitemap index loop" in outcome.error
    assert outcome.requests < 10 and steward.documents() == []


def test_numbered_pages_stop_after_a_run_of_missing_pages_and_step_over_gaps(tmp_path: Path, site: Site) -> None:
    site.delete(3)  # a gap shorter than the run: pages after it are still found
    steward = steward_for(tmp_path, sync__missing_run=4)
    try:
        steward.sync.follow(site.base + "/voices/{n}/", kind="pattern")
        [outcome] = steward.sync.run()
    finally:
        steward.close()
    assert outcome.error is None and len(outcome.added) == ARTICLES - 1
    asked = [int(p.split("/")[2]) for p, _ in site.log if p.startswith("/voices/")]
    assert max(asked) == ARTICLES + 4  # four misses after the last page, then it stopped


def test_numbered_pages_that_start_higher_say_how_to_follow_them(tmp_path: Path, site: Site) -> None:
    for n in range(1, 5):  # the site's older pages were deleted: numbering starts at 5
        site.delete(n)
    steward = steward_for(tmp_path, sync__missing_run=3)
    try:
        steward.sync.follow(site.base + "/voices/{n}/", kind="pattern")
        [empty] = steward.sync.run()
        assert empty.added == [] and empty.error is None
        assert any("no page found from 1 to 3" in n and "/voices/{n=FIRST}/" in n for n in empty.notes), empty.notes
        steward.sync.unfollow("1")
        steward.sync.follow(site.base + "/voices/{n=5}/", kind="pattern")
        [found] = steward.sync.run()
    finally:
        steward.close()
    assert found.error is None and len(found.added) == ARTICLES - 4 and found.notes == []


def test_robots_txt_is_honoured_for_sitemaps_and_numbered_pages(steward, site: Site) -> None:
    site.robots = "Disallow: /voices/4/"
    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    [outcome] = steward.sync.run()
    assert len(outcome.added) == ARTICLES - 1
    assert any("robots.txt disallows" in n and "/voices/4/" in n for n in outcome.notes)
    assert "/voices/4/" not in site.paths()
    steward.sync.follow(site.base + "/voices/{n}/", kind="pattern")
    site.reset_log()
    steward.sync.run("2")
    assert "/voices/4/" not in site.paths()
    assert "/robots.txt" in site.paths()


def test_requests_to_one_host_are_paced_by_rate_per_host(tmp_path: Path, site: Site) -> None:
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # virtual time: nothing waits, the clock moves
        slept.append(seconds)
        now[0] += seconds

    site.clock = lambda: now[0]
    steward = steward_for(tmp_path, sync__rate_per_host=2.0)
    try:
        sync = Sync(steward, sleep=sleep, clock=lambda: now[0])
        sync.follow(site.base + "/sitemap.xml", kind="sitemap")
        sync.follow(site.base + "/feed.xml", kind="feed")  # the same host: paced together
        site.stamps.clear()  # following it looked at the feed once
        outcome, feed = sync.run()
    finally:
        steward.close()
    assert outcome.error is None and len(outcome.added) == ARTICLES
    assert feed.error is None and feed.downloads == ARTICLES
    assert len(site.stamps) == outcome.requests + feed.requests
    assert outcome.requests >= ARTICLES + 1  # the sitemap, then its articles
    gaps = [b - a for a, b in zip(site.stamps, site.stamps[1:], strict=False)]
    assert min(gaps) >= 0.5 - 1e-9  # never more than 2 a second
    assert slept and all(s <= 0.5 + 1e-9 for s in slept)


def test_a_huge_sitemap_is_capped_per_pass_reported_and_continued(tmp_path: Path, site: Site) -> None:
    real = "".join(f"<url><loc>{site.url(n)}</loc><lastmod>2026-01-01</lastmod></url>" for n in range(1, ARTICLES + 1))
    filler = "".join(f"<url><loc>{site.base}/other/{n}/</loc></url>" for n in range(100_000 - ARTICLES))
    site.routes["/sitemap-huge.xml"] = (200, XML, (
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{real}{filler}</urlset>').encode())
    steward = steward_for(tmp_path, sync__max_items_per_pass=4)
    try:
        steward.sync.follow(site.base + "/sitemap-huge.xml", kind="sitemap", match="/voices/")
        [first] = steward.sync.run()
        assert first.error is None and len(first.added) == 4
        assert any("2 entries wait for the next pass" in n for n in first.notes)
        [second] = steward.sync.run()
        assert second.error is None and len(second.added) == ARTICLES - 4 and second.unchanged == 4
        # Without --match, all 100,000 are listed; still capped and reported, not fatal.
        steward.sync.unfollow("1")
        steward.sync.follow(site.base + "/sitemap-huge.xml", kind="sitemap")
        [third] = steward.sync.run()
        assert third.error is None and third.downloads == 4
        assert any("99,996 entries wait" in n or "99996 entries wait" in n for n in third.notes), third.notes
    finally:
        steward.close()


@pytest.mark.parametrize("kind", ["wordpress", "feed", "sitemap", "pattern"])
def test_a_sync_killed_mid_pass_resumes_with_nothing_lost_or_duplicated(
        steward, site: Site, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = {"wordpress": site.base + "/", "sitemap": site.base + "/sitemap.xml", "feed": site.base + "/feed.xml",
           "pattern": site.base + "/voices/{n}/"}[kind]
    steward.sync.follow(url, kind=kind)
    real = corpus.sources.engine.read_bytes
    calls = [0]

    def dies_on_the_fourth(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt  # as a kill would stop it: nothing below catches it
        return real(*args, **kwargs)

    monkeypatch.setattr(corpus.sources.engine, "read_bytes", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        steward.sync.run()
    assert len(steward.documents()) == 3
    [resumed] = steward.sync.run()
    assert resumed.error is None
    assert len(resumed.added) == ARTICLES - 3 and resumed.changed == []
    docs = steward.documents()
    assert len(docs) == ARTICLES and len({d.doc_id for d in docs}) == ARTICLES
    assert steward.sync.get("1").documents == ARTICLES
    [again] = steward.sync.run()
    assert (again.added, again.changed, again.removed, again.encoded) == ([], [], [], 0)
    # The index holds every stored passage once: bringing it up to date has nothing to do.
    report = steward.indexer.sync()
    assert report.encoded == 0 and report.passages == steward.store.counts()[1]
    hits = steward.search(" ".join(WORDS), limit=500)
    assert len(hits) == len({h.passage.passage_id for h in hits})


def test_a_wordpress_api_that_answers_garbage_is_one_line(steward, site: Site) -> None:
    site.routes["/wp-json/wp/v2/posts"] = (200, {"Content-Type": "application/json"}, b"<html>oops")
    steward.sync.follow(site.base + "/", kind="wordpress")
    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    broken, good = steward.sync.run()
    assert broken.error is not None and "did not answer JSON" in broken.error
    assert good.error is None and len(good.added) == ARTICLES


def test_sync_runs_are_counted_by_outcome_in_metrics(steward, site: Site) -> None:
    from bot.metrics import REGISTRY

    def runs(outcome: str) -> float:
        return REGISTRY.get_sample_value("steward_sync_runs_total", {"outcome": outcome}) or 0.0

    ok, failed = runs("ok"), runs("failed")
    site.routes["/bomb.xml"] = (200, {"Content-Type": "application/rss+xml"}, BOMB)
    steward.sync.follow(site.base + "/bomb.xml", kind="feed")
    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    steward.sync.run()
    steward.sync.run(dry_run=True)  # a dry run changes nothing and is not a run
    assert (runs("ok") - ok, runs("failed") - failed) == (1.0, 1.0)


def test_a_listing_that_suddenly_lists_nothing_removes_nothing(steward, site: Site) -> None:
    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    steward.sync.follow(site.base + "/", kind="wordpress")
    steward.sync.run()
    site.routes["/sitemap.xml"] = (200, XML, b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"></urlset>')
    site.routes["/wp-json/wp/v2/posts"] = (200, {"Content-Type": "application/json"}, b"[]")
    empty_sitemap, empty_api = steward.sync.run()
    for outcome in (empty_sitemap, empty_api):
        assert outcome.error is not None and "listed no items" in outcome.error
        assert outcome.removed == []
    assert len(steward.documents()) == ARTICLES


def test_a_gzipped_sitemap_that_unpacks_past_the_size_limit_is_refused(tmp_path: Path, site: Site) -> None:
    import gzip

    bomb = gzip.compress(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                         + b" " * (3 * 1024 * 1024) + b"</urlset>")
    site.routes["/sitemap-big.xml.gz"] = (200, {"Content-Type": "application/gzip"}, bomb)
    steward = steward_for(tmp_path, reader__url_max_mb=1.0)
    try:
        steward.sync.follow(site.base + "/sitemap-big.xml.gz", kind="sitemap")
        [outcome] = steward.sync.run()
    finally:
        steward.close()
    assert len(bomb) < 100_000
    assert outcome.error is not None and "unpacks past url_max_bytes" in outcome.error


def test_a_sync_killed_before_its_index_was_published_is_indexed_by_the_next_pass(
        steward, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    real = steward.indexer.sync

    def killed(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt  # after every document and item state was stored

    monkeypatch.setattr(steward.indexer, "sync", killed)
    with pytest.raises(KeyboardInterrupt):
        steward.sync.run()
    monkeypatch.setattr(steward.indexer, "sync", real)
    assert len(steward.documents()) == ARTICLES and steward.generations.current_name() is None
    [again] = steward.sync.run()  # nothing new upstream...
    assert again.added == [] and again.unchanged == ARTICLES
    hits = steward.search(" ".join(WORDS), limit=100)  # ...but the index has caught up
    assert {h.document.doc_id for h in hits} == {d.doc_id for d in steward.documents()}
