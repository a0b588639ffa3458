"""The REST routes: the request middleware, the route table, and every route but interactions'.

A part of :class:`~fakediscord.server.FakeDiscord`. The middleware records each request
and turns an :class:`~fakediscord.protocol.HTTPError` into Discord's JSON error (recording
a violation when the error is a rule the bot broke). Interaction callbacks and webhooks are
in ``interaction_routes``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from . import limits
from .models import DM, FakeChannel, FakeGuild, snowflake
from .protocol import (
    API_PREFIX,
    EMPTY_MESSAGE,
    INTERACTION_ID,
    NOT_AUTHOR,
    NOT_FOUND,
    RECORD,
    UNAUTHORIZED,
    UNKNOWN_CHANNEL,
    UNKNOWN_MESSAGE,
    HTTPError,
    json_response,
    read_body,
)
from .records import RecordedRequest, Violation

_log = logging.getLogger(__name__)


class Routes:
    """aiohttp handlers for identity, application commands, channels and messages."""

    # --- HTTP plumbing -----------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path in ("/gateway", "/resume-gateway") or request.path.startswith(
            "/attachments/"
        ):
            return await handler(request)
        body, files = await read_body(request)
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
        # What `steward doctor` reads: the bot's guilds, their roles, its member, channels.
        r.add_get(f"{p}/users/@me/guilds", self._get_my_guilds)
        r.add_get(f"{p}/guilds/{{gid}}", self._get_guild)
        r.add_get(f"{p}/guilds/{{gid}}/members/{{uid}}", self._get_guild_member)
        r.add_get(f"{p}/guilds/{{gid}}/channels", self._get_guild_channels)
        r.add_get(f"{p}/channels/{{cid}}", self._get_channel)
        r.add_patch(f"{p}/channels/{{cid}}", self._edit_channel)
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

    # --- REST: channels and messages ---------------------------------------------------

    def _channel_or_404(self, request: web.Request) -> tuple[FakeChannel, FakeGuild | None]:
        channel, guild = self.find_channel(int(request.match_info["cid"]))
        if channel is None:
            raise HTTPError(404, UNKNOWN_CHANNEL, "unknown_channel")
        return channel, guild

    def _guild_or_404(self, request: web.Request) -> FakeGuild:
        guild = next((g for g in self.guilds if str(g.id) == request.match_info["gid"]), None)
        if guild is None:
            raise HTTPError(404, {"code": 10004, "message": "Unknown Guild"})
        return guild

    async def _get_my_guilds(self, request: web.Request) -> web.Response:
        return json_response([{"id": str(g.id), "name": g.name, "icon": None, "owner": False,
                               "permissions": str(g.permissions_of(self.bot_user.id)),
                               "features": []} for g in self.guilds])

    async def _get_guild(self, request: web.Request) -> web.Response:
        return json_response(self._guild_or_404(request).to_payload())

    async def _get_guild_member(self, request: web.Request) -> web.Response:
        member = self._guild_or_404(request).member(int(request.match_info["uid"]))
        if member is None:
            raise HTTPError(404, {"code": 10007, "message": "Unknown Member"})
        return json_response(member.to_payload())

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild_or_404(request)
        return json_response([c.to_payload() for c in guild.channels if not c.is_thread])

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel, _ = self._channel_or_404(request)
        data = channel.to_payload()
        if channel.type == DM:
            data["recipients"] = [self._dm_user(channel).to_payload()]
        return json_response(data)

    async def _edit_channel(self, request: web.Request) -> web.Response:
        """PATCH a channel: its name, or a forum post's ``applied_tags`` (ids of its forum's
        ``available_tags``, as Discord checks); THREAD_UPDATE / CHANNEL_UPDATE follows."""
        channel, guild = self._channel_or_404(request)
        body = request[RECORD].json or {}
        if "applied_tags" in body:
            parent, _ = self.find_channel(channel.parent_id or 0)
            known = {int(t["id"]) for t in (parent.available_tags if parent else [])}
            tags = [int(t) for t in body["applied_tags"] or []]
            if not channel.is_thread or not set(tags) <= known:
                raise HTTPError(400, limits.invalid_form_body({"applied_tags": {"_errors": [
                    {"code": "BASE_TYPE_BAD_TAG", "message": "Unknown forum tag"}]}}),
                    "invalid_form_body")
            channel.applied_tags = tags
        if body.get("name"):
            channel.name = str(body["name"])
        data = channel.to_payload()
        event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
        await self.gateway.dispatch(event, data, guild_id=guild.id if guild else None)
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
