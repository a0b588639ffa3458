"""What the fake server records: requests, interactions and their responses, broken rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .models import FakeUser

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = [
    "FakeInteraction",
    "InteractionRecord",
    "Pings",
    "RecordedRequest",
    "ResponseKind",
    "UploadedFile",
    "Violation",
]

ResponseKind = Literal["callback", "followup", "edit", "get", "delete"]


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
