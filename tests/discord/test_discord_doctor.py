"""`steward doctor`'s Discord checks against the loopback Discord: a good token with the
commands synced and the permissions Steward needs is all ✓; a bad token, out-of-date or
missing commands, commands registered twice and a channel that lacks a permission are each
one ✗ line saying what to do."""

from __future__ import annotations

import copy
from typing import Any

from fakediscord import FakeDiscord
from fakediscord.models import Permissions

from bot.discord.doctor_checks import _checks


def by_name(checks: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in checks}


async def test_a_synced_bot_with_its_permissions_is_all_checked(
        fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    checks = by_name(await _checks(discord_steward, discord_steward.config.discord, fake.token))
    assert all(c.ok for c in checks.values()), [c.line() for c in checks.values()]
    assert "discord token" in checks and "commands (global)" in checks
    assert checks[f"server {fake.guild.name}: permissions"].detail.startswith(
        "can view, send, embed and read history in 2 channels")


async def test_a_bad_token_is_one_line(fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    checks = await _checks(discord_steward, discord_steward.config.discord, "not-the-token")
    assert len(checks) == 1 and not checks[0].ok
    assert "rejected DISCORD_TOKEN" in checks[0].line() and "Reset Token" in checks[0].line()


async def test_stale_missing_and_doubled_commands(
        fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    registered = fake.commands[None]
    ask = next(c for c in registered if c["name"] == "ask")
    ask["description"] = "an older description"
    fake.commands[None] = [c for c in registered if c["name"] != "search"]
    fake.commands[None].append({**copy.deepcopy(ask), "name": "oldcommand", "id": "1"})
    checks = by_name(await _checks(discord_steward, discord_steward.config.discord, fake.token))
    line = checks["commands (global)"].line()
    assert line.startswith("✗") and "missing: search" in line
    assert "out of date: ask, oldcommand" in line and "steward bot --sync" in line

    fake.commands[fake.guild.id] = copy.deepcopy(fake.commands[None])
    checks = by_name(await _checks(discord_steward, discord_steward.config.discord, fake.token))
    doubled = checks[f"server {fake.guild.name}: commands"]
    assert not doubled.ok and "see them twice" in doubled.detail and "sync clear" in doubled.fix


async def test_a_channel_that_lacks_a_permission_is_named(
        fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    bulletins = fake.guild.channel("bulletins")
    bulletins.permission_overwrites.append({
        "id": str(fake.guild.id), "type": 0, "allow": "0",
        "deny": str(Permissions.EMBED_LINKS | Permissions.SEND_MESSAGES)})
    try:
        checks = by_name(await _checks(discord_steward, discord_steward.config.discord, fake.token))
        perms = checks[f"server {fake.guild.name}: permissions"]
        assert not perms.ok
        assert perms.detail == "#bulletins lacks Send Messages, Embed Links"
        assert "Permissions" in perms.fix
        # a channel hidden from Steward on purpose is not a problem...
        bulletins.permission_overwrites[0]["deny"] = str(Permissions.VIEW_CHANNEL)
        assert by_name(await _checks(discord_steward, discord_steward.config.discord, fake.token))[perms.name].ok
        # ...unless Steward was told to answer there
        discord_steward.set_answer_here(bulletins.id, fake.guild.id, "text")
        try:
            again = by_name(await _checks(discord_steward, discord_steward.config.discord, fake.token))[perms.name]
            assert not again.ok and "#bulletins lacks View Channel" in again.detail
        finally:
            discord_steward.clear_answer_here(bulletins.id)
    finally:
        bulletins.permission_overwrites.clear()
