"""The running bot syncs a due source by itself and announces what it added, without pinging
anyone; a failing source does not stop it answering (issue 14)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from discord_helpers import ANSWER_TIMEOUT, QUESTION, description, until
from fakediscord import FakeDiscord
from test_discord_sync_admin import site  # noqa: F401  (the local feed, a fixture)


async def test_a_due_source_is_synced_and_announced_without_pings(
    fake: FakeDiscord, bot: Any, discord_steward: Any, site: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discord_steward.config.sync, "announce_channel", fake.channel.id)
    schedule = bot.get_cog("SyncSchedule")
    broken = await asyncio.to_thread(discord_steward.sync.follow, f"{site}/feed.xml")
    try:
        # a second source that fails every pass: the first still syncs, the bot still answers
        failing = await asyncio.to_thread(discord_steward.sync.follow, f"{site}/flaky.xml")
        passes = schedule.passes
        schedule.wake.set()
        await until(lambda: schedule.passes > passes, timeout=ANSWER_TIMEOUT)
        said = await fake.wait_for_message(lambda m: "New in the bulletins" in m["content"],
                                           timeout=ANSWER_TIMEOUT)
        assert "*Laundry workers win a ventilation fix* — " in said["content"]
        assert not fake.pings[int(said["id"])].any
        sent = fake.requests_to("POST", rf"/channels/{fake.channel.id}/messages")[-1]
        assert sent.json["allowed_mentions"]["parse"] == []
        assert (await asyncio.to_thread(discord_steward.sync.get, str(failing.id))).last_error

        asked = await fake.send_slash_command("ask", {"question": QUESTION})
        answer = await asked.followup(timeout=ANSWER_TIMEOUT)
        assert description(answer)
        assert not schedule._task.done()  # the schedule goes on
    finally:
        for source in await asyncio.to_thread(discord_steward.sync.sources):
            await asyncio.to_thread(discord_steward.sync.unfollow, str(source.id), True)
    assert broken.url.endswith("/feed.xml")
