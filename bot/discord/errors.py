"""The one place errors from commands and buttons end up: logged for admins, explained to
members in a line they can act on, never a traceback in chat.

Logs name the command and an error reference, not the member or what they asked
(question text stays out of logs unless query logging is on). An unexpected error's
traceback is logged with its frames and exception types but without the exceptions'
messages, which can quote the question (or a secret); with query logging on it is logged
in full.
"""

from __future__ import annotations

import logging
import secrets
import traceback

import discord
from discord import app_commands

from bot.app import FilterError
from bot.discord.checks import NotStewardAdmin, QuestionCooldown, polite_cooldown
from bot.discord.translate import lang_of
from bot.i18n import translate
from embeddings.errors import EncoderError, IndexError_

log = logging.getLogger("steward.discord")

NO_PINGS = discord.AllowedMentions.none()


class UserError(Exception):
    """A problem with what the member asked for, shown to them in their language: a
    catalogue ``key`` with its ``values``, or (without a key) a message shown as is."""

    def __init__(self, message: str = "", *, key: str | None = None, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(translate(key, "en", **values) if key else message)

    def say(self, lang: str) -> str:
        if self.key:
            return translate(self.key, lang, **self.values)
        cause = self.__cause__
        if isinstance(cause, FilterError):
            return filter_problem(cause, lang)
        return str(self)


# The service's FilterError problems ("'x' is not a date; ...") and their catalogue keys.
_FILTER_PROBLEMS = {
    " is not a date; use YYYY-MM-DD": "errors.bad_date",
    " is not a language; use a two-letter code such as en or es": "errors.bad_language",
}


def filter_problem(error: FilterError, lang: str) -> str:
    """A filter the service could not read, in ``lang`` (as the service said it otherwise)."""
    for ending, key in _FILTER_PROBLEMS.items():
        if error.problem.endswith(ending):
            return translate(key, lang, option=error.option,
                             value=error.problem.removesuffix(ending))
    return str(error)


WITHHELD = "[message withheld: query_logging is off]"


def query_logging_on(client: object) -> bool:
    """Whether the admins turned on query logging (the bot's Steward says; False without one)."""
    return bool(getattr(getattr(client, "steward", None), "query_logging", False))


def scrubbed_traceback(error: BaseException) -> str:
    """``error``'s traceback (and its causes'): files, lines, functions and exception types,
    but none of the exceptions' messages."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__
    parts: list[str] = []
    for n, exc in enumerate(reversed(chain)):
        if n:
            parts.append("\nwhich led to\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        kind = type(exc)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        parts.append(f"{name}: {WITHHELD}\n")
    return "".join(parts).rstrip("\n")


def log_unexpected(client: object, error: BaseException, what: str) -> None:
    """Log an unexpected error for the admins: ``what`` (no member input in it), the error's
    type and its traceback, scrubbed of messages unless query logging is on."""
    name = type(error).__name__
    if query_logging_on(client):
        log.error("%s: %s", what, name, exc_info=(type(error), error, error.__traceback__))
    else:
        log.error("%s: %s\n%s", what, name, scrubbed_traceback(error))


def describe(error: BaseException, lang: str = "en") -> str | None:
    """What to tell the member, in ``lang``, or None for an unexpected error (which gets
    logged)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserError):
        return error.say(lang)
    if isinstance(error, IndexError_ | EncoderError):
        # Not the member's to fix, but the message says what an admin should do.
        log.warning("cannot answer: %s", error)
        return translate("errors.cannot_search", lang, problem=error)
    if isinstance(error, NotStewardAdmin):
        return error.say(lang)
    if isinstance(error, QuestionCooldown):
        return error.friendly(lang)
    if isinstance(error, app_commands.CommandOnCooldown):
        return polite_cooldown(int(error.cooldown.rate), error.cooldown.per, error.retry_after,
                               lang)
    if isinstance(error, app_commands.NoPrivateMessage):
        return translate("errors.no_dm", lang)
    if isinstance(error, app_commands.BotMissingPermissions):
        return translate("errors.bot_permissions", lang,
                         permissions=", ".join(error.missing_permissions))
    if isinstance(error, app_commands.MissingPermissions | app_commands.MissingAnyRole
                  | app_commands.MissingRole):
        return translate("errors.not_allowed", lang, detail=error)
    if isinstance(error, app_commands.TransformerError):
        return translate("errors.bad_value", lang, value=error.value)
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return translate("errors.out_of_date", lang)
    if isinstance(error, app_commands.CheckFailure):
        return translate("errors.check_failed", lang)
    return None


async def tell(interaction: discord.Interaction, message: str) -> None:
    """Say ``message`` to the member privately, however far the interaction has got."""
    if interaction.type is discord.InteractionType.autocomplete:
        return  # autocomplete cannot show messages; an empty list of choices is shown
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
        elif interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # "Steward is thinking…" is showing: replace it (it is ephemeral when the command
            # deferred that way; the member asked in the open otherwise).
            await interaction.edit_original_response(content=message, embeds=[], view=None,
                                                     allowed_mentions=NO_PINGS)
        else:
            await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as err:
        log.warning("could not tell a member about an error: %s", err)


async def report(interaction: discord.Interaction, error: BaseException) -> None:
    """Log ``error`` (unless it is the member's to fix) and tell the member about it."""
    lang = lang_of(interaction)
    message = describe(error, lang)
    if message is None:
        ref = secrets.token_hex(3)
        original = getattr(error, "original", error)
        command = interaction.command.qualified_name if interaction.command else "a component"
        log_unexpected(interaction.client, original, f"error {ref} in {command}")
        message = translate("errors.unexpected", lang, ref=ref)
    await tell(interaction, message)


async def on_app_command_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    """``tree.on_error``: every slash command and context-menu error comes here."""
    await report(interaction, error)
