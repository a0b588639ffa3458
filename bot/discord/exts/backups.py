"""Scheduled backups from the running bot ([backup] every, keep, dir; off by default).

Each backup runs in a thread of its own (never in the question or admin workers, so a long
copy delays no answer and no /admin add), and the next one is due ``every`` after the newest
backup in ``dir``, so a restart does not put backups off. A failed backup is logged and
counted (steward_backups{outcome="failed"}) and tried again at the next period; it never
stops the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from discord.ext import commands

from bot import metrics
from bot.backup import BackupSettings, backups_in, parse_every
from bot.discord.client import StewardBot
from bot.logs import CONSOLE

log = logging.getLogger("steward.discord")

RETRY_S = 600.0  # after a failure, try again this soon if the period is longer


def newest_backup_at(folder: Path) -> dt.datetime | None:
    """When the newest backup in ``folder`` was taken (from its name), or None."""
    found = backups_in(folder)
    if not found:
        return None
    stamp = found[-1].name.removeprefix("steward-")[:16]
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def seconds_until_due(settings: BackupSettings, period: float, now: dt.datetime) -> float:
    last = newest_backup_at(Path(settings.dir))
    if last is None:
        return 0.0
    return max(0.0, period - (now - last).total_seconds())


class Backups(commands.Cog):
    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot
        self.settings = bot.steward.backup_settings()
        self.period = parse_every(self.settings.every)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="steward-backup")
        self.task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        if self.period is None:
            return
        log.info("backups every %s into %s (keeping %d)", self.settings.every, self.settings.dir,
                 self.settings.keep, extra=CONSOLE)
        self.task = asyncio.create_task(self._schedule(self.period), name="steward-backups")

    async def cog_unload(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def _schedule(self, period: float) -> None:
        await self.bot.wait_until_ready()
        loop = asyncio.get_running_loop()
        while True:
            wait = await loop.run_in_executor(
                self.pool, seconds_until_due, self.settings, period, dt.datetime.now(dt.UTC))
            await asyncio.sleep(wait)
            ok = await loop.run_in_executor(self.pool, self.take)
            if not ok:
                await asyncio.sleep(min(period, RETRY_S))

    def take(self) -> bool:
        """One backup (in the backup thread); whether it worked."""
        try:
            report = self.bot.steward.backup(Path(self.settings.dir), keep=self.settings.keep)
        except Exception as err:  # a full disk, a damaged store: logged, the bot serves on
            metrics.run_finished(metrics.BACKUPS, False)
            log.error("scheduled backup failed: %s", err)
            return False
        metrics.run_finished(metrics.BACKUPS, True)
        log.info("backup written to %s (%d documents, generation %s, %.1f s)%s", report.path,
                 report.documents, report.generation, report.seconds,
                 f"; removed {len(report.removed)} older" if report.removed else "")
        return True


async def setup(bot: StewardBot) -> None:
    await bot.add_cog(Backups(bot))
