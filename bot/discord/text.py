"""Stored text made safe and short for Discord: escaping, trimming and splitting.

Everything shown comes from documents Steward does not control, so stored text is escaped
(markdown and mentions) before it is placed in a message: it can neither restyle the
message nor ping anyone. Text that is too long is trimmed at a sentence or word boundary,
never mid-word; trimming works on the raw text and re-measures after escaping, so an escape
sequence is never cut in half.
"""

from __future__ import annotations

import re

import discord

CONTENT_MAX = 2000  # Discord's limit on a message's content
ELLIPSIS = "…"

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s")


# -- escaping -------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Stored text made inert: markdown shown literally, no @everyone/@here/user/role pings.

    ``escape_markdown`` also escapes ``[``, so a quote cannot become a masked link.
    """
    escaped = discord.utils.escape_markdown(text, ignore_links=False)
    return discord.utils.escape_mentions(escaped)


def flatten(text: str) -> str:
    """One line of text: newlines in a quote would otherwise start lists or headings."""
    return " ".join(text.split())


# -- trimming -------------------------------------------------------------------------------


def _cut_right(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` chars ending at a sentence end or,
    failing that, a word end (a hard cut only when one word is longer than ``limit``)."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]  # one more char shows whether the cut lands between words
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= limit + 1]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]].rstrip()
    space = head.rfind(" ")
    if space > 0:
        return text[:space].rstrip()
    return text[:limit]


def _cut_left(text: str, limit: int) -> str:
    """The longest end of ``text`` of at most ``limit`` chars starting at a sentence start or,
    failing that, a word start."""
    if len(text) <= limit:
        return text
    tail_start = len(text) - limit
    starts = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() >= tail_start]
    if starts and len(text) - starts[0] >= limit // 2:
        return text[starts[0] :].lstrip()
    space = text.find(" ", tail_start - 1)
    if 0 <= space < len(text) - 1:
        return text[space + 1 :].lstrip()
    return text[-limit:]


def _suffix(cut: str) -> str:
    # "word…" after a cut word boundary, "sentence. …" after a sentence end.
    return ELLIPSIS if cut[-1:].isalnum() else " " + ELLIPSIS


def fit(text: str, limit: int, *, escaped: bool = True) -> str:
    """``text`` (escaped unless ``escaped=False``) in at most ``limit`` chars, trimmed at the
    end at a sentence or word boundary with an ellipsis."""
    render = escape if escaped else (lambda s: s)
    out = render(text)
    if len(out) <= limit:
        return out
    budget = limit - len(ELLIPSIS)
    while budget > 0:
        cut = _cut_right(text, budget)
        out = render(cut) + _suffix(cut)
        if len(out) <= limit:
            return out
        budget -= max(len(out) - limit, 1)
    return ELLIPSIS[:limit]


def fit_left(text: str, limit: int) -> str:
    """Escaped ``text`` in at most ``limit`` chars, trimmed at the start (keeps the end)."""
    out = escape(text)
    if len(out) <= limit:
        return out
    budget = limit - len(ELLIPSIS)
    while budget > 0:
        cut = _cut_left(text, budget)
        out = ELLIPSIS + ("" if cut[:1].isalnum() else " ") + escape(cut)
        if len(out) <= limit:
            return out
        budget -= max(len(out) - limit, 1)
    return ELLIPSIS[:limit]


def bold(escaped: str) -> str:
    """Bold already-escaped text; spaces stay outside the markers so Discord renders it."""
    core = escaped.strip()
    if not core:
        return escaped
    lead = escaped[: len(escaped) - len(escaped.lstrip())]
    trail = escaped[len(escaped.rstrip()) :]
    return f"{lead}**{core}**{trail}"


def split_text(text: str, limit: int) -> list[str]:
    """Raw text in pieces of at most ``limit`` chars, split at paragraph, sentence or word
    boundaries (for sources too long for one embed)."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        head = rest[:limit]
        cut = head.rfind("\n\n")
        if cut < limit // 3:
            cut = len(_cut_right(rest, limit))
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def plain(text: str, limit: int = CONTENT_MAX) -> str:
    """A message's content: at most 2000 chars, trimmed at a word boundary (not escaped:
    for Steward's own wording; escape stored text before putting it in)."""
    return fit(text, limit, escaped=False)
