"""``steward bot``: run the Discord bot until stopped, with one clear line for the errors a
volunteer will meet (no token, a rejected token, Discord unreachable)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import aiohttp
import discord
import discord.http

from bot.app import Steward
from bot.config import Config, DiscordSection, discord_token
from bot.discord.client import StewardBot
from bot.doctor import Check
from bot.logs import CONSOLE

log = logging.getLogger("steward.discord")

NO_TOKEN = (
    "steward: error: DISCORD_TOKEN is not set. Copy your bot's token from the Discord "
    "developer portal (your application → Bot → Reset Token) and run: "
    "DISCORD_TOKEN=... steward bot"
)
REJECTED_TOKEN = (
    "steward: error: Discord rejected DISCORD_TOKEN (401 Unauthorized). Reset the token in "
    "the developer portal (your application → Bot → Reset Token) and set DISCORD_TOKEN to "
    "the new one."
)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


async def serve(bot: StewardBot, token: str) -> None:
    """Log in, connect, and run until the bot is closed (SIGTERM and Ctrl-C close it)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM,):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    async with bot:
        await bot.start(token)


def run_bot(steward: Steward, settings: DiscordSection, sync: str | None) -> int:
    """Run the bot with config.toml's ``[discord]`` ``settings``; ``sync`` is None, "global"
    or a guild id (sync the commands first)."""
    token = discord_token()
    if token is None:
        return _fail(NO_TOKEN)
    if sync is not None and sync != "global" and not sync.isdigit():
        return _fail(f"steward: error: --sync takes a server (guild) id or nothing, not {sync!r}")
    if settings.api_base:
        discord.http.Route.BASE = settings.api_base.rstrip("/")
    bot = StewardBot(steward, settings, sync=sync)
    log.info("starting Steward's Discord bot (data: %s)", steward.data_dir)
    try:
        asyncio.run(serve(bot, token))
    except discord.LoginFailure:
        return _fail(REJECTED_TOKEN)
    except discord.PrivilegedIntentsRequired:  # only with [discord] message_content = true
        return _fail("steward: error: Discord refused the Message Content intent; turn it on "
                     "in the developer portal (Bot → Privileged Gateway Intents) or set "
                     "[discord] message_content = false.")
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound, OSError) as err:
        return _fail(f"steward: error: cannot reach Discord ({type(err).__name__}: {err}); "
                     "check the network and try again.")
    except discord.HTTPException as err:
        return _fail(f"steward: error: Discord answered {err.status}: {err.text or err}")
    except KeyboardInterrupt:
        pass
    log.info("Steward's Discord bot stopped", extra=CONSOLE)
    return 0


def doctor_checks(config: Config) -> list[Check]:
    """`steward doctor`'s Discord checks (the CLI reaches Discord only through this module)."""
    from bot.discord.doctor_checks import discord_checks

    return discord_checks(config)
