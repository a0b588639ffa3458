"""``/admin add|reindex|remove|stats`` for Steward's admins, and the owner's ``@Steward sync``.

Every admin subcommand is guarded by a real check (``checks.admin_only`` and the group's
``interaction_check``); ``default_permissions`` only hides the group from members in
Discord's UI. Admin output is ephemeral. Ingest and reindex run on the admin thread, off
the event loop, and report progress by editing the admin's (private) message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import logging
import os
import pkgutil
import tempfile
import time
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.app import FilterError, IngestReport, parse_date
from bot.discord import embeds, text
from bot.discord.checks import admin_only, interaction_is_admin, require_admin
from bot.discord.client import StewardBot, sync_commands
from bot.discord.errors import NO_PINGS, UserError
from bot.discord.options import document_choices
from bot.discord.translate import command_text, lang_of
from bot.i18n import translate
from corpus.readers import FORMAT_BY_SUFFIX

log = logging.getLogger("steward.discord")

EDIT_EVERY_S = 2.0  # progress edits at most this often (webhook edits are rate limited)
TICK_S = 5.0  # jobs without progress of their own show elapsed time this often
CHUNK = 64 * 1024

# What an attachment's content type says when its name has no usable extension.
EXTENSION_BY_TYPE = {
    "application/pdf": ".pdf",
    "text/html": ".html",
    "text/markdown": ".md",
    "text/plain": ".txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}


# -- uploads ----------------------------------------------------------------------------------


def upload_extension(filename: str, content_type: str | None) -> str | None:
    """The extension to save an upload with: the original one only if Steward reads it, else
    one implied by the content type; None when the file is of a kind Steward cannot read."""
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    if suffix in FORMAT_BY_SUFFIX:
        return suffix
    kind = (content_type or "").split(";")[0].strip().lower()
    return EXTENSION_BY_TYPE.get(kind)


def save_upload(uploads: Path, data: bytes, extension: str) -> Path:
    """Write ``data`` under a generated name inside ``uploads``; nothing from the member's
    file name is used but a whitelisted extension, so no name can escape the folder.

    The name is the content's hash, so uploading the same file twice is the same document.
    """
    if extension not in FORMAT_BY_SUFFIX:
        raise ValueError(f"not a supported extension: {extension!r}")
    uploads.mkdir(parents=True, exist_ok=True)
    path = uploads / f"upload-{hashlib.sha256(data).hexdigest()[:16]}{extension}"
    fd, tmp = tempfile.mkstemp(dir=uploads, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


async def download(session: aiohttp.ClientSession, url: str, limit: int,
                   timeout_s: float) -> bytes:
    """The bytes at ``url``, refusing more than ``limit`` (checked while streaming)."""
    data = bytearray()
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            if resp.status != 200:
                raise UserError(key="admin.download_status", status=resp.status)
            async for chunk in resp.content.iter_chunked(CHUNK):
                data += chunk
                if len(data) > limit:
                    raise UserError(key="admin.download_over", limit=f"{limit / 1024 / 1024:.0f}")
    except (aiohttp.ClientError, TimeoutError) as err:
        raise UserError(key="admin.download_error", error=type(err).__name__) from err
    return bytes(data)


# -- progress -------------------------------------------------------------------------------


class Progress:
    """A long job's progress, shown by editing the admin's deferred (ephemeral) response.

    Worker threads call :meth:`from_thread`; edits are coalesced to one per EDIT_EVERY_S.
    The frame is in the admin's language; the steps the service reports stay as it says them.
    """

    def __init__(self, interaction: discord.Interaction, what: str, lang: str = "en") -> None:
        self.interaction = interaction
        self.what = what
        self.lang = lang
        self.loop = asyncio.get_running_loop()
        self.started = time.monotonic()
        self.latest = translate("admin.starting", lang)
        self._last_edit = 0.0
        self._pending: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.edits = 0

    def from_thread(self, message: str) -> None:
        self.loop.call_soon_threadsafe(self.update, message)

    def update(self, message: str) -> None:
        self.latest = message
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._flush())

    def start_ticker(self) -> None:
        async def tick() -> None:
            while True:
                await asyncio.sleep(TICK_S)
                self.update(self.latest)

        self._ticker = asyncio.create_task(tick())

    async def _flush(self) -> None:
        wait = EDIT_EVERY_S - (time.monotonic() - self._last_edit)
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_edit = time.monotonic()
        elapsed = time.monotonic() - self.started
        try:
            await self.interaction.edit_original_response(
                content=text.plain(translate("admin.progress", self.lang, what=self.what,
                                             status=self.latest, seconds=f"{elapsed:.0f}")),
                allowed_mentions=NO_PINGS)
            self.edits += 1
        except discord.HTTPException as err:  # e.g. the 15-minute token ran out
            log.warning("progress edit failed: %s", err)

    async def stop(self) -> None:
        """No more progress edits (before the final message, or an error message)."""
        for task in (self._ticker, self._pending):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def finish(self, content: str | None = None, embed: discord.Embed | None = None) -> None:
        await self.stop()
        await self.interaction.edit_original_response(
            content=text.plain(content) if content else None, embed=embed,
            allowed_mentions=NO_PINGS)


def ingest_message(report: IngestReport, what: str, lang: str = "en") -> str:
    """What an admin reads after /admin add (the readers' reasons stay as they say them)."""
    lines: list[str] = []
    done = report.added + report.updated
    for doc_id in done:
        key = "admin.added" if doc_id in report.added else "admin.updated"
        title = text.escape(text.flatten(report.titles.get(doc_id, doc_id)))
        lines.append(translate(key, lang, title=title, doc_id=doc_id))
    for doc_id in report.unchanged:
        title = text.escape(text.flatten(report.titles.get(doc_id, doc_id)))
        lines.append(translate("admin.unchanged", lang, title=title))
    for err in report.failed + report.skipped:
        lines.append(translate("admin.failed", lang, reason=text.escape(err.reason)))
    if done:
        encoded = report.sync.encoded if report.sync else 0
        lines.append(translate("admin.live", lang, passages=report.passages, encoded=encoded))
    if not lines:
        lines.append(translate("admin.nothing", lang, what=what))
    return "\n".join(lines)


# -- the commands ---------------------------------------------------------------------------


def admin_mixins() -> tuple[type, ...]:
    """Features with admin subcommands of their own (followed sources, the server's
    settings...) define them in a class ``AdminCommands`` in ``bot/discord/exts/admin_*.py``;
    Admin inherits them all, so every subcommand sits in the one /admin group behind the same
    check."""
    import bot.discord.exts as exts

    names = sorted(m.name for m in pkgutil.iter_modules(exts.__path__) if m.name.startswith("admin_"))
    return tuple(importlib.import_module(f"bot.discord.exts.{name}").AdminCommands for name in names)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(*admin_mixins(), commands.GroupCog, group_name="admin", group_description=command_text("admin")):
    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Runs before every /admin subcommand, whatever Discord's UI let through.
        return require_admin(interaction)

    @app_commands.command(name="add", description=command_text("admin_add"))
    @app_commands.describe(
        file=command_text("add_file"),
        url=command_text("add_url"),
        title=command_text("add_title"),
        date=command_text("add_date"),
        publication=command_text("add_publication"),
    )
    @admin_only()
    async def add(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None = None,
        url: str | None = None,
        title: str | None = None,
        date: str | None = None,
        publication: str | None = None,
    ) -> None:
        if (file is None) == (url is None):
            raise UserError(key="admin.one_source")
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise UserError(key="admin.bad_url")
        overrides: dict[str, object] = {}
        try:
            if date:
                overrides["date"] = parse_date(date, "date")
        except FilterError as err:
            raise UserError(str(err)) from err
        if title:
            overrides["title"] = title.strip()
        if publication:
            overrides["publication"] = publication.strip()
        extension = self._check_attachment(file) if file is not None else None
        await interaction.response.defer(ephemeral=True, thinking=True)
        lang = lang_of(interaction)
        what = text.fit(text.flatten(file.filename if file is not None else url or ""), 200)
        progress = Progress(interaction, translate("admin.adding", lang, what=what), lang)
        started = time.perf_counter()
        try:
            if file is not None and extension is not None:
                source = str(await self._save_attachment(file, extension, progress))
            else:
                source = url or ""
            report = await self.bot.run_admin(self.bot.steward.ingest, [source],
                                              overrides or None, on_progress=progress.from_thread)
        finally:
            await progress.stop()  # an error message must not be overwritten by progress
        log.info("admin %s added %s: %s in %.1f s", interaction.user.id,
                 "an attachment" if file else "a URL", report.summary(),
                 time.perf_counter() - started)
        await progress.finish(ingest_message(report, what, lang))

    def _check_attachment(self, file: discord.Attachment) -> str:
        """The extension to save it with; refuses (before any download) what Steward cannot
        read or what is too big."""
        extension = upload_extension(file.filename, file.content_type)
        if extension is None:
            raise UserError(key="admin.unreadable")
        limit = self.bot.steward.reader_settings().max_file_bytes
        if file.size > limit:
            raise UserError(key="admin.too_big", size=f"{file.size / 1024 / 1024:.1f}",
                            limit=f"{limit / 1024 / 1024:.0f}")
        return extension

    async def _save_attachment(self, file: discord.Attachment, extension: str,
                               progress: Progress) -> Path:
        reader = self.bot.steward.reader_settings()
        progress.update(translate("admin.downloading", progress.lang,
                                  size=f"{file.size / 1024:.0f}"))
        assert self.bot.http_session is not None
        data = await download(self.bot.http_session, file.url, reader.max_file_bytes,
                              reader.read_timeout_s)
        uploads = self.bot.steward.data_dir / "uploads"
        return await self.bot.run_io(save_upload, uploads, data, extension)

    @app_commands.command(name="reindex", description=command_text("admin_reindex"))
    @admin_only()
    async def reindex(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        lang = lang_of(interaction)
        progress = Progress(interaction, translate("admin.reembedding", lang), lang)
        progress.update(translate("admin.working", lang))
        progress.start_ticker()
        try:
            report = await self.bot.run_admin(self.bot.steward.reindex)
        finally:
            await progress.stop()
        log.info("admin %s reindexed: %d passages into generation %s in %.1f s",
                 interaction.user.id, report.encoded, report.generation, report.seconds)
        await progress.finish(translate("admin.reindexed", lang, passages=report.encoded,
                                        generation=report.generation,
                                        seconds=f"{report.seconds:.0f}"))

    @app_commands.command(name="remove", description=command_text("admin_remove"))
    @app_commands.describe(document=command_text("remove_document"))
    @admin_only()
    async def remove(self, interaction: discord.Interaction, document: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        info = await self.bot.run_io(self.bot.steward.document_info, document)
        if info is None:
            raise UserError(key="admin.no_such_document")
        report = await self.bot.run_admin(self.bot.steward.remove, document)
        if report is None:
            raise UserError(key="admin.already_removed")
        log.info("admin %s removed %s", interaction.user.id, document)
        title = text.escape(text.flatten(info.title))
        await interaction.edit_original_response(
            content=text.plain(translate("admin.removed", lang_of(interaction), title=title,
                                         doc_id=document, passages=report.removed)),
            allowed_mentions=NO_PINGS)

    @remove.autocomplete("document")
    async def _remove_document(self, interaction: discord.Interaction, current: str
                               ) -> list[app_commands.Choice[str]]:
        if not interaction_is_admin(interaction):
            return []  # autocomplete runs no checks; do not list for members
        return await document_choices(self.bot, current)

    @app_commands.command(name="stats", description=command_text("admin_stats"))
    @admin_only()
    async def stats(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await self.bot.run_io(self.bot.steward.stats)
        embed = embeds.stats_embed(stats, lang_of(interaction))
        # This server's channel defaults and answer-here channels (admin_server.py).
        embed = await self.add_server_stats(interaction, embed)
        await interaction.edit_original_response(embed=embed, allowed_mentions=NO_PINGS)


class Owner(commands.Cog):
    """Text commands for the bot's owner (the application's owner in the developer portal)."""

    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot

    async def cog_check(self, ctx: commands.Context) -> bool:  # type: ignore[override]
        return await self.bot.is_owner(ctx.author)

    @commands.command(name="sync")
    async def sync(self, ctx: commands.Context, scope: str = "global") -> None:
        """``@Steward sync`` (global), ``sync here`` (this server, instant), ``sync GUILD_ID``,
        ``sync clear`` (remove this server's copies)."""
        guild_id = ctx.guild.id if ctx.guild else None
        if scope == "here":
            if guild_id is None:
                raise commands.BadArgument("`sync here` works in a server")
            scope = str(guild_id)
        if scope not in ("global", "clear") and not scope.isdigit():
            raise commands.BadArgument("say `sync`, `sync here`, `sync clear` or `sync GUILD_ID`")
        message = await sync_commands(self.bot, scope, guild_id)
        await ctx.reply(message, mention_author=False, allowed_mentions=NO_PINGS)


async def setup(bot: StewardBot) -> None:
    await bot.add_cog(Admin(bot))
    await bot.add_cog(Owner(bot))
