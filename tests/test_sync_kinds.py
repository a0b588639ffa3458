"""Followed sources of each kind against a local site: the first pass, an incremental pass
that downloads and re-embeds nothing, edits and deletions (after the grace period, or never
with keep_removed), kind detection, and the `steward follow/follows/sync/unfollow` commands."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from stewardtest import CONFIG, HashEncoder, make_steward
from sync_site import Site, serve, steward_for

from bot.cli import main
from bot.sync import SyncError

ARTICLES = 6


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(Site.generated(ARTICLES)) as s:
        yield s


@pytest.fixture
def steward(tmp_path: Path):
    s = steward_for(tmp_path)
    yield s
    s.close()


def follow_url(site: Site, kind: str) -> str:
    return {"wordpress": site.base + "/", "feed": site.base + "/feed.xml",
            "sitemap": site.base + "/sitemap.xml", "pattern": site.base + "/voices/{n}/"}[kind]


@pytest.mark.parametrize("kind", ["wordpress", "feed", "sitemap", "pattern"])
def test_each_kind_syncs_then_a_second_pass_downloads_and_embeds_nothing(steward, site: Site, kind: str) -> None:
    steward.sync.follow(follow_url(site, kind), kind=kind, publication="Local 1", tags=["news"])
    [first] = steward.sync.run()
    assert first.error is None, first.error
    assert len(first.added) == ARTICLES and first.encoded > 0
    info = steward.document_info(first.added[0])
    assert info is not None and info.publication == "Local 1" and "news" in info.tags
    assert info.url.startswith(site.base + "/voices/")
    if kind != "pattern":  # the API's date, the feed's pubDate, the sitemap's lastmod
        n = int(info.url.rstrip("/").rsplit("/", 1)[1])
        assert info.date is not None and info.date.isoformat() == site.articles[n].modified[:10]
    assert steward.ask("overtime grievance committee").quotes  # searchable right away

    site.reset_log()
    [again] = steward.sync.run()
    assert again.error is None
    assert (again.added, again.changed, again.removed, again.encoded) == ([], [], [], 0)
    assert again.unchanged == ARTICLES
    # No article body came back: the listing's dates said so, or the server answered 304.
    assert again.downloads == 0 and site.served == []
    if kind == "pattern":
        sent = [h for p, h in site.log if p.startswith("/voices/") and int(p.split("/")[2]) <= ARTICLES]
        assert sent and all("If-None-Match" in h for h in sent)  # conditional GET on re-checks
    assert steward.sync.get("1").documents == ARTICLES


def test_an_unchanged_feed_answers_304_and_nothing_else_is_asked(steward, site: Site) -> None:
    steward.sync.follow(site.base + "/feed.xml", kind="feed")
    steward.sync.run()
    site.reset_log()
    [again] = steward.sync.run()
    assert [p for p, _ in site.log] == ["/feed.xml"]
    assert site.log[0][1].get("If-None-Match")  # the ETag of the last pass
    assert again.requests == 1 and again.notes == ["the feed has not changed since the last pass"]
    assert (again.added, again.changed, again.removed) == ([], [], [])
    site.change(1)  # a new ETag: the feed is read again, and only the changed article fetched
    site.reset_log()
    [edited] = steward.sync.run()
    assert len(edited.changed) == 1 and site.served == [1]


@pytest.mark.parametrize("kind", ["wordpress", "sitemap", "pattern", "feed"])
def test_an_edit_and_a_deletion_are_exactly_what_the_next_pass_does(steward, site: Site, kind: str) -> None:
    steward.sync.follow(follow_url(site, kind), kind=kind)
    [first] = steward.sync.run()
    by_url = {steward.document_info(d).url: d for d in first.added}
    site.change(2)
    site.delete(ARTICLES if kind != "feed" else 4)  # a feed's item gone from inside its window
    [second] = steward.sync.run()
    assert second.error is None, second.error
    assert second.changed == [by_url[site.url(2)]]
    gone = ARTICLES if kind != "feed" else 4
    assert second.removed == [by_url[site.url(gone)]]
    assert second.added == []
    assert steward.document_info(by_url[site.url(gone)]) is None
    assert "Update 2" in steward.document(by_url[site.url(2)]).text


def test_a_removed_item_waits_for_the_grace_period_and_keep_removed_keeps_it(tmp_path: Path, site: Site) -> None:
    steward = steward_for(tmp_path, sync__grace_days=7.0)
    try:
        steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
        keeper = steward.sync.follow(site.base + "/voices/{n}/", kind="pattern", keep_removed=True)
        steward.sync.run()
        site.delete(3)
        graced, kept = steward.sync.run()
        assert graced.removed == [] and kept.removed == []
        doc = steward.sync.get("1")
        assert doc is not None and doc.documents == ARTICLES  # still there, its clock started
        # Past the grace period: the sitemap's copy goes, the keep_removed source's stays.
        steward.store.execute("UPDATE follow_items SET missing_since='2000-01-01T00:00:00+00:00'"
                              " WHERE missing_since IS NOT NULL")
        steward.store._conn.commit()
        graced, kept = steward.sync.run()
        assert graced.removed == [] and kept.removed == []  # the same document: still followed by one
        steward.sync.unfollow(str(keeper.id))
        [graced] = steward.sync.run()
        assert len(graced.removed) == 1
    finally:
        steward.close()


def test_a_folder_source_sees_new_changed_and_deleted_files(steward, tmp_path: Path) -> None:
    drive = tmp_path / "drive"
    drive.mkdir()
    (drive / "one.txt").write_text("Contract news\n\nThe members ratified the contract with a large majority vote.\n")
    (drive / "two.md").write_text("# Safety\n\nThe safety committee inspected the warehouse loading docks.\n")
    steward.sync.follow(str(drive))  # detected: a folder
    [first] = steward.sync.run()
    assert len(first.added) == 2 and first.source.kind == "folder"
    (drive / "one.txt").write_text("Contract news\n\nThe members ratified the contract; dues stay the same.\n")
    (drive / "two.md").unlink()
    [second] = steward.sync.run()
    assert len(second.changed) == 1 and len(second.removed) == 1 and second.added == []
    [third] = steward.sync.run()
    assert (third.added, third.changed, third.removed, third.downloads) == ([], [], [], 0)


def test_the_kind_is_detected_from_what_the_url_answers(steward, site: Site, tmp_path: Path) -> None:
    assert steward.sync.follow(site.base + "/").kind == "wordpress"  # <link rel="https://api.w.org/">
    assert steward.sync.follow(site.base + "/feed.xml").kind == "feed"
    assert steward.sync.follow(site.base + "/sitemap.xml").kind == "sitemap"
    assert steward.sync.follow(site.base + "/voices/{n}/").kind == "pattern"
    steward.sync.unfollow(site.base + "/feed.xml")
    site.wordpress_links = False
    site.routes["/wp-json/"] = (404, {}, b"")
    found = steward.sync.follow(site.base + "/?page=home")  # a page naming its feed: the feed
    assert (found.kind, found.url) == ("feed", site.base + "/feed.xml")


def test_kind_feed_given_a_page_follows_the_feed_it_names(steward, site: Site) -> None:
    assert steward.sync.follow(site.base + "/", kind="feed").url == site.base + "/feed.xml"
    site.routes["/plain/"] = (200, {}, b"<html><head><title>x</title></head><body>hi</body></html>")
    with pytest.raises(SyncError, match="not an RSS or Atom feed and its page names none"):
        steward.sync.follow(site.base + "/plain/", kind="feed")


def test_a_page_with_nothing_to_follow_says_which_kind_to_pass(steward, site: Site) -> None:
    site.wordpress_links = False
    site.routes["/plain/"] = (200, {}, b"<html><head><title>x</title></head><body>hi</body></html>")
    site.routes["/wp-json/"] = (404, {}, b"")
    site.routes["/robots.txt"] = (404, {}, b"")
    with pytest.raises(SyncError, match="--kind"):
        steward.sync.follow(site.base + "/plain/")


@pytest.mark.parametrize(("url", "kind", "every", "problem"), [
    ("ftp://example.org/x", "feed", None, "http"),
    ("https://example.org/voices/", "pattern", None, "{n}"),
    ("https://example.org/feed", "rss", None, "unknown kind"),
    ("https://example.org/feed", "feed", "soon", "interval"),
    ("https://example.org/feed", "feed", "10s", "too often"),
    ("/no/such/folder", "folder", None, "not a folder"),
])
def test_bad_follows_are_one_line_errors(steward, url: str, kind: str, every: str | None, problem: str) -> None:
    with pytest.raises(SyncError, match=problem) as err:
        steward.sync.follow(url, kind=kind, every=every)
    assert "\n" not in str(err.value)
    assert steward.sync.sources() == []


def test_following_twice_and_unknown_sources_are_refused(steward, site: Site) -> None:
    steward.sync.follow(site.base + "/feed.xml", kind="feed")
    with pytest.raises(SyncError, match="followed already"):
        steward.sync.follow(site.base + "/feed.xml", kind="feed")
    with pytest.raises(SyncError, match="no followed source"):
        steward.sync.unfollow("42")
    with pytest.raises(SyncError, match="no followed source"):
        steward.sync.run("https://nowhere.example/")


def test_unfollow_keeps_documents_unless_asked(steward, site: Site) -> None:
    a = steward.sync.follow(site.base + "/feed.xml", kind="feed")
    [first] = steward.sync.run()
    assert steward.sync.get(site.base + "/feed.xml/") == steward.sync.get(str(a.id))
    steward.sync.unfollow(site.base + "/feed.xml")
    assert steward.document_info(first.added[0]) is not None
    b = steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    steward.sync.run()
    assert b.url != a.url
    steward.sync.unfollow(str(b.id), remove_documents=True)
    assert all(steward.document_info(d) is None for d in first.added)
    assert steward.search("overtime grievance") == []


def test_dry_run_changes_nothing(steward, site: Site) -> None:
    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")
    [dry] = steward.sync.run(dry_run=True)
    assert dry.dry_run and len(dry.added) == ARTICLES
    assert steward.documents() == [] and steward.sync.get("1").last_check is None


def test_due_sources_only(steward, site: Site) -> None:
    import datetime as dt

    steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap", every="1d")
    assert [s.id for s in steward.sync.due()] == [1]  # never synced: due now
    steward.sync.run(due_only=True)
    assert steward.sync.due() == []
    assert steward.sync.run(due_only=True) == []
    now = dt.datetime.now(dt.UTC)
    assert steward.sync.due(now + dt.timedelta(hours=23)) == []
    # An hourly timer firing up to 15 minutes early still syncs it: not a day and an hour later.
    assert [s.id for s in steward.sync.due(now + dt.timedelta(hours=23, minutes=50))] == [1]


def cli(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    cfg = tmp_path / "sync.toml"
    if not cfg.exists():
        text = CONFIG.read_text(encoding="utf-8")
        text = text.replace("allow_private_urls = false", "allow_private_urls = true", 1)
        text = text.replace("rate_per_host = 1.0", "rate_per_host = 0.0", 1)
        cfg.write_text(text, encoding="utf-8")
    out = io.StringIO()
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--config", str(cfg), "--data-dir", str(tmp_path / "cli-data"), "-q", *argv], out)
    return code, out.getvalue(), err.getvalue()


def test_cli_follow_follows_sync_and_unfollow(tmp_path: Path, site: Site) -> None:
    code, out, _ = cli(tmp_path, "follow", site.base + "/sitemap.xml", "--every", "12h",
                       "--publication", "Local 1", "--tags", "news,contract", "--lang", "en",
                       "--match", "/voices/")
    assert code == 0 and "following #1" in out and "(sitemap; every 12h" in out
    code, out, _ = cli(tmp_path, "follows", "--json")
    [listed] = json.loads(out)
    assert listed["kind"] == "sitemap" and listed["tags"] == ["news", "contract"]
    assert listed["language"] == "en" and listed["last_check"] is None and listed["documents"] == 0
    site.routes["/broken.xml"] = (200, {"Content-Type": "application/xml"}, b"<urlset><url><loc>")
    assert cli(tmp_path, "follow", site.base + "/broken.xml", "--kind", "sitemap")[0] == 0
    code, out, err = cli(tmp_path, "sync")
    assert code == 1, out
    lines = out.splitlines()
    assert lines[0].startswith(f"{site.base}/sitemap.xml (sitemap): {ARTICLES} added, 0 changed, 0 removed")
    assert "error: the sitemap" in lines[1] and "not well-formed" in lines[1]
    assert "1 of 2 sources failed" in err
    code, out, _ = cli(tmp_path, "follows")
    assert f"documents: {ARTICLES}" in out and "last error: the sitemap" in out
    assert cli(tmp_path, "unfollow", "2")[0] == 0
    code, out, _ = cli(tmp_path, "sync", "--due")
    assert code == 0 and out.strip() == "no sources are due"
    code, out, _ = cli(tmp_path, "sync", "1")
    assert code == 0 and f"0 added, 0 changed, 0 removed, {ARTICLES} unchanged" in out
    code, _, err = cli(tmp_path, "follow", "https://example.org/x", "--kind", "pattern")
    assert code == 2 and err.count("\n") == 1 and "{n}" in err


def test_a_site_followed_as_a_sitemap_starts_from_robots_txt_through_an_index(steward, site: Site) -> None:
    xml = {"Content-Type": "application/xml"}
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"},
                                  f"User-agent: *\nSitemap: {site.base}/sitemap-index.xml\n".encode())
    site.routes["/sitemap-index.xml"] = (200, xml, (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.base}/sitemap.xml</loc></sitemap>"
        f"<sitemap><loc>{site.base}/sitemap-pages.xml</loc></sitemap></sitemapindex>").encode())
    site.routes["/sitemap-pages.xml"] = (200, xml, (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.base}/about/</loc></url></urlset>").encode())
    steward.sync.follow(site.base + "/", kind="sitemap", match="/voices/")
    [outcome] = steward.sync.run()
    assert outcome.error is None and len(outcome.added) == ARTICLES
    assert "/about/" not in site.paths()  # --match left it out
    assert all(steward.document_info(d).url.startswith(site.base + "/voices/") for d in outcome.added)


def test_the_running_bots_sync_settings_come_through_the_service(tmp_path: Path) -> None:
    # The Discord front end reads no configuration: it asks the service.
    quiet = steward_for(tmp_path, sync__schedule=False, sync__announce_channel=1234)
    try:
        assert quiet.sync_schedule() == (False, 1234)
    finally:
        quiet.close()
    shipped = make_steward(tmp_path / "shipped", HashEncoder())
    try:
        assert shipped.sync_schedule() == (True, 0)
    finally:
        shipped.close()
