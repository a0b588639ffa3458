"""Text normalisation and site-chrome removal, shared by every reader.

Every reader passes its extracted text through :func:`clean_text`, so every stored
document obeys the same rules and a quote can be checked against it verbatim.
The chrome rules themselves live in :mod:`corpus.chrome` (re-exported here).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

from corpus.chrome import CAPTION_MAX_WORDS, DEFAULT_CHROME_CAPTIONS, DEFAULT_CHROME_LINES, DEFAULT_CHROME_SELECTORS

__all__ = [
    "DEFAULT_CHROME_CAPTIONS",
    "DEFAULT_CHROME_LINES",
    "DEFAULT_CHROME_SELECTORS",
    "clean_field",
    "clean_text",
    "compile_chrome_lines",
    "normalise_text",
    "remove_caption_blocks",
    "remove_chrome_lines",
]

# Line breaks in their many spellings; U+2029 (paragraph separator) starts a paragraph.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028]")
# Removed outright: C0/C1 control characters except \n and \t; bidi embeddings and
# overrides (U+202A–U+202E) and isolates (U+2066–U+2069), which can make text display
# differently from what it says; zero-width space, word joiner, BOM and the Mongolian vowel
# separator; lone surrogates (not encodable). ZWJ/ZWNJ stay: some scripts and emoji need them.
_JUNK = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069"
    "\u200b\u2060\ufeff\u180e\ud800-\udfff]"
)
_BLANK_RUN = re.compile(r"\n{3,}")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Chrome lines are short; longer lines are never tested (keeps huge lines cheap).
_MAX_CHROME_LINE = 300


def normalise_text(text: str) -> str:
    """Normalise ``text`` the way every stored document is normalised.

    Unicode NFC; every line break becomes ``\\n``; control characters (except ``\\n``),
    bidi overrides and zero-width junk are removed, tabs become spaces; trailing whitespace
    is stripped from each line; runs of blank lines become one blank line (so paragraphs are
    separated by exactly ``\\n\\n``); blank lines at both ends are dropped. Spaces inside a
    line are kept as they are (faithful text). Idempotent, linear time.
    """
    text = _LINE_BREAKS.sub("\n", text.replace("\u2029", "\n\n"))
    text = _JUNK.sub("", text.replace("\t", " "))
    text = unicodedata.normalize("NFC", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


@functools.lru_cache(maxsize=32)
def _compile(patterns: tuple[str, ...], setting: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as err:
            raise ValueError(f"{setting} pattern {pattern!r} is not a valid regular "
                             f"expression ({err}); fix it in config.toml [reader]") from err
    return tuple(compiled)


def remove_caption_blocks(text: str, patterns: Sequence[str]) -> str:
    """Drop every short paragraph whose last line matches one of ``patterns`` (a photo caption
    ending with its credit; corpus/chrome.py says why). ``text`` is normalised: paragraphs are
    separated by exactly one blank line."""
    compiled = _compile(tuple(patterns), "chrome captions")
    if not compiled:
        return text
    kept = []
    for block in text.split("\n\n"):
        last = block.rsplit("\n", 1)[-1].strip()
        if (len(block.split()) <= CAPTION_MAX_WORDS and len(last) <= _MAX_CHROME_LINE
                and any(p.search(last) for p in compiled)):
            continue
        kept.append(block)
    return "\n\n".join(kept)


def compile_chrome_lines(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """Compile chrome-line patterns; ValueError naming the bad pattern if one is invalid."""
    return _compile(tuple(patterns), "chrome_lines")


def remove_chrome_lines(text: str, patterns: Sequence[str]) -> str:
    """Drop every line whose stripped content fully matches one of ``patterns``."""
    compiled = compile_chrome_lines(patterns)
    if not compiled:
        return text
    kept = []
    for line in text.split("\n"):
        stripped = line.strip()
        if (stripped and len(stripped) <= _MAX_CHROME_LINE
                and any(p.fullmatch(stripped) for p in compiled)):
            continue
        kept.append(line)
    return "\n".join(kept)


def clean_text(text: str, chrome_lines: Sequence[str], captions: Sequence[str] = ()) -> str:
    """Normalise ``text``, remove chrome lines and caption blocks: what every reader stores."""
    text = normalise_text(remove_chrome_lines(normalise_text(text), chrome_lines))
    return normalise_text(remove_caption_blocks(text, captions)) if captions else text


def clean_field(value: str) -> str:
    """One metadata value (a title, an author, a path) as it is stored and shown: one line.

    Lone surrogates (a file name whose bytes are not UTF-8, an escaped ``\\ud800`` in YAML)
    become U+FFFD, so the value can be stored and a bad byte stays visible; then the same
    removals as :func:`normalise_text` (control characters, bidi overrides that could make a
    title display as something else, zero-width junk); every run of whitespace becomes one space.
    """
    return " ".join(normalise_text(_SURROGATE.sub("\ufffd", value)).split())
