"""The request recorder: what tests read back (requests, rule violations) and how they wait.

A part of :class:`~fakediscord.server.FakeDiscord`: every change to the recorded state
calls ``_notify``, which wakes the ``wait_for*`` helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from .protocol import API_PREFIX, HTTPError
from .records import InteractionRecord, RecordedRequest, ResponseKind, Violation

T = TypeVar("T")


class Recorder:
    """Recorded requests and violations, and waiting until the bot has done something."""

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _notify(self) -> None:
        # Wake every waiter; each re-checks its own condition.
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, check: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Wait until ``check()`` returns something truthy, and return that."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"fake discord: condition not met within {timeout}s")
            event = self._changed
            # Also poll: ``check`` may look at the bot's state, which does not notify us.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.02))

    async def wait_for_response(
        self,
        interaction_id: int,
        kind: ResponseKind = "callback",
        *,
        index: int = 0,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """The ``index``-th request of ``kind`` the bot made for an interaction."""
        interaction = self.interactions[interaction_id]

        def check() -> InteractionRecord | None:
            found = [r for r in interaction.records if r.kind == kind]
            return found[index] if len(found) > index else None

        return await self.wait_for(check, timeout)

    def channel_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Messages currently in a channel (default: the first text channel), oldest first."""
        cid = str(channel_id or self.channel.id)
        return [m for m in self.messages.values() if m["channel_id"] == cid]

    def bot_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        bot_id = str(self.bot_user.id)
        return [m for m in self.channel_messages(channel_id) if m["author"]["id"] == bot_id]

    async def wait_for_message(
        self,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        *,
        channel_id: int | None = None,
        from_bot: bool = True,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The first message in a channel (by the bot, by default) matching ``predicate``."""

        def check() -> dict[str, Any] | None:
            pool = self.bot_messages(channel_id) if from_bot else self.channel_messages(channel_id)
            return next((m for m in pool if predicate is None or predicate(m)), None)

        return await self.wait_for(check, timeout)

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        """Recorded requests whose path matches a regex (``fullmatch``)."""
        rx = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method and rx.fullmatch(r.path)]

    def assert_no_violations(self) -> None:
        if self.violations:
            lines = "\n".join(
                f"  {v.kind} ({v.code}) {v.method} {v.path}: {v.detail}" for v in self.violations
            )
            raise AssertionError(f"the bot broke Discord's rules:\n{lines}")

    def _violate(self, request: web.Request, err: HTTPError, interaction_id: int | None) -> None:
        self.violations.append(
            Violation(
                kind=err.kind or "error",
                code=int(err.body.get("code", 0)),
                method=request.method,
                path=request.path.removeprefix(API_PREFIX),
                detail=err.body.get("errors") or err.body.get("message"),
                interaction_id=interaction_id,
            )
        )

    def record_gateway_connect(self, request: web.Request) -> None:
        self.gateway_connects.append({"path": request.path, **request.rel_url.query})
        self._notify()
