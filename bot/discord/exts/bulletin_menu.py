"""The message context menu **Add to the bulletins** (issue 14): an admin turns a member's
message, with its readable attachments, into a document Steward can quote.

It works without the Message Content intent: an app command's target message carries its
content and attachments. The document's id is derived from the message id, so adding the same
message again updates it instead of making a second copy.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import text
from bot.discord.checks import require_admin
from bot.discord.errors import UserError
from bot.discord.exts.admin import download, ingest_message, save_upload, upload_extension
from bot.discord.translate import lang_of
from bot.i18n import translate
from corpus.errors import ReadError
from corpus.load import load_source

if TYPE_CHECKING:
    from bot.discord.client import StewardBot

log = logging.getLogger(__name__)
MENU = "Add to the bulletins"
TITLE_MAX = 90


def message_doc_id(message: discord.Message) -> str:
    """One id per message: re-adding it replaces the stored copy."""
    return f"discord-{message.guild.id if message.guild else 0}-{message.id}"


def message_title(body: str, author: str) -> str:
    """The message's first line (shortened), else who wrote it."""
    first = next((line.strip(" #*>_-") for line in body.splitlines() if line.strip(" #*>_-")), "")
    return text.fit(first, TITLE_MAX) if first else f"Message from {author}"


def compose(body: str, attachments: list[tuple[str, str]]) -> str:
    """The document's text: the message, then each attachment's text under its name."""
    parts = [body.strip()] if body.strip() else []
    parts += [f"{name}\n\n{content.strip()}" for name, content in attachments if content.strip()]
    return "\n\n".join(parts)


def write_message_text(folder: Path, doc_id: str, content: str) -> Path:
    """Plain text (not Markdown: a message starting with '---' is not front matter)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc_id}.txt"
    path.write_text(content + "\n", encoding="utf-8")
    return path


class BulletinMenu(commands.Cog):
    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=MENU, callback=self.add_message)
        # Real check (a crafted client ignores default_permissions, which only hides it).
        self.menu.add_check(require_admin)
        self.menu.default_permissions = discord.Permissions(manage_guild=True)
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def add_message(self, interaction: discord.Interaction, message: discord.Message
                          ) -> None:
        lang = lang_of(interaction)
        reader = self.bot.steward.reader_settings()
        readable = [a for a in message.attachments
                    if upload_extension(a.filename, a.content_type) and a.size <= reader.max_file_bytes]
        if not message.content.strip() and not readable:
            raise UserError(key="sync.menu_empty")
        await interaction.response.defer(ephemeral=True, thinking=True)
        texts: list[tuple[str, str]] = []
        for attachment in readable:
            texts.append((attachment.filename, await self._attachment_text(attachment)))
        content = compose(message.content, texts)
        if not content:
            raise UserError(key="sync.menu_empty")
        author = getattr(message.author, "display_name", None) or message.author.name
        channel = getattr(message.channel, "name", None) or "Discord"
        doc_id = message_doc_id(message)
        overrides: dict[str, object] = {
            "id": doc_id, "title": message_title(message.content or texts[0][0], author),
            "author": author, "publication": f"#{channel}", "url": message.jump_url,
            "date": message.created_at.astimezone(dt.UTC).date().isoformat(),
        }
        folder = self.bot.steward.data_dir / "uploads" / "messages"
        path = await self.bot.run_io(write_message_text, folder, doc_id, content)
        report = await self.bot.run_admin(self.bot.steward.ingest, [str(path)], overrides)
        log.info("admin %s added message %s: %s", interaction.user.id, message.id,
                 report.summary())
        said = ingest_message(report, message.jump_url, lang)
        if report.added or report.updated or report.unchanged:
            said += "\n" + translate("sync.menu_added", lang, doc_id=doc_id)
        await interaction.edit_original_response(content=text.plain(said))

    async def _attachment_text(self, attachment: discord.Attachment) -> str:
        """An attachment's text as Steward's readers read it ('' if they cannot)."""
        reader = self.bot.steward.reader_settings()
        extension = upload_extension(attachment.filename, attachment.content_type) or ".txt"
        assert self.bot.http_session is not None
        data = await download(self.bot.http_session, attachment.url, reader.max_file_bytes,
                              reader.read_timeout_s)
        saved = await self.bot.run_io(save_upload, self.bot.steward.data_dir / "uploads",
                                      data, extension)
        try:
            documents = await self.bot.run_io(load_source, str(saved), reader)
        except ReadError as err:
            log.info("attachment %s not read: %s", attachment.filename, err)
            return ""
        finally:
            saved.unlink(missing_ok=True)
        return "\n\n".join(d.text for d in documents)


async def setup(bot: StewardBot) -> None:
    await bot.add_cog(BulletinMenu(bot))
