"""/admin gaps against the loopback Discord: an admin gets the report privately, as much as
fits in the message and the whole of it (and the CSV) attached; a member without the admin
permission is refused; no question text appears while query logging is off."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from discord_helpers import ANSWER_TIMEOUT, EPHEMERAL, content, flags
from fakediscord import FakeDiscord

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
