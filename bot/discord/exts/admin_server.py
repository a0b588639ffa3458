"""``/admin channel-defaults`` and ``/admin answer-here``: how Steward behaves in one channel
of a union's server, and the lines ``/admin stats`` shows about them.

A mixin of the ``/admin`` group (see ``admin_mixins`` in admin.py): every subcommand here is
behind the same admin check, and everything it says is ephemeral.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.answer_here import AnswerHere
from bot.app import FilterError
from bot.channel_defaults import ChannelDefaults
from bot.discord.checks import admin_only
from bot.discord.errors import NO_PINGS, UserError
from bot.discord.options import language_choices, publication_choices, tag_choices
from bot.discord.text import escape, fit
from bot.discord.translate import command_text, lang_of
from bot.i18n import translate

if TYPE_CHECKING:
    from bot.discord.client import StewardBot

DefaultsChannel = discord.TextChannel | discord.ForumChannel | discord.CategoryChannel
AnswerChannel = discord.TextChannel | discord.ForumChannel
LIST_MAX = 1024  # a field's value


def defaults_line(defaults: ChannelDefaults) -> str:
    """``tag amazon, since 2023-01-01`` (option names as members type them)."""
    return ", ".join(f"{name} {escape(value)}" for name, value in defaults.values().items())


def answered_tag(forum: discord.ForumChannel, name: str) -> discord.ForumTag | None:
    """The forum's tag called ``name`` (any case), if it has one."""
    wanted = name.strip().casefold()
    return next((t for t in forum.available_tags if t.name.casefold() == wanted), None) \
        if wanted else None


def answer_target(interaction: discord.Interaction, channel: AnswerChannel | None
                  ) -> discord.abc.GuildChannel | discord.Thread | None:
    """The channel /admin answer-here means: the one named, else the one it was used in (in
    a forum post, the forum: a slash command cannot be used in the forum itself)."""
    if channel is not None:
        return channel
    here = interaction.channel
    if isinstance(here, discord.Thread) and isinstance(here.parent, discord.ForumChannel):
        return here.parent
    return here  # type: ignore[return-value]


class AdminCommands:
    bot: StewardBot

    # -- /admin channel-defaults ----------------------------------------------------------------

    @app_commands.command(name="channel-defaults",
                          description=command_text("admin_channel_defaults"))
    @app_commands.describe(
        channel=command_text("channel_defaults_channel"),
        publication=command_text("channel_defaults_publication"),
        tag=command_text("channel_defaults_tag"),
        language=command_text("channel_defaults_language"),
        since=command_text("channel_defaults_since"),
        until=command_text("channel_defaults_until"),
        clear=command_text("channel_defaults_clear"),
    )
    @app_commands.autocomplete(publication=publication_choices, tag=tag_choices,
                               language=language_choices)
    @admin_only()
    async def channel_defaults(
        self,
        interaction: discord.Interaction,
        channel: DefaultsChannel | None = None,
        publication: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        since: str | None = None,
        until: str | None = None,
        clear: bool = False,
    ) -> None:
        lang = lang_of(interaction)
        target = channel or interaction.channel
        if target is None or interaction.guild is None:
            raise UserError(key="server.no_channel")
        where = f"<#{target.id}>"
        steward = self.bot.steward
        if clear:
            had = await self.bot.run_io(steward.clear_channel_defaults, target.id)
            key = "server.defaults_cleared" if had else "server.defaults_none"
            await self._say(interaction, translate(key, lang, channel=where))
            return
        chosen = {"publication": publication, "tag": tag, "language": language,
                  "since": since, "until": until}
        if not any(chosen.values()):
            found = await self.bot.run_io(steward.channel_defaults, [target.id])
            said = (translate("server.defaults_are", lang, channel=where,
                              defaults=defaults_line(found)) if found
                    else translate("server.defaults_none", lang, channel=where))
            await self._say(interaction, said)
            return
        try:
            saved = await self.bot.run_io(
                lambda: steward.set_channel_defaults(target.id, interaction.guild_id or 0,
                                                     **chosen))
        except FilterError as err:
            raise UserError(str(err)) from err
        await self._say(interaction, translate("server.defaults_set", lang, channel=where,
                                               defaults=defaults_line(saved)))

    # -- /admin answer-here -----------------------------------------------------------------------

    @app_commands.command(name="answer-here", description=command_text("admin_answer_here"))
    @app_commands.describe(off=command_text("answer_here_off"),
                           channel=command_text("answer_here_channel"))
    @admin_only()
    async def answer_here(
        self, interaction: discord.Interaction, off: bool = False,
        channel: AnswerChannel | None = None,
    ) -> None:
        lang = lang_of(interaction)
        target = answer_target(interaction, channel)
        if target is None or interaction.guild is None:
            raise UserError(key="server.no_channel")
        where = f"<#{target.id}>"
        steward = self.bot.steward
        if off:
            was = await self.bot.run_io(steward.clear_answer_here, target.id)
            key = "server.answer_here_off" if was else "server.answer_here_was_off"
            await self._say(interaction, translate(key, lang, channel=where))
            return
        reads_content = self.bot.intents.message_content
        if isinstance(target, discord.ForumChannel):
            await self.bot.run_io(steward.set_answer_here, target.id, target.guild.id, "forum")
            lines = [translate("server.answer_here_forum", lang, channel=where)]
            if not reads_content:
                lines.append(translate("server.title_only", lang))
            tag = self.bot.settings.answered_tag
            if tag and answered_tag(target, tag) is None:
                lines.append(translate("server.no_answered_tag", lang, tag=tag))
            await self._say(interaction, "\n".join(lines))
            return
        if not isinstance(target, discord.TextChannel):
            raise UserError(key="server.answer_here_kind")
        if not reads_content:
            # Without the intent every message here arrives blank: refuse rather than
            # answer nothing (or worse, answer blank questions).
            raise UserError(key="server.needs_message_content", channel=where)
        await self.bot.run_io(steward.set_answer_here, target.id, target.guild.id, "text")
        await self._say(interaction, translate("server.answer_here_text", lang, channel=where))

    async def _say(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)

    # -- /admin stats ------------------------------------------------------------------------------

    async def add_server_stats(self, interaction: discord.Interaction,
                               embed: discord.Embed) -> discord.Embed:
        """This server's channel defaults and answer-here channels, as fields of ``embed``."""
        guild_id = interaction.guild_id
        if guild_id is None:
            return embed
        lang = lang_of(interaction)
        steward = self.bot.steward
        defaults: list[ChannelDefaults] = await self.bot.run_io(steward.guild_channel_defaults,
                                                                guild_id)
        answering: list[AnswerHere] = await self.bot.run_io(steward.guild_answer_here, guild_id)
        lines = [f"<#{d.channel_id}>: {defaults_line(d)}" for d in defaults]
        embed.add_field(name=translate("server.stats_defaults", lang),
                        value=fit("\n".join(lines) or translate("server.stats_none", lang),
                                  LIST_MAX, escaped=False), inline=False)
        where = [f"<#{a.channel_id}> ({translate(f'server.kind_{a.kind}', lang)})"
                 for a in answering]
        embed.add_field(name=translate("server.stats_answer_here", lang),
                        value=fit("\n".join(where) or translate("server.stats_none", lang),
                                  LIST_MAX, escaped=False), inline=False)
        return embed
