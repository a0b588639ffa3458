"""Which language to answer a member in, and Spanish descriptions for the slash commands.

An interaction carries the member's client language (``interaction.locale``: ``es-ES``,
``es-419``...) and the server's preferred one (``guild_locale``); a mention carries neither,
so its question's own language decides. Command names stay English (members type them),
but descriptions are sent to Discord in every language Steward speaks, through discord.py's
``app_commands.Translator``.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot import i18n

# The Discord locales each of Steward's languages is shown in (Discord has two Spanishes).
DISCORD_LOCALES: dict[str, tuple[discord.Locale, ...]] = {
    "es": (discord.Locale.spain_spanish, discord.Locale.latin_american_spanish),
}
_COMMANDS = "commands."


def lang_of(interaction: discord.Interaction) -> str:
    """The member's language when Steward speaks it, else the server's, else English."""
    return (i18n.from_locale(interaction.locale) or i18n.from_locale(interaction.guild_locale)
            or i18n.DEFAULT)


def lang_of_message(message: discord.Message, text: str = "") -> str:
    """For a mention or DM: the language ``text`` (the question) is in, else the server's
    preferred language, else English."""
    detected = i18n.detect(text) if text else None
    if detected:
        return detected
    guild = message.guild
    return (i18n.from_locale(guild.preferred_locale) if guild is not None else None) \
        or i18n.DEFAULT


def command_text(key: str) -> app_commands.locale_str:
    """A command or option description: its English text, tagged with its catalogue key."""
    return app_commands.locale_str(i18n.translate(_COMMANDS + key, "en"), key=_COMMANDS + key)


class StewardTranslator(app_commands.Translator):
    """Descriptions from the catalogues. A string without a key (e.g. a plain ``describe``)
    is found by its English text; names and anything unknown stay as written."""

    def __init__(self) -> None:
        super().__init__()
        english = i18n.catalogue("en")
        self._by_text = {text: key for key, text in english.items() if key.startswith(_COMMANDS)}

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if context.location in (app_commands.TranslationContextLocation.command_name,
                                app_commands.TranslationContextLocation.group_name,
                                app_commands.TranslationContextLocation.parameter_name):
            return None  # names stay English: they are what members type
        lang = next((lang for lang, locales in DISCORD_LOCALES.items() if locale in locales),
                    None)
        if lang is None:
            return None
        key = string.extras.get("key") or self._by_text.get(string.message)
        if key is None or key not in i18n.catalogue(lang):
            return None
        return i18n.translate(key, lang)
