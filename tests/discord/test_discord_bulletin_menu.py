"""The message menu "Add to the bulletins" through the loopback Discord (issue 14)."""

from __future__ import annotations

import re
from typing import Any

from discord_helpers import (
    ANSWER_TIMEOUT,
    DEFERRED,
    EPHEMERAL,
    content,
    description,
    flags,
)
from fakediscord import FakeDiscord, FakeInteraction

MENU = "Add to the bulletins"
CALLBACK_MESSAGE = 4
POST = (
    "Dock 4 won its heat breaks\n\n"
    "After a week of walk-outs, the loading crew at the Harbor Road depot won a paid "
    "ten-minute cooling break every hour whenever the dock is above thirty degrees. "
    "Ask your steward for the heat log."
)


async def last_edit(inter: FakeInteraction, needle: str) -> str:
    def found() -> str | None:
        for record in reversed(inter.records):
            said = str((record.data or {}).get("content") or "")
            if record.kind == "edit" and needle in said:
                return said
        return None

    return await inter.server.wait_for(found, timeout=ANSWER_TIMEOUT)


async def test_a_non_admin_is_refused_and_nothing_is_added(
    fake: FakeDiscord, bot: Any, discord_steward: Any
) -> None:
    before = len(discord_steward.store.documents())
    message = await fake.send_message_create(POST, author=fake.organizer)
    inter = await fake.send_message_command(MENU, message=message, user=fake.organizer)
    ack = await inter.callback()
    assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
    assert "Only Steward's admins" in content(ack)
    assert len(discord_steward.store.documents()) == before


async def test_an_empty_message_is_refused_in_one_line(fake: FakeDiscord, bot: Any) -> None:
    attachment = fake.attachment("photo.png", b"\x89PNG\r\n", "image/png")
    message = await fake.send_message_create("", author=fake.organizer, attachments=[attachment])
    inter = await fake.send_message_command(MENU, message=message, user=fake.admin)
    ack = await inter.callback()
    assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
    said = content(ack)
    assert "nothing was added" in said and "\n" not in said


async def test_an_added_message_is_quoted_with_its_link_and_removable(
    fake: FakeDiscord, bot: Any, discord_steward: Any
) -> None:
    assert not bot.intents.message_content  # the target message carries its own content
    notes = fake.attachment("heat-log.md", b"# Heat log\n\nWrite the dock temperature "
                            b"in the heat log at the start of every shift.\n", "text/markdown")
    message = await fake.send_message_create(POST, author=fake.organizer, attachments=[notes])
    inter = await fake.send_message_command(MENU, message=message, user=fake.admin)
    ack = await inter.callback()
    assert ack.type == DEFERRED and flags(ack) & EPHEMERAL
    done = await last_edit(inter, "/admin remove")
    doc_id = re.search(r"/admin remove (\S+?)`", done).group(1)  # type: ignore[union-attr]
    assert doc_id.startswith("discord-") and "Dock 4 won its heat breaks" in done
    link = f"/channels/{fake.guild.id}/{message['channel_id']}/{message['id']}"
    try:
        info = next(d for d in discord_steward.store.documents() if d.doc_id == doc_id)
        assert info.url and info.url.endswith(link)
        assert info.author == (fake.organizer.global_name or fake.organizer.username)
        assert info.publication and info.publication.startswith("#")
        stored = discord_steward.store.document(doc_id)
        assert "heat log at the start of every shift" in stored.text  # the attachment, read

        # adding it again updates the same document
        again = await fake.send_message_command(MENU, message=message, user=fake.admin)
        await again.callback()
        await last_edit(again, "/admin remove")
        assert [d.doc_id for d in discord_steward.store.documents()].count(doc_id) == 1

        asked = await fake.send_slash_command(
            "ask", {"question": "How long is the cooling break on the hot loading dock?"})
        answer = await asked.followup(timeout=ANSWER_TIMEOUT)
        assert "ten-minute cooling break" in description(answer)
        assert link in str(answer.data)
    finally:
        removed = await fake.send_slash_command("admin remove", {"document": doc_id},
                                                user=fake.admin)
        await removed.callback()
        await last_edit(removed, doc_id)
    assert all(d.doc_id != doc_id for d in discord_steward.store.documents())
