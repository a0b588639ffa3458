"""``/healthz`` and ``/metrics`` for a monitor to poll while the bot runs ([health], off by
default, on 127.0.0.1 unless configured).

``/healthz``: 200 ``ok`` when the bot is connected to Discord's gateway and an index
generation is loaded for answering; 503 with the reason otherwise (a monitor shows it).
``/metrics``: Prometheus' text format (bot.metrics): counts and timings, never question
text or member ids.

The server runs on the bot's event loop (aiohttp, which discord.py already uses); reading
the store's counts for a scrape runs in the bot's IO threads.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from bot import metrics
from bot.logs import CONSOLE
from bot.metrics import HealthSettings

if TYPE_CHECKING:
    from bot.discord.client import StewardBot

log = logging.getLogger("steward.discord")


class GatewayWatch:
    """Whether the gateway is connected now, and reconnects counted for /metrics."""

    def __init__(self) -> None:
        self.connected = False
        self._connections = 0

    def attach(self, bot: StewardBot) -> None:
        bot.add_listener(self.on_connect, "on_connect")
        bot.add_listener(self.on_resumed, "on_resumed")
        bot.add_listener(self.on_disconnect, "on_disconnect")

    async def on_connect(self) -> None:  # a new session (READY)
        self._connected_again()

    async def on_resumed(self) -> None:  # an old session resumed after a drop
        self._connected_again()

    async def on_disconnect(self) -> None:
        self.connected = False

    def _connected_again(self) -> None:
        self.connected = True
        self._connections += 1
        if self._connections > 1:
            metrics.GATEWAY_RECONNECTS.inc()


class HealthServer:
    def __init__(self, bot: StewardBot, settings: HealthSettings) -> None:
        self.bot = bot
        self.settings = settings
        self.gateway = GatewayWatch()
        self.gateway.attach(bot)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # the port bound (settings.port, or the one chosen for 0)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, access_log=None)  # no request lines in the logs
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            self._runner = None
            # The bot serves on without its health endpoints; the admin sees why.
            log.error("health endpoints not started: cannot listen on %s:%s (%s); change [health] "
                      "host/port", self.settings.host, self.settings.port, err.strerror or err)
            return
        bound = self._runner.addresses
        self.port = int(bound[0][1]) if bound else self.settings.port
        log.info("health endpoints on http://%s:%s/healthz and /metrics", self.settings.host, self.port,
                 extra=CONSOLE)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def problem(self) -> str | None:
        """Why the bot cannot answer now, or None."""
        if self.bot.is_closed():
            return "the bot is shutting down"
        if not self.gateway.connected or not self.bot.is_ready():
            return "not connected to the Discord gateway"
        try:
            status = await self.bot.run_io(self.bot.steward.index_status)
        except Exception as err:  # a damaged store or index: say so, never crash the server
            return f"cannot read the store or index ({type(err).__name__}: {err})"
        if not status.get("loaded"):
            return "no index generation loaded yet"
        return None

    async def healthz(self, request: web.Request) -> web.Response:
        problem = await self.problem()
        if problem is not None:
            return web.Response(status=503, text=f"unavailable: {problem}\n")
        return web.Response(text="ok\n")

    async def metrics(self, request: web.Request) -> web.Response:
        def index_status() -> dict[str, object]:
            try:
                return self.bot.steward.index_status()
            except Exception:  # the counters still tell something; the gauges read 0
                log.exception("metrics: cannot read the store's counts")
                return {}

        body = await self.bot.run_io(metrics.render, index_status)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


async def start_health(bot: StewardBot) -> HealthServer | None:
    """The health server when [health] enabled is on (None otherwise)."""
    settings = bot.steward.health_settings()
    if not settings.enabled:
        return None
    server = HealthServer(bot, settings)
    await server.start()
    return server
