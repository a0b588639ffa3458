"""A fake Discord (REST API v10 + gateway) on 127.0.0.1 for end-to-end tests of discord.py bots.

discord.py is not mocked: its own HTTP client and WebSocket talk to this aiohttp server,
which answers with the JSON shapes the real API sends and enforces the rules a bot most
often breaks (3-second acknowledgement, double acknowledgement, message and embed limits).
Every request, every interaction response and every rule broken is recorded for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web

from . import limits
from .gateway import Gateway, Intents
from .models import (
    DM,
    FakeChannel,
    FakeGuild,
    FakeRole,
    FakeUser,
    Permissions,
    default_guild,
    iso_now,
    snowflake,
)

__all__ = [
    "FakeDiscord",
    "FakeInteraction",
    "InteractionRecord",
    "Pings",
    "RecordedRequest",
    "UploadedFile",
    "Violation",
]

T = TypeVar("T")
_log = logging.getLogger(__name__)
API_PREFIX = "/api/v10"
ResponseKind = Literal["callback", "followup", "edit", "get", "delete"]

# Interaction types (discord.InteractionType)
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Callback types (discord.InteractionResponseType)
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
_ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL, 12},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE,
        UPDATE_MESSAGE,
        MODAL,
        12,
    },
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}
EPHEMERAL, LOADING = 1 << 6, 1 << 7
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Discord's own error bodies, verbatim.
UNKNOWN_INTERACTION = {"code": 10062, "message": "Unknown interaction"}
ALREADY_ACKNOWLEDGED = {"code": 40060, "message": "Interaction has already been acknowledged."}
UNKNOWN_WEBHOOK = {"code": 10015, "message": "Unknown Webhook"}
INVALID_WEBHOOK_TOKEN = {"code": 50027, "message": "Invalid Webhook Token"}
UNKNOWN_MESSAGE = {"code": 10008, "message": "Unknown Message"}
UNKNOWN_CHANNEL = {"code": 10003, "message": "Unknown Channel"}
EMPTY_MESSAGE = {"code": 50006, "message": "Cannot send an empty message"}
NOT_AUTHOR = {"code": 50005, "message": "Cannot edit a message authored by another user"}
UNAUTHORIZED = {"code": 0, "message": "401: Unauthorized"}
NOT_FOUND = {"code": 0, "message": "404: Not Found"}

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)\b")


def json_response(body: Any, status: int = 200) -> web.Response:
    # discord.py only decodes JSON when Content-Type is exactly "application/json";
    # aiohttp's json_response would append "; charset=utf-8".
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes
    field: str  # the multipart field name, e.g. "files[0]"


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any  # the JSON body, or the parsed payload_json of a multipart body
    files: list[UploadedFile]
    at: float  # loop time
    authorized: bool
    status: int = 0
    response: Any = None


@dataclass
class Violation:
    """A rule of Discord's that the bot broke (the server answered with an error)."""

    kind: str  # "late_ack", "double_ack", "invalid_form_body", "empty_message", ...
    code: int  # Discord's JSON error code
    method: str
    path: str
    detail: Any = None
    interaction_id: int | None = None


@dataclass
class Pings:
    """Who a message would notify, given its content and allowed_mentions.

    Computed from the payload only (the bot's Mention Everyone permission is ignored), so a
    test catches an allowed_mentions that *would* ping @everyone or a role.
    """

    users: set[int] = field(default_factory=set)
    roles: set[int] = field(default_factory=set)
    everyone: bool = False
    replied_user: bool = False

    @property
    def any(self) -> bool:
        return bool(self.users or self.roles or self.everyone)


@dataclass
class InteractionRecord:
    """One request the bot made for an interaction (callback, follow-up, edit, ...)."""

    kind: ResponseKind
    interaction_id: int
    method: str
    path: str
    type: int | None  # callback type; None for webhook requests
    data: Any  # callback "data", or the webhook JSON / payload_json
    files: list[UploadedFile]
    elapsed: float  # seconds since the interaction was dispatched
    status: int
    error: dict[str, Any] | None = None
    message: dict[str, Any] | None = None  # the message created or edited

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class FakeInteraction:
    """An interaction the server dispatched; follow its responses from here."""

    server: FakeDiscord
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: int
    guild_id: int | None
    user: FakeUser
    dispatched_at: float = 0.0
    acknowledged: bool = False
    ack_type: int | None = None
    expired: bool = False  # the bot missed the deadline: the token is dead
    original_id: int | None = None  # the @original message
    followup_ids: list[int] = field(default_factory=list)
    records: list[InteractionRecord] = field(default_factory=list)

    async def response(
        self, kind: ResponseKind = "callback", *, index: int = 0, timeout: float = 5.0
    ) -> InteractionRecord:
        return await self.server.wait_for_response(self.id, kind, index=index, timeout=timeout)

    async def callback(self, timeout: float = 5.0) -> InteractionRecord:
        return await self.response("callback", timeout=timeout)

    async def followup(self, index: int = 0, timeout: float = 5.0) -> InteractionRecord:
        return await self.response("followup", index=index, timeout=timeout)

    @property
    def original(self) -> dict[str, Any] | None:
        return self.server.messages.get(self.original_id) if self.original_id else None


# Per-request state set by the middleware for the handlers.
RECORD = web.RequestKey("record", RecordedRequest)
INTERACTION_ID = web.RequestKey("interaction_id", int)


class HTTPError(Exception):
    def __init__(self, status: int, body: dict[str, Any], kind: str | None = None) -> None:
        super().__init__(status, body)
        self.status, self.body, self.kind = status, body, kind


class FakeDiscord:
    """The fake server. Start with ``await start()`` (or :func:`running_fake_discord`).

    Knobs tests may change at any time:

    * ``ack_deadline`` — seconds a bot has for the first interaction response (3.0).
    * ``token_ttl`` — lifetime of an interaction token for follow-ups (900.0).
    * ``allowed_privileged_intents`` — privileged intents enabled "in the developer portal";
      identifying with others closes the gateway with 4014 (default: all allowed).
    * ``enforce_message_content`` — blank ``content`` in MESSAGE_CREATE unless the bot has
      the message-content intent, is mentioned, or it is a DM (True, as Discord does).
    * ``echo_messages`` — send MESSAGE_CREATE for the bot's own non-ephemeral messages (True).
    * ``require_registered_commands`` — ``send_slash_command`` refuses names the bot never
      synced, since Discord can only send commands it knows (True).
    """

    def __init__(
        self,
        token: str = "fake-bot-token",
        *,
        bot_user: FakeUser | None = None,
        guilds: Sequence[FakeGuild] | None = None,
        application_id: int | None = None,
        owner: FakeUser | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.host = host
        self.bot_user = bot_user or FakeUser(snowflake(), "Steward", bot=True)
        self.application_id = application_id or self.bot_user.id
        self.owner = owner or FakeUser(snowflake(), "app-owner")
        self.guilds: list[FakeGuild] = (
            list(guilds) if guilds is not None else [default_guild(self.bot_user)]
        )
        for guild in self.guilds:
            guild.add_member(self.bot_user)  # the bot is a member of every guild it is in

        self.ack_deadline = 3.0
        self.token_ttl = 15 * 60.0
        self.allowed_privileged_intents = Intents.PRIVILEGED
        self.enforce_message_content = True
        self.echo_messages = True
        self.require_registered_commands = True

        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.interactions: dict[int, FakeInteraction] = {}
        self.messages: dict[int, dict[str, Any]] = {}  # id -> message payload (REST shape)
        self.pings: dict[int, Pings] = {}  # message id -> who it notifies
        self.deleted_messages: list[dict[str, Any]] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global)
        self.attachments: dict[int, UploadedFile] = {}
        self.typing: list[tuple[int, float]] = []  # (channel id, loop time)
        self.dm_channels: dict[int, FakeChannel] = {}
        self._dm_users: dict[int, FakeUser] = {}
        self.gateway = Gateway(self)
        self.gateway_connects: list[dict[str, str]] = []

        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        # A short shutdown timeout: tests must not wait 60 s for a stuck handler.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        # A different path than gateway_url, so tests can see the client used READY's URL.
        return f"ws://{self.host}:{self.port}/resume-gateway"

    # --- world lookups -----------------------------------------------------------------

    @property
    def guild(self) -> FakeGuild:
        """The first guild (the default guild unless ``guilds`` was given)."""
        return self.guilds[0]

    @property
    def channel(self) -> FakeChannel:
        """The first text channel of the first guild."""
        return self.guild.text_channel

    @property
    def thread(self) -> FakeChannel | None:
        return next((c for c in self.guild.channels if c.is_thread), None)

    def user(self, username: str) -> FakeUser:
        """A user of any guild by username (default guild: organizer, admin, owner)."""
        for guild in self.guilds:
            for member in guild.members:
                if member.user.username == username:
                    return member.user
        raise LookupError(username)

    @property
    def organizer(self) -> FakeUser:
        return self.user("organizer")

    @property
    def admin(self) -> FakeUser:
        return self.user("admin")

    def guild_by_id(self, guild_id: int) -> FakeGuild:
        return next(g for g in self.guilds if g.id == guild_id)

    def find_channel(self, channel_id: int) -> tuple[FakeChannel | None, FakeGuild | None]:
        for guild in self.guilds:
            for ch in guild.channels:
                if ch.id == channel_id:
                    return ch, guild
        return self.dm_channels.get(channel_id), None

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        for ch in self.dm_channels.values():
            if ch.owner_id == user.id:
                return ch
        ch = FakeChannel(snowflake(), user.username, DM, owner_id=user.id)
        self.dm_channels[ch.id] = ch
        return ch

    def _find_user(self, user_id: int) -> FakeUser | None:
        if user_id == self.bot_user.id:
            return self.bot_user
        for guild in self.guilds:
            member = guild.member(user_id)
            if member is not None:
                return member.user
        return self._dm_users.get(user_id)

    def _dm_user(self, ch: FakeChannel) -> FakeUser:
        return self._dm_users.get(ch.owner_id or 0) or FakeUser(ch.owner_id or 0, ch.name)

    # --- recording and waiting ---------------------------------------------------------

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

    # --- gateway control ---------------------------------------------------------------

    async def wait_until_connected(self, timeout: float = 5.0) -> None:
        """Wait until some client has a READY or RESUMED gateway session."""
        await self.wait_for(lambda: bool(self.gateway.live_sessions()), timeout)

    async def drop_gateway(self, *, code: int = 4000, resumable: bool = True) -> int:
        """Close the bot's WebSocket from the server side (4000: "unknown error", resumable).

        With ``resumable=False`` the session is forgotten, so the RESUME gets op 9 and the
        client has to IDENTIFY again.
        """
        return await self.gateway.drop(code=code, resumable=resumable)

    async def request_reconnect(self) -> None:
        await self.gateway.request_reconnect()

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None
    ) -> None:
        """Send any gateway dispatch (e.g. GUILD_UPDATE) to the sessions holding ``guild_id``."""
        await self.gateway.dispatch(event, data, guild_id=guild_id)

    # --- injecting events --------------------------------------------------------------

    def attachment(
        self, filename: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """Register bytes and return an attachment object whose ``url`` serves them."""
        att_id = snowflake()
        self.attachments[att_id] = UploadedFile(filename, content_type, data, field="")
        return self._attachment_payload(att_id)

    def _attachment_payload(self, att_id: int) -> dict[str, Any]:
        f = self.attachments[att_id]
        url = f"{self.base_url}/attachments/{att_id}/{f.filename}"
        return {
            "id": str(att_id),
            "filename": f.filename,
            "size": len(f.data),
            "url": url,
            "proxy_url": url,
            "content_type": f.content_type,
        }

    async def send_message_create(
        self,
        content: str,
        *,
        author: FakeUser | None = None,
        channel_id: int | None = None,
        mentions: Sequence[FakeUser] | None = None,
        reference: int | None = None,
        attachments: Sequence[dict[str, Any]] = (),
        embeds: Sequence[dict[str, Any]] = (),
        dm: bool = False,
        reply_ping: bool = True,
        wait_connected: float = 10.0,
    ) -> dict[str, Any]:
        """A user posts a message: store it and send MESSAGE_CREATE. Returns the payload.

        ``mentions`` defaults to the users written as ``<@id>`` in ``content`` (use
        ``server.bot_user.mention`` to mention the bot) plus, for a reply (``reference``: a
        message id) with ``reply_ping``, the replied-to author — as Discord's client does.
        With ``dm=True`` it is a DM from ``author`` to the bot.
        """
        await self.wait_until_connected(wait_connected)
        author = author or self._default_user()
        if dm:
            channel = self.dm_channel(author)
            self._remember_dm_user(author)
            guild = None
        else:
            channel, guild = self.find_channel(channel_id or self.channel.id)
            if channel is None:
                raise LookupError(f"unknown channel {channel_id}")
        if mentions is None:
            ids = [int(i) for i in _USER_MENTION.findall(content)]
            replied = self.messages.get(reference) if reference is not None else None
            if replied is not None and reply_ping:
                ids.append(int(replied["author"]["id"]))
            mentions = [u for u in (self._find_user(i) for i in dict.fromkeys(ids)) if u]
        message = self._new_message(
            channel,
            guild,
            author,
            {"content": content, "embeds": list(embeds)},
            attachments=list(attachments),
            explicit_mentions=list(mentions),
            reference=reference,
        )
        self.messages[int(message["id"])] = message
        await self._dispatch_message_create(message, guild)
        self._notify()
        return message

    async def send_interaction(
        self,
        type: int,
        data: dict[str, Any] | None = None,
        *,
        user: FakeUser | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        message: dict[str, Any] | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
        wait_connected: float = 10.0,
    ) -> FakeInteraction:
        """Build an INTERACTION_CREATE the way Discord does and dispatch it.

        The specialised builders (``send_slash_command``, ``send_autocomplete``,
        ``send_component``, ``send_message_command``, ``send_modal_submit``) fill ``data``.
        """
        await self.wait_until_connected(wait_connected)
        user = user or self._default_user()
        interaction_id = snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)  # looks like Discord's tokens
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": type,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,  # discord.py reads it with [...]
        }
        if data is not None:
            payload["data"] = data
        guild: FakeGuild | None = None
        if dm:
            channel = self.dm_channel(user)
            self._remember_dm_user(user)
            payload["user"] = user.to_payload()
            payload["context"] = 1  # BOT_DM
            payload["authorizing_integration_owners"] = {"0": "0"}
            payload["app_permissions"] = str(Permissions.MEMBER_DEFAULT)
            payload["channel"] = {
                "id": str(channel.id),
                "type": DM,
                "recipients": [user.to_payload()],
                "last_message_id": None,
                "flags": 0,
            }
        else:
            channel, guild = self.find_channel(channel_id or self.channel.id)
            if channel is None or guild is None:
                raise LookupError(f"unknown guild channel {channel_id}")
            member = guild.member(user.id) or guild.add_member(user)
            perms = guild.permissions_of(user.id) if permissions is None else permissions
            payload["guild_id"] = str(guild.id)
            payload["guild"] = {"id": str(guild.id), "locale": guild.locale, "features": []}
            payload["guild_locale"] = guild.locale
            payload["member"] = {**member.to_payload(), "permissions": str(perms)}
            payload["context"] = 0  # GUILD
            payload["authorizing_integration_owners"] = {"0": str(guild.id)}
            payload["app_permissions"] = str(guild.permissions_of(self.bot_user.id))
            payload["channel"] = {
                **channel.to_payload(),
                "permissions": str(perms),
            }
        payload["channel_id"] = str(channel.id)
        if message is not None:
            payload["message"] = message
        interaction = FakeInteraction(
            server=self,
            id=interaction_id,
            token=token,
            type=type,
            payload=payload,
            channel_id=channel.id,
            guild_id=guild.id if guild else None,
            user=user,
        )
        self.interactions[interaction_id] = interaction
        # Discord's 3 s start when it creates the interaction, i.e. just before dispatch.
        interaction.dispatched_at = self._now()
        await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=interaction.guild_id)
        self._notify()
        return interaction

    async def send_slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        focused: str | None = None,
        raw_options: list[dict[str, Any]] | None = None,
        **context: Any,
    ) -> FakeInteraction:
        """A member runs ``/name``; ``name`` may be ``"group sub"`` or ``"group subgroup sub"``.

        ``options`` maps option names to values; the option types come from the command
        payload the bot synced (or, if unsynced and not required, from the Python values).
        Users, roles, channels and attachment dicts (``server.attachment(...)``) are put in
        ``resolved`` the way Discord does. ``context``: see :meth:`send_interaction`.
        """
        itype = AUTOCOMPLETE if focused is not None else APPLICATION_COMMAND
        data = self._command_data(
            name,
            options or {},
            focused,
            raw_options,
            dm=bool(context.get("dm")),
            channel_id=context.get("channel_id"),
        )
        return await self.send_interaction(itype, data, **context)

    async def send_autocomplete(
        self, name: str, options: Mapping[str, Any], *, focused: str, **context: Any
    ) -> FakeInteraction:
        """The user is typing into option ``focused`` of ``/name`` (value: the partial text)."""
        return await self.send_slash_command(name, options, focused=focused, **context)

    async def send_component(
        self,
        custom_id: str,
        *,
        message: int | dict[str, Any],
        component_type: int = 2,
        values: Sequence[str] | None = None,
        **context: Any,
    ) -> FakeInteraction:
        """A click on a button (type 2) or a choice in a select (type 3, with ``values``).

        ``message`` is the message carrying the component (its id, or the payload). The
        custom_id must be on that message, as Discord only sends clicks on real components.
        """
        msg = self._message_for(message)
        ids = {c.get("custom_id") for row in msg.get("components", []) for c in _walk(row)}
        if custom_id not in ids:
            raise LookupError(f"custom_id {custom_id!r} is not on message {msg['id']}: {ids}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        context.setdefault("channel_id", int(msg["channel_id"]))
        return await self.send_interaction(MESSAGE_COMPONENT, data, message=msg, **context)

    async def send_message_command(
        self, name: str, *, message: int | dict[str, Any], **context: Any
    ) -> FakeInteraction:
        """A member uses the message context menu ``name`` (app command type 3) on a message."""
        msg = self._message_for(message)
        cmd, guild_id = self._registered(name, 3, context)
        data = {
            "id": cmd["id"] if cmd else str(snowflake()),
            "name": name,
            "type": 3,
            "target_id": msg["id"],
            "resolved": {"messages": {msg["id"]: msg}},
        }
        if guild_id:
            data["guild_id"] = str(guild_id)
        context.setdefault("channel_id", int(msg["channel_id"]))
        return await self.send_interaction(APPLICATION_COMMAND, data, **context)

    async def send_user_command(
        self, name: str, *, target: FakeUser, **context: Any
    ) -> FakeInteraction:
        """A member uses the user context menu ``name`` (app command type 2) on ``target``."""
        cmd, guild_id = self._registered(name, 2, context)
        resolved = self._resolved_for(target, context)
        data = {
            "id": cmd["id"] if cmd else str(snowflake()),
            "name": name,
            "type": 2,
            "target_id": str(target.id),
            "resolved": resolved,
        }
        if guild_id:
            data["guild_id"] = str(guild_id)
        return await self.send_interaction(APPLICATION_COMMAND, data, **context)

    async def send_modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, str],
        *,
        message: int | dict[str, Any] | None = None,
        **context: Any,
    ) -> FakeInteraction:
        """A user submits a modal: ``values`` maps text-input custom_ids to their text."""
        data = {
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
                for k, v in values.items()
            ],
        }
        msg = self._message_for(message) if message is not None else None
        return await self.send_interaction(MODAL_SUBMIT, data, message=msg, **context)

    def _default_user(self) -> FakeUser:
        try:
            return self.organizer
        except LookupError:
            member = next(m for m in self.guild.members if not m.user.bot)
            return member.user

    def _remember_dm_user(self, user: FakeUser) -> None:
        self._dm_users[user.id] = user

    def _message_for(self, message: int | dict[str, Any]) -> dict[str, Any]:
        if isinstance(message, dict):
            return message
        return self.messages[int(message)]

    def _registered(
        self, name: str, cmd_type: int, context: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, int | None]:
        """The synced command payload for ``name`` and its guild id (None when global)."""
        guild_id = None
        if not context.get("dm"):
            _, guild = self.find_channel(context.get("channel_id") or self.channel.id)
            guild_id = guild.id if guild else None
        for gid in ([guild_id] if guild_id else []) + [None]:
            for cmd in self.commands.get(gid, []):
                if cmd["name"] == name and cmd.get("type", 1) == cmd_type:
                    return cmd, gid
        if self.require_registered_commands:
            raise LookupError(
                f"the bot never synced a type-{cmd_type} command {name!r}; "
                f"synced: {[c['name'] for cs in self.commands.values() for c in cs]}"
            )
        return None, None

    def _command_data(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str | None,
        raw_options: list[dict[str, Any]] | None,
        *,
        dm: bool,
        channel_id: int | None,
    ) -> dict[str, Any]:
        path = name.split()
        cmd, guild_id = self._registered(path[0], 1, {"dm": dm, "channel_id": channel_id})
        defs: list[dict[str, Any]] = cmd.get("options", []) if cmd else []
        # Walk the subcommand group / subcommand definitions.
        nest: list[tuple[str, int]] = []
        for part in path[1:]:
            sub = next((o for o in defs if o["name"] == part), None)
            if cmd is not None and sub is None:
                raise LookupError(f"/{name}: no subcommand {part!r}")
            sub_type = sub["type"] if sub else (2 if len(path) == 3 and not nest else 1)
            nest.append((part, sub_type))
            defs = sub.get("options", []) if sub else []
        resolved: dict[str, dict[str, Any]] = {}
        ctx = {"dm": dm, "channel_id": channel_id}
        if raw_options is not None:
            leaves = raw_options
        else:
            leaves = []
            for opt_name, value in options.items():
                odef = next((o for o in defs if o["name"] == opt_name), None)
                if cmd is not None and odef is None:
                    raise LookupError(f"/{name} has no option {opt_name!r}")
                opt_type = odef["type"] if odef else _infer_type(value)
                leaf: dict[str, Any] = {"name": opt_name, "type": opt_type}
                if opt_name == focused:
                    leaf["value"] = str(value)  # autocomplete sends what was typed
                    leaf["focused"] = True
                else:
                    leaf["value"] = self._option_value(opt_type, value, resolved, ctx)
                leaves.append(leaf)
        tree: list[dict[str, Any]] = leaves
        for part, sub_type in reversed(nest):
            tree = [{"name": part, "type": sub_type, "options": tree}]
        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(snowflake()),
            "name": path[0],
            "type": 1,
            "options": tree,
        }
        if guild_id:
            data["guild_id"] = str(guild_id)
        if resolved:
            data["resolved"] = resolved
        return data

    def _option_value(
        self, opt_type: int, value: Any, resolved: dict[str, dict[str, Any]], ctx: Mapping[str, Any]
    ) -> Any:
        if isinstance(value, FakeUser):
            for key, entry in self._resolved_for(value, ctx).items():
                resolved.setdefault(key, {}).update(entry)
            return str(value.id)
        if isinstance(value, FakeRole):
            resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
            return str(value.id)
        if isinstance(value, FakeChannel):
            perms = str(Permissions.MEMBER_DEFAULT)
            resolved.setdefault("channels", {})[str(value.id)] = {
                **value.to_payload(),
                "permissions": perms,
            }
            return str(value.id)
        if opt_type == 11 and isinstance(value, dict):  # attachment
            resolved.setdefault("attachments", {})[value["id"]] = value
            return value["id"]
        if opt_type in (6, 7, 8, 9, 11):
            return str(value)
        return value

    def _resolved_for(self, user: FakeUser, ctx: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        resolved: dict[str, dict[str, Any]] = {"users": {str(user.id): user.to_payload()}}
        if not ctx.get("dm"):
            _, guild = self.find_channel(ctx.get("channel_id") or self.channel.id)
            member = guild.member(user.id) if guild else None
            if guild is not None and member is not None:
                resolved["members"] = {
                    str(user.id): {
                        **member.to_payload(with_user=False),
                        "permissions": str(guild.permissions_of(user.id)),
                    }
                }
        return resolved

    # --- messages ----------------------------------------------------------------------

    def _compute_pings(
        self,
        content: str,
        allowed: Mapping[str, Any] | None,
        replied_to: dict[str, Any] | None,
    ) -> Pings:
        users = {int(u) for u in _USER_MENTION.findall(content)}
        roles = {int(r) for r in _ROLE_MENTION.findall(content)}
        everyone = bool(_EVERYONE.search(content))
        if allowed is None:  # no allowed_mentions: Discord parses everything
            pings = Pings(users, roles, everyone, replied_user=replied_to is not None)
        else:
            parse = set(allowed.get("parse") or [])
            allowed_users = {int(u) for u in allowed.get("users") or []}
            allowed_roles = {int(r) for r in allowed.get("roles") or []}
            pings = Pings(
                users if "users" in parse else users & allowed_users,
                roles if "roles" in parse else roles & allowed_roles,
                everyone and "everyone" in parse,
                replied_user=replied_to is not None and bool(allowed.get("replied_user", False)),
            )
        if pings.replied_user and replied_to is not None:
            pings.users.add(int(replied_to["author"]["id"]))
        return pings

    def _new_message(
        self,
        channel: FakeChannel,
        guild: FakeGuild | None,
        author: FakeUser,
        payload: Mapping[str, Any],
        *,
        attachments: list[dict[str, Any]],
        explicit_mentions: list[FakeUser] | None = None,
        reference: int | None = None,
        webhook: FakeInteraction | None = None,
        msg_type: int = 0,
        flags: int = 0,
    ) -> dict[str, Any]:
        msg_id = snowflake()
        content = payload.get("content") or ""
        ref_msg = self.messages.get(reference) if reference is not None else None
        if explicit_mentions is not None:
            pings = Pings(users={u.id for u in explicit_mentions})
            mention_users = list(explicit_mentions)
        else:
            pings = self._compute_pings(content, payload.get("allowed_mentions"), ref_msg)
            mention_users = [u for u in (self._find_user(i) for i in sorted(pings.users)) if u]
        self.pings[msg_id] = pings
        message: dict[str, Any] = {
            "id": str(msg_id),
            "channel_id": str(channel.id),
            "author": author.to_payload(),
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts")),
            "mention_everyone": pings.everyone,
            "mentions": [u.to_payload() for u in mention_users],
            "mention_roles": [str(r) for r in sorted(pings.roles)],
            "attachments": attachments,
            "embeds": [_normalise_embed(e) for e in payload.get("embeds") or []],
            "components": payload.get("components") or [],
            "pinned": False,
            "type": 19 if ref_msg is not None else msg_type,
            "flags": flags | (int(payload.get("flags") or 0) & ~LOADING),
        }
        if guild is not None:
            message["guild_id"] = str(guild.id)
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if ref_msg is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": ref_msg["id"],
                "channel_id": ref_msg["channel_id"],
                **({"guild_id": str(guild.id)} if guild else {}),
            }
            # Discord nests one level only.
            message["referenced_message"] = {
                k: v for k, v in ref_msg.items() if k != "referenced_message"
            }
        if webhook is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_metadata"] = {
                "id": str(webhook.id),
                "type": webhook.type,
                "user": webhook.user.to_payload(),
                "authorizing_integration_owners": webhook.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
        return message

    async def _dispatch_message_create(
        self, message: dict[str, Any], guild: FakeGuild | None
    ) -> None:
        guild_id = guild.id if guild else None
        # Sessions that are down get it on RESUME, like any missed dispatch.
        for session in [s for s in self.gateway.sessions.values() if s.holds_guild(guild_id)]:
            intents = session.intents
            if not intents & (Intents.GUILD_MESSAGES if guild else Intents.DIRECT_MESSAGES):
                continue  # Discord only sends message events for the intents asked for
            event = dict(message)
            if guild is not None:
                member = guild.member(int(message["author"]["id"]))
                if member is not None and not message.get("webhook_id"):
                    event["member"] = member.to_payload(with_user=False)
                event["mentions"] = [
                    {**u, "member": m.to_payload(with_user=False)}
                    if (m := guild.member(int(u["id"]))) is not None
                    else u
                    for u in message["mentions"]
                ]
            if self._content_hidden(message, guild, intents):
                event.update(content="", embeds=[], attachments=[], components=[])
            await self.gateway._dispatch_to(session, "MESSAGE_CREATE", event)

    def _content_hidden(
        self, message: dict[str, Any], guild: FakeGuild | None, intents: int
    ) -> bool:
        # Without the privileged MESSAGE_CONTENT intent a bot sees content only in DMs,
        # in messages that mention it, and in its own messages.
        if not self.enforce_message_content or intents & Intents.MESSAGE_CONTENT or guild is None:
            return False
        bot_id = str(self.bot_user.id)
        return message["author"]["id"] != bot_id and all(
            u["id"] != bot_id for u in message["mentions"]
        )

    def _store_files(
        self, files: list[UploadedFile], payload: Mapping[str, Any], keep: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Turn uploaded ``files[n]`` plus the payload's ``attachments`` into attachments."""
        by_index = {}
        for f in files:
            m = re.fullmatch(r"files\[(\d+)\]", f.field) or re.fullmatch(r"file(\d*)", f.field)
            if m:
                by_index[m.group(1) or "0"] = f
        result: list[dict[str, Any]] = []
        described = payload.get("attachments")
        if described is None:
            described = [{"id": k} for k in by_index]
            described += [{"id": a["id"]} for a in keep]
        for entry in described:
            key = str(entry.get("id"))
            if key in by_index:
                f = by_index.pop(key)
                att_id = snowflake()
                f.filename = entry.get("filename") or f.filename
                self.attachments[att_id] = f
                att = self._attachment_payload(att_id)
                if entry.get("description"):
                    att["description"] = entry["description"]
                result.append(att)
            else:
                kept = next((a for a in keep if a["id"] == key), None)
                if kept is not None:
                    result.append(kept)
        return result

    # --- HTTP plumbing -----------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path in ("/gateway", "/resume-gateway") or request.path.startswith(
            "/attachments/"
        ):
            return await handler(request)
        body, files = await _read_body(request)
        auth = request.headers.get("Authorization")
        record = RecordedRequest(
            method=request.method,
            path=request.path.removeprefix(API_PREFIX),
            query=dict(request.rel_url.query),
            json=body,
            files=files,
            at=self._now(),
            authorized=auth == f"Bot {self.token}",
        )
        self.requests.append(record)
        request[RECORD] = record
        needs_auth = not record.path.startswith(("/interactions/", "/webhooks/")) and (
            record.path != "/gateway"
        )
        try:
            if needs_auth and not record.authorized:
                raise HTTPError(401, UNAUTHORIZED)
            response = await handler(request)
        except HTTPError as err:
            interaction_id = request.get(INTERACTION_ID)
            if err.kind is not None:
                self._violate(request, err, interaction_id)
            response = json_response(err.body, err.status)
            record.response = err.body
        except web.HTTPNotFound:
            self.violations.append(
                Violation("unknown_route", 0, request.method, record.path, "no such route")
            )
            response = json_response(NOT_FOUND, 404)
            record.response = NOT_FOUND
        except Exception as exc:
            # A bug in the fake itself. 503 (unlike 500) is not retried by discord.py, so
            # the test fails at once instead of after ~16 s of retries.
            _log.exception("fake discord failed on %s %s", request.method, record.path)
            body = {"code": 0, "message": f"fake discord internal error: {exc!r}"}
            self.violations.append(
                Violation("fake_server_error", 0, request.method, record.path, repr(exc))
            )
            response = json_response(body, 503)
            record.response = body
        else:
            if isinstance(response, web.Response) and response.content_type == "application/json":
                record.response = json.loads(response.body)  # type: ignore[arg-type]
        record.status = response.status
        self._notify()
        return response

    def _add_routes(self, app: web.Application) -> None:
        p = API_PREFIX
        r = app.router
        r.add_get("/gateway", self.gateway.handle)
        r.add_get("/resume-gateway", self.gateway.handle)
        r.add_get("/attachments/{att_id}/{filename}", self._get_attachment)
        r.add_get(f"{p}/users/@me", self._get_me)
        r.add_post(f"{p}/users/@me/channels", self._create_dm)
        r.add_get(f"{p}/gateway", self._get_gateway)
        r.add_get(f"{p}/gateway/bot", self._get_gateway_bot)
        r.add_get(f"{p}/oauth2/applications/@me", self._get_application)
        r.add_get(f"{p}/applications/@me", self._get_application)
        for path in (
            f"{p}/applications/{{app}}/commands",
            f"{p}/applications/{{app}}/guilds/{{guild}}/commands",
        ):
            r.add_get(path, self._get_commands)
            r.add_put(path, self._put_commands)
            r.add_post(path, self._post_command)
        r.add_post(f"{p}/interactions/{{iid}}/{{token}}/callback", self._callback)
        r.add_post(f"{p}/webhooks/{{app}}/{{token}}", self._followup)
        wh_msg = f"{p}/webhooks/{{app}}/{{token}}/messages/{{mid}}"
        r.add_get(wh_msg, self._webhook_get)
        r.add_patch(wh_msg, self._webhook_edit)
        r.add_delete(wh_msg, self._webhook_delete)
        r.add_get(f"{p}/channels/{{cid}}", self._get_channel)
        r.add_post(f"{p}/channels/{{cid}}/messages", self._create_message)
        ch_msg = f"{p}/channels/{{cid}}/messages/{{mid}}"
        r.add_get(f"{p}/channels/{{cid}}/messages", self._history)
        r.add_get(ch_msg, self._get_message)
        r.add_patch(ch_msg, self._edit_message)
        r.add_delete(ch_msg, self._delete_message)
        r.add_post(f"{p}/channels/{{cid}}/typing", self._typing)
        # Anything else: a 404 that is recorded as a violation, so missing routes show up.
        r.add_route("*", "/{tail:.*}", self._not_found)

    async def _not_found(self, request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    # --- REST: identity, gateway, application, commands --------------------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        return json_response(
            {**self.bot_user.to_payload(), "verified": True, "mfa_enabled": False, "flags": 0}
        )

    async def _create_dm(self, request: web.Request) -> web.Response:
        user = self._find_user(int(request[RECORD].json["recipient_id"]))
        if user is None:
            raise HTTPError(400, {"code": 50033, "message": "Invalid Recipient(s)"})
        channel = self.dm_channel(user)
        self._remember_dm_user(user)
        return json_response(
            {
                "id": str(channel.id),
                "type": DM,
                "recipients": [user.to_payload()],
                "last_message_id": None,
                "flags": 0,
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _get_application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "",
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self.owner.to_payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self.bot_user.to_payload(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,  # non-null makes discord.py warn
                "integration_types_config": {"0": {}},
                "approximate_guild_count": len(self.guilds),
            }
        )

    def _command_scope(self, request: web.Request) -> int | None:
        if request.match_info["app"] != str(self.application_id):
            raise HTTPError(403, {"code": 50001, "message": "Missing Access"})
        guild = request.match_info.get("guild")
        if guild is None:
            return None
        if not any(str(g.id) == guild for g in self.guilds):
            raise HTTPError(403, {"code": 50001, "message": "Missing Access"})
        return int(guild)

    def _store_command(
        self, scope: int | None, cmd: Mapping[str, Any], old: list[dict[str, Any]]
    ) -> dict[str, Any]:
        # Keep an existing id for the same (name, type), as Discord does on bulk overwrite.
        prev = next(
            (c for c in old if c["name"] == cmd["name"] and c.get("type", 1) == cmd.get("type", 1)),
            None,
        )
        stored = {
            "default_member_permissions": None,
            "nsfw": False,
            "description": "",
            "options": [],
            **cmd,
            "id": prev["id"] if prev else str(snowflake()),
            "application_id": str(self.application_id),
            "version": str(snowflake()),
            "type": cmd.get("type", 1),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def _get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.commands.get(self._command_scope(request), []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = request[RECORD].json or []
        old = self.commands.get(scope, [])
        self.commands[scope] = [self._store_command(scope, c, old) for c in body]
        return json_response(self.commands[scope])

    async def _post_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        old = self.commands.setdefault(scope, [])
        cmd = self._store_command(scope, request[RECORD].json, old)
        self.commands[scope] = [c for c in old if c["id"] != cmd["id"]] + [cmd]
        return json_response(cmd, 201)

    # --- REST: interactions ------------------------------------------------------------

    def _record(
        self,
        request: web.Request,
        interaction: FakeInteraction,
        kind: ResponseKind,
        *,
        type_: int | None,
        data: Any,
    ) -> InteractionRecord:
        rec = InteractionRecord(
            kind=kind,
            interaction_id=interaction.id,
            method=request.method,
            path=request.path.removeprefix(API_PREFIX),
            type=type_,
            data=data,
            files=request[RECORD].files,
            elapsed=self._now() - interaction.dispatched_at,
            status=0,
        )
        interaction.records.append(rec)
        request[INTERACTION_ID] = interaction.id
        return rec

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(int(request.match_info["iid"]))
        body = request[RECORD].json or {}
        if interaction is None or interaction.token != request.match_info["token"]:
            raise HTTPError(404, UNKNOWN_INTERACTION, "unknown_interaction")
        rtype = int(body.get("type", 0))
        data = body.get("data")
        rec = self._record(request, interaction, "callback", type_=rtype, data=data)
        try:
            message = await self._apply_callback(request, interaction, rec, rtype, data or {})
        except HTTPError as err:
            rec.status, rec.error = err.status, err.body
            raise
        rec.status, rec.message = 200, message
        self._notify()
        if rtype in (AUTOCOMPLETE_RESULT, 1):
            return web.Response(status=204)
        resource: dict[str, Any] = {"type": rtype}
        if message is not None:
            resource["message"] = message
        flags = int((message or {}).get("flags") or 0)
        return json_response(
            {
                "interaction": {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "response_message_id": message["id"] if message else None,
                    "response_message_loading": rtype == DEFERRED_CHANNEL_MESSAGE,
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                },
                "resource": resource,
            }
        )

    async def _apply_callback(
        self,
        request: web.Request,
        interaction: FakeInteraction,
        rec: InteractionRecord,
        rtype: int,
        data: dict[str, Any],
    ) -> dict[str, Any] | None:
        if interaction.expired or rec.elapsed > self.ack_deadline:
            # Discord forgets the interaction after 3 s; the token dies with it.
            interaction.expired = True
            raise HTTPError(
                404, UNKNOWN_INTERACTION, "late_ack" if not interaction.acknowledged else None
            )
        if interaction.acknowledged:
            raise HTTPError(400, ALREADY_ACKNOWLEDGED, "double_ack")
        if rtype not in _ALLOWED_CALLBACKS.get(interaction.type, set()):
            raise HTTPError(
                400,
                limits.invalid_form_body(
                    {
                        "type": {
                            "_errors": [
                                {
                                    "code": "INTERACTION_CALLBACK_TYPE_INVALID",
                                    "message": f"Callback type {rtype} is not allowed "
                                    f"for interaction type {interaction.type}",
                                }
                            ]
                        }
                    }
                ),
                "invalid_callback_type",
            )
        errors = limits.check_interaction_callback(rtype, data)
        if errors:
            raise HTTPError(400, limits.invalid_form_body(errors), "invalid_form_body")
        files = request[RECORD].files
        if rtype == CHANNEL_MESSAGE and limits.is_empty_message(data, files=len(files)):
            raise HTTPError(400, EMPTY_MESSAGE, "empty_message")
        interaction.acknowledged = True
        interaction.ack_type = rtype
        channel, guild = self.find_channel(interaction.channel_id)
        assert channel is not None
        msg_type = 20 if interaction.type == APPLICATION_COMMAND else 0
        if rtype in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            flags = int(data.get("flags") or 0)
            if rtype == DEFERRED_CHANNEL_MESSAGE:
                flags = (flags & EPHEMERAL) | LOADING
                data = {}
            message = self._new_message(
                channel,
                guild,
                self.bot_user,
                data,
                attachments=self._store_files(files, data, []),
                webhook=interaction,
                msg_type=msg_type,
            )
            message["flags"] = flags | int(message["flags"])
            interaction.original_id = int(message["id"])
            self.messages[int(message["id"])] = message
            if rtype == CHANNEL_MESSAGE and not flags & EPHEMERAL:
                await self._echo(message, guild)
            return message
        if rtype in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            source = interaction.payload.get("message")
            if source is None:
                return None
            interaction.original_id = int(source["id"])
            if rtype == UPDATE_MESSAGE:
                return self._apply_edit(int(source["id"]), data, files)
            return self.messages.get(int(source["id"]), source)
        return None  # autocomplete result, modal, ...

    def _interaction_for_token(self, request: web.Request) -> FakeInteraction:
        if request.match_info["app"] != str(self.application_id):
            raise HTTPError(404, UNKNOWN_WEBHOOK, "unknown_webhook")
        token = request.match_info["token"]
        interaction = next((i for i in self.interactions.values() if i.token == token), None)
        if interaction is None:
            raise HTTPError(404, UNKNOWN_WEBHOOK, "unknown_webhook")
        return interaction

    def _check_webhook_usable(self, interaction: FakeInteraction, rec: InteractionRecord) -> None:
        try:
            if rec.elapsed > self.token_ttl:
                raise HTTPError(401, INVALID_WEBHOOK_TOKEN, "token_expired")
            if interaction.expired or not interaction.acknowledged:
                # A follow-up needs an acknowledged, live interaction first.
                raise HTTPError(404, UNKNOWN_WEBHOOK, "webhook_before_ack")
        except HTTPError as err:
            rec.status, rec.error = err.status, err.body
            raise

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._interaction_for_token(request)
        record = request[RECORD]
        payload = record.json or {}
        rec = self._record(request, interaction, "followup", type_=None, data=payload)
        self._check_webhook_usable(interaction, rec)
        try:
            errors = limits.check_message(payload)
            if errors:
                raise HTTPError(400, limits.invalid_form_body(errors), "invalid_form_body")
            if limits.is_empty_message(payload, files=len(record.files)):
                raise HTTPError(400, EMPTY_MESSAGE, "empty_message")
        except HTTPError as err:
            rec.status, rec.error = err.status, err.body
            raise
        original = interaction.original
        if (
            interaction.ack_type == DEFERRED_CHANNEL_MESSAGE
            and original is not None
            and int(original["flags"]) & LOADING
        ):
            # Discord: the first follow-up after a "thinking" defer replaces that message
            # (and keeps its ephemerality).
            message = self._apply_edit(int(original["id"]), payload, record.files)
            message["flags"] = int(original["flags"]) & ~LOADING
        else:
            channel, guild = self.find_channel(interaction.channel_id)
            assert channel is not None
            message = self._new_message(
                channel,
                guild,
                self.bot_user,
                payload,
                attachments=self._store_files(record.files, payload, []),
                webhook=interaction,
            )
            self.messages[int(message["id"])] = message
            interaction.followup_ids.append(int(message["id"]))
        if not int(message["flags"]) & EPHEMERAL:
            await self._echo(message, self.find_channel(interaction.channel_id)[1])
        rec.status, rec.message = 200, message
        self._notify()
        if record.query.get("wait") in ("1", "true", "True"):
            return json_response(message)
        return web.Response(status=204)

    def _webhook_message_id(self, request: web.Request, interaction: FakeInteraction) -> int:
        mid = request.match_info["mid"]
        if mid == "@original":
            if interaction.original_id is None:
                raise HTTPError(404, UNKNOWN_MESSAGE, "unknown_message")
            return interaction.original_id
        message_id = int(mid)
        if message_id != interaction.original_id and message_id not in interaction.followup_ids:
            raise HTTPError(404, UNKNOWN_MESSAGE, "unknown_message")
        return message_id

    async def _webhook_op(self, request: web.Request, kind: ResponseKind) -> web.Response:
        interaction = self._interaction_for_token(request)
        record = request[RECORD]
        rec = self._record(request, interaction, kind, type_=None, data=record.json)
        self._check_webhook_usable(interaction, rec)
        try:
            message_id = self._webhook_message_id(request, interaction)
            if message_id not in self.messages:
                raise HTTPError(404, UNKNOWN_MESSAGE, "unknown_message")
            if kind == "get":
                message = self.messages[message_id]
            elif kind == "delete":
                message = self.messages.pop(message_id)
                self.deleted_messages.append(message)
            else:
                errors = limits.check_message(record.json or {})
                if errors:
                    raise HTTPError(400, limits.invalid_form_body(errors), "invalid_form_body")
                message = self._apply_edit(message_id, record.json or {}, record.files)
        except HTTPError as err:
            rec.status, rec.error = err.status, err.body
            raise
        rec.status, rec.message = (204 if kind == "delete" else 200), message
        self._notify()
        if kind == "delete":
            return web.Response(status=204)
        return json_response(message)

    async def _webhook_get(self, request: web.Request) -> web.Response:
        return await self._webhook_op(request, "get")

    async def _webhook_edit(self, request: web.Request) -> web.Response:
        return await self._webhook_op(request, "edit")

    async def _webhook_delete(self, request: web.Request) -> web.Response:
        return await self._webhook_op(request, "delete")

    def _apply_edit(
        self, message_id: int, payload: Mapping[str, Any], files: list[UploadedFile]
    ) -> dict[str, Any]:
        message = self.messages[message_id]
        for key in ("content", "components"):
            if key in payload:
                message[key] = (
                    payload[key] if payload[key] is not None else ("" if key == "content" else [])
                )
        if "embeds" in payload:
            message["embeds"] = [_normalise_embed(e) for e in payload["embeds"] or []]
        if "attachments" in payload or files:
            message["attachments"] = self._store_files(files, payload, message["attachments"])
        if "allowed_mentions" in payload or "content" in payload:
            pings = self._compute_pings(
                message["content"],
                payload.get("allowed_mentions"),
                message.get("referenced_message"),
            )
            self.pings[message_id] = pings
            message["mention_everyone"] = pings.everyone
            message["mention_roles"] = [str(r) for r in sorted(pings.roles)]
            message["mentions"] = [
                u.to_payload() for u in (self._find_user(i) for i in sorted(pings.users)) if u
            ]
        if "flags" in payload and payload["flags"] is not None:
            # Only SUPPRESS_EMBEDS can be changed by an edit.
            message["flags"] = (int(message["flags"]) & ~4) | (int(payload["flags"]) & 4)
        message["flags"] = int(message["flags"]) & ~LOADING
        message["edited_timestamp"] = iso_now()
        return message

    async def _echo(self, message: dict[str, Any], guild: FakeGuild | None) -> None:
        if self.echo_messages:
            await self._dispatch_message_create(message, guild)

    # --- REST: channels and messages ---------------------------------------------------

    def _channel_or_404(self, request: web.Request) -> tuple[FakeChannel, FakeGuild | None]:
        channel, guild = self.find_channel(int(request.match_info["cid"]))
        if channel is None:
            raise HTTPError(404, UNKNOWN_CHANNEL, "unknown_channel")
        return channel, guild

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel, _ = self._channel_or_404(request)
        data = channel.to_payload()
        if channel.type == DM:
            data["recipients"] = [self._dm_user(channel).to_payload()]
        return json_response(data)

    async def _create_message(self, request: web.Request) -> web.Response:
        channel, guild = self._channel_or_404(request)
        record = request[RECORD]
        payload = record.json or {}
        errors = limits.check_message(payload)
        ref = payload.get("message_reference")
        ref_id = int(ref["message_id"]) if ref and ref.get("message_id") else None
        if (
            ref_id is not None
            and ref_id not in self.messages
            and ref.get("fail_if_not_exists", True)
        ):
            errors.setdefault("message_reference", {}).setdefault("_errors", []).append(
                {"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}
            )
        if errors:
            raise HTTPError(400, limits.invalid_form_body(errors), "invalid_form_body")
        if limits.is_empty_message(payload, files=len(record.files)):
            raise HTTPError(400, EMPTY_MESSAGE, "empty_message")
        message = self._new_message(
            channel,
            guild,
            self.bot_user,
            payload,
            attachments=self._store_files(record.files, payload, []),
            reference=ref_id if ref_id in self.messages else None,
        )
        self.messages[int(message["id"])] = message
        await self._echo(message, guild)
        return json_response(message)

    def _channel_message(self, request: web.Request) -> dict[str, Any]:
        channel, _ = self._channel_or_404(request)
        message = self.messages.get(int(request.match_info["mid"]))
        if message is None or message["channel_id"] != str(channel.id):
            raise HTTPError(404, UNKNOWN_MESSAGE, "unknown_message")
        return message

    async def _history(self, request: web.Request) -> web.Response:
        channel, _ = self._channel_or_404(request)
        query = request.rel_url.query
        found = [m for m in self.channel_messages(channel.id)]
        if "before" in query:
            found = [m for m in found if int(m["id"]) < int(query["before"])]
        if "after" in query:
            found = [m for m in found if int(m["id"]) > int(query["after"])]
        limit = int(query.get("limit", 50))
        # Newest first, like Discord (unless paging forwards with ``after``).
        page = found[:limit] if "after" in query else found[-limit:]
        return json_response(list(reversed(page)))

    async def _get_message(self, request: web.Request) -> web.Response:
        return json_response(self._channel_message(request))

    async def _edit_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        if message["author"]["id"] != str(self.bot_user.id):
            raise HTTPError(403, NOT_AUTHOR, "edit_foreign_message")
        record = request[RECORD]
        errors = limits.check_message(record.json or {})
        if errors:
            raise HTTPError(400, limits.invalid_form_body(errors), "invalid_form_body")
        return json_response(self._apply_edit(int(message["id"]), record.json or {}, record.files))

    async def _delete_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        self.deleted_messages.append(self.messages.pop(int(message["id"])))
        return web.Response(status=204)

    async def _typing(self, request: web.Request) -> web.Response:
        channel, _ = self._channel_or_404(request)
        self.typing.append((channel.id, self._now()))
        return web.Response(status=204)

    async def _get_attachment(self, request: web.Request) -> web.Response:
        f = self.attachments.get(int(request.match_info["att_id"]))
        if f is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=f.data, headers={"Content-Type": f.content_type})


def _walk(component: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A component and everything nested in it (rows, containers, sections)."""
    found = [component]
    for child in component.get("components", []) or []:
        found.extend(_walk(child))
    if isinstance(component.get("accessory"), Mapping):
        found.extend(_walk(component["accessory"]))
    return found


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, FakeUser):
        return 6
    if isinstance(value, FakeChannel):
        return 7
    if isinstance(value, FakeRole):
        return 8
    if isinstance(value, dict) and "filename" in value:
        return 11
    return 3


def _normalise_embed(embed: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "rich", **embed}


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or multipart ``payload_json`` + ``files[n]`` as discord.py sends them."""
    if not request.can_read_body:
        return None, []
    ctype = request.content_type
    if ctype == "multipart/form-data":
        body: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not hasattr(part, "read"):
                continue
            name = part.name or ""
            raw = await part.read(decode=False)  # type: ignore[union-attr]
            if name == "payload_json":
                body = json.loads(raw)
            else:
                files.append(
                    UploadedFile(
                        filename=part.filename or name,  # type: ignore[union-attr]
                        content_type=part.headers.get("Content-Type", "application/octet-stream"),
                        data=bytes(raw),
                        field=name,
                    )
                )
        return body, files
    text = await request.text()
    if not text:
        return None, []
    try:
        return json.loads(text), []
    except json.JSONDecodeError:
        return text, []
