"""Channel defaults in Discord: which channels a question was asked "in" (a thread, its
channel, the channel's category), the filters it gets from them, and the footer line that
tells the member what was searched and how to search everything.

The defaults themselves are the service's (``Steward.channel_defaults``); this module only
finds the channel ids and words the note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import discord

from bot.channel_defaults import combine, is_any
from bot.discord import embeds
from bot.discord.options import filters
from bot.discord.text import fit
from bot.i18n import translate
from corpus.store import Filters

if TYPE_CHECKING:
    from bot.discord.client import StewardBot


def scope_ids(channel: object) -> list[int]:
    """The ids whose defaults apply in ``channel``, nearest first: a thread, its parent
    channel, that channel's category (a channel the cache lacks counts by its own id)."""
    if channel is None or isinstance(channel, discord.DMChannel | discord.GroupChannel):
        return []
    ids = [int(channel.id)]  # type: ignore[attr-defined]
    if isinstance(channel, discord.Thread):
        ids.append(channel.parent_id)
        channel = channel.parent
    category_id = getattr(channel, "category_id", None)
    if category_id is not None:
        ids.append(int(category_id))
    return ids


def check_options(options: Mapping[str, str | None]) -> None:
    """Raise the member's UserError now (before any defer) for a filter Steward cannot read;
    ``any`` is always fine."""
    filters(**{name: (None if is_any(value) else value) for name, value in options.items()})


async def scoped_filters(bot: StewardBot, channel: object, options: Mapping[str, str | None]
                         ) -> tuple[Filters, dict[str, str]]:
    """The filters to search with in ``channel``: the member's ``options`` over the channel's
    defaults; and the defaults that applied (for the note)."""
    ids = scope_ids(channel)
    defaults = await bot.run_io(bot.steward.channel_defaults, ids) if ids else None
    merged, applied = combine(defaults, options)
    return filters(**merged), applied


def scope_note(applied: Mapping[str, str], lang: str) -> str | None:
    """"searched: tag amazon — /ask … tag: any to search everything", or None when no
    default applied. Option names stay English: they are what members type."""
    if not applied:
        return None
    searched = ", ".join(f"{name} {value}" for name, value in applied.items())
    return translate("server.searched", lang, filters=searched, option=next(iter(applied)))


def with_note(embed: discord.Embed, note: str | None) -> discord.Embed:
    """``embed`` with ``note`` as the first line of its footer (within Discord's limit)."""
    if not note:
        return embed
    footer = embed.footer.text if embed.footer and embed.footer.text else ""
    text = f"{note}\n{footer}" if footer else note
    embed.set_footer(text=fit(text, embeds.FOOTER_MAX, escaped=False))
    return embed
