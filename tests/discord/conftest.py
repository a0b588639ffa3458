"""Fixtures for Steward's Discord front end: one Steward on the shipped samples with the
real model for the whole session, and per test a fake Discord server with a connected
StewardBot (its commands synced globally, as in production)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakediscord import FakeDiscord, connected_bot, running_fake_discord

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config.toml"


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Serve queries on one torch thread, as the bot's single question worker does best on
    a shared 2-core machine (several threads fight over the cores: ~3x slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def discord_steward(
    tmp_path_factory: pytest.TempPathFactory, sample_steward: Any, real_encoder: object
) -> Iterator[Any]:
    """A Steward of our own (admin tests add and remove documents) on a copy of the shared
    sample data folder, so the samples are embedded once per test session."""
    from bot.app import Steward
    from bot.config import load_config

    data = tmp_path_factory.mktemp("discord") / "data"
    sample_steward.store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copytree(sample_steward.data_dir, data)
    steward = Steward(load_config(CONFIG, data))
    steward._encoder = real_encoder
    steward.ensure_samples()
    yield steward
    steward.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with running_fake_discord() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord, discord_steward: Any) -> AsyncIterator[Any]:
    """A connected StewardBot; the test fails if it broke any of Discord's rules."""
    from bot.discord.client import StewardBot

    async with connected_bot(StewardBot(discord_steward, discord_steward.config.discord,
                                        sync="global"), fake) as steward_bot:
        yield steward_bot
    fake.assert_no_violations()
