"""The fake gateway: a real WebSocket endpoint speaking Discord's gateway protocol v10.

What discord.py 2.7 needs from it (``gateway.py`` / ``state.py``):

* The client connects to ``DEFAULT_GATEWAY?v=10&encoding=json&compress=zlib-stream``.
  ``compress`` is hard-wired on in ``Client.connect``; its value is ``zstd-stream`` when
  ``zstandard`` (or Python 3.14's ``compression.zstd``) is importable, else
  ``zlib-stream``. With zlib-stream every server frame is binary: one shared
  ``zlib.compressobj`` per connection, each message ended with ``Z_SYNC_FLUSH`` (the
  client only decodes once a frame ends in ``00 00 ff ff``). Text frames are also
  accepted by the client, so a connection without ``compress`` gets plain JSON.
* HELLO → the client heartbeats at once and then every ``heartbeat_interval``; a missing
  ACK makes it reconnect, so every op 1 is answered with op 11.
* IDENTIFY → READY (``session_id``, ``resume_gateway_url``, ``application.flags``, the
  guilds as unavailable stubs), then one GUILD_CREATE per guild. ``wait_until_ready``
  fires ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE.
* A close with any code but 1000/4004/4010-4014 makes the client RESUME against
  ``resume_gateway_url``; the server replays the dispatches it missed, then RESUMED.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["GatewayConnection", "GatewaySession", "Intents", "Op"]

_log = logging.getLogger(__name__)


class Op:
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intents:
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


# Application flags that tell discord.py which privileged intents the app may use.
_APP_FLAG_FOR_INTENT = {
    Intents.GUILD_PRESENCES: 1 << 12,
    Intents.GUILD_MEMBERS: 1 << 14,
    Intents.MESSAGE_CONTENT: 1 << 18,
}


class _Compressor:
    """zlib-stream / zstd-stream framing; ``None`` sends plain text frames."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self._zlib = zlib.compressobj() if kind == "zlib-stream" else None
        self._zstd: Any = None
        if kind == "zstd-stream":
            import zstandard  # only reachable when the client itself has zstandard

            self._zstd = zstandard.ZstdCompressor().compressobj()
            self._flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def encode(self, text: str) -> str | bytes:
        raw = text.encode()
        if self._zlib is not None:
            return self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            return self._zstd.compress(raw) + self._zstd.flush(self._flush_block)
        return text


@dataclass
class GatewaySession:
    """One identified session; outlives its WebSocket so that RESUME can replay events."""

    session_id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    # (seq, payload) of every dispatch, for replay on RESUME
    sent: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    identify: dict[str, Any] = field(default_factory=dict)
    resumes: int = 0

    def holds_guild(self, guild_id: int | None) -> bool:
        if guild_id is None or not self.shard:
            return True
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id

    @property
    def live(self) -> bool:
        return self.connection is not None and self.connection.ready


class GatewayConnection:
    """One WebSocket; serialises sends because the zlib stream must stay in order."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None, path: str) -> None:
        self.ws = ws
        self.path = path
        self.compressor = _Compressor(compress)
        self.lock = asyncio.Lock()
        self.session: GatewaySession | None = None
        self.ready = False  # READY or RESUMED sent
        self.heartbeats = 0
        self.received: list[dict[str, Any]] = []
        self.server_close_code: int | None = None

    async def close(self, code: int, reason: bytes) -> None:
        """Close from the server side, remembering our code (the peer echoes its own)."""
        if self.server_close_code is None:
            self.server_close_code = code
        await self.ws.close(code=code, message=reason)

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            if self.ws.closed:
                return
            frame = self.compressor.encode(json.dumps(payload, separators=(",", ":")))
            try:
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_str(frame)
            except ConnectionError:
                # The peer went away mid-send; RESUME will replay the event.
                _log.debug("gateway send failed; peer gone")


class Gateway:
    """Accepts gateway WebSockets for one :class:`FakeDiscord`."""

    heartbeat_interval_ms = 41_250

    def __init__(self, server: FakeDiscord) -> None:
        self.server = server
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []  # every connection ever accepted
        # per closed connection: the code the server closed with, else the client's code
        self.closed_with: list[int | None] = []

    # --- helpers used by the server -------------------------------------------------------

    def live_sessions(self, guild_id: int | None = None) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.live and s.holds_guild(guild_id)]

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None
    ) -> list[GatewaySession]:
        """Send a dispatch to every session holding ``guild_id``; returns the sessions."""
        targets = [s for s in self.sessions.values() if s.holds_guild(guild_id)]
        for session in targets:
            await self._dispatch_to(session, event, data)
        return targets

    async def _dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
        session.sent.append((session.seq, payload))
        if session.connection is not None:
            await session.connection.send(payload)

    async def drop(self, *, code: int = 4000, resumable: bool = True) -> int:
        """Close every live WebSocket server-side; returns how many were closed."""
        dropped = 0
        for session in list(self.sessions.values()):
            conn = session.connection
            if conn is None:
                continue
            if not resumable:
                del self.sessions[session.session_id]
            session.connection = None
            conn.ready = False
            await conn.close(code, b"dropped by test")
            dropped += 1
        self.server._notify()
        return dropped

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session."""
        for session in self.sessions.values():
            if session.connection is not None:
                await session.connection.send({"op": Op.RECONNECT, "d": None})

    async def close_all(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.close(1001, b"server shutting down")

    # --- the WebSocket handler -----------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        compress = query.get("compress")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws, compress, request.path)
        self.connections.append(conn)
        self.server.record_gateway_connect(request)
        if query.get("encoding", "json") != "json" or compress not in (
            None,
            "zlib-stream",
            "zstd-stream",
        ):
            await conn.close(4002, b"Error while decoding payload.")
            return ws
        await conn.send({"op": Op.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                conn.received.append(payload)
                await self._on_payload(conn, payload)
        finally:
            self.closed_with.append(conn.server_close_code or ws.close_code)
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            conn.ready = False
            self.server._notify()
        return ws

    async def _on_payload(self, conn: GatewayConnection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == Op.HEARTBEAT:
            conn.heartbeats += 1
            await conn.send({"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            await self._identify(conn, data or {})
        elif op == Op.RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.close(4003, b"Not authenticated.")
        elif op == Op.REQUEST_GUILD_MEMBERS:
            await self._members_chunk(conn, data or {})
        # PRESENCE_UPDATE and voice ops are recorded (conn.received) and otherwise ignored.

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        server = self.server
        if conn.session is not None:
            await conn.close(4005, b"Already authenticated.")
            return
        if data.get("token") != server.token:
            await conn.close(4004, b"Authentication failed.")
            return
        intents = data.get("intents")
        if intents is None:
            await conn.close(4013, b"Invalid intent(s).")
            return
        if intents & Intents.PRIVILEGED & ~server.allowed_privileged_intents:
            await conn.close(4014, b"Disallowed intent(s).")
            return
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            intents=intents,
            shard=data.get("shard"),
            identify=data,
        )
        self.sessions[session.session_id] = session
        session.connection = conn
        conn.session = session
        guilds = [g for g in server.guilds if session.holds_guild(g.id)]
        app_flags = 0
        for intent, flag in _APP_FLAG_FOR_INTENT.items():
            if server.allowed_privileged_intents & intent:
                app_flags |= flag
        ready: dict[str, Any] = {
            "v": 10,
            "user": {
                **server.bot_user.to_payload(),
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
                "email": None,
            },
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": server.resume_gateway_url,
            "application": {"id": str(server.application_id), "flags": app_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fakediscord"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self._dispatch_to(session, "READY", ready)
        for guild in guilds:
            await self._dispatch_to(session, "GUILD_CREATE", guild.to_payload())
        conn.ready = True
        server._notify()

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id") or "")
        if session is None or data.get("token") != self.server.token:
            # d=false: not resumable, the client must IDENTIFY again.
            await conn.send({"op": Op.INVALID_SESSION, "d": False})
            return
        if session.connection is not None and session.connection is not conn:
            await session.connection.close(4000, b"session resumed elsewhere")
        session.connection = conn
        session.resumes += 1
        conn.session = session
        last_seen = int(data.get("seq") or 0)
        for seq, payload in session.sent:
            if seq > last_seen:
                await conn.send(payload)
        await self._dispatch_to(session, "RESUMED", {"_trace": ["fakediscord"]})
        conn.ready = True
        self.server._notify()

    async def _members_chunk(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        # Enough for discord.py's chunk_guild(): every member in one chunk.
        assert conn.session is not None
        guild = self.server.guild_by_id(int(data["guild_id"]))
        members = guild.members
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        chunk = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._dispatch_to(conn.session, "GUILD_MEMBERS_CHUNK", chunk)
