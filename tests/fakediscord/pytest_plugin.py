"""pytest fixtures for the fake Discord server.

Use from ``tests/conftest.py`` with ``pytest_plugins = ["fakediscord.pytest_plugin"]`` (tests/
is on ``sys.path`` because it has no ``__init__.py``), or import the fixtures by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .fixtures import running_fake_discord
from .server import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started server with the default guild; discord.py patched to use it."""
    async with running_fake_discord() as server:
        yield server


@pytest.fixture
async def strict_fake_discord(fake_discord: FakeDiscord) -> AsyncIterator[FakeDiscord]:
    """Like ``fake_discord``, and the test fails if the bot broke any of Discord's rules."""
    yield fake_discord
    fake_discord.assert_no_violations()
