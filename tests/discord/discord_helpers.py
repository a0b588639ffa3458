"""Helpers shared by the Discord tests (a module of its own: ``conftest`` is ambiguous
when several test folders have one)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fakediscord import FakeDiscord, FakeInteraction, InteractionRecord, connected_bot

QUESTION = "How much did US union membership grow after 1935?"
EXPECTED_QUOTE = "from three million union members in 1935 to six million in 1940"
HERMANSON_TITLE = "Maximizing México’s ‘CIO Moment’: Tri-National Labor Unity"
EPHEMERAL = 1 << 6
DEFERRED = 5
ANSWER_TIMEOUT = 90.0  # a real model on a shared 2-core machine can be slow

# Figures a test measured (crafted interactions sent and refused, a flood's cost), by test;
# also merged into the JSON file named by this variable, for bench/robustness.py.
FIGURES_ENV = "STEWARD_DISCORD_FIGURES"
FIGURES: dict[str, dict[str, Any]] = {}


@contextlib.asynccontextmanager
async def steward_bot(fake: FakeDiscord, steward: Any, sync: str | None = "global"
                      ) -> AsyncIterator[Any]:
    from bot.discord.client import StewardBot

    async with connected_bot(StewardBot(steward, steward.config.discord, sync=sync), fake) as bot:
        yield bot


def flags(record: InteractionRecord) -> int:
    return int((record.data or {}).get("flags") or 0)


def embed(record: InteractionRecord, index: int = 0) -> dict[str, Any]:
    return record.data["embeds"][index]


def description(record: InteractionRecord) -> str:
    return "\n".join(e.get("description") or "" for e in (record.data or {}).get("embeds") or [])


def custom_id(message: dict[str, Any], label: str) -> str:
    """The custom id of the button labelled (or with the emoji) ``label`` on a message."""
    for row in message.get("components") or []:
        for component in row.get("components") or []:
            name = component.get("label") or (component.get("emoji") or {}).get("name")
            if name == label:
                return component["custom_id"]
    raise LookupError(f"no button {label!r} on message {message['id']}")


def content(record: InteractionRecord) -> str:
    return str((record.data or {}).get("content") or "")


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``check`` until it is truthy (for state inside the bot, which the server's own
    ``wait_for`` does not see change)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def click(fake: FakeDiscord, bot: Any, message: dict[str, Any], label: str,
                **context: Any) -> FakeInteraction:
    """Click a button once the bot has bound its View to the message.

    The server records a message before discord.py has read the reply that tells it the
    message id; a person cannot click in that instant, a test can.
    """
    cid = custom_id(message, label)

    def bound() -> bool:
        view = bot.live_views.get(cid)
        return view is not None and view.message is not None and \
            view.message.id == int(message["id"])

    await until(bound)
    return await fake.send_component(cid, message=message, **context)


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Keep ``figures`` under ``name`` (written to $STEWARD_DISCORD_FIGURES when it is set)."""
    FIGURES[name] = figures
    target = os.environ.get(FIGURES_ENV)
    if not target:
        return
    path = Path(target)
    current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    current[name] = figures
    path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")


def count_downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs /admin add downloads from, from now on (spied, still downloaded)."""
    # The module the running bot loaded: discord.py's load_extension re-imports it for each
    # bot, without rebinding the package attribute that ``import ... as`` would find.
    admin = sys.modules["bot.discord.exts.admin"]
    urls: list[str] = []
    real = admin.download

    async def spy(session: Any, url: str, *args: Any) -> bytes:
        urls.append(url)
        return await real(session, url, *args)

    monkeypatch.setattr(admin, "download", spy)
    return urls
