"""A fake Discord server on 127.0.0.1 for end-to-end tests of discord.py bots.

Usage::

    async with running_fake_discord() as server:
        async with connected_bot(MyBot(), server) as bot:
            inter = await server.send_slash_command("ask", {"question": "dues?"})
            assert (await inter.callback()).type == 5

See ``server.FakeDiscord`` for what is recorded and enforced, ``limits`` for the checks.
"""

from . import limits
from .fixtures import connected_bot, patch_discord, running_fake_discord
from .gateway import Intents
from .models import (
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Permissions,
    default_guild,
    snowflake,
)
from .server import (
    FakeDiscord,
    FakeInteraction,
    InteractionRecord,
    Pings,
    RecordedRequest,
    UploadedFile,
    Violation,
)

__all__ = [
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "Intents",
    "InteractionRecord",
    "Permissions",
    "Pings",
    "RecordedRequest",
    "UploadedFile",
    "Violation",
    "connected_bot",
    "default_guild",
    "limits",
    "patch_discord",
    "running_fake_discord",
    "snowflake",
]
