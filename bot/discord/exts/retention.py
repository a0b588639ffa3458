"""``[logging] query_retention_days``: logged questions older than that are erased at start
(``Steward`` does it when it opens the store) and then once a day while the bot runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from discord.ext import commands

from bot.discord.client import StewardBot

log = logging.getLogger("steward.discord")

DAY_S = 24 * 3600.0


class Retention(commands.Cog):
    def __init__(self, bot: StewardBot, period_s: float = DAY_S) -> None:
        self.bot = bot
        self.period_s = period_s
        self.task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.task = asyncio.create_task(self._daily(), name="steward-retention")

    async def cog_unload(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _daily(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            erased = await self.bot.run_io(self.bot.steward.expire_logged_questions)
            if erased:
                log.info("erased %d logged questions older than [logging] "
                         "query_retention_days", erased)


async def setup(bot: StewardBot) -> None:
    await bot.add_cog(Retention(bot))
