"""/ask, mentions, DMs, the context menu and the answer's buttons, end to end: a real
discord.py bot against the fake Discord server, with the real model on the samples."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from discord_helpers import (
    ANSWER_TIMEOUT,
    DEFERRED,
    EPHEMERAL,
    EXPECTED_QUOTE,
    HERMANSON_TITLE,
    QUESTION,
    click,
    content,
    description,
    embed,
    flags,
)
from fakediscord import FakeDiscord, FakeUser, snowflake

from bot.answer import Answer, Citation, Quote
from bot.discord.checks import QuestionLimiter

CALLBACK_MESSAGE = 4


async def test_ask_defers_then_answers_with_quote_and_citation(
    fake: FakeDiscord, bot: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    inter = await fake.send_slash_command("ask", {"question": QUESTION})
    ack = await inter.callback()
    assert ack.type == DEFERRED and ack.elapsed < fake.ack_deadline
    assert not flags(ack) & EPHEMERAL

    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert answer.ok
    text = description(answer)
    assert EXPECTED_QUOTE in text
    # the key sentence in bold, the citation: title linked, publication, date, paragraph
    assert f"**This organizing wave doubled the size of the US labor movement in just five " \
           f"years, {EXPECTED_QUOTE}.**" in text
    assert f"[{HERMANSON_TITLE}](https://mexicosolidarityproject.org/voices/124/)" in text
    assert "Bulletin, 2023-02-01" in text and "¶ 15" in text
    assert embed(answer)["title"] == QUESTION
    assert answer.data["allowed_mentions"] == {"parse": []}
    labels = {c.get("label") or c["emoji"]["name"]
              for row in answer.data["components"] for c in row["components"]}
    assert labels == {"More passages", "Show source", "👍", "👎"}
    assert QUESTION not in caplog.text, "question text was logged without query_logging"


async def test_private_ask_is_ephemeral(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("ask", {"question": QUESTION, "private": True})
    ack = await inter.callback()
    assert flags(ack) & EPHEMERAL
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert answer.message is not None and answer.message["flags"] & EPHEMERAL
    assert EXPECTED_QUOTE in description(answer)


async def test_not_found_says_so_and_lists_closest_titles(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command(
        "ask", {"question": "What is a good recipe for pizza dough?"})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    text = description(answer)
    assert "couldn't find anything" in text
    assert "closest documents" in text and "CIO Moment" in text
    assert not answer.data.get("components")


async def test_show_source_is_ephemeral_full_context(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("ask", {"question": QUESTION})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    other = fake.user("admin")  # anyone may read the source, privately
    pressed = await click(fake, bot, answer.message, "Show source", user=other)
    ack = await pressed.callback()
    assert ack.type == DEFERRED and flags(ack) & EPHEMERAL
    source = await pressed.followup(timeout=ANSWER_TIMEOUT)
    assert source.message is not None and source.message["flags"] & EPHEMERAL
    text = description(source)
    assert EXPECTED_QUOTE in text
    # the surrounding paragraphs, beyond what the answer quoted
    assert "Congress of Industrial Organizations" in text or len(text) > 800


async def test_feedback_is_stored_with_passage_ids_not_the_voter(
    fake: FakeDiscord, bot: Any, discord_steward: Any
) -> None:
    inter = await fake.send_slash_command("ask", {"question": QUESTION})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    before = discord_steward.records.usage()["thumbs_up"]
    pressed = await click(fake, bot, answer.message, "👍")
    ack = await pressed.callback()
    assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
    await fake.wait_for(lambda: discord_steward.records.usage()["thumbs_up"] == before + 1,
                        timeout=10)
    again = await click(fake, bot, answer.message, "👍")
    assert "already" in content(await again.callback())
    row = discord_steward.store.execute(
        "SELECT vote, passage_ids FROM feedback ORDER BY id DESC LIMIT 1")[0]
    passage_ids = json.loads(row[1])
    assert row[0] == 1 and passage_ids
    assert all(discord_steward.store.passage(p) is not None for p in passage_ids)
    columns = {r[1] for r in discord_steward.store.execute("PRAGMA table_info(feedback)")}
    assert columns == {"id", "at", "vote", "passage_ids"}
    await asyncio.sleep(0.2)
    assert discord_steward.records.usage()["thumbs_up"] == before + 1


async def test_more_passages_posts_the_next_page(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("ask", {"question": "independent unions in Mexico"})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    pressed = await click(fake, bot, answer.message, "More passages")
    ack = await pressed.callback()
    assert ack.type == DEFERRED and not flags(ack) & EPHEMERAL  # the asker's page is public
    more = await pressed.followup(timeout=ANSWER_TIMEOUT)
    assert "page 2" in embed(more)["footer"]["text"] or "no more passages" in content(more)
    # someone else gets their own private copy
    pressed = await click(fake, bot, answer.message, "More passages", user=fake.user("admin"))
    assert flags(await pressed.callback()) & EPHEMERAL


async def test_mention_in_a_channel_gets_a_reply(fake: FakeDiscord, bot: Any) -> None:
    asked = await fake.send_message_create(f"{fake.bot_user.mention} {QUESTION}")
    reply = await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"],
        timeout=ANSWER_TIMEOUT)
    assert EXPECTED_QUOTE in reply["embeds"][0]["description"]
    assert not fake.pings[int(reply["id"])].any
    assert not fake.pings[int(reply["id"])].replied_user
    sent = fake.requests_to("POST", rf"/channels/{fake.channel.id}/messages")[-1]
    assert sent.json["allowed_mentions"]["parse"] == []
    assert fake.typing, "no typing indicator while answering"


async def test_thread_follow_up_uses_the_previous_question(fake: FakeDiscord, bot: Any) -> None:
    calls: list[tuple[str, str | None]] = []
    original = bot.ask

    async def spy(question: str, filters: Any = None, page: int = 0,
                  context: str | None = None) -> Answer:
        calls.append((question, context))
        return await original(question, filters, page=page, context=context)

    bot.ask = spy
    thread = fake.thread
    assert thread is not None
    first = await fake.send_message_create(f"{fake.bot_user.mention} {QUESTION}",
                                           channel_id=thread.id)
    await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == first["id"],
        channel_id=thread.id, timeout=ANSWER_TIMEOUT)
    follow = await fake.send_message_create(f"{fake.bot_user.mention} and by 1940?",
                                            channel_id=thread.id)
    await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == follow["id"],
        channel_id=thread.id, timeout=ANSWER_TIMEOUT)
    assert calls == [(QUESTION, None), ("and by 1940?", QUESTION)]
    # outside a thread nothing carries over
    plain = await fake.send_message_create(f"{fake.bot_user.mention} and by 1940?")
    await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == plain["id"],
        timeout=ANSWER_TIMEOUT)
    assert calls[-1] == ("and by 1940?", None)


async def test_direct_message_gets_an_answer(fake: FakeDiscord, bot: Any) -> None:
    asked = await fake.send_message_create(QUESTION, dm=True)
    channel_id = int(asked["channel_id"])
    reply = await fake.wait_for_message(lambda m: bool(m.get("embeds")), channel_id=channel_id,
                                        timeout=ANSWER_TIMEOUT)
    assert EXPECTED_QUOTE in reply["embeds"][0]["description"]


async def test_messages_that_do_not_mention_the_bot_are_ignored(
    fake: FakeDiscord, bot: Any
) -> None:
    await fake.send_message_create(f"@everyone {QUESTION}")
    await asyncio.sleep(0.5)
    assert not fake.bot_messages()


async def test_context_menu_asks_about_a_message(fake: FakeDiscord, bot: Any) -> None:
    message = await fake.send_message_create(QUESTION, author=fake.user("admin"))
    inter = await fake.send_message_command("Ask Steward about this", message=message)
    ack = await inter.callback()
    assert ack.type == DEFERRED
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert EXPECTED_QUOTE in description(answer)


async def test_a_quote_with_everyone_is_sent_with_mentions_disabled(
    fake: FakeDiscord, bot: Any, discord_steward: Any, tmp_path: Path
) -> None:
    notice = tmp_path / "strike-vote-notice.md"
    notice.write_text(
        "# Strike vote notice\n\n"
        "@everyone the strike authorization vote on the Riverside contract is on Friday at "
        "the union hall. **Bring** your _union card_ and <@&123456789012345678> your steward "
        "@here.\n", encoding="utf-8")
    report = await asyncio.to_thread(discord_steward.ingest, [str(notice)])
    assert report.added
    try:
        inter = await fake.send_slash_command(
            "ask", {"question": "When is the strike authorization vote on the Riverside "
                                "contract?"})
        answer = await inter.followup(timeout=ANSWER_TIMEOUT)
        text = description(answer)
        assert "strike authorization vote" in text
        assert "@everyone" not in text and "@\u200beveryone" in text
        assert answer.data["allowed_mentions"] == {"parse": []}
        pings = fake.pings[int(answer.message["id"])]
        assert not pings.any
    finally:
        await asyncio.to_thread(discord_steward.remove, report.added[0])


def _huge_answer() -> Answer:
    sentence = " ".join(["solidarity"] * 700) + "."
    quotes = [
        Quote(n=n, text=f"Intro. {sentence} Outro @everyone.", key_sentence=sentence,
              doc_id="nope", passage_id=f"p{n}", score=0.9,
              citation=Citation("nope", "T" * 600, "Bulletin", dt.date(2024, 5, 1), "A",
                                "p. 3", "https://example.org/" + "x" * 900),
              start=0, end=10)
        for n in (1, 2, 3)
    ]
    return Answer("Q" * 900, True, quotes, [], 0.9)


async def test_an_answer_over_the_limits_is_trimmed_and_split_never_rejected(
    fake: FakeDiscord, bot: Any
) -> None:
    async def huge(*args: Any, **kwargs: Any) -> Answer:
        return _huge_answer()

    async def huge_sources(quotes: Any, lang: str = "en") -> list[tuple[Quote, str]]:
        paragraph = " ".join(["The members voted to ratify the agreement."] * 60)
        return [(q, "\n\n".join([paragraph] * 8)) for q in quotes]

    bot.ask = huge
    bot.source_contexts = huge_sources
    inter = await fake.send_slash_command("ask", {"question": "anything"})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert answer.ok
    assert len(embed(answer)["description"]) <= 4096
    pressed = await click(fake, bot, answer.message, "Show source")
    await pressed.followup(index=2, timeout=ANSWER_TIMEOUT)  # ~60k chars: several messages
    await asyncio.sleep(0.5)
    records = [r for r in pressed.records if r.kind == "followup"]
    assert len(records) >= 3 and all(r.ok for r in records)
    assert not [v for v in fake.violations if v.code == 50035]


async def test_an_unexpected_error_is_logged_and_explained_without_a_traceback(
    fake: FakeDiscord, bot: Any, caplog: Any
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("the index exploded")

    bot.ask = broken
    inter = await fake.send_slash_command("ask", {"question": "dues?"})
    edit = await inter.response("edit", timeout=10)
    assert "something went wrong" in edit.data["content"]
    assert "Traceback" not in edit.data["content"] and "exploded" not in edit.data["content"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # the traceback's frames and the error's type, without its message (query logging is off)
    logged = errors[0].getMessage() if errors else ""
    assert "Traceback" in logged and "in broken" in logged
    assert logged.endswith("RuntimeError: [message withheld: query_logging is off]")
    assert "dues?" not in caplog.text


async def test_a_bad_date_filter_is_explained(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("ask", {"question": QUESTION, "since": "last week"})
    edit = await inter.callback(timeout=10)  # told privately, before any public defer
    assert flags(edit) & EPHEMERAL
    assert "not a date" in edit.data["content"] and "YYYY-MM-DD" in edit.data["content"]


async def test_cooldown_is_per_member_and_polite(fake: FakeDiscord, bot: Any) -> None:
    async def quick(question: str, *args: Any, **kwargs: Any) -> Answer:
        return Answer(question, False, [], [], 0.0)

    bot.ask = quick
    bot.limiter = QuestionLimiter(2, 60)
    for _ in range(2):
        inter = await fake.send_slash_command("ask", {"question": "dues?"})
        assert (await inter.callback()).type == DEFERRED
    refused = await fake.send_slash_command("ask", {"question": "dues?"})
    ack = await refused.callback()
    assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
    assert "please wait" in content(ack)
    # mentions share the same budget
    asked = await fake.send_message_create(f"{fake.bot_user.mention} dues?")
    reply = await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"])
    assert "please wait" in reply["content"]
    # another member is not held up
    other = await fake.send_slash_command("ask", {"question": "dues?"}, user=fake.user("admin"))
    assert (await other.callback()).type == DEFERRED


async def test_two_hundred_asks_in_a_row_are_all_acknowledged_in_time(
    fake: FakeDiscord, bot: Any
) -> None:
    bot.limiter = QuestionLimiter(1000, 60)
    questions = [QUESTION, "What is a welga ng bayan?", "independent unions in Mexico",
                 "What did Bacon write about NAFTA?"]
    users = [FakeUser(snowflake(), f"member{i}") for i in range(20)]
    for user in users:
        fake.guild.add_member(user)
    sent = [
        await fake.send_slash_command("ask", {"question": questions[i % len(questions)]},
                                      user=users[i % len(users)])
        for i in range(200)
    ]
    acks = [await inter.callback(timeout=10) for inter in sent]
    assert all(a.type == DEFERRED and a.ok for a in acks)
    assert max(a.elapsed for a in acks) < fake.ack_deadline
    assert not [v for v in fake.violations if v.code == 10062]
    # the answers follow, in order, while later questions wait their turn off the loop
    first = await sent[0].followup(timeout=ANSWER_TIMEOUT)
    assert EXPECTED_QUOTE in description(first)
