"""The fake's world state: guilds, channels, users, and the messages and files in them.

A part of :class:`~fakediscord.server.FakeDiscord` (which sets the attributes used here:
``guilds``, ``messages``, ``pings``, ``attachments``, ``dm_channels``, ...). Building and
editing a message in the REST shape lives here because the gateway events and the REST
routes both do it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .models import DM, FakeChannel, FakeGuild, FakeUser, iso_now, snowflake
from .protocol import EVERYONE, LOADING, ROLE_MENTION, USER_MENTION
from .records import FakeInteraction, Pings, UploadedFile


class WorldState:
    """Lookups in the fake's guilds and DMs; making, storing and editing messages."""

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

    def _default_user(self) -> FakeUser:
        try:
            return self.organizer
        except LookupError:
            member = next(m for m in self.guild.members if not m.user.bot)
            return member.user

    def _remember_dm_user(self, user: FakeUser) -> None:
        self._dm_users[user.id] = user

    # --- messages ----------------------------------------------------------------------

    def _message_for(self, message: int | dict[str, Any]) -> dict[str, Any]:
        if isinstance(message, dict):
            return message
        return self.messages[int(message)]

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

    def _compute_pings(
        self,
        content: str,
        allowed: Mapping[str, Any] | None,
        replied_to: dict[str, Any] | None,
    ) -> Pings:
        users = {int(u) for u in USER_MENTION.findall(content)}
        roles = {int(r) for r in ROLE_MENTION.findall(content)}
        everyone = bool(EVERYONE.search(content))
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


def _normalise_embed(embed: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "rich", **embed}
