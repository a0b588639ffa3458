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


# -- buttons disabled when their view times out ------------------------------------------------


def _buttons_disabled(message: dict[str, Any]) -> bool:
    buttons = [c for row in message.get("components") or [] for c in row.get("components") or []]
    return bool(buttons) and all(c.get("disabled") for c in buttons)


async def test_an_answers_buttons_are_disabled_after_the_token_expired(
    fake: FakeDiscord, bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.discord.views.ANSWER_TIMEOUT_S", 1.0)
    inter = await fake.send_slash_command("ask", {"question": QUESTION})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    fake.token_ttl = 0.0  # from now on the interaction's webhook answers 401, like Discord
    message_id = int(answer.message["id"])
    assert not _buttons_disabled(fake.messages[message_id])
    await fake.wait_for(lambda: _buttons_disabled(fake.messages[message_id]), timeout=10)
    # edited through the channel, with the bot's token, not through the dead webhook
    edits = fake.requests_to("PATCH", rf"/channels/{fake.channel.id}/messages/{message_id}")
    assert edits and edits[-1].authorized and edits[-1].status == 200
    assert not [r for r in inter.records if r.kind == "edit"]


async def test_search_pager_buttons_are_disabled_after_the_token_expired(
    fake: FakeDiscord, bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.discord.views.PAGER_TIMEOUT_S", 1.0)
    bot.settings = bot.settings.model_copy(update={"search_page_size": 1})
    inter = await fake.send_slash_command("search", {"query": "union organizing in Mexico"})
    page = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert page.data.get("components"), "expected several pages"
    fake.token_ttl = 0.0
    message_id = int(page.message["id"])
    await fake.wait_for(lambda: _buttons_disabled(fake.messages[message_id]), timeout=10)


async def test_a_private_answers_buttons_are_disabled_before_its_token_dies(
    fake: FakeDiscord, bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the token can edit an ephemeral message: Steward disables its buttons a margin
    # before the token's life ends (shortened here from Discord's 15 minutes).
    monkeypatch.setattr("bot.discord.views.TOKEN_LIFE_S", 3.0)
    monkeypatch.setattr("bot.discord.views.TOKEN_MARGIN_S", 1.0)
    inter = await fake.send_slash_command("ask", {"question": QUESTION, "private": True})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    message_id = int(answer.message["id"])
    assert answer.message["flags"] & EPHEMERAL
    await fake.wait_for(lambda: _buttons_disabled(fake.messages[message_id]), timeout=10)
    edit = next(r for r in inter.records if r.kind == "edit")
    assert edit.ok
