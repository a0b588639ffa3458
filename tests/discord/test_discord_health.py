"""/healthz and /metrics while the bot runs against the loopback Discord: 503 with a reason
until the bot is connected with its index loaded, 200 after; the metrics count questions by
outcome and never hold a question's words or a member's id."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import aiohttp
import pytest
from discord_helpers import ANSWER_TIMEOUT, QUESTION, until
from fakediscord import FakeDiscord, connected_bot

from bot.discord.checks import QuestionLimiter
from bot.metrics import HealthSettings

QUESTIONS = (QUESTION, "What is a good recipe for pizza dough with oregano?")


@pytest.fixture
def health_on(discord_steward: Any, monkeypatch: pytest.MonkeyPatch) -> HealthSettings:
    settings = HealthSettings(enabled=True, port=0)  # the default host; any free port
    monkeypatch.setattr(discord_steward, "health_settings", lambda: settings)
    return settings


async def _get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, await resp.text()


def _count(text: str, name: str, outcome: str | None = None) -> float:
    label = f'{{outcome="{outcome}"}}' if outcome else ""
    found = re.search(rf"^{re.escape(name + label)} (\S+)$", text, re.MULTILINE)
    assert found, f"{name}{label} not in /metrics"
    return float(found.group(1))


async def test_healthz_is_503_until_connected_with_the_index_loaded(
    fake: FakeDiscord, discord_steward: Any, health_on: HealthSettings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.discord.client import StewardBot

    bot = StewardBot(discord_steward, discord_steward.config.discord)
    loading = threading.Event()
    real_load = bot._load_index

    def held_load() -> str | None:
        loading.wait(60)  # the index "loads" until the test has looked
        return real_load()

    monkeypatch.setattr(bot, "_load_index", held_load)
    connecting = connected_bot(bot, fake)
    entered = asyncio.create_task(connecting.__aenter__())
    try:
        await until(lambda: bot.health is not None and bot.health.port)
        status, text = await _get(bot.health.port, "/healthz")
        assert status == 503
        assert "not connected to the Discord gateway" in text
        loading.set()
        await entered
        status, text = await _get(bot.health.port, "/healthz")
        assert (status, text) == (200, "ok\n")

        # No index generation loaded: 503 again, saying so.
        real_status = discord_steward.index_status
        monkeypatch.setattr(discord_steward, "index_status", lambda: {**real_status(), "loaded": False})
        status, text = await _get(bot.health.port, "/healthz")
        assert status == 503 and "no index generation loaded" in text
        monkeypatch.setattr(discord_steward, "index_status", real_status)

        # A dropped gateway (resumed at once here) is seen, counted as a reconnect, and healthy
        # again once resumed.
        _, before = await _get(bot.health.port, "/metrics")
        dropped = asyncio.Event()

        async def on_disconnect() -> None:
            dropped.set()

        bot.add_listener(on_disconnect, "on_disconnect")
        resumed = _count(before, "steward_gateway_reconnects_total") + 1
        await fake.drop_gateway()
        await asyncio.wait_for(dropped.wait(), 30)
        await until(lambda: bot.health.gateway.connected, timeout=30)
        assert (await _get(bot.health.port, "/healthz"))[0] == 200
        _, after = await _get(bot.health.port, "/metrics")
        assert _count(after, "steward_gateway_reconnects_total") == resumed
    finally:
        loading.set()
        if not entered.done():
            entered.cancel()
        await connecting.__aexit__(None, None, None)
    with pytest.raises(aiohttp.ClientConnectionError):  # closed with the bot
        await _get(bot.health.port, "/healthz")
    fake.assert_no_violations()


async def test_metrics_count_questions_and_hold_no_words_or_ids(
    fake: FakeDiscord, discord_steward: Any, health_on: HealthSettings,
) -> None:
    from bot.discord.client import StewardBot

    async with connected_bot(StewardBot(discord_steward, discord_steward.config.discord, sync="global"),
                             fake) as bot:
        # Listening on the loopback interface only, by default.
        assert [a[0] for a in bot.health._runner.addresses] == ["127.0.0.1"]
        _, before = await _get(bot.health.port, "/metrics")
        bot.limiter = QuestionLimiter(len(QUESTIONS), 600)
        for question in QUESTIONS:
            inter = await fake.send_slash_command("ask", {"question": question})
            await inter.callback()
            assert (await inter.followup(timeout=ANSWER_TIMEOUT)).ok
        refused = await fake.send_slash_command("ask", {"question": "one question too many about dues"})
        await refused.callback()
        status, text = await _get(bot.health.port, "/metrics")
    assert status == 200
    for outcome, more in (("answered", 1), ("not_found", 1), ("cooldown", 1)):
        was = _count(before, "steward_questions_total", outcome)
        assert _count(text, "steward_questions_total", outcome) == was + more, outcome
    assert _count(text, "steward_answer_seconds_count") == _count(before, "steward_answer_seconds_count") + 2
    documents, passages = discord_steward.store.counts()
    assert _count(text, "steward_documents") == documents
    assert _count(text, "steward_passages") == passages
    assert _count(text, "steward_index_generation") >= 1
    assert _count(text, "steward_index_loaded") == 1
    assert "steward_ingests_total" in text and "steward_sync_runs_total" in text

    # No word of a question that was not already there before any was asked (metric names
    # and help texts), and no id of a member, the guild, a channel or the bot.
    asked = " ".join((*QUESTIONS, "one question too many about dues")).lower()
    words = {w for w in re.findall(r"[a-z]{4,}", asked) if w not in before.lower()}
    assert words and not [w for w in words if w in text.lower()]
    ids = {fake.bot_user.id} | {g.id for g in fake.guilds} | {c.id for g in fake.guilds for c in g.channels}
    ids |= {m.user.id for g in fake.guilds for m in g.members}
    assert not [i for i in ids if str(i) in text]
    fake.assert_no_violations()


async def test_health_is_off_by_default(fake: FakeDiscord, discord_steward: Any) -> None:
    from bot.discord.client import StewardBot

    assert discord_steward.health_settings() == HealthSettings()
    assert HealthSettings().enabled is False and HealthSettings().host == "127.0.0.1"
    async with connected_bot(StewardBot(discord_steward, discord_steward.config.discord), fake) as bot:
        assert bot.health is None
