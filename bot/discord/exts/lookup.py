"""Lookups: ``/search`` (paged passages), ``/source`` (documents, newest first, or one
document in full) and ``/latest`` (the newest bulletins)."""

from __future__ import annotations

import math

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import embeds, text
from bot.discord.channel_scope import check_options, scope_note, scoped_filters, with_note
from bot.discord.checks import question_cooldown
from bot.discord.client import StewardBot
from bot.discord.errors import NO_PINGS, UserError
from bot.discord.options import document_choices, filter_options, filters, publication_choices
from bot.discord.translate import command_text, lang_of
from bot.discord.views import PagerView
from bot.i18n import translate
from corpus.store import DocumentInfo

SEARCH_PAGES = 5  # /search fetches this many pages at once and pages through them
DOCUMENTS_PAGE = 10
OPENING_CHARS = 3000  # /source document: how much of the text to show


def _pages(count: int, size: int) -> int:
    return max(math.ceil(count / size), 1)


class Lookup(commands.Cog):
    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot

    @app_commands.command(name="search", description=command_text("search"))
    @app_commands.describe(query=command_text("search_query"),
                           private=command_text("search_private"))
    @filter_options
    @app_commands.check(question_cooldown)  # a search costs what a question costs
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 500],
        publication: str | None = None,
        since: str | None = None,
        until: str | None = None,
        author: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        private: bool = False,
    ) -> None:
        # Options first: a typo is the member's alone to see (see /ask).
        options = {"since": since, "until": until, "publication": publication,
                   "author": author, "tag": tag, "language": language}
        check_options(options)
        await interaction.response.defer(ephemeral=private, thinking=True)
        chosen, applied = await scoped_filters(self.bot, interaction.channel, options)
        size = self.bot.settings.search_page_size
        hits = await self.bot.run_question(self.bot.steward.search, query, size * SEARCH_PAGES,
                                           chosen)
        total = _pages(len(hits), size)
        lang = lang_of(interaction)

        note = scope_note(applied, lang)

        def render(page: int) -> discord.Embed:
            return with_note(embeds.search_embed(query, hits, page, size, total, lang), note)

        await PagerView.send(self.bot, interaction, render, total, command="/search",
                             ephemeral=private)

    @app_commands.command(name="source", description=command_text("source"))
    @app_commands.describe(document=command_text("source_document"),
                           private=command_text("source_private"))
    async def source(
        self, interaction: discord.Interaction, document: str | None = None,
        private: bool = False,
    ) -> None:
        # An unknown document (a typo) is the member's alone to see: checked before a public
        # defer (one quick store read).
        if document and await self.bot.run_io(self.bot.steward.document_info, document) is None:
            raise UserError(key="documents.unknown")
        await interaction.response.defer(ephemeral=private, thinking=True)
        if document:
            await self._one_document(interaction, document, private)
            return
        docs = await self.bot.run_io(self.bot.steward.documents)
        await self._document_list(interaction, translate("documents.all", lang_of(interaction)),
                                  docs, private)

    @source.autocomplete("document")
    async def _document(self, interaction: discord.Interaction, current: str
                        ) -> list[app_commands.Choice[str]]:
        return await document_choices(self.bot, current)

    @app_commands.command(name="latest", description=command_text("latest"))
    @app_commands.describe(publication=command_text("latest_publication"),
                           count=command_text("latest_count"))
    @app_commands.autocomplete(publication=publication_choices)
    async def latest(
        self, interaction: discord.Interaction, publication: str | None = None,
        count: app_commands.Range[int, 1, 25] = 5,
    ) -> None:
        await interaction.response.defer(thinking=True)
        docs = await self.bot.run_io(self.bot.steward.documents, filters(publication=publication),
                                     count)
        lang = lang_of(interaction)
        title = (translate("documents.latest_from", lang, publication=publication) if publication
                 else translate("documents.latest", lang))
        await self._document_list(interaction, title, docs, False)

    async def _document_list(
        self, interaction: discord.Interaction, title: str, docs: list[DocumentInfo],
        private: bool,
    ) -> None:
        total = _pages(len(docs), DOCUMENTS_PAGE)
        lang = lang_of(interaction)

        def render(page: int) -> discord.Embed:
            return embeds.documents_embed(title, docs, page, DOCUMENTS_PAGE, total, lang)

        name = interaction.command.name if interaction.command else "source"
        await PagerView.send(self.bot, interaction, render, total, command=f"/{name}",
                             ephemeral=private)

    async def _one_document(self, interaction: discord.Interaction, doc_id: str,
                            private: bool) -> None:
        info = await self.bot.run_io(self.bot.steward.document_info, doc_id)
        document = await self.bot.run_io(self.bot.steward.document, doc_id)
        if info is None or document is None:
            raise UserError(key="documents.unknown")
        opening = document.text[:OPENING_CHARS]
        pages = embeds.source_pages(opening, None, embeds.DESCRIPTION_MAX - 200)
        body = pages[0] + ("\n\n…" if len(pages) > 1 or len(document.text) > OPENING_CHARS
                           else "")
        embed = discord.Embed(title=text.fit(text.flatten(info.title), embeds.TITLE_MAX),
                              description=body, colour=embeds.COLOUR)
        if info.url and embeds.safe_url(info.url):
            embed.url = embeds.safe_url(info.url)
        lang = lang_of(interaction)
        embed.add_field(name=translate("documents.field_document", lang),
                        value=embeds.document_line(info, lang=lang)[:1024], inline=False)
        if info.tags:
            embed.add_field(name=translate("documents.field_tags", lang),
                            value=text.fit(", ".join(info.tags), 1024), inline=False)
        embed.set_footer(text=translate("documents.id", lang, doc_id=info.doc_id)
                         [: embeds.FOOTER_MAX])
        await interaction.followup.send(embed=embed, ephemeral=private, allowed_mentions=NO_PINGS)


async def setup(bot: StewardBot) -> None:
    await bot.add_cog(Lookup(bot))
