"""The REST routes of interactions: callbacks (with the 3-second rule) and webhook follow-ups.

A part of :class:`~fakediscord.server.FakeDiscord`; each request is also recorded on its
:class:`~fakediscord.records.FakeInteraction` as an
:class:`~fakediscord.records.InteractionRecord`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import limits
from .protocol import (
    ALLOWED_CALLBACKS,
    ALREADY_ACKNOWLEDGED,
    API_PREFIX,
    APPLICATION_COMMAND,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    EMPTY_MESSAGE,
    EPHEMERAL,
    INTERACTION_ID,
    INVALID_WEBHOOK_TOKEN,
    LOADING,
    RECORD,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    UPDATE_MESSAGE,
    HTTPError,
    json_response,
)
from .records import FakeInteraction, InteractionRecord, ResponseKind


class InteractionRoutes:
    """aiohttp handlers for ``/interactions/.../callback`` and ``/webhooks/...``."""

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
        if rtype not in ALLOWED_CALLBACKS.get(interaction.type, set()):
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
