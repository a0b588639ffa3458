"""A fake Discord (REST API v10 + gateway) on 127.0.0.1 for end-to-end tests of discord.py bots.

discord.py is not mocked: its own HTTP client and WebSocket talk to this aiohttp server,
which answers with the JSON shapes the real API sends and enforces the rules a bot most
often breaks (3-second acknowledgement, double acknowledgement, message and embed limits).
Every request, every interaction response and every rule broken is recorded for tests.

The server is one class, :class:`FakeDiscord`, put together from its parts:

* ``state`` — the world (guilds, channels, users) and the messages and files in it;
* ``events`` — user actions sent to the bot as gateway dispatches;
* ``recorder`` — what was requested and which rules were broken, and waiting for it;
* ``routes`` and ``interaction_routes`` — the REST API;
* ``gateway`` — the WebSocket, ``protocol`` — constants and error bodies shared by all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .events import Events
from .gateway import Gateway, Intents
from .interaction_routes import InteractionRoutes
from .models import FakeChannel, FakeGuild, FakeUser, default_guild, snowflake
from .protocol import API_PREFIX
from .recorder import Recorder
from .records import (
    FakeInteraction,
    InteractionRecord,
    Pings,
    RecordedRequest,
    UploadedFile,
    Violation,
)
from .routes import Routes
from .state import WorldState

__all__ = [
    "FakeDiscord",
    "FakeInteraction",
    "InteractionRecord",
    "Pings",
    "RecordedRequest",
    "UploadedFile",
    "Violation",
]


class FakeDiscord(WorldState, Events, Recorder, Routes, InteractionRoutes):
    """The fake server. Start with ``await start()`` (or :func:`running_fake_discord`).

    Knobs tests may change at any time:

    * ``ack_deadline`` — seconds a bot has for the first interaction response (3.0).
    * ``token_ttl`` — lifetime of an interaction token for follow-ups (900.0).
    * ``allowed_privileged_intents`` — privileged intents enabled "in the developer portal";
      identifying with others closes the gateway with 4014 (default: all allowed).
    * ``enforce_message_content`` — blank ``content`` in MESSAGE_CREATE unless the bot has
      the message-content intent, is mentioned, or it is a DM (True, as Discord does).
    * ``echo_messages`` — send MESSAGE_CREATE for the bot's own non-ephemeral messages (True).
    * ``require_registered_commands`` — ``send_slash_command`` refuses names the bot never
      synced, since Discord can only send commands it knows (True).
    """

    def __init__(
        self,
        token: str = "fake-bot-token",
        *,
        bot_user: FakeUser | None = None,
        guilds: Sequence[FakeGuild] | None = None,
        application_id: int | None = None,
        owner: FakeUser | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.host = host
        self.bot_user = bot_user or FakeUser(snowflake(), "Steward", bot=True)
        self.application_id = application_id or self.bot_user.id
        self.owner = owner or FakeUser(snowflake(), "app-owner")
        self.guilds: list[FakeGuild] = (
            list(guilds) if guilds is not None else [default_guild(self.bot_user)]
        )
        for guild in self.guilds:
            guild.add_member(self.bot_user)  # the bot is a member of every guild it is in

        self.ack_deadline = 3.0
        self.token_ttl = 15 * 60.0
        self.allowed_privileged_intents = Intents.PRIVILEGED
        self.enforce_message_content = True
        self.echo_messages = True
        self.require_registered_commands = True

        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.interactions: dict[int, FakeInteraction] = {}
        self.messages: dict[int, dict[str, Any]] = {}  # id -> message payload (REST shape)
        self.pings: dict[int, Pings] = {}  # message id -> who it notifies
        self.deleted_messages: list[dict[str, Any]] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global)
        self.attachments: dict[int, UploadedFile] = {}
        self.typing: list[tuple[int, float]] = []  # (channel id, loop time)
        self.dm_channels: dict[int, FakeChannel] = {}
        self._dm_users: dict[int, FakeUser] = {}
        self.gateway = Gateway(self)
        self.gateway_connects: list[dict[str, str]] = []

        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        # A short shutdown timeout: tests must not wait 60 s for a stuck handler.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        # A different path than gateway_url, so tests can see the client used READY's URL.
        return f"ws://{self.host}:{self.port}/resume-gateway"
