"""Two bugs found by driving Steward through a Discord simulator, end to end against the
loopback Discord: a member's filter typo must not be shown to the whole channel, and buttons
must be disabled when their view times out, even after the interaction's token expired."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from discord_helpers import ANSWER_TIMEOUT, EPHEMERAL, QUESTION, content, flags
from fakediscord import FakeDiscord

CALLBACK_MESSAGE = 4


@pytest.mark.parametrize(("command", "options", "said"), [
    ("ask", {"question": QUESTION, "since": "last week"}, "not a date"),
    ("ask", {"question": QUESTION, "until": "2024-13-01"}, "not a date"),
    ("search", {"query": "union growth", "since": "yesterday"}, "not a date"),
    ("search", {"query": "huelga", "language": "klingon"}, "not a language"),
    ("source", {"document": "no-such-document"}, "don't know that document"),
])
async def test_a_typo_is_told_privately_and_the_channel_sees_nothing(
    fake: FakeDiscord, bot: Any, command: str, options: dict[str, Any], said: str
) -> None:
    inter = await fake.send_slash_command(command, options)
    ack = await inter.callback(timeout=10)
    assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
    assert said in content(ack)
    await asyncio.sleep(0.3)  # nothing else follows
    assert [r.kind for r in inter.records] == ["callback"]
    public = [m for m in fake.bot_messages() if not int(m.get("flags") or 0) & EPHEMERAL]
    assert public == []


async def test_a_good_filter_still_defers_publicly(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("ask", {"question": QUESTION, "since": "1990-01-01"})
    ack = await inter.callback(timeout=10)
    assert ack.type == 5 and not flags(ack) & EPHEMERAL
    await inter.followup(timeout=ANSWER_TIMEOUT)
