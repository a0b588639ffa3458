"""/search (paged by the asker only), /source, /latest and autocomplete, end to end."""

from __future__ import annotations

from typing import Any

from discord_helpers import (
    ANSWER_TIMEOUT,
    DEFERRED,
    EPHEMERAL,
    HERMANSON_TITLE,
    click,
    content,
    description,
    embed,
    flags,
)
from fakediscord import FakeDiscord

AUTOCOMPLETE_RESULT = 8
UPDATE_MESSAGE = 7
CALLBACK_MESSAGE = 4


def choices(record: Any) -> list[dict[str, Any]]:
    return record.data["choices"]


async def test_search_pages_for_the_asker_only(fake: FakeDiscord, bot: Any) -> None:
    bot.settings = bot.settings.model_copy(update={"search_page_size": 1})
    inter = await fake.send_slash_command("search", {"query": "union organizing in Mexico"})
    assert (await inter.callback()).type == DEFERRED
    first = await inter.followup(timeout=ANSWER_TIMEOUT)
    page1 = embed(first)
    assert page1["footer"]["text"].startswith("Page 1 of ")
    assert "**1.**" in page1["description"]

    # another member's click is refused, privately, and the page does not move
    refused = await click(fake, bot, first.message, "Next", user=fake.user("admin"))
    ack = await refused.callback()
    assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
    assert "Only the member who ran /search" in content(ack)
    assert fake.messages[int(first.message["id"])]["embeds"][0]["footer"]["text"].startswith(
        "Page 1 of ")

    # the asker turns the page in place
    turned = await click(fake, bot, first.message, "Next")
    ack = await turned.callback()
    assert ack.type == UPDATE_MESSAGE
    assert ack.data["embeds"][0]["footer"]["text"].startswith("Page 2 of ")
    assert "**2.**" in ack.data["embeds"][0]["description"]
    back = await click(fake, bot, fake.messages[int(first.message["id"])], "Previous")
    assert (await back.callback()).data["embeds"][0]["footer"]["text"].startswith("Page 1 ")


async def test_search_lists_title_date_and_first_line(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("search", {"query": "CIO organizing wave"})
    result = await inter.followup(timeout=ANSWER_TIMEOUT)
    text = description(result)
    assert HERMANSON_TITLE in text and "2023-02-01" in text and "¶" in text


async def test_search_with_a_filter_that_matches_nothing(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command(
        "search", {"query": "union", "publication": "No Such Paper"})
    result = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert "No passages match" in description(result)


async def test_autocomplete_publication_author_tag(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_autocomplete("ask", {"question": "x", "publication": "bul"},
                                         focused="publication")
    result = await inter.callback()
    assert result.type == AUTOCOMPLETE_RESULT
    assert [c["value"] for c in choices(result)] == ["Bulletin"]

    inter = await fake.send_autocomplete("ask", {"question": "x", "author": ""},
                                         focused="author")
    assert "Kim Scipes" in [c["value"] for c in choices(await inter.callback())]

    inter = await fake.send_autocomplete("search", {"query": "x", "tag": ""}, focused="tag")
    assert (await inter.callback()).type == AUTOCOMPLETE_RESULT

    inter = await fake.send_autocomplete("latest", {"publication": "BUL"}, focused="publication")
    assert [c["value"] for c in choices(await inter.callback())] == ["Bulletin"]


async def test_source_autocomplete_and_one_document(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_autocomplete("source", {"document": "cio"}, focused="document")
    found = choices(await inter.callback())
    assert len(found) == 1 and found[0]["name"].startswith("Maximizing México")
    assert found[0]["name"].endswith("(2023-02-01)")
    doc_id = found[0]["value"]

    inter = await fake.send_slash_command("source", {"document": doc_id})
    shown = await inter.followup(timeout=ANSWER_TIMEOUT)
    item = embed(shown)
    assert item["title"] == HERMANSON_TITLE
    assert item["url"] == "https://mexicosolidarityproject.org/voices/124/"
    assert "Jeffery Hermanson" in item["description"]


async def test_source_lists_documents_newest_first(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("source", {})
    listed = description(await inter.followup(timeout=ANSWER_TIMEOUT))
    assert listed.index("Maximizing México") < listed.index("For Those Who Know Little")


async def test_latest_shows_the_newest_bulletins(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("latest", {"count": 1})
    latest = await inter.followup(timeout=ANSWER_TIMEOUT)
    text = description(latest)
    assert "Maximizing México" in text and "2023-02-01" in text
    assert "For Those Who Know Little" not in text


async def test_unknown_document_is_explained(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("source", {"document": "../../etc/passwd"})
    edit = await inter.callback(timeout=10)
    assert "don't know that document" in edit.data["content"]
