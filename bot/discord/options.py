"""Command options shared by the command groups: the filters of ``/ask`` and ``/search``
(publication, dates, author, tag, language) with their autocomplete, and document autocomplete.

Autocomplete callbacks are plain functions of ``(interaction, current)``: discord.py calls
a function defined outside a class without a cog, so one callback serves every command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands

from bot.app import FilterError, parse_filters
from bot.discord.errors import UserError
from bot.discord.text import flatten
from corpus.language import language_label
from corpus.store import Filters

if TYPE_CHECKING:
    from bot.discord.client import StewardBot

T = TypeVar("T")

Choices = list[app_commands.Choice[str]]

CHOICES_MAX = 25  # Discord shows at most 25 choices
CHOICE_MAX = 100  # chars in a choice's name and value

FILTER_DESCRIPTIONS = {
    "publication": "Only this publication (e.g. Bulletin)",
    "since": "Only documents dated on or after (YYYY-MM-DD)",
    "until": "Only documents dated on or before (YYYY-MM-DD)",
    "author": "Only this author",
    "tag": "Only documents with this tag",
    "language": "Only passages in this language (e.g. es, en)",
}


def filters(
    *, since: str | None = None, until: str | None = None, publication: str | None = None,
    author: str | None = None, tag: str | None = None, doc_id: str | None = None,
    language: str | None = None,
) -> Filters:
    """Filters from command options; a bad date or language is the member's to fix
    (UserError)."""
    try:
        return parse_filters(since=since, until=until, publication=publication, author=author,
                             tag=tag, doc_id=doc_id, language=language)
    except FilterError as err:
        raise UserError(str(err)) from err


async def field_choices(bot: StewardBot, field: str, current: str) -> Choices:
    """Publications, authors or tags from the store that contain what was typed."""
    values = await bot.run_io(bot.steward.field_values, field, current.strip())
    return [app_commands.Choice(name=v[:CHOICE_MAX], value=v[:CHOICE_MAX])
            for v in values[:CHOICES_MAX] if v.strip()]


def _bot(interaction: discord.Interaction) -> StewardBot:
    return interaction.client  # type: ignore[return-value]


async def publication_choices(interaction: discord.Interaction, current: str) -> Choices:
    return await field_choices(_bot(interaction), "publication", current)


async def author_choices(interaction: discord.Interaction, current: str) -> Choices:
    return await field_choices(_bot(interaction), "author", current)


async def tag_choices(interaction: discord.Interaction, current: str) -> Choices:
    return await field_choices(_bot(interaction), "tag", current)


async def language_choices(interaction: discord.Interaction, current: str) -> Choices:
    """The languages of the stored passages ("es (español)", value "es"), most passages
    first, that match what was typed (the code or the name)."""
    bot = _bot(interaction)
    codes = await bot.run_io(bot.steward.field_values, "language", "", CHOICES_MAX)
    needle = current.strip().casefold()
    return [app_commands.Choice(name=language_label(code), value=code)
            for code in codes if needle in language_label(code).casefold()]


def filter_options(command: Callable[..., T]) -> Callable[..., T]:
    """Describe a command's ``publication``, ``since``, ``until``, ``author``, ``tag`` and
    ``language`` options and complete the publication, author, tag and language as the
    member types. Goes under ``@app_commands.command`` (it decorates the callback before the
    command is made)."""
    app_commands.describe(**FILTER_DESCRIPTIONS)(command)
    app_commands.autocomplete(publication=publication_choices, author=author_choices,
                              tag=tag_choices, language=language_choices)(command)
    return command


async def document_choices(bot: StewardBot, current: str) -> Choices:
    """Documents whose title (or id) contains what was typed, newest first; the value is
    the id."""
    docs = await bot.run_io(bot.steward.documents)
    needle = current.strip().casefold()
    choices = []
    for doc in docs:
        if needle and needle not in doc.title.casefold() and needle not in doc.doc_id.casefold():
            continue
        if len(doc.doc_id) > CHOICE_MAX:  # Discord's limit for a choice value; cannot be chosen
            continue
        date = doc.date.isoformat() if doc.date else "undated"
        name = f"{flatten(doc.title)[: CHOICE_MAX - len(date) - 3]} ({date})"
        choices.append(app_commands.Choice(name=name, value=doc.doc_id))
        if len(choices) == CHOICES_MAX:
            break
    return choices
