"""Context managers that wire a real discord.py client to the fake server.

``discord.http.Route.BASE`` is read each time a ``Route`` is built (REST calls, interaction
callbacks and webhook follow-ups all go through ``Route``), and
``DiscordWebSocket.DEFAULT_GATEWAY`` is where ``Client.connect`` opens the gateway (an
``AutoShardedClient`` asks ``GET /gateway/bot`` instead, which the server also answers).
Patching those two class attributes is all it takes; both are restored on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, TypeVar

import discord
import discord.gateway
import discord.http
import yarl

from .models import FakeGuild, FakeUser
from .server import FakeDiscord

__all__ = ["connected_bot", "patch_discord", "running_fake_discord"]

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.contextmanager
def patch_discord(api_base: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at another server."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def running_fake_discord(
    token: str = "fake-bot-token",
    *,
    guilds: Sequence[FakeGuild] | None = None,
    bot_user: FakeUser | None = None,
    patch: bool = True,
    **options: Any,
) -> AsyncIterator[FakeDiscord]:
    """Start a :class:`FakeDiscord` on an ephemeral 127.0.0.1 port and patch discord.py.

    ``options`` are attributes to set on the server (``ack_deadline=0.5``, ...).
    """
    server = FakeDiscord(token, guilds=guilds, bot_user=bot_user)
    for name, value in options.items():
        if not hasattr(server, name):
            raise TypeError(f"FakeDiscord has no option {name!r}")
        setattr(server, name, value)
    await server.start()
    try:
        with (
            patch_discord(server.api_base, server.gateway_url)
            if patch
            else contextlib.nullcontext()
        ):
            yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def connected_bot(
    bot: ClientT,
    server: FakeDiscord,
    *,
    token: str | None = None,
    timeout: float = 10.0,
    fast_ready: bool = True,
) -> AsyncIterator[ClientT]:
    """Log ``bot`` in, connect it, wait for ``on_ready``; close it on exit.

    ``login`` runs in the caller's task, so a bad token raises ``discord.LoginFailure``
    right here. ``fast_ready`` removes two waits meant for the real Discord's rate limits:

    * ``guild_ready_timeout`` (the quiet period after the last GUILD_CREATE before
      ``on_ready``, 2 s by default; a public client option) drops to 0.05 s;
    * ``before_identify_hook``, which sleeps 5 s before every IDENTIFY after the first
      (e.g. after an invalidated session), becomes a no-op — unless the bot's class
      overrides that hook itself.
    """
    if fast_ready:
        state = bot._connection
        state.guild_ready_timeout = min(state.guild_ready_timeout, 0.05)
        if type(bot).before_identify_hook is discord.Client.before_identify_hook:

            async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
                return None

            bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
    runner: asyncio.Task[None] | None = None
    try:
        await bot.login(token if token is not None else server.token)
        runner = asyncio.create_task(bot.connect(reconnect=True), name="fakediscord-bot")
        ready = asyncio.create_task(bot.wait_until_ready(), name="fakediscord-ready")
        done, _ = await asyncio.wait(
            {runner, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
            if runner in done:
                runner.result()  # re-raise why the connection ended
                raise RuntimeError("the bot's gateway connection ended before on_ready")
            raise TimeoutError(f"bot not ready after {timeout}s")
        yield bot
    finally:
        await bot.close()
        if runner is not None:
            # Why the connection ended was already raised above if it mattered.
            with contextlib.suppress(discord.DiscordException, asyncio.CancelledError):
                await asyncio.wait_for(runner, timeout)
