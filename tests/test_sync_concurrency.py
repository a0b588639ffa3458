"""Two syncs of one data folder (the bot's schedule and a timer's `steward sync --due`, here two
Stewards on the same folder): the second waits for the pass in progress, then skips a source
that the first has just synced instead of asking the site for everything again; a source
unfollowed while a run waited is not synced (nor its items written back)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_site import Site, serve, steward_for

from corpus.sources import state

ARTICLES = 4


@pytest.fixture
def site() -> Iterator[Site]:
    with serve(Site.generated(ARTICLES)) as s:
        yield s


def test_a_second_due_sync_waits_for_the_first_and_skips_what_it_synced(tmp_path: Path, site: Site) -> None:
    bot, timer = steward_for(tmp_path), steward_for(tmp_path)
    try:
        bot.sync.follow(site.base + "/sitemap.xml", kind="sitemap", every="6h")
        assert [s.id for s in timer.sync.due()] == [1]
        waiting = threading.Event()
        second: list[object] = []
        second_progress: list[str] = []

        def timer_progress(line: str) -> None:
            second_progress.append(line)
            if line.startswith("waiting for another sync"):
                waiting.set()

        def timer_run() -> None:
            second.extend(timer.sync.run(due_only=True, on_progress=timer_progress))

        other = threading.Thread(target=timer_run)

        def bot_progress(line: str) -> None:
            if line.startswith("syncing ") and not other.is_alive() and not second_progress:
                # Mid-pass: the timer's run starts, finds the source due and must wait.
                other.start()
                while not waiting.is_set() and other.is_alive():
                    waiting.wait(0.05)

        [first] = bot.sync.run(due_only=True, on_progress=bot_progress)
        other.join()
        assert waiting.is_set(), second_progress  # it waited instead of syncing alongside
        assert first.error is None and len(first.added) == ARTICLES
        assert second == []  # synced meanwhile: no longer due, the site not asked again
        assert site.paths().count("/sitemap.xml") == 1
        assert len(bot.documents()) == ARTICLES
    finally:
        bot.close()
        timer.close()


def test_a_source_unfollowed_while_a_run_waited_is_not_synced(tmp_path: Path, site: Site) -> None:
    steward = steward_for(tmp_path)
    try:
        steward.sync.follow(site.base + "/feed.xml", kind="feed")
        steward.sync.follow(site.base + "/sitemap.xml", kind="sitemap")

        def progress(line: str) -> None:
            if line.startswith("syncing") and "/feed.xml" in line:
                # While the feed's pass runs, the sitemap is unfollowed (by another process:
                # its unfollow went in as soon as it had the data folder's sync lock).
                state.delete_source(steward.store, 2)

        outcomes = steward.sync.run(on_progress=progress)
        assert [o.source.kind for o in outcomes] == ["feed"]
        assert [s.kind for s in steward.sync.sources()] == ["feed"]
        assert steward.store.execute("SELECT COUNT(*) FROM follow_items WHERE source_id=2")[0][0] == 0
        assert "/sitemap.xml" not in site.paths()
    finally:
        steward.close()
