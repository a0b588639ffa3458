"""Scheduled backups from the running bot: taken every period, rotated to ``keep``, and a
failing one is logged and counted while the bot serves on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from discord_helpers import until
from fakediscord import FakeDiscord, connected_bot

from bot.backup import BackupSettings, backups_in, verify_backup
from bot.metrics import REGISTRY


def _backups(outcome: str) -> float:
    return REGISTRY.get_sample_value("steward_backups_total", {"outcome": outcome}) or 0.0


async def test_scheduled_backups_are_taken_and_rotated(
    fake: FakeDiscord, discord_steward: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.discord.client import StewardBot

    settings = BackupSettings(every="1s", keep=2, dir=str(tmp_path / "backups"))
    monkeypatch.setattr(discord_steward, "backup_settings", lambda: settings)
    taken = _backups("ok")
    async with connected_bot(StewardBot(discord_steward, discord_steward.config.discord), fake):
        await until(lambda: _backups("ok") >= taken + 3, timeout=60)
    kept = backups_in(tmp_path / "backups")
    assert len(kept) == 2
    for folder in kept:
        assert verify_backup(folder)["passages"] == discord_steward.stats()["passages"]
    fake.assert_no_violations()


async def test_a_failing_scheduled_backup_is_counted_and_the_bot_serves_on(
    fake: FakeDiscord, discord_steward: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.discord.client import StewardBot

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    settings = BackupSettings(every="1s", keep=2, dir=str(blocker))
    monkeypatch.setattr(discord_steward, "backup_settings", lambda: settings)
    failed = _backups("failed")
    async with connected_bot(StewardBot(discord_steward, discord_steward.config.discord, sync="global"),
                             fake) as bot:
        await until(lambda: _backups("failed") >= failed + 1, timeout=60)
        assert not bot.is_closed()
        inter = await fake.send_slash_command("ask", {"question": "What is a welga ng bayan?"})
        assert (await inter.callback()).ok
    fake.assert_no_violations()


async def test_no_scheduled_backups_by_default(fake: FakeDiscord, discord_steward: Any) -> None:
    from bot.discord.client import StewardBot

    assert discord_steward.backup_settings().every == ""
    async with connected_bot(StewardBot(discord_steward, discord_steward.config.discord), fake) as bot:
        assert bot.get_cog("Backups").task is None
