"""`steward doctor`'s Discord checks, through the REST API only (no second gateway session
beside a running bot): the token, the registered commands against the ones this code
defines, and in each server the channels where Steward cannot answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import discord
import discord.http

from bot.app import Steward
from bot.config import Config, DiscordSection, discord_token
from bot.discord.client import EXTENSIONS, StewardBot
from bot.discord.translate import StewardTranslator
from bot.doctor import Check

# Cogs that only run background work (scheduled backups, retention) define no commands and
# must not start that work in a doctor run.
BACKGROUND = {"bot.discord.exts.backups", "bot.discord.exts.retention"}
TEXT, NEWS, FORUM = 0, 5, 15
NEEDED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
}
FORUM_NEEDED = {**NEEDED, "send_messages_in_threads": "Send Messages in Threads"}
REJECTED = ("reset the token in the developer portal (your application → Bot → Reset Token) "
            "and set DISCORD_TOKEN to the new one")


class _DoctorBot(StewardBot):
    """The bot's commands without running it: ``login`` would call ``setup_hook``, which
    starts the health server and loads the index."""

    async def setup_hook(self) -> None:
        return None


def discord_checks(config: Config) -> list[Check]:
    """Run the checks with DISCORD_TOKEN (set: the caller checked)."""
    steward = Steward(config)
    try:
        return asyncio.run(_checks(steward, config.discord, discord_token() or ""))
    finally:
        steward.close()


async def _checks(steward: Steward, settings: DiscordSection, token: str) -> list[Check]:
    if settings.api_base:
        discord.http.Route.BASE = settings.api_base.rstrip("/")
    bot = _DoctorBot(steward, settings)
    try:
        expected = await _expected_commands(bot)
        try:
            await bot.login(token)
        except discord.LoginFailure:
            return [Check("discord token", False, "Discord rejected DISCORD_TOKEN "
                          "(401 Unauthorized)", REJECTED)]
        except (discord.HTTPException, OSError) as err:
            return [Check("discord token", False, f"cannot reach Discord ({err})",
                          "check the network (and [discord] api_base) and try again")]
        user = bot.user
        checks = [Check("discord token", True, f"accepted: the bot is {user} (id {user.id})"
                        if user else "accepted")]
        app_id = bot.application_id or (user.id if user else 0)
        registered = await bot.http.get_global_commands(app_id)
        checks.append(_commands_check("commands (global)", expected, registered, scope="global"))
        for guild in await bot.http.get_guilds(200):
            checks += await _guild_checks(bot, steward, app_id, guild, expected, registered)
        return checks
    finally:
        await bot.close()


async def _expected_commands(bot: StewardBot) -> dict[tuple[str, int], dict[str, Any]]:
    """The payload ``steward bot --sync`` would register, by (name, type)."""
    await bot.tree.set_translator(StewardTranslator())
    for extension in EXTENSIONS:
        if extension not in BACKGROUND:
            await bot.load_extension(extension)
    payload = [command.to_dict(bot.tree) for command in bot.tree.get_commands()]
    return {(c["name"], int(c.get("type", 1))): c for c in payload}


def _shape(command: Mapping[str, Any]) -> tuple[object, ...]:
    """What members see of a command: its description and options, recursively (Discord adds
    fields of its own to what it returns, so whole payloads are not compared)."""
    options = tuple(sorted(
        (o["name"], int(o.get("type", 0)), o.get("description", ""), bool(o.get("required")),
         _shape(o) if o.get("options") else ())
        for o in command.get("options") or ()))
    return (command.get("description", ""), options)


def _commands_check(name: str, expected: Mapping[tuple[str, int], Mapping[str, Any]],
                    registered: Iterable[Mapping[str, Any]], scope: str) -> Check:
    found = {(c["name"], int(c.get("type", 1))): c for c in registered}
    if not found:
        return Check(name, False, "no commands are registered",
                     "run `steward bot --sync` once (or `@Steward sync` as the bot's owner)")
    missing = sorted(n for key, n in ((k, k[0]) for k in expected) if key not in found)
    stale = sorted({k[0] for k in found if k not in expected}
                   | {k[0] for k in found if k in expected and _shape(found[k]) != _shape(expected[k])})
    if missing or stale:
        said = "; ".join(part for part in (
            f"missing: {', '.join(missing)}" if missing else "",
            f"out of date: {', '.join(stale)}" if stale else "") if part)
        return Check(name, False, said, "run `steward bot --sync` (global) so Discord has this "
                     "version's commands" if scope == "global" else
                     f"run `steward bot --sync {scope}`, or `@Steward sync clear` there to "
                     "remove the server's copies")
    return Check(name, True, f"{len(found)} registered, as this version defines them")


async def _guild_checks(bot: StewardBot, steward: Steward, app_id: int,
                        guild: Mapping[str, Any], expected: Mapping[tuple[str, int], Any],
                        global_commands: list[Any]) -> list[Check]:
    guild_id = int(guild["id"])
    label = f"server {guild.get('name', guild_id)}"
    checks = []
    copies = await bot.http.get_guild_commands(app_id, guild_id)
    if copies:
        names = {c["name"] for c in global_commands} & {c["name"] for c in copies}
        if names:
            checks.append(Check(f"{label}: commands", False, "registered both globally and in "
                                f"this server, so members see them twice: {', '.join(sorted(names))}",
                                "write `@Steward sync clear` in that server (as the bot's owner)"))
        else:
            checks.append(_commands_check(f"{label}: commands", expected, copies,
                                          scope=str(guild_id)))
    checks.append(await _permissions_check(bot, steward, label, guild_id))
    return checks


async def _permissions_check(bot: StewardBot, steward: Steward, label: str,
                             guild_id: int) -> Check:
    user_id = bot.user.id if bot.user else 0
    guild = await bot.http.get_guild(guild_id)
    member = await bot.http.get_member(guild_id, user_id)
    channels = await bot.http.get_all_guild_channels(guild_id)
    answer_here = {a.channel_id for a in steward.guild_answer_here(guild_id)}
    defaults = {d.channel_id for d in steward.guild_channel_defaults(guild_id)}
    lacking: list[str] = []
    usable = 0
    for channel in channels:
        kind = int(channel.get("type", -1))
        if kind not in (TEXT, NEWS, FORUM):
            continue
        perms = channel_permissions(guild, member, channel, user_id)
        needed = FORUM_NEEDED if kind == FORUM else NEEDED
        expected = int(channel["id"]) in answer_here | defaults
        if not perms.view_channel and not expected:
            continue  # hidden from Steward on purpose: nobody can ask there
        missing = [title for attr, title in needed.items() if not getattr(perms, attr)]
        if missing:
            lacking.append(f"#{channel.get('name', channel['id'])} lacks {', '.join(missing)}")
        else:
            usable += 1
    if lacking:
        return Check(f"{label}: permissions", False, "; ".join(lacking),
                     "give Steward's role those permissions in those channels (the channel's "
                     "Edit Channel → Permissions, or Server Settings → Roles)")
    return Check(f"{label}: permissions", True,
                 f"can view, send, embed and read history in {usable} channels")


def channel_permissions(guild: Mapping[str, Any], member: Mapping[str, Any],
                        channel: Mapping[str, Any], user_id: int) -> discord.Permissions:
    """The member's permissions in the channel, as Discord computes them: the roles', then
    the channel's overwrites for @everyone, for the member's roles, for the member."""
    if str(guild.get("owner_id")) == str(user_id):
        return discord.Permissions.all()
    roles = {str(r["id"]): int(r.get("permissions", 0)) for r in guild.get("roles", [])}
    mine = {str(r) for r in member.get("roles", [])}
    value = roles.get(str(guild["id"]), 0)
    for role_id in mine:
        value |= roles.get(role_id, 0)
    perms = discord.Permissions(value)
    if perms.administrator:
        return discord.Permissions.all()
    overwrites = {str(o["id"]): o for o in channel.get("permission_overwrites") or []}

    def apply(allow: int, deny: int) -> None:
        nonlocal value
        value = (value & ~deny) | allow

    everyone = overwrites.get(str(guild["id"]))
    if everyone:
        apply(int(everyone.get("allow", 0)), int(everyone.get("deny", 0)))
    allow = deny = 0
    for role_id in mine:
        if (o := overwrites.get(role_id)) and int(o.get("type", 0)) == 0:
            allow |= int(o.get("allow", 0))
            deny |= int(o.get("deny", 0))
    apply(allow, deny)
    if (o := overwrites.get(str(user_id))) and int(o.get("type", 0)) == 1:
        apply(int(o.get("allow", 0)), int(o.get("deny", 0)))
    return discord.Permissions(value)
