"""The bot: a ``commands.Bot`` whose ``setup_hook`` loads the command extensions
(RoboDanny-style), loads the index before connecting, and syncs commands only when asked.

Everything that blocks (model inference, SQLite, file IO, ingest) runs in thread pools so
the event loop is always free to acknowledge the next interaction within Discord's 3 s:
questions in a small pool of their own, admin work (ingest, reindex, remove) in a separate
single thread so a big PDF never stalls anyone's question.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.answer import Answer, Quote
from bot.app import Steward
from bot.config import DiscordSection
from bot.discord import errors
from bot.discord.checks import QuestionLimiter
from bot.discord.health import HealthServer, start_health
from bot.discord.translate import StewardTranslator, lang_of
from bot.discord.views import CUSTOM_ID_PREFIX
from bot.i18n import translate
from bot.logs import CONSOLE
from corpus.store import Filters

SOURCES_PER_QUESTION = 3  # "Show source" clicks allowed per question in the cooldown window

log = logging.getLogger("steward.discord")

T = TypeVar("T")

EXTENSIONS = ("bot.discord.exts.ask", "bot.discord.exts.lookup", "bot.discord.exts.admin",
              "bot.discord.exts.forum", "bot.discord.exts.backups", "bot.discord.exts.retention",
              "bot.discord.exts.bulletin_menu", "bot.discord.exts.sync_schedule")

# What the bot asks Discord to send. No privileged intent: mentions and DMs carry their
# text without message_content, and interactions carry everything else.
INTENTS = discord.Intents(guilds=True, guild_messages=True, dm_messages=True)


def intents_for(settings: DiscordSection) -> discord.Intents:
    """INTENTS, plus the privileged Message Content intent when the admins opted in
    (``[discord] message_content``): /admin answer-here reads posts and messages that do
    not mention Steward."""
    intents = discord.Intents(**dict(INTENTS))
    intents.message_content = settings.message_content
    return intents


# The invite's bot permissions: read and answer in channels and threads, with embeds;
# Read Message History is what lets a reply point at the question it answers.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    read_message_history=True,
)
INVITE_SCOPES = ("bot", "applications.commands")


# discord.py logs request bodies and gateway events at DEBUG, and those hold questions and
# answers; they stay out of the logs unless the admins turned query logging on.
PAYLOAD_LOGGERS = ("discord.http", "discord.gateway", "discord.webhook.async_", "discord.state")


def quiet_payload_logs(query_logging: bool) -> None:
    if query_logging:
        return
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        # Even when the root logger is at DEBUG (set now or later): DEBUG here is payloads.
        logger.setLevel(max(logger.level, logging.INFO))


class _NoVoiceWarnings(logging.Filter):
    """Steward never joins voice, so discord.py's "PyNaCl is not installed" is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


logging.getLogger("discord.client").addFilter(_NoVoiceWarnings())


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS,
                                   scopes=INVITE_SCOPES)


class StewardTree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await errors.on_app_command_error(interaction, error)


class StewardBot(commands.Bot):
    def __init__(self, steward: Steward, settings: DiscordSection, *, sync: str | None = None,
                 **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,  # the owner's text commands: "@Steward sync"
            intents=intents_for(settings),
            allowed_mentions=errors.NO_PINGS,
            help_command=None,
            tree_cls=StewardTree,
            max_messages=None,  # no message cache: question text is not kept around
            **options,
        )
        self.steward = steward
        self.settings = settings
        quiet_payload_logs(steward.query_logging)
        self.admin_role = self.settings.admin_role
        self.sync_scope = sync
        self.limiter = QuestionLimiter(self.settings.cooldown_rate, self.settings.cooldown_per_s)
        # "Show source" reads whole documents and may send several embeds: cheaper than a
        # question, so a larger budget, but a budget, so a flood of clicks stays bounded.
        self.source_limiter = QuestionLimiter(
            SOURCES_PER_QUESTION * self.settings.cooldown_rate, self.settings.cooldown_per_s
        )
        # custom id -> its live View (see views.py); anything else is expired or forged
        self.live_views: dict[str, discord.ui.View] = {}
        # One question at a time: the model already uses every core for one query, and two
        # at once only fight over them. Questions queue here; acknowledgements never wait.
        self.question_pool = ThreadPoolExecutor(1, thread_name_prefix="steward-ask")
        self.admin_pool = ThreadPoolExecutor(1, thread_name_prefix="steward-admin")
        self.io_pool = ThreadPoolExecutor(2, thread_name_prefix="steward-io")
        self.http_session: aiohttp.ClientSession | None = None
        self.health: HealthServer | None = None  # /healthz and /metrics, when [health] enabled

    # -- running blocking work off the event loop ------------------------------------------

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any,
                   **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))

    async def run_question(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._run(self.question_pool, fn, *args, **kwargs)

    async def run_admin(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._run(self.admin_pool, fn, *args, **kwargs)

    async def run_io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Quick store reads and writes (autocomplete, feedback, lists)."""
        return await self._run(self.io_pool, fn, *args, **kwargs)

    async def ask(
        self, question: str, filters: Filters | None = None, page: int = 0,
        context: str | None = None,
    ) -> Answer:
        return await self.run_question(self.steward.ask, question, filters, page=page,
                                       context=context)

    async def source_contexts(self, quotes: Sequence[Quote], lang: str = "en"
                              ) -> list[tuple[Quote, str]]:
        """Each quote with the paragraphs around it, for "Show source"."""

        def build() -> list[tuple[Quote, str]]:
            entries = []
            for q in quotes:
                context = self.steward.source_context(q.doc_id, q.start, q.end)
                entries.append((q, translate("answer.removed", lang) if context is None
                                else context))
            return entries

        return await self.run_io(build)

    # -- lifecycle ---------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        self.http_session = aiohttp.ClientSession()
        # First: while the index loads, /healthz already answers (503, "no index loaded yet").
        self.health = await start_health(self)
        # Before any sync: the synced payload carries the Spanish descriptions it makes.
        await self.tree.set_translator(StewardTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        started = time.perf_counter()
        generation = await self.run_admin(self._load_index)
        log.info("index generation %s loaded in %.1f s", generation,
                 time.perf_counter() - started, extra=CONSOLE)
        if self.application_id is not None:
            log.info("invite Steward with %s", invite_url(self.application_id), extra=CONSOLE)
        if self.sync_scope:
            await sync_commands(self, self.sync_scope)

    def _load_index(self) -> str | None:
        """First run: ingest the samples; then load the model and the current generation, so
        the first question is quick (later generations are picked up on the next search)."""
        self.steward.ensure_samples(on_progress=lambda line: log.info(line, extra=CONSOLE))
        # The language detector loads its model (~1 s) on first use: here, not on the event
        # loop when the first mention's reply language is chosen.
        i18n.detect("Which language is this question written in, please?")
        return self.steward.warm_up()

    async def on_ready(self) -> None:
        log.info("Steward is online as %s (id %s) in %d servers",
                 self.user, self.user.id if self.user else "?", len(self.guilds), extra=CONSOLE)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self.health is not None:
                await self.health.stop()
            if self.http_session is not None:
                await self.http_session.close()
            for pool in (self.question_pool, self.admin_pool, self.io_pool):
                pool.shutdown(wait=False, cancel_futures=True)

    # -- messages and components -------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return
        mentioned = any(u.id == self.user.id for u in message.mentions) or self._role_mentioned(
            message
        )
        if message.guild is not None and not mentioned:
            return  # without message_content we see no text here anyway
        if mentioned:
            ctx = await self.get_context(message)
            if ctx.command is not None and await self.is_owner(message.author):
                await self.invoke(ctx)
                return
        cog = self.get_cog("Ask")
        if cog is not None:
            await cog.answer_message(message)  # type: ignore[attr-defined]

    def _role_mentioned(self, message: discord.Message) -> bool:
        # "@Steward" sometimes autocompletes to the bot's managed role instead of the bot.
        role = message.guild.self_role if message.guild is not None else None
        return role is not None and role.id in message.raw_role_mentions

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Answer clicks on buttons whose View is gone (restart, timeout, or a crafted id)."""
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = str((interaction.data or {}).get("custom_id", ""))
        view = self.live_views.get(custom_id) if custom_id.startswith(CUSTOM_ID_PREFIX) else None
        if view is not None:
            # discord.py hands a click to a View only on the message it was sent with; a live
            # id replayed on another message reaches no View and is answered here.
            bound = getattr(getattr(view, "message", None), "id", None)
            clicked = interaction.message.id if interaction.message is not None else None
            if bound is None or bound == clicked:
                return  # its View handles it
        if interaction.response.is_done():
            return
        with contextlib.suppress(discord.HTTPException):
            await interaction.response.send_message(
                translate("buttons.expired", lang_of(interaction)), ephemeral=True)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """An event handler raised: logged like a command's error (no message text)."""
        error = sys.exc_info()[1]
        if error is None:
            await super().on_error(event_method, *args, **kwargs)
            return
        errors.log_unexpected(self, error, f"error in {event_method}")

    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        log.error("text command %s failed: %s", ctx.command, error)
        with contextlib.suppress(discord.HTTPException):
            guild = ctx.guild
            lang = (i18n.from_locale(guild.preferred_locale) if guild is not None else None) \
                or i18n.DEFAULT
            await ctx.reply(translate("errors.text_command", lang, problem=error),
                            mention_author=False, allowed_mentions=errors.NO_PINGS)


async def sync_commands(bot: commands.Bot, scope: str, guild_id: int | None = None) -> str:
    """Sync the command tree: ``global`` (production; Discord may take a while to show it),
    a guild id (instant: for testing), or ``clear`` (remove a guild's copies)."""
    if scope == "global":
        synced = await bot.tree.sync()
        where = "globally"
    elif scope == "clear":
        if guild_id is None:
            raise ValueError("say which server to clear")
        guild = discord.Object(guild_id)
        bot.tree.clear_commands(guild=guild)
        synced = await bot.tree.sync(guild=guild)
        where = f"to server {guild_id} (cleared)"
    else:
        guild = discord.Object(int(scope))
        bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
        where = f"to server {scope}"
    message = f"synced {len(synced)} commands {where}"
    log.info(message, extra=CONSOLE)
    return message
