"""/admin, end to end: who may use it, adding an attachment that the next question finds,
progress while others keep getting answers, remove, reindex, stats; forged buttons."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest
from discord_helpers import (
    ANSWER_TIMEOUT,
    DEFERRED,
    EPHEMERAL,
    QUESTION,
    content,
    count_downloads,
    description,
    flags,
    steward_bot,
)
from fakediscord import FakeDiscord, FakeInteraction, FakeRole, FakeUser, snowflake

from bot.backup import steward_version

CALLBACK_MESSAGE = 4
COMPONENT = 3

NIGHT_SHIFT = (
    b"# Night Shift Wins Its Breaks\n\n"
    b"from the Mar. 3, 2024 Bulletin\n\n"
    b"After eight months of grievances, the night shift at the Riverside warehouse won a paid "
    b"fifteen-minute break for every four hours worked. The arbitrator ordered back pay for "
    b"every missed break since January.\n\n"
    b"Stewards on the night shift will keep a log of breaks. If a supervisor skips your "
    b"break, tell your steward the same night.\n"
)


async def final_edit(inter: FakeInteraction, needle: str) -> dict[str, Any]:
    """The (last) edit of the admin's private response that contains ``needle``."""

    def found() -> dict[str, Any] | None:
        for record in reversed(inter.records):
            data = record.data or {}
            text = str(data.get("content") or "") + str(data.get("embeds") or "")
            if record.kind == "edit" and needle in text:
                return data
        return None

    return await inter.server.wait_for(found, timeout=ANSWER_TIMEOUT)


async def test_admin_add_attachment_then_ask_finds_it(
    fake: FakeDiscord, bot: Any, discord_steward: Any
) -> None:
    attachment = fake.attachment("night-shift.md", NIGHT_SHIFT, "text/markdown")
    attachment["filename"] = "../../night-shift.md"  # never trusted
    inter = await fake.send_slash_command("admin add", {"file": attachment}, user=fake.admin)
    ack = await inter.callback()
    assert ack.type == DEFERRED and flags(ack) & EPHEMERAL
    done = await final_edit(inter, "Added")
    assert "Night Shift Wins Its Breaks" in done["content"]
    assert re.search(r"\d+ passages", done["content"])
    doc_id = re.search(r"`([^`]+)`", done["content"]).group(1)  # type: ignore[union-attr]
    try:
        uploads = discord_steward.data_dir / "uploads"
        saved = [p.name for p in uploads.iterdir()]
        assert any(re.fullmatch(r"upload-[0-9a-f]{16}\.md", n) for n in saved)
        assert not (discord_steward.data_dir.parent / "night-shift.md").exists()

        asked = await fake.send_slash_command(
            "ask", {"question": "How long is the paid break for the night shift at Riverside?"})
        answer = await asked.followup(timeout=ANSWER_TIMEOUT)
        assert "fifteen-minute break" in description(answer)
        assert "Night Shift Wins Its Breaks" in description(answer)
        assert "2024-03-03" in description(answer)
    finally:
        await asyncio.to_thread(discord_steward.remove, doc_id)


async def test_an_unsupported_or_hostile_attachment_is_refused(
    fake: FakeDiscord, bot: Any, discord_steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads = count_downloads(monkeypatch)
    attachment = fake.attachment("../../config.toml", b"[data]\ndir = '/'\n", "application/toml")
    inter = await fake.send_slash_command("admin add", {"file": attachment}, user=fake.admin)
    ack = await inter.callback()
    assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
    assert "PDF, HTML, Markdown, plain text and DOCX" in content(ack)
    assert not downloads
    assert not any(p.suffix == ".toml" for p in discord_steward.data_dir.rglob("*")
                   if "uploads" in p.parts)


async def test_a_long_ingest_shows_progress_while_others_get_answers(
    fake: FakeDiscord, bot: Any, discord_steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ingest = discord_steward.ingest

    def slow_ingest(sources: Any, overrides: Any = None, progress: bool = False,
                    on_progress: Any = None) -> Any:
        for step in range(3):  # a big PDF, page by page
            if on_progress:
                on_progress(f"reading page {step + 1}/3")
            time.sleep(1.5)
        return real_ingest(sources, overrides, progress=progress, on_progress=on_progress)

    monkeypatch.setattr(discord_steward, "ingest", slow_ingest)
    attachment = fake.attachment("night-shift.md", NIGHT_SHIFT, "text/markdown")
    inter = await fake.send_slash_command("admin add", {"file": attachment}, user=fake.admin)
    await inter.callback()
    # meanwhile an organizer asks and is answered before the ingest ends
    asked = await fake.send_slash_command("ask", {"question": QUESTION})
    await asked.followup(timeout=ANSWER_TIMEOUT)
    done = await final_edit(inter, "Added")
    progress = [r for r in inter.records if r.kind == "edit" and "⏳" in str(r.data)]
    assert progress, "no progress was shown"
    assert asked.records[-1].elapsed < inter.records[-1].elapsed
    doc_id = re.search(r"`([^`]+)`", done["content"]).group(1)  # type: ignore[union-attr]
    await asyncio.to_thread(discord_steward.remove, doc_id)


async def test_admin_is_refused_for_a_member_without_the_role(
    fake: FakeDiscord, bot: Any
) -> None:
    # Discord would hide /admin from this member (default_permissions); the fake sends it
    # anyway, as a crafted client could.
    for name, options in (("admin stats", {}), ("admin reindex", {}),
                          ("admin remove", {"document": "hermanson"}),
                          ("admin add", {"url": "https://example.org/x.html"})):
        inter = await fake.send_slash_command(name, options, user=fake.organizer)
        ack = await inter.callback()
        assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL, name
        assert "Only Steward's admins" in content(ack) and "Manage Server" in content(ack)
    # and autocomplete does not list documents to them
    inter = await fake.send_autocomplete("admin remove", {"document": ""}, focused="document",
                                         user=fake.organizer)
    assert (await inter.callback()).data["choices"] == []


async def test_the_configured_role_is_an_admin_by_name_or_id(
    fake: FakeDiscord, discord_steward: Any
) -> None:
    role = FakeRole(snowflake(), "Bulletin Team", 0, position=1)
    fake.guild.roles.append(role)
    editor = FakeUser(snowflake(), "editor")
    fake.guild.add_member(editor, [role.id])
    async with steward_bot(fake, discord_steward) as bot:
        for setting in ("Bulletin Team", str(role.id)):
            bot.admin_role = setting
            inter = await fake.send_slash_command("admin stats", {}, user=editor)
            assert (await inter.callback()).type == DEFERRED, setting
            await final_edit(inter, "Steward stats")
        bot.admin_role = "Someone Else"
        inter = await fake.send_slash_command("admin stats", {}, user=editor)
        assert "Only Steward's admins" in content(await inter.callback())
    fake.assert_no_violations()


async def test_admin_stats(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("admin stats", {}, user=fake.admin)
    assert flags(await inter.callback()) & EPHEMERAL
    stats = await final_edit(inter, "Steward stats")
    fields = {f["name"]: f["value"] for f in stats["embeds"][0]["fields"]}
    assert set(fields) == {"Version", "Documents", "Passages", "Index generation", "Model", "Last ingest",
                           "Sentence vectors", "Disk use", "Questions", "Feedback",
                           "Channel defaults", "Answers by itself in"}
    assert "MiniLM" in fields["Model"] and "answered" in fields["Questions"]
    assert fields["Version"] == steward_version()
    assert "reindex" not in fields["Sentence vectors"]  # the samples were indexed with them


async def test_admin_remove_with_autocomplete(
    fake: FakeDiscord, bot: Any, discord_steward: Any, tmp_path: Path
) -> None:
    path = tmp_path / "picnic.md"
    path.write_text("# Summer Picnic Notice\n\nThe summer picnic is at Lakeside Park on "
                    "July 12. Families welcome.\n", encoding="utf-8")
    report = await asyncio.to_thread(discord_steward.ingest, [str(path)])
    inter = await fake.send_autocomplete("admin remove", {"document": "picnic"},
                                         focused="document", user=fake.admin)
    found = (await inter.callback()).data["choices"]
    assert [c["value"] for c in found] == report.added
    inter = await fake.send_slash_command("admin remove", {"document": found[0]["value"]},
                                          user=fake.admin)
    done = await final_edit(inter, "Removed")
    assert "Summer Picnic Notice" in done["content"]
    assert discord_steward.store.document_info(report.added[0]) is None


async def test_admin_reindex(fake: FakeDiscord, bot: Any, discord_steward: Any) -> None:
    before = discord_steward.generations.current_name()
    inter = await fake.send_slash_command("admin reindex", {}, user=fake.admin)
    assert flags(await inter.callback()) & EPHEMERAL
    done = await final_edit(inter, "Re-embedded")
    after = discord_steward.generations.current_name()
    assert after != before and after in done["content"]
    asked = await fake.send_slash_command("ask", {"question": QUESTION})
    assert "six million in 1940" in description(await asked.followup(timeout=ANSWER_TIMEOUT))


async def test_forged_and_expired_button_ids_do_nothing(
    fake: FakeDiscord, bot: Any, discord_steward: Any
) -> None:
    asked = await fake.send_slash_command("ask", {"question": QUESTION})
    answer = await asked.followup(timeout=ANSWER_TIMEOUT)
    doc_id = discord_steward.store.documents()[0].doc_id
    documents = len(discord_steward.store.documents())
    for forged in (f"admin:remove:{doc_id}", "stw:admin:0:0123456789abcdef",
                   "stw:answer:1:0000000000000000"):
        inter = await fake.send_interaction(
            COMPONENT, {"custom_id": forged, "component_type": 2}, message=answer.message,
            user=fake.admin)
        ack = await inter.callback()
        assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
        assert "expired" in content(ack)
    assert len(discord_steward.store.documents()) == documents


async def test_attachments_over_the_size_limit_are_refused(
    fake: FakeDiscord, bot: Any, discord_steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord_steward.config.reader, "max_file_mb", 0.001)  # ~1 KB
    downloads = count_downloads(monkeypatch)
    big = NIGHT_SHIFT * 4
    # Discord says how big it is: refused before downloading anything
    attachment = fake.attachment("big.md", big, "text/markdown")
    inter = await fake.send_slash_command("admin add", {"file": attachment}, user=fake.admin)
    ack = await inter.callback()
    assert ack.type == CALLBACK_MESSAGE and "the limit is" in content(ack)
    assert not downloads
    # a size that lies is caught while downloading
    attachment = fake.attachment("big.md", big, "text/markdown")
    attachment["size"] = 10
    inter = await fake.send_slash_command("admin add", {"file": attachment}, user=fake.admin)
    done = await final_edit(inter, "limit")
    assert "over the" in done["content"] and len(downloads) == 1
    assert not list((discord_steward.data_dir / "uploads").glob("*big*"))


async def test_admin_add_by_url(
    fake: FakeDiscord, bot: Any, discord_steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fake serves on 127.0.0.1, which Steward refuses to fetch unless allowed
    monkeypatch.setattr(discord_steward.config.reader, "allow_private_urls", True)
    url = fake.attachment("night-shift.md", NIGHT_SHIFT, "text/markdown")["url"]
    inter = await fake.send_slash_command(
        "admin add", {"url": url, "title": "Night Shift Breaks", "date": "2024-03-03"},
        user=fake.admin)
    done = await final_edit(inter, "Added")
    assert "Night Shift Breaks" in done["content"]
    doc_id = re.search(r"`([^`]+)`", done["content"]).group(1)  # type: ignore[union-attr]
    info = discord_steward.store.document_info(doc_id)
    assert info is not None and str(info.date) == "2024-03-03"
    await asyncio.to_thread(discord_steward.remove, doc_id)
