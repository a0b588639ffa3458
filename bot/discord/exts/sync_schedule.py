"""The running bot syncs its followed sources by itself (``[sync] schedule``, issue 14).

About once a minute (with jitter, so several bots don't ask a site at the same second) it
picks the sources that are due and runs them one at a time on a worker thread, so answers are
never blocked. An error is logged and the next pass goes on; the bot never stops for one.
With ``[sync] announce_channel`` set, each document a pass added is announced there, without
pinging anyone, several to a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.discord.errors import NO_PINGS
from bot.discord.text import escape, flatten
from bot.i18n import translate

if TYPE_CHECKING:
    from bot.discord.client import StewardBot

log = logging.getLogger(__name__)
TICK_S = 60.0
JITTER_S = 15.0
MESSAGE_MAX = 2000


def announcement_lines(steward: object, doc_ids: list[str], titles: dict[str, str]) -> list[str]:
    """``New in the bulletins: *title* — publication, date`` for each document."""
    lines = []
    for doc_id in doc_ids:
        info = steward.document_info(doc_id)  # type: ignore[attr-defined]
        title = escape(flatten(titles.get(doc_id) or (info.title if info else doc_id)))
        where = ", ".join(x for x in ((info.publication if info else None),
                                      (info.date.isoformat() if info and info.date else None)) if x)
        lines.append(translate("sync.announce", "en", title=title, where=escape(flatten(where)))
                     if where else translate("sync.announce_bare", "en", title=title))
    return lines


def batches(lines: list[str], limit: int = MESSAGE_MAX) -> list[str]:
    """Whole lines packed into as few messages as fit."""
    out: list[str] = []
    for line in lines:
        line = line[:limit]
        if out and len(out[-1]) + 1 + len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line)
    return out


class SyncSchedule(commands.Cog):
    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot
        self.wake = asyncio.Event()  # set: a pass now, without waiting for the minute
        self.passes = 0
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        if self.bot.steward.sync_schedule()[0]:
            self._task = asyncio.create_task(self._loop(), name="steward-sync-schedule")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        await self.bot.wait_until_ready()
        while not self.bot.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), TICK_S + random.uniform(0, JITTER_S))
            self.wake.clear()
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad pass end the schedule
                log.exception("scheduled sync failed")
            self.passes += 1

    async def run_due(self) -> None:
        """Each due source, one at a time, off the event loop; then the announcements."""
        sync = self.bot.steward.sync
        due = await asyncio.to_thread(sync.due)
        for source in due:
            try:
                outcomes = await asyncio.to_thread(sync.run, str(source.id), False, True)
            except Exception:
                log.exception("scheduled sync of %s failed", source.url)
                continue
            for outcome in outcomes:
                if outcome.error:
                    log.warning("scheduled sync: %s", outcome.summary())
                else:
                    log.info("scheduled sync: %s", outcome.summary())
                if outcome.added:
                    await self.announce(outcome.added, outcome.titles)

    async def announce(self, doc_ids: list[str], titles: dict[str, str]) -> None:
        channel_id = self.bot.steward.sync_schedule()[1]
        if not channel_id:
            return
        lines = await asyncio.to_thread(announcement_lines, self.bot.steward, doc_ids, titles)
        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            for text in batches(lines):
                await channel.send(text, allowed_mentions=NO_PINGS)  # type: ignore[union-attr]
        except (discord.HTTPException, AttributeError) as err:
            log.warning("could not announce new documents in channel %s: %s", channel_id, err)


async def setup(bot: StewardBot) -> None:
    await bot.add_cog(SyncSchedule(bot))
