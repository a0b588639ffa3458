"""/admin follow, /admin sources, /admin sync and /admin unfollow through the loopback
Discord, following a feed served by a local HTTP server (issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from discord_helpers import ANSWER_TIMEOUT, EPHEMERAL, content, flags
from fakediscord import FakeDiscord, FakeInteraction

CALLBACK_MESSAGE = 4
ARTICLE = (
    "<html><head><title>Laundry workers win a ventilation fix</title></head><body>"
    "<article><h1>Laundry workers win a ventilation fix</h1><p>After a petition signed by "
    "every shift, the hospital laundry on Elm Street will install two extraction fans by "
    "March, and the steam presses stop when the room passes thirty-two degrees.</p>"
    "</article></body></html>"
)


def feed(base: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Local 12 News</title>'
        f"<link>{base}/</link><description>news</description><item>"
        "<title>Laundry workers win a ventilation fix</title>"
        f"<link>{base}/laundry.html</link><pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate>"
        "</item></channel></rss>"
    )


@pytest.fixture
async def site(discord_steward: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    # the site is on 127.0.0.1, which Steward refuses unless told otherwise
    monkeypatch.setattr(discord_steward.config.reader, "allow_private_urls", True)
    app = web.Application()
    base = ""

    async def rss(_: web.Request) -> web.Response:
        return web.Response(text=feed(base), content_type="application/rss+xml")

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=ARTICLE, content_type="text/html")

    flaky_calls: list[int] = []

    async def flaky(_: web.Request) -> web.Response:
        # a feed when followed, then a site that keeps failing
        flaky_calls.append(1)
        if len(flaky_calls) == 1:
            return web.Response(text=feed(base), content_type="application/rss+xml")
        return web.Response(status=500, text="down")

    app.router.add_get("/feed.xml", rss)
    app.router.add_get("/flaky.xml", flaky)
    app.router.add_get("/laundry.html", page)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        await runner.cleanup()


async def reply(inter: FakeInteraction, needle: str) -> str:
    def found() -> str | None:
        for record in reversed(inter.records):
            said = str((record.data or {}).get("content") or "")
            if record.kind in ("edit", "callback") and needle in said:
                return said
        return None

    return await inter.server.wait_for(found, timeout=ANSWER_TIMEOUT)


async def test_a_bad_address_is_one_ephemeral_line(fake: FakeDiscord, bot: Any,
                                                   discord_steward: Any) -> None:
    inter = await fake.send_slash_command("admin follow", {"url": "/etc"}, user=fake.admin)
    ack = await inter.callback()
    assert ack.type == CALLBACK_MESSAGE and flags(ack) & EPHEMERAL
    assert "http(s)" in content(ack) and "\n" not in content(ack)
    assert discord_steward.sync.sources() == []


async def test_follow_list_sync_and_unfollow(fake: FakeDiscord, bot: Any, discord_steward: Any,
                                              site: str) -> None:
    url = f"{site}/feed.xml"
    inter = await fake.send_slash_command("admin follow", {"url": url, "every": "1d"},
                                          user=fake.admin)
    said = await reply(inter, "Following")
    assert "feed" in said and "every 1d" in said
    try:
        listed = await fake.send_slash_command("admin sources", {}, user=fake.admin)
        assert url in await reply(listed, url)

        synced = await fake.send_slash_command("admin sync", {}, user=fake.admin)
        said = await reply(synced, "added")
        assert "1 added, 0 changed, 0 removed" in said

        asked = await fake.send_slash_command(
            "ask", {"question": "When will the laundry on Elm Street get extraction fans?"})
        answer = await asked.followup(timeout=ANSWER_TIMEOUT)
        assert "extraction fans" in str(answer.data)

        again = await fake.send_slash_command("admin sync", {"source": url}, user=fake.admin)
        assert "0 added, 0 changed, 0 removed, 1 unchanged" in await reply(again, "unchanged")
    finally:
        gone = await fake.send_slash_command(
            "admin unfollow", {"source": url, "remove_documents": True}, user=fake.admin)
        await reply(gone, "Stopped following")
    assert await asyncio.to_thread(discord_steward.sync.sources) == []
