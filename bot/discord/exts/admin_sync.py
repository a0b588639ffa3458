"""``/admin follow``, ``/admin unfollow``, ``/admin sources`` and ``/admin sync``: followed
sources (issue 14) from Discord, on top of :mod:`bot.sync`.

A mixin of the ``/admin`` group (see ``admin_mixins`` in admin.py): behind the same admin
check, and everything it says is ephemeral. Only http(s) addresses can be followed from
Discord: a server's admins are not the host's owner, so a folder on the host is for the CLI.
A pass runs on the admin worker thread, never blocking answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import discord
from discord import app_commands

from bot.discord.checks import admin_only
from bot.discord.errors import NO_PINGS, UserError
from bot.discord.exts.admin_gaps import fit_lines
from bot.discord.text import escape, flatten
from bot.discord.translate import command_text, lang_of
from bot.i18n import translate
from bot.sync import FollowedSource, SyncError, SyncOutcome

if TYPE_CHECKING:
    from bot.discord.client import StewardBot

MESSAGE_MAX = 2000


def source_line(source: FollowedSource, lang: str) -> str:
    """One followed source as ``/admin sources`` lists it."""
    line = translate("sync.source_line", lang, id=source.id, url=escape(source.url),
                     kind=source.kind, every=source.every, documents=source.documents,
                     checked=(source.last_check or "—")[:16].replace("T", " "))
    if source.last_error:
        line += " " + translate("sync.source_error", lang, error=escape(flatten(source.last_error)))
    return line


def outcome_line(outcome: SyncOutcome, lang: str) -> str:
    """What one source's pass did, in the admin's language."""
    line = translate("sync.outcome", lang, url=escape(outcome.source.url),
                     added=len(outcome.added), changed=len(outcome.changed),
                     removed=len(outcome.removed), unchanged=outcome.unchanged)
    if outcome.error:
        line += " " + translate("sync.source_error", lang, error=escape(flatten(outcome.error)))
    return line


class AdminCommands:
    bot: StewardBot

    @app_commands.command(name="follow", description=command_text("admin_follow"))
    @app_commands.describe(url=command_text("follow_url"), every=command_text("follow_every"),
                           publication=command_text("follow_publication"))
    @admin_only()
    async def follow(self, interaction: discord.Interaction, url: str, every: str | None = None,
                     publication: str | None = None) -> None:
        lang = lang_of(interaction)
        if urlsplit(url.strip()).scheme not in ("http", "https"):
            raise UserError(key="sync.bad_url")
        await interaction.response.defer(ephemeral=True, thinking=True)
        sync = self.bot.steward.sync
        try:  # kind detection fetches the address: the admin thread
            source = await self.bot.run_admin(sync.follow, url.strip(), "auto", every, publication)
        except SyncError as err:
            raise UserError(str(err)) from err
        await self._say_sync(interaction, translate(
            "sync.following", lang, id=source.id, url=escape(source.url), kind=source.kind,
            every=source.every))

    @app_commands.command(name="unfollow", description=command_text("admin_unfollow"))
    @app_commands.describe(source=command_text("unfollow_source"),
                           remove_documents=command_text("unfollow_remove"))
    @admin_only()
    async def unfollow(self, interaction: discord.Interaction, source: str,
                       remove_documents: bool = False) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            gone = await self.bot.run_admin(self.bot.steward.sync.unfollow, source,
                                            remove_documents)
        except SyncError as err:
            raise UserError(str(err)) from err
        key = "sync.unfollowed_removed" if remove_documents else "sync.unfollowed"
        await self._say_sync(interaction, translate(key, lang_of(interaction),
                                                    url=escape(gone.url), documents=gone.documents))

    @app_commands.command(name="sources", description=command_text("admin_sources"))
    @admin_only()
    async def sources(self, interaction: discord.Interaction) -> None:
        lang = lang_of(interaction)
        found = await self.bot.run_io(lambda: self.bot.steward.sync.sources())
        if not found:
            await self._say_sync(interaction, translate("sync.no_sources", lang))
            return
        lines = [source_line(s, lang) for s in found]
        await self._say_sync(interaction, fit_lines(lines, MESSAGE_MAX,
                                                    translate("sync.more", lang)), escaped=True)

    @app_commands.command(name="sync", description=command_text("admin_sync"))
    @app_commands.describe(source=command_text("sync_source"))
    @admin_only()
    async def sync(self, interaction: discord.Interaction, source: str | None = None) -> None:
        lang = lang_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        sync = self.bot.steward.sync
        if source is not None and await self.bot.run_io(sync.get, source) is None:
            raise UserError(key="sync.unknown_source", source=escape(source))
        outcomes = await self.bot.run_admin(sync.run, source)
        if not outcomes:
            await self._say_sync(interaction, translate("sync.no_sources", lang))
            return
        lines = [outcome_line(o, lang) for o in outcomes]
        await self._say_sync(interaction, fit_lines(lines, MESSAGE_MAX,
                                                    translate("sync.more", lang)), escaped=True)

    async def _say_sync(self, interaction: discord.Interaction, said: str,
                        escaped: bool = False) -> None:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=said[:MESSAGE_MAX],
                                                     allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(said[:MESSAGE_MAX], ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
