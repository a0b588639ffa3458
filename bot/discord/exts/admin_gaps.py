"""``/admin gaps [days]``: what members asked that the bulletins don't answer.

A mixin of the ``/admin`` group (see ``admin_mixins`` in admin.py): behind the same admin
check, and private (ephemeral) — with query logging on the report holds members' questions.
The message shows as much of the report as fits; the whole of it and the CSV are attached.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.discord.checks import admin_only
from bot.discord.errors import NO_PINGS, UserError
from bot.discord.text import escape
from bot.discord.translate import command_text, lang_of
from bot.gaps import gaps_report, report_lines
from bot.i18n import translate

if TYPE_CHECKING:
    from bot.discord.client import StewardBot

MESSAGE_MAX = 2000


def fit_lines(lines: list[str], limit: int, more: str) -> str:
    """As many whole escaped lines as fit in ``limit`` chars, then ``more`` if some did not."""
    out: list[str] = []
    used = len(more) + 1
    for line in lines:
        line = escape(line)
        if used + len(line) + 1 > limit:
            return "\n".join([*out, more])
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


class AdminCommands:
    bot: StewardBot

    @app_commands.command(name="gaps", description=command_text("admin_gaps"))
    @app_commands.describe(days=command_text("gaps_days"))
    @admin_only()
    async def gaps(self, interaction: discord.Interaction,
                   days: app_commands.Range[int, 1, 3650] = 30) -> None:
        lang = lang_of(interaction)
        if not 1 <= days <= 3650:  # Discord enforces the range; a replayed payload may not
            raise UserError(key="gaps.bad_days")
        await interaction.response.defer(ephemeral=True, thinking=True)
        # With query logging on the report encodes the logged questions: the admin worker.
        report = await self.bot.run_admin(gaps_report, self.bot.steward, days)
        lines = report_lines(report, lang)
        full = "\n".join(lines) + "\n"
        files = [discord.File(io.BytesIO(full.encode()), filename="steward-gaps.txt"),
                 discord.File(io.BytesIO(report.to_csv().encode()), filename="steward-gaps.csv")]
        await interaction.followup.send(
            fit_lines(lines, MESSAGE_MAX, translate("gaps.attached", lang)),
            files=files, ephemeral=True, allowed_mentions=NO_PINGS)
