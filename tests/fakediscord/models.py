"""The world the fake server serves: users, guilds, roles, channels, members.

Plain dataclasses that render themselves into the JSON shapes discord.py 2.7 parses
(``state.py``, ``guild.py``, ``member.py``, ``channel.py``, ``threads.py``). Fields
discord.py reads with ``data[...]`` (not ``.get``) are always present, because a missing
one is a ``KeyError`` deep inside discord.py's event parser, which it only logs.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "FakeChannel",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "Permissions",
    "default_guild",
    "forum_tag",
    "iso_now",
    "snowflake",
]

DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count()


def snowflake() -> int:
    """A fresh, increasing snowflake (timestamp in the top bits, like Discord's)."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_counter) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


class Permissions:
    """The permission bits tests need most (values from discord.py's ``Permissions``)."""

    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38
    MANAGE_GUILD = 1 << 5
    ADMINISTRATOR = 1 << 3
    ALL = (1 << 51) - 1
    MEMBER_DEFAULT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS
    )


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    managed: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }


# Channel types (discord.ChannelType values).
TEXT, DM, CATEGORY, PUBLIC_THREAD, PRIVATE_THREAD = 0, 1, 4, 11, 12
FORUM = 15
THREAD_TYPES = {10, PUBLIC_THREAD, PRIVATE_THREAD}


@dataclass
class FakeChannel:
    id: int
    name: str
    type: int = TEXT
    parent_id: int | None = None  # a thread's parent text channel
    position: int = 0
    topic: str | None = None
    owner_id: int | None = None  # threads only
    guild_id: int | None = None  # filled in by FakeGuild
    # Forums: their tags ({"id", "name", ...}, see forum_tag); threads: the ids applied.
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    applied_tags: list[int] = field(default_factory=list)
    # {"id", "type" (0 role, 1 member), "allow", "deny"} as Discord sends them (not enforced
    # by the fake; `steward doctor` reads them).
    permission_overwrites: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "guild_id": str(self.guild_id) if self.guild_id else None,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self.is_thread:
            # threads.py reads all of these with data[...]
            data.update(
                owner_id=str(self.owner_id or 0),
                message_count=0,
                member_count=1,
                total_message_sent=0,
                applied_tags=[str(t) for t in self.applied_tags],
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso_now(),
                    "locked": False,
                },
            )
        else:
            data.update(
                position=self.position,
                topic=self.topic,
                nsfw=False,
                permission_overwrites=list(self.permission_overwrites),
            )
            if self.type == FORUM:
                data["available_tags"] = self.available_tags
        return data


def forum_tag(name: str, tag_id: int | None = None) -> dict[str, Any]:
    """A forum tag as Discord sends it in a forum's ``available_tags``."""
    return {"id": str(tag_id or snowflake()), "name": name, "moderated": False,
            "emoji_id": None, "emoji_name": None}


@dataclass
class FakeMember:
    user: FakeUser
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def to_payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,  # member.py reads data['flags']
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeMember] = field(default_factory=list)
    locale: str = "en-US"

    def __post_init__(self) -> None:
        # @everyone shares the guild's id; Discord always sends it.
        if not any(r.id == self.id for r in self.roles):
            self.roles.insert(0, FakeRole(self.id, "@everyone", Permissions.MEMBER_DEFAULT))
        for ch in self.channels:
            ch.guild_id = self.id

    @property
    def everyone(self) -> FakeRole:
        return next(r for r in self.roles if r.id == self.id)

    def role(self, name_or_id: str | int) -> FakeRole:
        return next(r for r in self.roles if name_or_id in (r.id, r.name))

    def channel(self, name_or_id: str | int) -> FakeChannel:
        return next(c for c in self.channels if name_or_id in (c.id, c.name))

    @property
    def text_channel(self) -> FakeChannel:
        return next(c for c in self.channels if c.type == TEXT)

    def member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.members if m.user.id == user_id), None)

    def add_member(self, user: FakeUser, roles: list[int] | None = None) -> FakeMember:
        member = self.member(user.id)
        if member is None:
            member = FakeMember(user, list(roles or []))
            self.members.append(member)
        return member

    def permissions_of(self, user_id: int) -> int:
        """Guild-level permissions (no channel overwrites), as Discord computes them."""
        if user_id == self.owner_id:
            return Permissions.ALL
        member = self.member(user_id)
        perms = self.everyone.permissions
        for role in self.roles:
            if member is not None and role.id in member.roles:
                perms |= role.permissions
        return Permissions.ALL if perms & Permissions.ADMINISTRATOR else perms

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "roles": [r.to_payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            # GUILD_CREATE-only fields
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [m.to_payload() for m in self.members],
            "channels": [c.to_payload() for c in self.channels if not c.is_thread],
            "threads": [c.to_payload() for c in self.channels if c.is_thread],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


def default_guild(
    bot: FakeUser,
    *,
    organizer: FakeUser | None = None,
    admin: FakeUser | None = None,
    name: str = "Local 1",
) -> FakeGuild:
    """A guild with what Steward's tests need: an organizer, an admin, a channel, a thread.

    Roles: ``@everyone`` (member defaults), ``Organizer``, ``Steward Admin`` (Manage Server)
    and the bot's managed role. Channels: ``#general`` (text), ``#bulletins`` (text) and a
    public thread ``questions`` under ``#general``.
    """
    guild_id = snowflake()
    organizer = organizer or FakeUser(snowflake(), "organizer", global_name="Org Anizer")
    admin = admin or FakeUser(snowflake(), "admin", global_name="Ad Min")
    owner = FakeUser(snowflake(), "owner")
    organizer_role = FakeRole(snowflake(), "Organizer", 0, position=1, mentionable=True)
    admin_role = FakeRole(snowflake(), "Steward Admin", Permissions.MANAGE_GUILD, position=2)
    bot_role = FakeRole(snowflake(), bot.username, Permissions.MEMBER_DEFAULT, 3, managed=True)
    general = FakeChannel(snowflake(), "general", TEXT, position=0)
    bulletins = FakeChannel(snowflake(), "bulletins", TEXT, position=1)
    thread = FakeChannel(
        snowflake(), "questions", PUBLIC_THREAD, parent_id=general.id, owner_id=organizer.id
    )
    return FakeGuild(
        id=guild_id,
        name=name,
        owner_id=owner.id,
        roles=[organizer_role, admin_role, bot_role],
        channels=[general, bulletins, thread],
        members=[
            FakeMember(bot, [bot_role.id]),
            FakeMember(organizer, [organizer_role.id]),
            FakeMember(admin, [admin_role.id, organizer_role.id]),
            FakeMember(owner, []),
        ],
    )
