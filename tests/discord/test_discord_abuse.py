"""Abuse, end to end: a flood of 500 interactions from one member costs a bounded amount of
work while others keep getting answers, and crafted interactions on every admin path (and
on other members' buttons) are refused with nothing done.

Both tests record their figures (``discord_helpers.record_figures``) for
``python -m bench.robustness``, which reports them from the interactions actually sent.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import pytest
from discord_helpers import (
    ANSWER_TIMEOUT,
    DEFERRED,
    EPHEMERAL,
    EXPECTED_QUOTE,
    QUESTION,
    click,
    content,
    count_downloads,
    custom_id,
    description,
    flags,
    record_figures,
    until,
)
from fakediscord import FakeDiscord, FakeInteraction, FakeUser, Permissions, snowflake

from bot.discord.checks import QuestionLimiter

CALLBACK_MESSAGE = 4
APPLICATION_COMMAND = 2
COMPONENT = 3
FLOOD = 500
FLOOD_MENTIONS = 50
MENU = "Ask Steward about this"


def count_service_calls(monkeypatch: pytest.MonkeyPatch, steward: Any) -> list[tuple[str, str, int]]:
    """Every question (``ask``) and search the Steward service is asked to do, in order:
    the work that costs model time."""
    calls: list[tuple[str, str, int]] = []
    real_ask, real_search = steward.ask, steward.search

    def ask(question: str, *args: Any, page: int = 0, **kwargs: Any) -> Any:
        calls.append(("ask", question, page))
        return real_ask(question, *args, page=page, **kwargs)

    def search(query: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(("search", query, 0))
        return real_search(query, *args, **kwargs)

    monkeypatch.setattr(steward, "ask", ask)
    monkeypatch.setattr(steward, "search", search)
    return calls


def replies_to(message_id: str, message: dict[str, Any]) -> bool:
    return (message.get("message_reference") or {}).get("message_id") == message_id


def polite_refusal(ack: Any) -> bool:
    return ack.type == CALLBACK_MESSAGE and bool(flags(ack) & EPHEMERAL) and "please wait" in content(ack)


async def test_a_flood_of_500_interactions_from_one_member_costs_bounded_work(
    fake: FakeDiscord, bot: Any, discord_steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    rate, per = bot.limiter.rate, bot.limiter.per  # the shipped config: 4 per 30 s
    calls = count_service_calls(monkeypatch, discord_steward)
    flooder = FakeUser(snowflake(), "flooder")
    fake.guild.add_member(flooder)
    # Before the flood: an answer with buttons to click, a message to point the menu at.
    asked = await fake.send_slash_command("ask", {"question": QUESTION}, user=fake.admin)
    answer = await asked.followup(timeout=ANSWER_TIMEOUT)
    more = custom_id(answer.message, "More passages")
    await until(lambda: getattr(bot.live_views.get(more), "message", None) is not None)
    target = await fake.send_message_create("Did union membership grow in the 1930s?",
                                            author=fake.admin)
    before = len(calls)

    started = loop.time()
    sent: list[FakeInteraction] = []
    other: FakeInteraction | None = None
    for i in range(FLOOD):
        if i == FLOOD // 2:  # someone else asks in the middle of the flood
            other = await fake.send_slash_command("ask", {"question": QUESTION},
                                                  user=fake.organizer)
        kind = i % 10
        if kind == 7:
            inter = await fake.send_message_command(MENU, message=target, user=flooder)
        elif kind == 8:
            inter = await fake.send_component(more, message=answer.message, user=flooder)
        elif kind == 9:
            inter = await fake.send_slash_command("search", {"query": f"strike pay {i}"},
                                                  user=flooder)
        else:
            inter = await fake.send_slash_command("ask", {"question": f"flood question {i}"},
                                                  user=flooder)
        sent.append(inter)
    acks = [await inter.callback(timeout=ANSWER_TIMEOUT) for inter in sent]
    elapsed = loop.time() - started

    # Every interaction was answered, in time (the fake records a late or double ack as a
    # violation): the few within the cooldown were deferred, the rest refused politely.
    assert all(a.ok for a in acks)
    fake.assert_no_violations()
    accepted = [inter for inter, ack in zip(sent, acks, strict=True) if ack.type == DEFERRED]
    refused = [ack for ack in acks if polite_refusal(ack)]
    assert len(accepted) + len(refused) == FLOOD
    bound = rate * (1 + math.floor(elapsed / per))  # the cooldown's windows the flood spanned
    assert 1 <= len(accepted) <= bound
    for inter in accepted:  # each accepted one finishes (an answer, a page or a list)
        assert (await inter.followup(timeout=ANSWER_TIMEOUT)).ok

    # The other member got a real answer, and waited behind at most the flooder's allowance.
    assert other is not None
    reply = await other.followup(timeout=ANSWER_TIMEOUT)
    assert EXPECTED_QUOTE in description(reply)
    during = calls[before:]
    theirs = ("ask", QUESTION, 0)
    assert during.count(theirs) == 1
    assert during.index(theirs) <= bound
    flood_work = len(during) - 1
    assert flood_work == len(accepted)

    # Mentions share the budget, and a flood of them gets one refusal, not one per mention.
    cog = bot.get_cog("Ask")
    handled: list[int] = []
    real_answer = cog.answer_message

    async def answer_message(message: Any) -> None:
        try:
            await real_answer(message)
        finally:
            handled.append(message.id)

    monkeypatch.setattr(cog, "answer_message", answer_message)
    replies_before = len(fake.bot_messages())
    for i in range(FLOOD_MENTIONS):
        await fake.send_message_create(f"{fake.bot_user.mention} flood mention {i}", author=flooder)
    await until(lambda: len(handled) == FLOOD_MENTIONS, timeout=ANSWER_TIMEOUT)
    mention_replies = fake.bot_messages()[replies_before:]
    assert len(mention_replies) <= 1
    assert all("please wait" in m["content"] for m in mention_replies)
    assert len(calls) - before - 1 == flood_work  # no more work for the mentions
    fake.assert_no_violations()

    record_figures("flood", {
        "interactions": FLOOD, "acknowledged": sum(a.ok for a in acks), "answered": len(accepted),
        "refused": len(refused), "bound": bound, "cooldown": f"{rate} per {per:g} s",
        "service_calls": flood_work, "other_member_answered": True,
        "mentions": FLOOD_MENTIONS, "mention_replies": len(mention_replies),
        "seconds": round(elapsed, 1),
    })


# -- crafted interactions ------------------------------------------------------------------


@dataclass
class Crafted:
    name: str
    refused: bool
    hidden: bool  # Discord would not have offered it to this member (default_permissions/DMs)
    said: str


async def test_a_flood_of_show_source_clicks_reads_a_bounded_number_of_documents(
    fake: FakeDiscord, bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    asked = await fake.send_slash_command("ask", {"question": QUESTION}, user=fake.admin)
    answer = await asked.followup(timeout=ANSWER_TIMEOUT)
    source = custom_id(answer.message, "Show source")
    await until(lambda: getattr(bot.live_views.get(source), "message", None) is not None)
    reads: list[int] = []
    real = bot.source_contexts

    async def counted(quotes: Any, lang: str = "en") -> Any:
        reads.append(len(quotes))
        return await real(quotes, lang)

    monkeypatch.setattr(bot, "source_contexts", counted)
    flooder = FakeUser(snowflake(), "clicker")
    fake.guild.add_member(flooder)
    started = loop.time()
    sent = [await fake.send_component(source, message=answer.message, user=flooder) for _ in range(100)]
    acks = [await inter.callback(timeout=ANSWER_TIMEOUT) for inter in sent]
    elapsed = loop.time() - started
    assert all(a.ok for a in acks)
    fake.assert_no_violations()
    limiter = bot.source_limiter
    bound = limiter.rate * (1 + math.floor(elapsed / limiter.per))
    assert 1 <= len(reads) <= bound < 100
    assert sum(polite_refusal(a) for a in acks) == 100 - len(reads)
    # Another member's click still shows the sources.
    theirs = await fake.send_component(source, message=answer.message, user=fake.organizer)
    assert (await theirs.followup(timeout=ANSWER_TIMEOUT)).ok


def store_snapshot(steward: Any) -> dict[str, Any]:
    uploads = steward.data_dir / "uploads"
    return {
        "documents": sorted((d.doc_id, d.title) for d in steward.store.documents()),
        "counts": steward.store.counts(),
        "generation": steward.generations.current_name(),
        "uploads": sorted(p.name for p in uploads.iterdir()) if uploads.exists() else [],
    }


async def test_crafted_interactions_are_refused_and_change_nothing(
    fake: FakeDiscord, bot: Any, discord_steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every admin path (each /admin subcommand, its autocomplete, unknown subcommands and
    context menus, forged and replayed button ids, the owner's text command) from members
    who may not use it, and another member's pages: each one is refused, and nothing is
    added, removed, re-embedded, downloaded or synced."""
    bot.limiter = QuestionLimiter(1000, 60)  # the cooldown is the flood test's business
    downloads = count_downloads(monkeypatch)
    member = fake.organizer
    stranger = FakeUser(snowflake(), "stranger")
    fake.guild.add_member(stranger)
    (admin_command,) = [c for c in fake.commands[None] if c["name"] == "admin"]
    assert int(admin_command["default_member_permissions"]) == Permissions.MANAGE_GUILD
    doc_id = discord_steward.store.documents()[0].doc_id
    attachment = fake.attachment("night-shift.md", b"# Night shift\n\nBreaks.\n", "text/markdown")
    # A member's answer and /search list, whose buttons others will try.
    asked = await fake.send_slash_command("ask", {"question": QUESTION}, user=member)
    answer = (await asked.followup(timeout=ANSWER_TIMEOUT)).message
    bot.settings = bot.settings.model_copy(update={"search_page_size": 1})
    searched = await fake.send_slash_command("search", {"query": "union organizing in Mexico"},
                                             user=member)
    listing = (await searched.followup(timeout=ANSWER_TIMEOUT)).message
    live = custom_id(answer, "More passages")
    await until(lambda: getattr(bot.live_views.get(live), "message", None) is not None)
    before = store_snapshot(discord_steward)
    syncs_before = len(fake.requests_to("PUT", r"/applications/\d+(/guilds/\d+)?/commands"))

    results: list[Crafted] = []

    async def expect(name: str, send: Awaitable[FakeInteraction], needle: str,
                     hidden: bool = True) -> None:
        inter = await send
        ack = await inter.callback(timeout=ANSWER_TIMEOUT)
        said = content(ack)
        ok = ack.ok and ack.type == CALLBACK_MESSAGE and bool(flags(ack) & EPHEMERAL) and needle in said
        results.append(Crafted(name, ok, hidden, said))

    not_admin = "Only Steward's admins"
    admin_calls: list[tuple[str, dict[str, Any]]] = [
        ("admin add", {"file": attachment}),
        ("admin add", {"url": "https://example.org/bulletin.html", "title": "Forged"}),
        ("admin reindex", {}),
        ("admin remove", {"document": doc_id}),
        ("admin stats", {}),
        ("admin channel-defaults", {"tag": "amazon"}),
        ("admin answer-here", {}),
        ("admin gaps", {}),
        ("admin follow", {"url": "https://example.org/feed.xml"}),
        ("admin unfollow", {"source": "1"}),
        ("admin sources", {}),
        ("admin sync", {}),
    ]
    # /admin from a member without the role: Discord hides it (default_permissions), a
    # crafted client sends it anyway.
    # Every /admin subcommand there is has its cases here.
    assert {o["name"] for o in admin_command["options"]} == {n.split()[1] for n, _ in admin_calls}
    for name, options in admin_calls:
        label = f"/{name} {' '.join(options)}".strip()
        await expect(f"{label} by a member", fake.send_slash_command(name, options, user=member),
                     not_admin)
    # /admin in a DM, by someone who is an admin in the server: /admin is server-only.
    for name, options in admin_calls:
        label = f"/{name} {' '.join(options)}".strip()
        await expect(f"{label} in a DM by a server admin",
                     fake.send_slash_command(name, options, user=fake.admin, dm=True), not_admin)

    # /admin remove's autocomplete lists no documents to a member.
    inter = await fake.send_autocomplete("admin remove", {"document": ""}, focused="document",
                                         user=member)
    choices = (await inter.callback(timeout=ANSWER_TIMEOUT)).data["choices"]
    results.append(Crafted("/admin remove autocomplete by a member", choices == [], True,
                           str(choices)))

    # Commands Steward never registered: a forged /admin subcommand, an admin-sounding
    # message menu and user menu. Discord would not send these; the bot refuses them.
    forged_sub = {"id": admin_command["id"], "name": "admin", "type": 1,
                  "options": [{"name": "purge", "type": 1, "options": []}]}
    await expect("forged /admin purge",
                 fake.send_interaction(APPLICATION_COMMAND, forged_sub, user=member), "out of date")
    fake.require_registered_commands = False
    try:
        await expect("unregistered message menu 'Remove from Steward'",
                     fake.send_message_command("Remove from Steward", message=answer, user=member),
                     "out of date")
        await expect("unregistered user menu 'Make Steward admin'",
                     fake.send_user_command("Make Steward admin", target=member, user=stranger),
                     "out of date")
    finally:
        fake.require_registered_commands = True

    # Buttons carry no authority: forged ids, and a live id replayed on another message.
    for forged in (f"admin:remove:{doc_id}", "stw:admin:0:0123456789abcdef",
                   "stw:answer:1:0000000000000000", "stw:pager:1:ffffffffffffffff"):
        await expect(f"forged button id {forged}",
                     fake.send_interaction(COMPONENT, {"custom_id": forged, "component_type": 2},
                                           message=answer, user=fake.admin),
                     "expired", hidden=False)
    await expect("live answer button replayed on another message",
                 fake.send_interaction(COMPONENT, {"custom_id": live, "component_type": 2},
                                       message=listing, user=stranger),
                 "expired", hidden=False)

    # Another member's /search pages: refused, and the page does not move.
    for label in ("Next", "Previous"):
        await expect(f"/search '{label}' by another member",
                     click(fake, bot, listing, label, user=stranger),
                     "Only the member who ran /search", hidden=False)
    page = fake.messages[int(listing["id"])]["embeds"][0]["footer"]["text"]
    assert page.startswith("Page 1 of ")

    # The owner's text command, from a member and from a server admin (not the app's
    # owner): no sync; it is taken as a question instead.
    for who, text in ((member, "sync"), (fake.admin, "sync global"), (stranger, "sync clear")):
        asked_id = (await fake.send_message_create(f"{fake.bot_user.mention} {text}",
                                                   author=who))["id"]
        reply = await fake.wait_for_message(partial(replies_to, asked_id), timeout=ANSWER_TIMEOUT)
        results.append(Crafted(f"'@Steward {text}' by {who.username}",
                               not reply["content"].startswith("synced"), False,
                               reply["content"] or "(an answer)"))

    # Nothing happened: no document added, removed or re-embedded, nothing downloaded or
    # saved, no commands synced.
    await asyncio.sleep(0.2)  # anything a refusal had wrongly started would show by now
    after = store_snapshot(discord_steward)
    unchanged = after == before
    syncs = len(fake.requests_to("PUT", r"/applications/\d+(/guilds/\d+)?/commands"))
    refused = sum(r.refused for r in results)
    record_figures("crafted", {
        "sent": len(results), "refused": refused,
        "hidden_by_discord": sum(r.hidden for r in results),
        "store_unchanged": unchanged, "downloads": len(downloads), "syncs": syncs - syncs_before,
        "cases": [asdict(r) for r in results],
    })
    assert [r for r in results if not r.refused] == []
    assert after == before and downloads == [] and syncs == syncs_before
    fake.assert_no_violations()
