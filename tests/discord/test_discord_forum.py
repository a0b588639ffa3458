"""/admin answer-here end to end against the loopback Discord: Steward answers each new post
of a forum (title + first message, or the title alone without the Message Content intent),
reads the asker's follow-ups with the post's question, tags the post "answered" on the
asker's 👍, answers a text channel's messages only when it can read them, honours the
per-member cooldown, and stops on ``answer-here off`` or when the channel is deleted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from discord_helpers import (
    ANSWER_TIMEOUT,
    EPHEMERAL,
    EXPECTED_QUOTE,
    QUESTION,
    click,
    content,
    flags,
    steward_bot,
)
from fakediscord import FakeChannel, FakeDiscord, Intents, connected_bot, snowflake
from fakediscord.models import FORUM, forum_tag

from bot.answer import Answer
from bot.discord.checks import QuestionLimiter

BODY = "I heard the CIO doubled the labor movement. Is that in our bulletins?"


@pytest.fixture
async def reading_bot(fake: FakeDiscord, discord_steward: Any) -> AsyncIterator[Any]:
    """A bot whose admins turned on [discord] message_content (the intent is granted)."""
    from bot.discord.client import StewardBot

    settings = discord_steward.config.discord.model_copy(update={"message_content": True})
    async with connected_bot(StewardBot(discord_steward, settings, sync="global"), fake) as bot:
        yield bot
    fake.assert_no_violations()


@pytest.fixture
def forget_channels(discord_steward: Any) -> Any:
    yield
    for (channel_id,) in discord_steward.store.execute("SELECT channel_id FROM answer_here"):
        discord_steward.forget_channel(channel_id)


def spy_questions(bot: Any) -> list[tuple[str, str | None]]:
    """(question, context) of every question the bot asks; the real answers come back."""
    calls: list[tuple[str, str | None]] = []
    original = bot.ask

    async def spy(question: str, filters: Any = None, page: int = 0,
                  context: str | None = None) -> Answer:
        calls.append((question, context))
        return await original(question, filters, page=page, context=context)

    bot.ask = spy
    return calls


async def make_forum(fake: FakeDiscord, bot: Any) -> tuple[FakeChannel, int]:
    answered = forum_tag("answered")
    forum = FakeChannel(snowflake(), "ask-the-union", FORUM,
                        available_tags=[forum_tag("contract"), answered])
    await fake.add_channel(forum)
    await fake.wait_for(lambda: bot.get_channel(forum.id) is not None)
    return forum, int(answered["id"])


async def answer_here(fake: FakeDiscord, options: dict[str, Any], **context: Any) -> str:
    inter = await fake.send_slash_command("admin answer-here", options, user=fake.admin,
                                          **context)
    ack = await inter.callback(timeout=10)
    assert flags(ack) & EPHEMERAL
    return content(ack)


async def reply_to(fake: FakeDiscord, message: dict[str, Any], timeout: float = ANSWER_TIMEOUT
                   ) -> dict[str, Any]:
    return await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == message["id"],
        channel_id=int(message["channel_id"]), timeout=timeout)


async def test_a_forum_post_is_answered_with_its_title_and_first_message(
    fake: FakeDiscord, reading_bot: Any, forget_channels: Any
) -> None:
    asked = spy_questions(reading_bot)
    forum, _ = await make_forum(fake, reading_bot)
    said = await answer_here(fake, {"channel": forum})
    assert "answers every new post" in said and "title alone" not in said

    thread, post = await fake.create_forum_post(forum, QUESTION, BODY)
    reply = await reply_to(fake, post)
    assert asked == [(f"{QUESTION}\n{BODY}", None)]
    assert EXPECTED_QUOTE in reply["embeds"][0]["description"]
    assert "title alone" not in reply["embeds"][0]["footer"]["text"]
    labels = {c.get("label") or c["emoji"]["name"]
              for row in reply["components"] for c in row["components"]}
    assert labels == {"More passages", "Show source", "👍", "👎"}
    assert not fake.pings[int(reply["id"])].any

    # the asker's follow-up in the post is read with the post's question
    follow = await fake.send_message_create("and by 1940?", channel_id=thread.id)
    await reply_to(fake, follow)
    assert asked[-1] == ("and by 1940?", f"{QUESTION}\n{BODY}")
    # someone else chatting in the post is not answered (they can mention Steward)
    chat = await fake.send_message_create("thanks, that helps", channel_id=thread.id,
                                          author=fake.admin)
    await asyncio.sleep(0.5)
    assert len(asked) == 2
    assert not [m for m in fake.bot_messages(thread.id)
                if (m.get("message_reference") or {}).get("message_id") == chat["id"]]


async def test_without_message_content_a_post_is_answered_from_its_title_and_says_so(
    fake: FakeDiscord, bot: Any, forget_channels: Any
) -> None:
    asked = spy_questions(bot)
    forum, _ = await make_forum(fake, bot)
    said = await answer_here(fake, {"channel": forum})
    assert "title alone" in said and "message_content = true" in said

    _, post = await fake.create_forum_post(forum, QUESTION, BODY)
    reply = await reply_to(fake, post)
    assert asked == [(QUESTION, None)]  # the body arrived blank: never guessed at
    assert EXPECTED_QUOTE in reply["embeds"][0]["description"]
    assert reply["embeds"][0]["footer"]["text"].startswith(
        "Answered from the post's title alone")


async def test_the_asker_thumbs_up_tags_the_post_answered(
    fake: FakeDiscord, bot: Any, forget_channels: Any
) -> None:
    forum, answered = await make_forum(fake, bot)
    await answer_here(fake, {"channel": forum})
    thread, post = await fake.create_forum_post(forum, QUESTION, "")
    reply = await reply_to(fake, post)

    # someone else's 👍 is feedback, not the asker's verdict
    other = await click(fake, bot, reply, "👍", user=fake.admin)
    await other.callback()
    await asyncio.sleep(0.3)
    assert thread.applied_tags == []

    mine = await click(fake, bot, reply, "👍", user=fake.organizer)
    await mine.callback()
    await fake.wait_for(lambda: thread.applied_tags == [answered], timeout=10)
    patch = fake.requests_to("PATCH", rf"/channels/{thread.id}")
    assert len(patch) == 1 and patch[0].json["applied_tags"] == [str(answered)]


async def test_answer_here_off_stops_it(
    fake: FakeDiscord, bot: Any, discord_steward: Any, forget_channels: Any
) -> None:
    forum, _ = await make_forum(fake, bot)
    await answer_here(fake, {"channel": forum})
    assert discord_steward.answer_here(forum.id) is not None
    # used inside one of the forum's posts, it means the forum
    thread, post = await fake.create_forum_post(forum, QUESTION, "")
    await reply_to(fake, post)
    said = await answer_here(fake, {"off": True}, channel_id=thread.id)
    assert "no longer answers" in said
    assert discord_steward.answer_here(forum.id) is None
    _, quiet = await fake.create_forum_post(forum, "What is a welga ng bayan?", "")
    await asyncio.sleep(1.0)
    assert not [m for m in fake.bot_messages(int(quiet["channel_id"]))]
    assert "wasn't answering" in await answer_here(fake, {"channel": forum, "off": True})


async def test_a_text_channel_without_message_content_is_refused_not_answered_blank(
    fake: FakeDiscord, bot: Any, discord_steward: Any, forget_channels: Any
) -> None:
    asked = spy_questions(bot)
    channel = fake.guild.channel("bulletins")
    said = await answer_here(fake, {}, channel_id=channel.id)
    assert "Message Content intent" in said and "message_content = true" in said
    assert discord_steward.answer_here(channel.id) is None
    await fake.send_message_create(QUESTION, channel_id=channel.id)
    await asyncio.sleep(0.5)
    assert asked == []
    assert [m for m in fake.bot_messages(channel.id) if not int(m["flags"]) & EPHEMERAL] == []


async def test_a_text_channel_with_message_content_is_answered_and_blank_is_not(
    fake: FakeDiscord, reading_bot: Any, discord_steward: Any, forget_channels: Any
) -> None:
    asked = spy_questions(reading_bot)
    channel = fake.guild.channel("bulletins")
    said = await answer_here(fake, {}, channel_id=channel.id)
    assert "answers every new message" in said
    message = await fake.send_message_create(QUESTION, channel_id=channel.id)
    reply = await reply_to(fake, message)
    assert EXPECTED_QUOTE in reply["embeds"][0]["description"]
    # a message with only an attachment, or only mentions of others, has no question
    await fake.send_message_create(f"<@{fake.admin.id}>", channel_id=channel.id)
    await asyncio.sleep(0.5)
    assert asked == [(QUESTION, None)]
    inter = await fake.send_slash_command("admin stats", {}, user=fake.admin)
    stats = await inter.response("edit", timeout=ANSWER_TIMEOUT)
    fields = {f["name"]: f["value"] for f in stats.data["embeds"][0]["fields"]}
    assert fields["Answers by itself in"] == f"<#{channel.id}> (every message)"


async def test_the_cooldown_holds_in_an_answer_here_channel(
    fake: FakeDiscord, bot: Any, forget_channels: Any
) -> None:
    async def quick(question: str, *args: Any, **kwargs: Any) -> Answer:
        return Answer(question, False, [], [], 0.0)

    bot.ask = quick
    asked = spy_questions(bot)
    bot.limiter = QuestionLimiter(1, 60)
    forum, _ = await make_forum(fake, bot)
    await answer_here(fake, {"channel": forum})
    _, first = await fake.create_forum_post(forum, "What are union dues for?", "")
    await reply_to(fake, first)
    _, second = await fake.create_forum_post(forum, "Who decides on a strike?", "")
    refusal = await reply_to(fake, second)
    assert "please wait" in refusal["content"]
    _, third = await fake.create_forum_post(forum, "How do I file a grievance?", "")
    await asyncio.sleep(0.5)
    assert len(asked) == 1
    # a flood is refused once, not echoed into every post
    assert not fake.bot_messages(int(third["channel_id"]))
    # /ask shares the same budget
    inter = await fake.send_slash_command("ask", {"question": "dues?"})
    assert "please wait" in content(await inter.callback())


async def test_a_deleted_forum_is_forgotten(
    fake: FakeDiscord, bot: Any, discord_steward: Any, forget_channels: Any
) -> None:
    forum, _ = await make_forum(fake, bot)
    await answer_here(fake, {"channel": forum})
    await fake.delete_channel(forum)
    await fake.wait_for(lambda: discord_steward.answer_here(forum.id) is None, timeout=10)


async def test_the_message_content_intent_is_asked_for_only_when_configured(
    fake: FakeDiscord, discord_steward: Any
) -> None:
    from bot.discord.client import StewardBot

    async with steward_bot(fake, discord_steward, sync=None):
        sessions = list(fake.gateway.sessions.values())
        assert sessions and not sessions[-1].intents & Intents.MESSAGE_CONTENT
    settings = discord_steward.config.discord.model_copy(update={"message_content": True})
    async with connected_bot(StewardBot(discord_steward, settings), fake):
        newest = list(fake.gateway.sessions.values())[-1]
        assert newest.intents & Intents.MESSAGE_CONTENT


async def test_an_intent_the_portal_refuses_is_one_clear_line(
    fake: FakeDiscord, discord_steward: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.discord.runner import run_bot

    fake.allowed_privileged_intents = 0  # not enabled "in the developer portal"
    monkeypatch.setenv("DISCORD_TOKEN", fake.token)
    settings = discord_steward.config.discord.model_copy(update={"message_content": True})
    # run_bot runs its own event loop, so it gets a thread; the fake serves from this loop
    code = await asyncio.to_thread(run_bot, discord_steward, settings, None)
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "Message Content intent" in err and "message_content = false" in err
