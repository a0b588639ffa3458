"""Gateway events: what users do (messages, slash commands, clicks, modals) sent to the bot.

A part of :class:`~fakediscord.server.FakeDiscord`: builds MESSAGE_CREATE and
INTERACTION_CREATE payloads the way Discord does and dispatches them over the gateway.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from .gateway import Intents
from .models import (
    DM,
    PUBLIC_THREAD,
    FakeChannel,
    FakeGuild,
    FakeRole,
    FakeUser,
    Permissions,
    snowflake,
)
from .protocol import (
    APPLICATION_COMMAND,
    ATTACHMENT_SIZE_LIMIT,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    USER_MENTION,
)
from .records import FakeInteraction


class Events:
    """Injecting user actions as gateway dispatches, and controlling the gateway connection."""

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
            ids = [int(i) for i in USER_MENTION.findall(content)]
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

    async def add_channel(self, channel: FakeChannel, guild: FakeGuild | None = None) -> None:
        """An admin creates a channel (a forum, a category...): CHANNEL_CREATE."""
        guild = guild or self.guild
        channel.guild_id = guild.id
        guild.channels.append(channel)
        event = "THREAD_CREATE" if channel.is_thread else "CHANNEL_CREATE"
        await self.gateway.dispatch(event, channel.to_payload(), guild_id=guild.id)
        self._notify()

    async def delete_channel(self, channel: FakeChannel) -> None:
        """An admin deletes a channel: CHANNEL_DELETE (THREAD_DELETE for a thread)."""
        _, guild = self.find_channel(channel.id)
        if guild is None:
            raise LookupError(f"unknown guild channel {channel.id}")
        guild.channels.remove(channel)
        if channel.is_thread:
            data = {"id": str(channel.id), "guild_id": str(guild.id),
                    "parent_id": str(channel.parent_id), "type": channel.type}
            await self.gateway.dispatch("THREAD_DELETE", data, guild_id=guild.id)
        else:
            await self.gateway.dispatch("CHANNEL_DELETE", channel.to_payload(), guild_id=guild.id)
        self._notify()

    async def create_forum_post(
        self,
        forum: FakeChannel,
        title: str,
        content: str,
        *,
        author: FakeUser | None = None,
        applied_tags: Sequence[int] = (),
        wait_connected: float = 10.0,
    ) -> tuple[FakeChannel, dict[str, Any]]:
        """A member posts in a forum: a thread named ``title`` whose first message (with the
        thread's id, as on Discord) holds ``content``. THREAD_CREATE, then MESSAGE_CREATE
        (its content blank without the message-content intent). Returns both."""
        await self.wait_until_connected(wait_connected)
        author = author or self._default_user()
        _, guild = self.find_channel(forum.id)
        if guild is None:
            raise LookupError(f"unknown forum {forum.id}")
        thread = FakeChannel(snowflake(), title, PUBLIC_THREAD, parent_id=forum.id,
                             owner_id=author.id, applied_tags=list(applied_tags))
        thread.guild_id = guild.id
        guild.channels.append(thread)
        await self.gateway.dispatch("THREAD_CREATE", {**thread.to_payload(), "newly_created": True},
                                    guild_id=guild.id)
        message = self._new_message(thread, guild, author, {"content": content},
                                    attachments=[], explicit_mentions=[])
        self.pings[thread.id] = self.pings.pop(int(message["id"]))
        message["id"] = str(thread.id)
        self.messages[thread.id] = message
        await self._dispatch_message_create(message, guild)
        self._notify()
        return thread, message

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

    # --- message events ----------------------------------------------------------------

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

    async def _echo(self, message: dict[str, Any], guild: FakeGuild | None) -> None:
        if self.echo_messages:
            await self._dispatch_message_create(message, guild)


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
