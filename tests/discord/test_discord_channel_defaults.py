"""/admin channel-defaults end to end against the loopback Discord: a channel's (or a
category's) default filters reach /ask, /search and mentions asked there, a member's own
value (or ``any``) overrides them, the answer's footer says what was searched, /admin stats
lists them, and deleting the channel removes them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from discord_helpers import ANSWER_TIMEOUT, EPHEMERAL, QUESTION, content, embed, flags
from fakediscord import FakeChannel, FakeDiscord, snowflake
from fakediscord.models import CATEGORY, TEXT

from bot.answer import Answer
from bot.discord.checks import QuestionLimiter
from corpus.store import Filters

NOTE = "searched: tag amazon — /ask … tag: any to search everything"


@pytest.fixture
async def asked(bot: Any) -> AsyncIterator[list[Filters | None]]:
    """The filters of every question the bot asks (the real answers still come back)."""
    calls: list[Filters | None] = []
    original = bot.ask
    bot.limiter = QuestionLimiter(1000, 60)  # these tests ask more than a member may

    async def spy(question: str, filters: Filters | None = None, page: int = 0,
                  context: str | None = None) -> Answer:
        calls.append(filters)
        return await original(question, filters, page=page, context=context)

    bot.ask = spy
    yield calls


@pytest.fixture
def clean_defaults(discord_steward: Any) -> Any:
    yield
    for guild_defaults in discord_steward.store.execute("SELECT channel_id FROM channel_defaults"):
        discord_steward.clear_channel_defaults(guild_defaults[0])


async def admin(fake: FakeDiscord, options: dict[str, Any], **context: Any) -> str:
    inter = await fake.send_slash_command("admin channel-defaults", options, user=fake.admin,
                                          **context)
    ack = await inter.callback(timeout=10)
    assert flags(ack) & EPHEMERAL
    return content(ack)


async def test_defaults_are_applied_overridden_and_shown(
    fake: FakeDiscord, bot: Any, asked: list[Filters | None], clean_defaults: Any
) -> None:
    said = await admin(fake, {"tag": "amazon", "since": "2020-01-01"})
    assert "tag amazon, since 2020-01-01" in said

    inter = await fake.send_slash_command("ask", {"question": QUESTION})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert asked[-1] is not None and asked[-1].tag == "amazon"
    assert str(asked[-1].since) == "2020-01-01"
    footer = embed(answer)["footer"]["text"]
    assert footer.startswith("searched: tag amazon, since 2020-01-01 — /ask … tag: any")
    # in the member's language; the option names stay the ones members type
    inter = await fake.send_slash_command("ask", {"question": QUESTION}, locale="es-ES")
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert embed(answer)["footer"]["text"].startswith(
        "búsqueda con: tag amazon, since 2020-01-01 — /ask … tag: any para buscar en todo")

    # the member's own value wins; "any" means no filter at all
    inter = await fake.send_slash_command("ask", {"question": QUESTION, "tag": "any",
                                                  "since": "any"})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert asked[-1] is not None and asked[-1].tag is None and asked[-1].since is None
    assert "searched:" not in embed(answer)["footer"]["text"]
    assert "from three million union members" in embed(answer)["description"]

    inter = await fake.send_slash_command("search", {"query": "union organizing",
                                                     "tag": "strike"})
    page = await inter.followup(timeout=ANSWER_TIMEOUT)
    footer = (embed(page).get("footer") or {}).get("text", "")
    assert "tag amazon" not in footer and "since 2020-01-01" in footer  # since still applies

    # another channel has no defaults
    other = fake.guild.channel("bulletins")
    inter = await fake.send_slash_command("ask", {"question": QUESTION}, channel_id=other.id)
    await inter.followup(timeout=ANSWER_TIMEOUT)
    assert asked[-1] == Filters()


async def test_a_mention_and_a_thread_get_their_channels_defaults(
    fake: FakeDiscord, bot: Any, asked: list[Filters | None], clean_defaults: Any
) -> None:
    await admin(fake, {"tag": "amazon"})
    thread = fake.thread
    assert thread is not None and thread.parent_id == fake.channel.id
    mention = await fake.send_message_create(f"{fake.bot_user.mention} {QUESTION}",
                                             channel_id=thread.id)
    reply = await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == mention["id"],
        channel_id=thread.id, timeout=ANSWER_TIMEOUT)
    assert asked[-1] is not None and asked[-1].tag == "amazon"
    assert reply["embeds"][0]["footer"]["text"].startswith(NOTE)
    # and "Ask Steward about this" on a message there
    menu = await fake.send_message_command("Ask Steward about this", message=mention)
    answer = await menu.followup(timeout=ANSWER_TIMEOUT)
    assert asked[-1] is not None and asked[-1].tag == "amazon"
    assert embed(answer)["footer"]["text"].startswith(NOTE)


async def test_a_categorys_defaults_reach_its_channels(
    fake: FakeDiscord, bot: Any, asked: list[Filters | None], clean_defaults: Any
) -> None:
    category = FakeChannel(snowflake(), "Amazon campaign", CATEGORY)
    await fake.add_channel(category)
    channel = FakeChannel(snowflake(), "amazon-organizing", TEXT, parent_id=category.id)
    await fake.add_channel(channel)
    await fake.wait_for(lambda: bot.get_channel(channel.id) is not None)
    said = await admin(fake, {"channel": category, "tag": "amazon"})
    assert f"<#{category.id}>" in said
    inter = await fake.send_slash_command("ask", {"question": QUESTION}, channel_id=channel.id)
    await inter.followup(timeout=ANSWER_TIMEOUT)
    assert asked[-1] is not None and asked[-1].tag == "amazon"
    # the channel's own defaults are nearer than its category's
    await admin(fake, {"channel": channel, "publication": "Bulletin"})
    inter = await fake.send_slash_command("ask", {"question": QUESTION}, channel_id=channel.id)
    await inter.followup(timeout=ANSWER_TIMEOUT)
    assert asked[-1] is not None and asked[-1].publication == "Bulletin" and not asked[-1].tag


async def test_stats_lists_them_and_a_deleted_channel_takes_them_along(
    fake: FakeDiscord, bot: Any, discord_steward: Any, clean_defaults: Any
) -> None:
    channel = FakeChannel(snowflake(), "amazon-campaign", TEXT)
    await fake.add_channel(channel)
    await fake.wait_for(lambda: bot.get_channel(channel.id) is not None)
    await admin(fake, {"channel": channel, "tag": "amazon"})
    inter = await fake.send_slash_command("admin stats", {}, user=fake.admin)
    stats = await inter.response("edit", timeout=ANSWER_TIMEOUT)
    fields = {f["name"]: f["value"] for f in embed(stats)["fields"]}
    assert fields["Channel defaults"] == f"<#{channel.id}>: tag amazon"

    await fake.delete_channel(channel)
    await fake.wait_for(lambda: discord_steward.channel_defaults([channel.id]) is None,
                        timeout=10)
    # a thread's defaults go with the thread
    thread = fake.thread
    assert thread is not None
    await admin(fake, {"tag": "strike"}, channel_id=thread.id)
    assert discord_steward.channel_defaults([thread.id]).tag == "strike"
    await fake.delete_channel(thread)
    await fake.wait_for(lambda: discord_steward.channel_defaults([thread.id]) is None,
                        timeout=10)


async def test_bad_defaults_are_refused_and_clear_removes_them(
    fake: FakeDiscord, bot: Any, discord_steward: Any, clean_defaults: Any
) -> None:
    said = await admin(fake, {"since": "last spring"})
    assert "not a date" in said
    assert discord_steward.channel_defaults([fake.channel.id]) is None
    await admin(fake, {"language": "español"})
    assert discord_steward.channel_defaults([fake.channel.id]).language == "es"
    assert "language es" in await admin(fake, {})
    assert "no default filters now" in await admin(fake, {"clear": True})
    assert discord_steward.channel_defaults([fake.channel.id]) is None


async def test_members_cannot_set_defaults(fake: FakeDiscord, bot: Any,
                                          discord_steward: Any) -> None:
    inter = await fake.send_slash_command("admin channel-defaults", {"tag": "amazon"})
    ack = await inter.callback(timeout=10)
    assert flags(ack) & EPHEMERAL
    await asyncio.sleep(0.2)
    assert discord_steward.channel_defaults([fake.channel.id]) is None
