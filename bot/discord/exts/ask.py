"""Questions: ``/ask``, ``@Steward …`` mentions (and DMs), and "Ask Steward about this".

Each one is acknowledged at once (defer, or a reply after the work for mentions, which
have no deadline), answered off the event loop, and shown as the same embed with the
same buttons.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import embeds
from bot.discord.channel_scope import check_options, scope_note, scoped_filters, with_note
from bot.discord.checks import question_cooldown, question_refusal
from bot.discord.client import StewardBot
from bot.discord.errors import NO_PINGS, UserError, describe, log_unexpected
from bot.discord.options import filter_options
from bot.discord.translate import command_text, lang_of, lang_of_message
from bot.discord.views import AnswerView
from bot.i18n import translate
from corpus.store import Filters

log = logging.getLogger("steward.discord")

QUESTION_MAX = 1000  # longer "questions" are cut: retrieval reads only the start anyway
FOLLOW_UP_WORDS = 8  # in a thread, questions this short lean on the previous one
THREAD_MEMORY = 1000  # threads whose last question is remembered for follow-ups
THREAD_MEMORY_S = 30 * 60  # a follow-up this long after the last question starts afresh
_THREAD_TYPES = (discord.ChannelType.public_thread, discord.ChannelType.private_thread,
                 discord.ChannelType.news_thread)
_MENTION = re.compile(r"<@[!&]?\d+>")


def clean_question(text: str, bot_id: int | None = None) -> str:
    """The question in a message: mentions of the bot (or anyone) removed, whitespace tidied."""
    text = _MENTION.sub(" ", text)
    return " ".join(text.split())[:QUESTION_MAX]


def is_thread(channel: object) -> bool:
    # A thread the cache has not seen arrives as a PartialMessageable with a thread type.
    return isinstance(channel, discord.Thread) or getattr(channel, "type", None) in _THREAD_TYPES


class ThreadMemory:
    """Each thread's last question, for follow-up mentions; at most ``size`` threads, each
    forgotten ``ttl_s`` after its last question. In memory only: a restart forgets it."""

    def __init__(self, size: int = THREAD_MEMORY, ttl_s: float = THREAD_MEMORY_S) -> None:
        self.size = size
        self.ttl_s = ttl_s
        # thread id -> (when, last question), oldest first
        self._questions: collections.OrderedDict[int, tuple[float, str]] = (
            collections.OrderedDict()
        )

    def remember(self, thread_id: int, question: str) -> None:
        self._questions[thread_id] = (time.monotonic(), question[:2000])
        self._questions.move_to_end(thread_id)
        while len(self._questions) > self.size:
            self._questions.popitem(last=False)

    def previous(self, thread_id: int) -> str | None:
        found = self._questions.get(thread_id)
        if found is None or time.monotonic() - found[0] > self.ttl_s:
            return None
        return found[1]


class Ask(commands.Cog):
    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Ask Steward about this",
                                             callback=self.ask_about_message)
        self.menu.add_check(question_cooldown)
        self.threads = ThreadMemory()

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    # -- /ask ----------------------------------------------------------------------------------

    @app_commands.command(name="ask", description=command_text("ask"))
    @app_commands.describe(question=command_text("ask_question"),
                           private=command_text("ask_private"))
    @filter_options
    @app_commands.check(question_cooldown)
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, QUESTION_MAX],
        publication: str | None = None,
        since: str | None = None,
        until: str | None = None,
        author: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        private: bool = False,
    ) -> None:
        # Options first, so a typo is told to the member alone (an error after a public
        # defer would replace the channel's "thinking…"); then acknowledge: Discord allows
        # 3 s, an answer can take longer on a busy machine.
        options = {"since": since, "until": until, "publication": publication,
                   "author": author, "tag": tag, "language": language}
        check_options(options)
        await interaction.response.defer(ephemeral=private, thinking=True)
        # The channel's defaults (channel_scope) fill in what the member left empty.
        chosen, applied = await scoped_filters(self.bot, interaction.channel, options)
        question = " ".join(question.split())
        answer = await self.bot.ask(question, chosen)
        if not private:
            self._remember(interaction.channel, question)
        await self._send_answer(interaction, answer, chosen, None, private,
                                scope_note(applied, lang_of(interaction)))

    async def _send_answer(
        self, interaction: discord.Interaction, answer: object, filters: Filters | None,
        context: str | None, private: bool, note: str | None = None,
    ) -> None:
        from bot.answer import Answer

        assert isinstance(answer, Answer)
        lang = lang_of(interaction)
        embed = with_note(embeds.answer_embed(answer, lang), note)
        if not answer.answered:
            await interaction.followup.send(embed=embed, ephemeral=private,
                                            allowed_mentions=NO_PINGS)
            return
        view = AnswerView(self.bot, interaction.user.id, answer, filters=filters,
                          context=context, ephemeral=private, lang=lang)
        view.message = await interaction.followup.send(
            embed=embed, view=view, ephemeral=private, allowed_mentions=NO_PINGS, wait=True)

    # -- the message context menu ----------------------------------------------------------------

    async def ask_about_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        question = clean_question(message.content)
        if not question:
            raise UserError(key="ask.no_text")
        await interaction.response.defer(thinking=True)
        chosen, applied = await scoped_filters(self.bot, interaction.channel, {})
        answer = await self.bot.ask(question, chosen)
        await self._send_answer(interaction, answer, chosen, None, False,
                                scope_note(applied, lang_of(interaction)))

    # -- mentions and DMs (called by StewardBot.on_message) -------------------------------------

    async def answer_message(self, message: discord.Message) -> None:
        question = clean_question(message.content)
        # A mention carries no client language: the question's own language decides (a
        # fraction of a millisecond: the detector's model was loaded before connecting).
        lang = lang_of_message(message, question)
        if not question:
            await self._reply(message, content=translate("ask.empty_mention", lang))
            return
        refusal = question_refusal(self.bot, message.author.id, lang)
        if refusal is not None:
            if self.bot.limiter.tell_once(message.author.id):
                await self._reply(message, content=refusal)
            return
        context = self._follow_up_context(message, question)
        # "Steward is typing…" while it looks (best effort: it needs no permission we lack
        # to answer, and it must not stop the answer).
        with contextlib.suppress(discord.HTTPException):
            await message.channel.typing()
        try:
            chosen, applied = await scoped_filters(self.bot, message.channel, {})
            answer = await self.bot.ask(question, chosen, context=context)
        except Exception as err:
            said = describe(err, lang)
            if said is None:
                log_unexpected(self.bot, err, "answering a mention failed")
                said = translate("ask.mention_failed", lang)
            await self._reply(message, content=said)
            return
        self._remember(message.channel, question if context is None
                       else f"{context} {question}")
        embed = with_note(embeds.answer_embed(answer, lang), scope_note(applied, lang))
        view = None
        if answer.answered:
            view = AnswerView(self.bot, message.author.id, answer, filters=chosen,
                              context=context, lang=lang)
        sent = await self._reply(message, embed=embed, view=view)
        if view is not None:
            view.message = sent

    def _follow_up_context(self, message: discord.Message, question: str) -> str | None:
        """In a thread, a short follow-up ("and for part-timers?") or a reply to Steward
        is read together with the thread's previous question."""
        previous = self._previous(message.channel)
        if previous is None:
            return None
        reply_to_bot = (
            message.reference is not None
            and isinstance(message.reference.resolved, discord.Message)
            and message.reference.resolved.author.id == getattr(self.bot.user, "id", None)
        )
        if reply_to_bot or len(question.split()) <= FOLLOW_UP_WORDS:
            return previous
        return None

    def _remember(self, channel: object, question: str) -> None:
        if is_thread(channel) and self.bot.settings.thread_context:
            self.threads.remember(channel.id, question)  # type: ignore[attr-defined]

    def _previous(self, channel: object) -> str | None:
        if not is_thread(channel) or not self.bot.settings.thread_context:
            return None
        return self.threads.previous(channel.id)  # type: ignore[attr-defined]

    async def _reply(self, message: discord.Message, **kwargs: object) -> discord.Message | None:
        try:
            return await message.reply(mention_author=False, allowed_mentions=NO_PINGS,
                                       **kwargs)  # type: ignore[arg-type]
        except discord.HTTPException as err:
            # A reply needs Read Message History; without it, answer in the channel.
            log.warning("could not reply to a mention (%s); sending instead", err.status)
            try:
                return await message.channel.send(allowed_mentions=NO_PINGS,
                                                  **kwargs)  # type: ignore[arg-type]
            except discord.HTTPException as err2:
                log.error("could not answer a mention: %s", err2)
                return None


async def setup(bot: StewardBot) -> None:
    await bot.add_cog(Ask(bot))
