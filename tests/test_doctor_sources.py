"""`steward doctor` on followed sources: one ✓ line per source that answers now, one ✗ line
saying what to do for a site that is down, a folder that is gone, or a source whose last
sync failed; nothing is said when nothing is followed."""

from __future__ import annotations

import shutil
from pathlib import Path

from stewardtest import CONFIG, HashEncoder
from sync_site import Site, serve

from bot.app import Steward
from bot.config import load_config
from bot.doctor import run_doctor
from corpus.sources import state


def sources_config(tmp_path: Path) -> Path:
    """The repo's settings with loopback addresses allowed (the test site is on 127.0.0.1)."""
    text = CONFIG.read_text(encoding="utf-8")
    assert "allow_private_urls = false" in text
    cfg = tmp_path / "doctor.toml"
    cfg.write_text(text.replace("allow_private_urls = false", "allow_private_urls = true", 1)
                   .replace("rate_per_host = 1.0", "rate_per_host = 0.0", 1), encoding="utf-8")
    return cfg


def source_lines(cfg: Path, data: Path) -> dict[str, str]:
    checks = run_doctor(str(cfg), str(data), model=False)
    return {c.name: c.line() for c in checks if c.name.startswith("source")}


def test_followed_sources_are_checked_and_a_broken_one_says_what_to_do(tmp_path: Path) -> None:
    cfg, data = sources_config(tmp_path), tmp_path / "data"
    folder = tmp_path / "bulletins"
    folder.mkdir()
    (folder / "one.txt").write_text("The local meets on Tuesday.", encoding="utf-8")
    steward = Steward(load_config(cfg, data))
    steward._encoder = HashEncoder()
    try:
        assert source_lines(cfg, data) == {}  # nothing followed: no line, no network
        with serve(Site.generated(3)) as site:
            feed = steward.sync.follow(site.base + "/feed.xml", kind="feed")
            steward.sync.follow(str(folder), kind="folder")
            lines = source_lines(cfg, data)
            assert lines[f"source #{feed.id}"].startswith(f"✓ source #{feed.id}: {site.base}/feed.xml "
                                                          "(feed): reachable (200)")
            assert lines["source #2"].startswith("✓") and "folder is readable" in lines["source #2"]

            state.finish_pass(steward.store, feed.id, state={}, changed=False,
                              error="the feed is not XML", every_s=3600)
            line = source_lines(cfg, data)[f"source #{feed.id}"]
            assert line.startswith("✗") and "last sync failed: the feed is not XML" in line
            assert f"run `steward sync {feed.id}`" in line
        # the site is down now, and the folder is gone
        shutil.rmtree(folder)
        lines = source_lines(cfg, data)
        assert lines["source #1"].startswith("✗ source #1:") and "cannot be reached" in lines["source #1"]
        assert lines["source #2"].startswith("✗") and "missing or unreadable" in lines["source #2"]
        assert "`steward unfollow 2`" in lines["source #2"]
        assert all("\n" not in line for line in lines.values())
    finally:
        steward.close()
