"""The channels Steward answers by itself (``/admin answer-here``): each new post of a forum
channel, or each new top-level message of a text channel, gets the normal answer (quotes,
citations, buttons) as a reply; and a deleted channel's settings go with it.

Reading a post's first message, or messages that do not mention Steward, needs the
privileged Message Content intent (``[discord] message_content``). Without it a forum post
is answered from its title alone, and says so; a message that arrives blank is never
answered. In a forum post the asker's follow-ups are read with the post's question (the
thread memory of ``ask.Ask``), and a 👍 from the asker adds the forum's "answered" tag.
The per-member cooldown is /ask's (``bot.limiter``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import discord
from discord.ext import commands

from bot.discord import embeds
from bot.discord.channel_scope import scope_note, scoped_filters, with_note
from bot.discord.checks import question_refusal
from bot.discord.client import StewardBot
from bot.discord.errors import NO_PINGS, describe, log_unexpected
from bot.discord.exts.admin_server import answered_tag
from bot.discord.exts.ask import QUESTION_MAX, clean_question
from bot.discord.translate import lang_of_message
from bot.discord.views import AnswerView
from bot.i18n import translate

log = logging.getLogger("steward.discord")


def post_question(title: str, first_message: str) -> str:
    """A forum post's question: its title, then its first message (when Steward can read it)."""
    title = " ".join(title.split())
    body = clean_question(first_message)
    if body and body.casefold() != title.casefold():
        return f"{title}\n{body}"[:QUESTION_MAX] if title else body
    return title[:QUESTION_MAX]


class Forum(commands.Cog):
    def __init__(self, bot: StewardBot) -> None:
        self.bot = bot
        self._blank_warned: set[int] = set()  # channels whose blank messages were logged

    # -- which messages are Steward's to answer --------------------------------------------------

    @commands.Cog.listener("on_message")
    async def answer_here(self, message: discord.Message) -> None:
        if message.author.bot or message.guild is None or self._mentions_me(message):
            return  # mentions are answered by the Ask cog
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        channel = message.channel
        if isinstance(channel, discord.Thread):
            setting = self.bot.steward.answer_here(channel.parent_id)
            if setting is None or setting.kind != "forum":
                return
            if message.id == channel.id:  # a forum post's first message has the post's id
                await self._answer_post(message, channel)
            elif message.author.id == channel.owner_id and message.content.strip():
                await self._answer_follow_up(message, channel)
            return
        setting = self.bot.steward.answer_here(channel.id)
        if setting is None or setting.kind != "text":
            return
        question = clean_question(message.content)
        if not question:
            self._warn_blank(channel.id)
            return
        await self._answer(message, question)

    def _mentions_me(self, message: discord.Message) -> bool:
        me = self.bot.user
        if me is None:
            return True
        role = message.guild.self_role if message.guild is not None else None
        return any(u.id == me.id for u in message.mentions) or (
            role is not None and role.id in message.raw_role_mentions)

    def _warn_blank(self, channel_id: int) -> None:
        # Every message arrives blank when the intent is not granted: say it once per channel.
        if channel_id not in self._blank_warned:
            self._blank_warned.add(channel_id)
            log.warning("answer-here channel %s: messages arrive without their text; enable the "
                        "Message Content intent in the Developer Portal and set [discord] "
                        "message_content = true", channel_id)

    async def _answer_post(self, message: discord.Message, thread: discord.Thread) -> None:
        question = post_question(thread.name, message.content)
        if not question:
            return  # never answer a blank question
        title_only = not clean_question(message.content)
        await self._answer(message, question, title_only=title_only, post=thread)

    async def _answer_follow_up(self, message: discord.Message, thread: discord.Thread) -> None:
        question = clean_question(message.content)
        ask = self.bot.get_cog("Ask")
        memory = getattr(ask, "threads", None)
        previous = memory.previous(thread.id) if memory is not None else None
        await self._answer(message, question, context=previous or thread.name, post=thread)

    # -- answering -------------------------------------------------------------------------------

    async def _answer(self, message: discord.Message, question: str, *,
                      context: str | None = None, title_only: bool = False,
                      post: discord.Thread | None = None) -> None:
        lang = lang_of_message(message, question)
        refusal = question_refusal(self.bot, message.author.id, lang)
        if refusal is not None:
            if self.bot.limiter.tell_once(message.author.id):
                await self._reply(message, content=refusal)
            return
        with contextlib.suppress(discord.HTTPException):
            await message.channel.typing()
        try:
            chosen, applied = await scoped_filters(self.bot, message.channel, {})
            answer = await self.bot.ask(question, chosen, context=context)
        except Exception as err:
            said = describe(err, lang)
            if said is None:
                log_unexpected(self.bot, err, "answering in an answer-here channel failed")
                said = translate("ask.mention_failed", lang)
            await self._reply(message, content=said)
            return
        if post is not None:
            self._remember(post, question if context is None else f"{context} {question}")
        notes = [n for n in (translate("server.title_only_answer", lang) if title_only else None,
                             scope_note(applied, lang)) if n]
        embed = with_note(embeds.answer_embed(answer, lang), "\n".join(notes) or None)
        view = None
        if answer.answered:
            view = AnswerView(self.bot, message.author.id, answer, filters=chosen,
                              context=context, lang=lang)
            if post is not None:
                view.on_upvote = self._tagger(post, message.author.id)
        sent = await self._reply(message, embed=embed, view=view)
        if view is not None:
            view.message = sent

    def _remember(self, thread: discord.Thread, question: str) -> None:
        """The post's question, for follow-ups (in the thread memory mentions use too)."""
        ask = self.bot.get_cog("Ask")
        memory = getattr(ask, "threads", None)
        if memory is not None and self.bot.settings.thread_context:
            memory.remember(thread.id, question)

    def _tagger(self, thread: discord.Thread, asker_id: int
                ) -> Callable[[discord.Interaction], Awaitable[None]]:
        """What a 👍 on a post's answer does: tag the post, when the 👍 is the asker's."""

        async def mark_answered(interaction: discord.Interaction) -> None:
            if interaction.user.id == asker_id:
                await self._mark_answered(thread)

        return mark_answered

    async def _mark_answered(self, thread: discord.Thread) -> None:
        """Add the forum's "answered" tag to a post (when the forum has one)."""
        forum = thread.parent
        if not isinstance(forum, discord.ForumChannel):
            return
        tag = answered_tag(forum, self.bot.settings.answered_tag)
        if tag is None or any(t.id == tag.id for t in thread.applied_tags):
            return
        try:
            await thread.add_tags(tag, reason="the asker marked Steward's answer 👍")
        except discord.HTTPException as err:  # Manage Threads is needed on others' posts
            log.warning("could not tag forum post %s as answered: %s", thread.id, err.status)

    async def _reply(self, message: discord.Message, **kwargs: object) -> discord.Message | None:
        try:
            return await message.reply(mention_author=False, allowed_mentions=NO_PINGS,
                                       **kwargs)  # type: ignore[arg-type]
        except discord.HTTPException as err:
            log.warning("could not reply in an answer-here channel: %s", err.status)
            return None

    # -- a deleted channel -----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await self.bot.run_io(self.bot.steward.forget_channel, channel.id)

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        await self.bot.run_io(self.bot.steward.forget_channel, payload.thread_id)


async def setup(bot: StewardBot) -> None:
    await bot.add_cog(Forum(bot))
