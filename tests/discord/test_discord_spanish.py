"""Steward in Spanish on Discord: framing, buttons, errors and lookups follow the member's
client language (then the server's), a mention follows its question's language, quotes stay
verbatim, and the synced commands carry Spanish descriptions."""

from __future__ import annotations

from typing import Any

from discord_helpers import (
    ANSWER_TIMEOUT,
    EXPECTED_QUOTE,
    QUESTION,
    click,
    content,
    description,
    embed,
    steward_bot,
)
from fakediscord import FakeDiscord

from bot.i18n import translate


def _es(key: str, **values: Any) -> str:
    return translate(key, "es", **values)


def _labels(record: Any) -> set[str]:
    return {c.get("label") or c["emoji"]["name"]
            for row in record.data["components"] for c in row["components"]}


async def test_spanish_member_gets_spanish_framing_and_the_verbatim_english_quote(
    fake: FakeDiscord, bot: Any
) -> None:
    inter = await fake.send_slash_command("ask", {"question": QUESTION}, locale="es-ES")
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert answer.ok
    assert EXPECTED_QUOTE in description(answer)  # the document's words, untranslated
    # and the reply says so, and that the bulletins hold no Spanish version
    assert "*citado en inglés; no hay versión en español en los boletines*" in description(answer)
    assert embed(answer)["footer"]["text"] == _es("answer.footer")
    assert _labels(answer) == {"Más pasajes", "Ver fuente", "👍", "👎"}

    pressed = await click(fake, bot, answer.message, "Ver fuente", locale="es-419")
    source = await pressed.followup(timeout=ANSWER_TIMEOUT)
    assert EXPECTED_QUOTE in description(source)
    fields = [f["name"] for e in source.data["embeds"] for f in e.get("fields") or []]
    assert fields[-1] == "Fuente"

    vote = await click(fake, bot, answer.message, "👍", locale="es-ES")
    assert content(await vote.callback()) == _es("buttons.voted")
    # An English-speaking member clicking the same answer is thanked in English.
    again = await click(fake, bot, answer.message, "👍", locale="en-US", user=fake.user("admin"))
    assert content(await again.callback()) == translate("buttons.voted", "en")


async def test_spanish_not_found(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command(
        "ask", {"question": "¿Cuál es una buena receta de masa de pizza?"}, locale="es-419")
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    text = description(answer)
    assert _es("answer.not_found") in text and _es("answer.try_other") in text
    assert _es("answer.closest") in text and "CIO Moment" in text  # titles as written
    assert embed(answer)["footer"]["text"] == _es("answer.not_found_footer")


async def test_a_spanish_mention_gets_a_spanish_reply(fake: FakeDiscord, bot: Any) -> None:
    asked = await fake.send_message_create(
        f"{fake.bot_user.mention} ¿Cuánto creció la afiliación sindical en Estados Unidos "
        "después de 1935?")
    reply = await fake.wait_for_message(
        lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"],
        timeout=ANSWER_TIMEOUT)
    footer = reply["embeds"][0]["footer"]["text"]
    assert footer in (_es("answer.footer"), _es("answer.not_found_footer"))
    if reply.get("components"):
        labels = {c.get("label") for row in reply["components"] for c in row["components"]}
        assert {"Más pasajes", "Ver fuente"} <= labels


async def test_a_mention_follows_its_question_then_the_server(
    fake: FakeDiscord, discord_steward: Any
) -> None:
    fake.guild.locale = "es-ES"  # the server prefers Spanish (sent when the bot connects)
    async with steward_bot(fake, discord_steward, sync=None):
        asked = await fake.send_message_create(f"{fake.bot_user.mention}")
        reply = await fake.wait_for_message(
            lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"],
            timeout=10)
        assert reply["content"] == _es("ask.empty_mention")

        asked = await fake.send_message_create(f"{fake.bot_user.mention} {QUESTION}")
        reply = await fake.wait_for_message(
            lambda m: (m.get("message_reference") or {}).get("message_id") == asked["id"],
            timeout=ANSWER_TIMEOUT)
        # an English question is answered in English, whatever the server prefers
        assert reply["embeds"][0]["footer"]["text"] == translate("answer.footer", "en")
        assert EXPECTED_QUOTE in reply["embeds"][0]["description"]
        assert "quoted in" not in reply["embeds"][0]["description"]  # same language: no note
    fake.assert_no_violations()


async def test_errors_are_in_the_members_language(fake: FakeDiscord, bot: Any) -> None:
    inter = await fake.send_slash_command("ask", {"question": QUESTION, "since": "la semana"},
                                          locale="es-ES")
    edit = await inter.callback(timeout=10)
    assert edit.data["content"] == _es("errors.bad_date", option="since", value="'la semana'")
    inter = await fake.send_slash_command("search", {"query": "huelga", "language": "klingon"},
                                          locale="es-419")
    edit = await inter.callback(timeout=10)
    assert edit.data["content"] == _es("errors.bad_language", option="language",
                                       value="'klingon'")

    member = fake.user("organizer")
    inter = await fake.send_slash_command("admin stats", {}, user=member, locale="es-419")
    said = content(await inter.callback())
    assert said.startswith("Solo los administradores de Steward")


async def test_lookups_in_spanish_and_the_server_language_as_fallback(
    fake: FakeDiscord, bot: Any
) -> None:
    inter = await fake.send_slash_command("latest", {}, locale="es-ES")
    listed = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert embed(listed)["title"] == _es("documents.latest")
    assert "Página 1 de 1" in embed(listed)["footer"]["text"]
    assert "pasajes)" in description(listed)

    # A client language Steward does not speak falls back to the server's preferred one.
    fake.guild.locale = "es-419"
    inter = await fake.send_slash_command("source", {}, locale="fr")
    listed = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert embed(listed)["title"] == _es("documents.all")
    fake.guild.locale = "en-US"
    inter = await fake.send_slash_command("source", {}, locale="fr")
    listed = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert embed(listed)["title"] == "Documents"

    inter = await fake.send_slash_command("search", {"query": "huelga general"}, locale="es-ES")
    found = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert embed(found)["title"] == "Búsqueda: huelga general"


async def test_synced_commands_carry_spanish_descriptions(fake: FakeDiscord, bot: Any) -> None:
    synced = {c["name"]: c for c in fake.commands[None]}
    assert {"ask", "search", "source", "latest", "admin"} <= set(synced)
    for name, key in (("ask", "ask"), ("search", "search"), ("source", "source"),
                      ("latest", "latest"), ("admin", "admin")):
        localized = synced[name]["description_localizations"]
        assert localized == {"es-ES": _es(f"commands.{key}"), "es-419": _es(f"commands.{key}")}
        assert synced[name]["description"] == translate(f"commands.{key}", "en")
        assert not synced[name].get("name_localizations"), "command names stay English"

    options = {o["name"]: o for o in synced["ask"]["options"]}
    assert options["question"]["description_localizations"]["es-419"] == "¿Qué quieres saber?"
    # the shared filter options are found by their English text
    assert options["since"]["description_localizations"]["es-ES"] == _es("commands.filter_since")
    assert not options["since"].get("name_localizations")
    admin = {o["name"]: o for o in synced["admin"]["options"]}
    assert admin["stats"]["description_localizations"]["es-ES"] == _es("commands.admin_stats")


    def unlocalized(items: list[dict[str, Any]], where: str) -> list[str]:
        missing = []
        for item in items:
            name = f"{where}{item['name']}"
            if item.get("description") and set(item.get("description_localizations") or {}) \
                    != {"es-ES", "es-419"}:
                missing.append(name)
            missing += unlocalized(item.get("options") or [], name + " ")
        return missing

    assert unlocalized(fake.commands[None], "/") == [], "descriptions without Spanish"


def test_every_error_a_member_can_meet_is_said_in_spanish() -> None:
    from discord import app_commands

    from bot.discord.checks import NotStewardAdmin, QuestionCooldown
    from bot.discord.errors import UserError, describe

    cooldown = QuestionCooldown(app_commands.Cooldown(5, 60.0), 12.4)
    said = {
        "cooldown": describe(cooldown, "es"),
        "admin": describe(NotStewardAdmin("Stewards"), "es"),
        "user": describe(UserError(key="admin.bad_url"), "es"),
        "no_dm": describe(app_commands.NoPrivateMessage(), "es"),
        "check": describe(app_commands.CheckFailure(), "es"),
    }
    assert said == {
        "cooldown": _es("errors.cooldown", rate=5, per="60", wait="12"),
        "admin": _es("errors.not_admin_role", role="Stewards"),
        "user": _es("admin.bad_url"),
        "no_dm": _es("errors.no_dm"),
        "check": _es("errors.check_failed"),
    }
    # the English wording is what it always was
    assert describe(cooldown, "en").startswith("You've asked 5 questions in the last 60 seconds")
    assert str(UserError(key="admin.bad_url")) == "The URL must start with http:// or https://."


async def test_page_buttons_are_labelled_in_the_askers_language() -> None:
    from types import SimpleNamespace

    import discord

    from bot.discord.views import PagerView

    owner = SimpleNamespace(live_views={})
    for lang, labels in (("es", ["Anterior", "Siguiente"]), ("en", ["Previous", "Next"])):
        view = PagerView(owner, 1, lambda _page: discord.Embed(), 3,  # type: ignore[arg-type]
                         command="/search", lang=lang)
        assert [b.label for b in view.children] == labels  # type: ignore[attr-defined]
        view.stop()
    assert owner.live_views == {}
