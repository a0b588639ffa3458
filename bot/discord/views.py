"""Buttons. They carry no authority: all state lives here, in the View, on the bot's side.

Custom ids are random (``stw:<view>:<n>:<random>``) and only mean something while the
View that made them is alive; a click is matched by discord.py on (message id, custom id),
so a crafted id cannot reach another message's View, and the bot answers unknown ``stw:``
ids with "this button has expired" (see ``client.StewardBot.on_interaction``). No button
does anything an admin command does. Paging checks ``interaction.user.id`` against the
member who asked.

Labels are in the language of the member the buttons were made for; what a click answers
is in the language of the member who clicked.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot.answer import Answer
from bot.discord import embeds
from bot.discord.checks import question_refusal
from bot.discord.errors import NO_PINGS, report
from bot.discord.translate import lang_of
from bot.i18n import translate
from corpus.store import Filters

if TYPE_CHECKING:
    from bot.discord.client import StewardBot

log = logging.getLogger("steward.discord")

CUSTOM_ID_PREFIX = "stw:"
ANSWER_TIMEOUT_S = 60 * 60
PAGER_TIMEOUT_S = 15 * 60
TOKEN_LIFE_S = 15 * 60  # an interaction's token (its webhook) works this long after it began
TOKEN_MARGIN_S = 30  # ephemeral buttons are disabled this long before the token dies
MAX_ANSWER_PAGES = 5  # "More passages" stops here; beyond it quotes are rarely relevant


def token_seconds_left(message: discord.WebhookMessage) -> float:
    """How long the token that sent ``message`` can still edit it, less a margin."""
    metadata = message.interaction_metadata
    began = discord.utils.snowflake_time(metadata.id) if metadata else message.created_at
    age = (discord.utils.utcnow() - began).total_seconds()
    return TOKEN_LIFE_S - TOKEN_MARGIN_S - age


class StewardView(discord.ui.View):
    """A View owned by one member, with fresh random custom ids registered as live."""

    def __init__(self, bot: StewardBot, owner_id: int, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.bot = bot
        self.owner_id = owner_id
        self._token_watch: asyncio.Task[None] | None = None
        self.message: discord.Message | discord.WebhookMessage | None = None
        name = type(self).__name__.lower().removesuffix("view")
        self._ids: list[str] = []
        for n, item in enumerate(self.children):
            if isinstance(item, discord.ui.Button) and item.url is None:
                item.custom_id = f"{CUSTOM_ID_PREFIX}{name}:{n}:{secrets.token_hex(8)}"
                self._ids.append(item.custom_id)
        bot.live_views.update(dict.fromkeys(self._ids, self))

    def _release(self) -> None:
        for custom_id in self._ids:
            self.bot.live_views.pop(custom_id, None)

    def stop(self) -> None:
        self._release()
        watch = self._token_watch
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
        super().stop()

    @property
    def message(self) -> discord.Message | discord.WebhookMessage | None:
        return self._message

    @message.setter
    def message(self, message: discord.Message | discord.WebhookMessage | None) -> None:
        self._message = message
        if isinstance(message, discord.WebhookMessage) and message.flags.ephemeral:
            # Only the interaction's token can edit an ephemeral message, and it dies 15
            # minutes after the interaction: the buttons are disabled just before that.
            left = token_seconds_left(message)
            self._token_watch = asyncio.get_running_loop().create_task(self._expire_in(left))

    async def _expire_in(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))
        if not self.is_finished():
            self.stop()
            await self._disable()

    async def on_timeout(self) -> None:
        await self._disable()

    async def _disable(self) -> None:
        self._release()
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        message = self.message
        if message is None:
            return
        if isinstance(message, discord.WebhookMessage) and not message.flags.ephemeral:
            # A follow-up's own edit goes through the interaction's webhook, whose token has
            # expired by now (15 minutes); the channel's endpoint takes the bot's token.
            channel = self.bot.get_partial_messageable(message.channel.id)
            message = channel.get_partial_message(message.id)  # type: ignore[assignment]
        try:
            await message.edit(view=self, allowed_mentions=NO_PINGS)  # type: ignore[union-attr]
        except discord.HTTPException as err:  # the message was deleted, or access removed
            log.info("could not disable the buttons of an expired view: %s", err.status)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item
    ) -> None:
        await report(interaction, error)


class AnswerView(StewardView):
    """More passages · Show source · 👍 · 👎 under an answer."""

    def __init__(
        self,
        bot: StewardBot,
        owner_id: int,
        answer: Answer,
        *,
        filters: Filters | None = None,
        context: str | None = None,
        ephemeral: bool = False,
        lang: str = "en",
    ) -> None:
        super().__init__(bot, owner_id, timeout=ANSWER_TIMEOUT_S)
        self.lang = lang
        self.more.label = translate("buttons.more", lang)
        self.source.label = translate("buttons.source", lang)
        self.answer = answer
        self.filters = filters
        self.context = context
        self.ephemeral = ephemeral
        self.next_page: dict[int, int] = {}  # member id -> the page "More passages" shows next
        self.voted: set[int] = set()  # in memory only: one vote per member per answer
        # Called after a 👍 is recorded (a forum post's answer marks the post answered).
        self.on_upvote: Callable[[discord.Interaction], Awaitable[None]] | None = None

    @discord.ui.button(label="More passages", style=discord.ButtonStyle.primary)
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        user = interaction.user.id
        lang = lang_of(interaction)
        page = self.next_page.get(user, self.answer.page + 1)
        if page >= MAX_ANSWER_PAGES:
            await interaction.response.send_message(
                translate("buttons.last_page", lang), ephemeral=True, allowed_mentions=NO_PINGS)
            return
        # Another page is another search: it counts against the member's question cooldown,
        # checked before any work is done or queued.
        refusal = question_refusal(self.bot, user, lang)
        if refusal is not None:
            await interaction.response.send_message(refusal, ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
            return
        # The asker's next page is posted like the answer; anyone else gets a private copy.
        private = self.ephemeral or user != self.owner_id
        await interaction.response.defer(ephemeral=private, thinking=True)
        self.next_page[user] = page + 1
        answer = await self.bot.ask(self.answer.question, self.filters, page=page,
                                    context=self.context)
        if not answer.quotes:
            await interaction.followup.send(translate("buttons.no_more", lang),
                                            ephemeral=private, allowed_mentions=NO_PINGS)
            return
        view = AnswerView(self.bot, user, answer, filters=self.filters, context=self.context,
                          ephemeral=private, lang=lang)
        view.message = await interaction.followup.send(
            embed=embeds.answer_embed(answer, lang), view=view,
            ephemeral=private, allowed_mentions=NO_PINGS, wait=True)

    @discord.ui.button(label="Show source", style=discord.ButtonStyle.secondary)
    async def source(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        lang = lang_of(interaction)
        _bucket, retry_after = self.bot.source_limiter.hit(interaction.user.id)
        if retry_after is not None:
            await interaction.response.send_message(
                translate("buttons.source_flood", lang, seconds=max(1, round(retry_after))),
                ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.bot.source_contexts(self.answer.quotes, lang)
        groups = embeds.pack(embeds.source_embeds(entries, lang))
        for group in groups:
            await interaction.followup.send(embeds=group, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _vote(self, interaction: discord.Interaction, vote: int) -> None:
        lang = lang_of(interaction)
        if interaction.user.id in self.voted:
            await interaction.response.send_message(translate("buttons.already_voted", lang),
                                                    ephemeral=True)
            return
        self.voted.add(interaction.user.id)
        # Answer first (3 s rule), then write; the vote keeps passage ids, never the voter.
        await interaction.response.send_message(translate("buttons.voted", lang),
                                                ephemeral=True)
        await self.bot.run_io(self.bot.steward.feedback, vote, self.answer.passage_ids)
        if vote == 1 and self.on_upvote is not None:
            await self.on_upvote(interaction)

    @discord.ui.button(emoji="👍", style=discord.ButtonStyle.secondary)
    async def thumbs_up(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._vote(interaction, 1)

    @discord.ui.button(emoji="👎", style=discord.ButtonStyle.secondary)
    async def thumbs_down(
        self, interaction: discord.Interaction, button: discord.ui.Button
    ) -> None:
        await self._vote(interaction, -1)


class PagerView(StewardView):
    """Previous / Next over pages built on demand; only the member who asked can turn them."""

    def __init__(
        self,
        bot: StewardBot,
        owner_id: int,
        render: Callable[[int], discord.Embed],
        total_pages: int,
        *,
        command: str,
        lang: str = "en",
    ) -> None:
        super().__init__(bot, owner_id, timeout=PAGER_TIMEOUT_S)
        self.previous.label = translate("buttons.previous", lang)
        self.next.label = translate("buttons.next", lang)
        self.render = render
        self.total_pages = max(total_pages, 1)
        self.command = command
        self.page = 0
        self._update_buttons()

    @classmethod
    async def send(
        cls,
        bot: StewardBot,
        interaction: discord.Interaction,
        render: Callable[[int], discord.Embed],
        total_pages: int,
        *,
        command: str,
        ephemeral: bool,
    ) -> None:
        """Answer a deferred ``interaction`` with page 1, and Previous / Next for its member
        when there is more than one page."""
        if total_pages <= 1:
            await interaction.followup.send(embed=render(0), ephemeral=ephemeral,
                                            allowed_mentions=NO_PINGS)
            return
        view = cls(bot, interaction.user.id, render, total_pages, command=command,
                   lang=lang_of(interaction))
        view.message = await interaction.followup.send(
            embed=render(0), view=view, ephemeral=ephemeral, allowed_mentions=NO_PINGS, wait=True)

    def _update_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.total_pages - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            translate("buttons.not_yours", lang_of(interaction), command=self.command),
            ephemeral=True, allowed_mentions=NO_PINGS)
        return False

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.page = min(max(self.page + step, 0), self.total_pages - 1)
        self._update_buttons()
        await interaction.response.edit_message(embed=self.render(self.page), view=self,
                                                allowed_mentions=NO_PINGS)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, 1)
