"""Starting the bot: login, deliberate command sync, tokens, the owner's sync command, and a
new index generation picked up without a restart."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from discord_helpers import ANSWER_TIMEOUT, description, steward_bot
from fakediscord import FakeDiscord, Intents

from bot.cli import main

REPO = Path(__file__).resolve().parents[2]
MANAGE_GUILD = 1 << 5


async def test_login_and_sync_payload(fake: FakeDiscord, bot: Any) -> None:
    commands = {c["name"]: c for c in fake.commands[None]}
    assert set(commands) == {"ask", "search", "source", "latest", "admin",
                             "Ask Steward about this", "Add to the bulletins"}
    assert commands["Ask Steward about this"]["type"] == 3
    assert commands["Add to the bulletins"]["type"] == 3
    assert int(commands["Add to the bulletins"]["default_member_permissions"]) == MANAGE_GUILD

    admin = commands["admin"]
    assert int(admin["default_member_permissions"]) == MANAGE_GUILD
    assert admin.get("contexts") == [0] or admin.get("dm_permission") is False
    assert {o["name"] for o in admin["options"]} == {"add", "reindex", "remove", "stats",
                                                     "channel-defaults", "answer-here", "gaps",
                                                     "follow", "unfollow", "sources", "sync"}

    ask = {o["name"]: o for o in commands["ask"]["options"]}
    assert ask["question"]["required"] is True
    assert {"publication", "since", "until", "author", "tag", "private"} <= set(ask)
    # /ask and /search share their filter options (bot/discord/options.py)
    search = {o["name"]: o for o in commands["search"]["options"]}
    for options in (ask, search):
        assert all(options[n].get("autocomplete") for n in ("publication", "author", "tag"))
        assert options["since"]["description"] == "Only documents dated on or after (YYYY-MM-DD)"
    for name in ("ask", "search", "source", "latest"):
        assert commands[name].get("default_member_permissions") is None

    # no privileged intents: mentions and DMs carry their text without message_content
    intents = [s.intents for s in fake.gateway.sessions.values()]
    assert intents and all(not i & Intents.PRIVILEGED for i in intents)
    assert all(i & Intents.GUILD_MESSAGES and i & Intents.DIRECT_MESSAGES for i in intents)


async def test_commands_are_synced_only_when_asked(
    fake: FakeDiscord, discord_steward: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="steward.discord")
    async with steward_bot(fake, discord_steward, sync=None):
        pass
    assert not fake.requests_to("PUT", r"/applications/\d+/(guilds/\d+/)?commands")
    assert "index generation gen-" in caplog.text and "Steward is online" in caplog.text
    async with steward_bot(fake, discord_steward, sync=str(fake.guild.id)):
        pass
    assert f"synced 7 commands to server {fake.guild.id}" in caplog.text
    assert fake.requests_to("PUT", rf"/applications/\d+/guilds/{fake.guild.id}/commands")
    assert {c["name"] for c in fake.commands[fake.guild.id]} >= {"ask", "admin"}
    assert None not in fake.commands  # a guild sync for testing leaves global alone
    fake.assert_no_violations()


async def test_the_owner_syncs_with_a_text_command(fake: FakeDiscord, bot: Any) -> None:
    asked = await fake.send_message_create(f"{fake.bot_user.mention} sync here",
                                           author=fake.owner)
    reply = await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"],
        timeout=ANSWER_TIMEOUT)
    assert reply["content"].startswith("synced ") and str(fake.guild.id) in reply["content"]
    assert {c["name"] for c in fake.commands[fake.guild.id]} >= {"ask", "admin"}


async def test_sync_from_anyone_else_is_just_a_question(fake: FakeDiscord, bot: Any) -> None:
    asked = await fake.send_message_create(f"{fake.bot_user.mention} sync here")
    reply = await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"],
        timeout=ANSWER_TIMEOUT)
    assert reply["embeds"] and not reply["content"].startswith("synced")
    assert fake.guild.id not in fake.commands


async def test_a_generation_written_elsewhere_is_picked_up_without_restart(
    fake: FakeDiscord, bot: Any, discord_steward: Any, real_encoder: Any, tmp_path: Path
) -> None:
    from bot.app import Steward
    from bot.config import load_config

    loaded = discord_steward.searcher.generation.name
    assert loaded == discord_steward.generations.current_name()  # loaded at start
    # another Steward on the same data folder, as `steward ingest` in another process
    other = Steward(load_config(REPO / "config.toml", discord_steward.data_dir))
    other._encoder = real_encoder
    path = tmp_path / "heat.md"
    path.write_text("# Heat Safety Agreement\n\nWhen the warehouse is above 90 degrees, every "
                    "worker gets a paid ten-minute cool-down break each hour and free water.\n",
                    encoding="utf-8")
    try:
        report = await asyncio.to_thread(other.ingest, [str(path)])
        assert report.added and other.generations.current_name() != loaded
        inter = await fake.send_slash_command(
            "ask", {"question": "What do we get when the warehouse is above 90 degrees?"})
        answer = await inter.followup(timeout=ANSWER_TIMEOUT)
        assert "ten-minute cool-down break" in description(answer)
    finally:
        await asyncio.to_thread(other.remove, report.added[0])
        other.close()


def _clean_env(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    if token is None:
        monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    else:
        monkeypatch.setenv("DISCORD_TOKEN", token)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_missing_token_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_env(monkeypatch, None)
    assert main(["--data-dir", str(tmp_path), "bot"]) == 2
    err = capsys.readouterr().err
    assert len(_lines(err)) == 1, err
    assert "DISCORD_TOKEN is not set" in err and "Traceback" not in err


def test_python_dash_m_bot_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    env["STEWARD_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "bot"], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 2
    assert _lines(done.stderr) == [_lines(done.stderr)[-1]]
    assert "DISCORD_TOKEN is not set" in done.stderr


async def test_a_rejected_token_is_one_clear_line(
    fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    _clean_env(monkeypatch, "not-the-right-token")
    # run_bot runs its own event loop, so it gets a thread; the fake serves from this loop
    code = await asyncio.to_thread(main, ["--data-dir", str(tmp_path), "bot"])
    assert code == 2
    err = capsys.readouterr().err
    assert len(_lines(err)) == 1, err
    assert "Discord rejected DISCORD_TOKEN" in err and "Traceback" not in err
    assert "not-the-right-token" not in err
    assert fake.requests_to("GET", "/users/@me")


async def test_steward_bot_runs_answers_and_stops_cleanly(
    fake: FakeDiscord, discord_steward: Any, real_encoder: Any,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``steward bot --sync`` itself (bot.cli.main → run_bot), not a test harness."""
    import bot.discord.runner as runner

    started: list[Any] = []

    class Recorded(runner.StewardBot):  # type: ignore[misc,name-defined]
        async def setup_hook(self) -> None:
            started.append(self)
            self._connection.guild_ready_timeout = 0.05
            await super().setup_hook()

    monkeypatch.setattr(runner, "StewardBot", Recorded)
    monkeypatch.setattr("bot.app.load_encoder", lambda *args, **kwargs: real_encoder)
    _clean_env(monkeypatch, fake.token)
    argv = ["--data-dir", str(discord_steward.data_dir), "bot", "--sync"]
    running = asyncio.create_task(asyncio.to_thread(main, argv))
    try:
        await fake.wait_until_connected(timeout=ANSWER_TIMEOUT)
        assert {c["name"] for c in fake.commands[None]} >= {"ask", "admin"}
        inter = await fake.send_slash_command(
            "ask", {"question": "How much did US union membership grow after 1935?"})
        answer = await inter.followup(timeout=ANSWER_TIMEOUT)
        assert "six million in 1940" in description(answer)
    finally:
        if started:
            bot = started[0]
            asyncio.run_coroutine_threadsafe(bot.close(), bot.loop)
        code = await asyncio.wait_for(running, ANSWER_TIMEOUT)
    assert code == 0
    fake.assert_no_violations()
    # The admin running it sees the bot come up on the console, and no question text.
    err = capsys.readouterr().err
    assert "index generation" in err and "synced" in err and "bot stopped" in err
    assert "union membership" not in err


async def test_without_an_index_members_are_told_to_fetch_an_admin(
    fake: FakeDiscord, real_encoder: Any, tmp_path: Path
) -> None:
    from bot.app import Steward
    from bot.config import load_config

    config = load_config(REPO / "config.toml", tmp_path / "empty")
    config.samples.auto_ingest = False
    empty = Steward(config)
    empty._encoder = real_encoder
    try:
        async with steward_bot(fake, empty):
            inter = await fake.send_slash_command("ask", {"question": "dues?"})
            edit = await inter.response("edit", timeout=ANSWER_TIMEOUT)
            assert "can't search right now" in edit.data["content"]
            assert "steward ingest" in edit.data["content"]
            asked = await fake.send_message_create(f"{fake.bot_user.mention} dues?")
            reply = await fake.wait_for_message(
                lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"],
                timeout=ANSWER_TIMEOUT)
            assert "can't search right now" in reply["content"]
    finally:
        empty.close()
    fake.assert_no_violations()
