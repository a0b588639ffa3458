"""/admin gaps against the loopback Discord: an admin gets the report privately, as much as
fits in the message and the whole of it (and the CSV) attached; a member without the admin
permission is refused; no question text appears while query logging is off, neither in the
report nor in the store's files. With query logging on, questions asked in Discord that the
bulletins don't answer are grouped by meaning, and a 👎 pressed on an answer brings that
question and what was quoted. The running bot erases logged questions past the retention
limit by itself."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any

from discord_helpers import ANSWER_TIMEOUT, EPHEMERAL, QUESTION, click, content, flags
from fakediscord import FakeDiscord

from bot.gaps import gaps_report

UNCOVERED = "What is the best topping for a pizza?"


async def test_an_admin_gets_the_report_privately_with_the_files(
        fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    before = (await asyncio.to_thread(discord_steward.stats))["not_found"]
    inter = await fake.send_slash_command("ask", {"question": UNCOVERED})
    await inter.followup(timeout=ANSWER_TIMEOUT)

    inter = await fake.send_slash_command("admin gaps", {"days": 7}, user=fake.admin)
    ack = await inter.callback(timeout=10)
    assert flags(ack) & EPHEMERAL
    report = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert flags(report) & EPHEMERAL
    text = content(report)
    assert text.startswith("Questions of the last 7 days")
    assert "Documents closest to the questions not found:" in text
    assert "pizza" not in text.lower()  # logging is off: no text exists to show
    files = {f.filename: f.data.decode() for f in report.files}
    assert set(files) == {"steward-gaps.txt", "steward-gaps.csv"}
    assert "pizza" not in "".join(files.values()).lower()
    rows = list(csv.reader(io.StringIO(files["steward-gaps.csv"])))
    assert rows[0] == ["kind", "key", "title", "questions_not_found"]
    assert files["steward-gaps.txt"].startswith(text.splitlines()[0])
    assert (await asyncio.to_thread(discord_steward.stats))["not_found"] == before + 1

    # in the admin's language
    inter = await fake.send_slash_command("admin gaps", {}, user=fake.admin, locale="es-ES")
    await inter.callback(timeout=10)
    spanish = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert content(spanish).startswith("Preguntas de los últimos 30 días")


async def test_gaps_is_refused_to_a_member_without_the_role(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("admin gaps", {}, user=fake.organizer)
    ack = await inter.callback()
    assert flags(ack) & EPHEMERAL and "Only Steward's admins" in content(ack)
    assert "Questions of the last" not in content(ack)


def _store_bytes(steward: Any) -> bytes:
    return b"".join(p.read_bytes() for p in steward.data_dir.glob("steward.sqlite3*")).lower()


async def _ask(fake: FakeDiscord, question: str, user: Any) -> Any:
    inter = await fake.send_slash_command("ask", {"question": question}, user=user)
    return await inter.followup(timeout=ANSWER_TIMEOUT)


async def _gaps_files(fake: FakeDiscord) -> dict[str, str]:
    inter = await fake.send_slash_command("admin gaps", {"days": 1}, user=fake.admin)
    await inter.callback(timeout=10)
    report = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert flags(report) & EPHEMERAL
    return {f.filename: f.data.decode() for f in report.files}


async def test_with_logging_off_a_thumbs_down_and_a_miss_are_counts_and_no_words(
        fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    before = (await asyncio.to_thread(gaps_report, discord_steward, 1)).totals()
    answer = await _ask(fake, QUESTION, fake.organizer)
    down = await click(fake, bot, answer.message, "👎")
    await down.callback()
    await _ask(fake, "Which sourdough starter rises fastest in a cold kitchen?", fake.organizer)

    def counted() -> bool:
        return discord_steward.records.usage()["thumbs_down"] > 0 and \
            gaps_report(discord_steward, 1).totals().thumbs_down == before.thumbs_down + 1
    await fake.wait_for(counted, timeout=10)
    after = (await asyncio.to_thread(gaps_report, discord_steward, 1)).totals()
    assert (after.answered, after.not_found) == (before.answered + 1, before.not_found + 1)

    files = await _gaps_files(fake)
    day = next(line for line in files["steward-gaps.txt"].splitlines()
               if line.startswith(gaps_report(discord_steward, 1).per_day[-1].day))
    assert day.endswith(f"{after.answered} / {after.not_found} / {after.thumbs_down}")
    for word in (b"sourdough", b"kitchen"):  # in no bulletin
        assert word.decode() not in "".join(files.values()).lower()
        assert word not in _store_bytes(discord_steward), word


async def test_with_logging_on_discord_questions_are_grouped_and_the_thumbs_down_shown(
        fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    aquarium = ["How often should I clean my goldfish aquarium?",
                "How frequently does a goldfish tank need cleaning?",
                "When should I clean the aquarium of my goldfish?"]
    violin = "How do I tune the strings of a violin?"
    discord_steward.records.query_logging = True
    try:
        for question in [*aquarium[:2], violin]:
            await _ask(fake, question, fake.organizer)
        await _ask(fake, aquarium[2], fake.user("owner"))
        await _ask(fake, "What did the CIO do for organizing in the 1930s?", fake.user("owner"))
        answer = await _ask(fake, QUESTION, fake.user("owner"))
        down = await click(fake, bot, answer.message, "👎", user=fake.user("owner"))
        await down.callback()
        await fake.wait_for(lambda: discord_steward.store.execute(
            "SELECT 1 FROM query_log WHERE vote = -1"), timeout=10)

        files = await _gaps_files(fake)
        rows = list(csv.DictReader(io.StringIO(files["steward-gaps.csv"])))
        groups = {frozenset(r[k] for k in ("label", "example_2", "example_3") if r[k]): r
                  for r in rows}
        assert frozenset(aquarium) in groups and frozenset([violin]) in groups
        assert groups[frozenset(aquarium)]["not_found"] == "3"
        assert rows[0] is groups[frozenset(aquarium)]  # the largest group first
        disliked = groups[frozenset([QUESTION])]
        assert disliked["thumbs_down"] == "1" and disliked["quoted_doc_ids"]
        text = files["steward-gaps.txt"]
        assert "quoted: " in text and "organizing in the 1930s" not in text  # 👍-less answer
        assert len(rows) == 3
    finally:
        discord_steward.records.query_logging = False
        await asyncio.to_thread(discord_steward.forget)
    assert b"goldfish" not in _store_bytes(discord_steward)


async def test_the_running_bot_erases_logged_questions_past_the_retention_limit(
        fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    from bot.discord.exts.retention import Retention

    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=91)).replace(microsecond=0).isoformat()
    recent = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    with discord_steward.store.transaction() as conn:
        conn.executemany(
            "INSERT INTO query_log(at, question, answered, passage_ids) VALUES(?, ?, 0, '[]')",
            [(old, "Where can I buy a second-hand harpsichord?"),
             (recent, "Where can I buy a used accordion?")])
    try:
        # The bot started before these were logged; its daily check, made frequent here.
        await bot.remove_cog("Retention")
        await bot.add_cog(Retention(bot, period_s=0.05))
        await fake.wait_for(lambda: len(discord_steward.records.logged_questions()) == 1,
                            timeout=ANSWER_TIMEOUT)
        assert [q for _, q, _ in discord_steward.records.logged_questions()] == \
            ["Where can I buy a used accordion?"]
        assert b"harpsichord" not in _store_bytes(discord_steward)
    finally:
        await asyncio.to_thread(discord_steward.forget)
