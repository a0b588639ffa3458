"""Discord's wire vocabulary as the fake server speaks it: constants, error bodies, HTTP helpers.

Shared by the parts of :class:`~fakediscord.server.FakeDiscord` (events, recorder, routes).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from .records import RecordedRequest, UploadedFile

API_PREFIX = "/api/v10"

# Interaction types (discord.InteractionType)
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Callback types (discord.InteractionResponseType)
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
ALLOWED_CALLBACKS = {
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

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE = re.compile(r"@(everyone|here)\b")


def json_response(body: Any, status: int = 200) -> web.Response:
    # discord.py only decodes JSON when Content-Type is exactly "application/json";
    # aiohttp's json_response would append "; charset=utf-8".
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


# Per-request state set by the middleware for the handlers.
RECORD = web.RequestKey("record", RecordedRequest)
INTERACTION_ID = web.RequestKey("interaction_id", int)


class HTTPError(Exception):
    def __init__(self, status: int, body: dict[str, Any], kind: str | None = None) -> None:
        super().__init__(status, body)
        self.status, self.body, self.kind = status, body, kind


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
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
