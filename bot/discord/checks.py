"""Who may do what: the admin check and the per-member question cooldown.

As in RoboDanny's ``cogs/utils/checks.py``, a real check (run by discord.py before every
invocation, whatever the client shows) is paired with ``default_permissions`` (which only
hides the command in Discord's UI and can be changed by a server's admins, so it is never
relied on).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import discord
from discord import app_commands

from bot import metrics
from bot.i18n import translate

T = TypeVar("T")


class NotStewardAdmin(app_commands.CheckFailure):
    """The member has neither the configured admin role nor Manage Server."""

    def __init__(self, role: str) -> None:
        self.role = role
        super().__init__(self.say("en"))

    def say(self, lang: str) -> str:
        if self.role:
            return translate("errors.not_admin_role", lang, role=self.role)
        return translate("errors.not_admin", lang)


class QuestionCooldown(app_commands.CommandOnCooldown):
    """Too many questions from one member; the message says when to ask again."""

    def __init__(self, cooldown: app_commands.Cooldown, retry_after: float) -> None:
        super().__init__(cooldown, retry_after)

    def friendly(self, lang: str = "en") -> str:
        return polite_cooldown(self.cooldown.rate, self.cooldown.per, self.retry_after, lang)


def polite_cooldown(rate: int, per: float, retry_after: float, lang: str = "en") -> str:
    return translate("errors.cooldown", lang, rate=rate, per=f"{per:.0f}",
                     wait=f"{max(retry_after, 1):.0f}")


def is_admin(member: discord.abc.User, permissions: discord.Permissions | None, role: str) -> bool:
    """Manage Server (which Administrator implies), or the configured role by id or name."""
    if not isinstance(member, discord.Member):
        return False  # in DMs nobody is an admin of anything
    if permissions is not None and (permissions.manage_guild or permissions.administrator):
        return True
    if member.guild_permissions.manage_guild:
        return True
    role = role.strip()
    if not role:
        return False
    # Role ids also work when the guild's roles are not cached (``_roles`` holds the raw ids).
    if role.isdigit() and int(role) in getattr(member, "_roles", ()):
        return True
    return any(r.name == role or str(r.id) == role for r in member.roles)


def interaction_is_admin(interaction: discord.Interaction) -> bool:
    role = getattr(interaction.client, "admin_role", "")
    # interaction.permissions are the member's resolved permissions as Discord sent them.
    return is_admin(interaction.user, interaction.permissions, role)


def require_admin(interaction: discord.Interaction) -> bool:
    """The check itself: True, or raises NotStewardAdmin with a message for the member."""
    if interaction_is_admin(interaction):
        return True
    raise NotStewardAdmin(getattr(interaction.client, "admin_role", ""))


def admin_only() -> Callable[[T], T]:
    """A real admin check plus ``default_permissions(manage_guild=True)`` and guild-only.

    On a subcommand Discord ignores default_permissions (only the top-level group's count),
    but the check runs for every subcommand regardless.
    """

    def decorator(func: T) -> T:
        app_commands.check(require_admin)(func)
        app_commands.default_permissions(manage_guild=True)(func)
        return func

    return decorator


class QuestionLimiter:
    """``rate`` questions per ``per`` seconds per member, shared by /ask, /search, the
    context menu, mentions and "More passages" (one budget, however a member asks).

    It is checked before anything else is done: a member over the limit gets the polite
    refusal at once, and nothing is searched, queued or deferred for them.
    """

    def __init__(self, rate: int, per: float) -> None:
        self.rate = rate
        self.per = per
        self._buckets: dict[int, app_commands.Cooldown] = {}
        self._told: dict[int, float] = {}  # member id -> when a mention was last refused
        self._last_prune = time.monotonic()

    def hit(self, user_id: int) -> tuple[app_commands.Cooldown, float | None]:
        """Count one question; returns the bucket and the seconds to wait (None: go ahead)."""
        self._prune()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = app_commands.Cooldown(self.rate, self.per)
        retry_after = bucket.update_rate_limit()
        if retry_after is not None:
            metrics.question_refused()  # counted here: every way of asking passes this point
        return bucket, retry_after

    def tell_once(self, user_id: int) -> bool:
        """Whether to answer an over-limit mention with the refusal: once per ``per`` seconds
        per member, so a flood of mentions is not echoed into the channel as refusals
        (interactions, which must be answered, are refused every time)."""
        now = time.monotonic()
        told = self._told.get(user_id)
        if told is not None and now - told < self.per:
            return False
        self._told[user_id] = now
        return True

    def _prune(self) -> None:
        # Forget members whose window has passed, so the map cannot grow without bound.
        now = time.monotonic()
        if now - self._last_prune < self.per:
            return
        self._last_prune = now
        for user_id, bucket in list(self._buckets.items()):
            if bucket.get_tokens() >= bucket.rate:
                del self._buckets[user_id]
        for user_id, told in list(self._told.items()):
            if now - told >= self.per:
                del self._told[user_id]


def question_cooldown(interaction: discord.Interaction) -> bool:
    """The app-command check for questions; raises QuestionCooldown when over the limit."""
    limiter: QuestionLimiter | None = getattr(interaction.client, "limiter", None)
    if limiter is None:
        return True
    bucket, retry_after = limiter.hit(interaction.user.id)
    if retry_after is not None:
        raise QuestionCooldown(bucket, retry_after)
    return True


def question_refusal(client: object, user_id: int, lang: str = "en") -> str | None:
    """For buttons and mentions that ask a question: count one for ``user_id``; the polite
    refusal (in ``lang``) to send when over the limit, None to go ahead."""
    limiter: QuestionLimiter | None = getattr(client, "limiter", None)
    if limiter is None:
        return None
    _bucket, retry_after = limiter.hit(user_id)
    if retry_after is None:
        return None
    return polite_cooldown(limiter.rate, limiter.per, retry_after, lang)
