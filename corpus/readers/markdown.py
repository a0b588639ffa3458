"""Markdown: YAML front matter becomes metadata; the body is stored as clean text.

Markup is a way of writing, not what the member reads: a quote that shows ``## Overtime`` or
``[the form](https://…)`` renders as a heading or a link in Discord, or as noise in a terminal.
So the body is parsed (markdown-it-py, CommonMark with tables and strikethrough) and stored
as plain paragraphs: headings become paragraphs of their own and are recorded as headings
(never quoted as an answer), list items become lines of one paragraph, links keep their text,
emphasis and code keep their words, images and raw HTML tags are dropped. Quotes are verbatim
slices of this stored text. Title: front matter ``title``, else the first level-1 heading,
else the first line.
"""

from __future__ import annotations

import re

import yaml
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from markdown_it.token import Token

from corpus.clean import clean_text, normalise_text
from corpus.language import normalize_language
from corpus.metadata import parse_date_text, validate_fields
from corpus.readers import Extracted, ReadContext
from corpus.readers.text import decode_text

_MAX_FRONT_MATTER = 64 * 1024
_OPENING = re.compile(r"---[ \t]*\r?\n")
_CLOSING = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


def split_front_matter(text: str, ctx: ReadContext) -> tuple[dict[str, object], str]:
    """(front matter mapping, body); ({}, text) when the file has no front matter."""
    opening = _OPENING.match(text)
    if not opening:
        return {}, text
    closing = _CLOSING.search(text, opening.end(), opening.end() + _MAX_FRONT_MATTER)
    if not closing:
        raise ctx.fail("the front matter that starts on line 1 has no closing '---' line "
                       f"within {_MAX_FRONT_MATTER // 1024} KB; close it or remove the "
                       "opening '---'")
    block = text[opening.end() : closing.start()]
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as err:
        raise ctx.fail(f"the front matter is not valid YAML ({err}); fix it") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ctx.fail("the front matter must be 'key: value' lines (title:, author:, date:…)")
    return data, text[closing.end() :]


def _front_matter_metadata(data: dict[str, object], ctx: ReadContext) -> dict[str, object]:
    data = {str(k).lower(): v for k, v in data.items()}
    if isinstance(data.get("author"), list):  # "author: [A, B]" is common
        data["author"] = ", ".join(str(a) for a in data["author"])
    # Hugo and Jekyll sites write "lang", in forms of their own: taken when it names a
    # language, ignored otherwise (like the generators' other keys), never an error.
    if "language" not in data and (code := normalize_language(data.get("lang"))):
        data["language"] = code
    if isinstance(data.get("date"), str) and (parsed := parse_date_text(data["date"])):
        data["date"] = parsed  # "date: Feb. 1, 2023" as well as ISO dates
    return validate_fields(data, ctx.source, "the front matter", ignore_unknown=True)


def read(data: bytes, ctx: ReadContext) -> Extracted:
    front_matter, body = split_front_matter(decode_text(data, ctx).lstrip("\ufeff"), ctx)
    blocks = _blocks(body)
    text, headings, title = _join(blocks, ctx)
    meta: dict[str, object] = {}
    if title:
        meta["title"] = title[:500]
    meta.update(_front_matter_metadata(front_matter, ctx))
    return Extracted(text=text, meta=meta, headings=headings)


_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Inline tokens whose own text is what a reader sees; every other inline token is markup.
_TEXT_TOKENS = {"text", "code_inline"}


def _inline_text(token: Token) -> str:
    """The words of an inline run, without its markup (links keep their text, images go)."""
    parts: list[str] = []
    for child in token.children or ():
        # Images, inline HTML tags (<b>, <br>) and the markers of emphasis and links carry
        # no words of their own.
        if child.type in _TEXT_TOKENS:
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")  # a wrapped source line is one line of text
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts).strip()


def _html_text(html: str) -> str:
    return " ".join(BeautifulSoup(html, "lxml").get_text(" ").split()) if html.strip() else ""


def _blocks(body: str) -> list[tuple[str, int]]:
    """(text, heading level or 0) for each paragraph of the rendered document, in order."""
    blocks: list[tuple[str, int]] = []
    lines: list[str] = []  # the items of the list (or rows of the table) being read
    depth = 0  # how many lists/tables are open
    heading = 0
    row: list[str] | None = None  # the cells of the table row being read
    for token in _PARSER.parse(body):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open", "table_open"):
            depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close", "table_close"):
            depth -= 1
            if depth == 0 and lines:
                blocks.append(("\n".join(lines), 0))
                lines = []
        elif kind == "heading_open":
            heading = int(token.tag[1:])
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            if any(row):
                lines.append(" | ".join(row))  # one line per row, cells side by side
            row = None
        elif kind == "inline":
            words = _inline_text(token)
            if heading:
                if words:
                    blocks.append((" ".join(words.split()), heading))
                heading = 0
            elif row is not None:
                row.append(words)
            elif depth:
                if words:
                    lines.append(words)
            elif words:
                blocks.append((words, 0))
        elif kind in ("fence", "code_block"):
            if token.content.strip():
                (lines if depth else blocks).append(  # type: ignore[arg-type]
                    token.content.strip("\n") if depth else (token.content.strip("\n"), 0)
                )
        elif kind == "html_block" and (words := _html_text(token.content)):
            (lines if depth else blocks).append(words if depth else (words, 0))  # type: ignore[arg-type]
    if lines:
        blocks.append(("\n".join(lines), 0))
    return blocks


def _join(blocks: list[tuple[str, int]], ctx: ReadContext) -> tuple[str, tuple[tuple[int, int], ...], str | None]:
    """The stored text (blocks separated by a blank line), the spans of its headings, and
    the first level-1 heading."""
    parts: list[str] = []
    headings: list[tuple[int, int]] = []
    title = None
    offset = 0
    for raw, level in blocks:
        ctx.check_time()
        text = clean_text(raw, ctx.settings.chrome_lines, ctx.settings.chrome_captions)
        if not text:
            continue
        if level:
            text = " ".join(text.split())
            if level == 1 and title is None:
                title = text
        for paragraph in normalise_text(text).split("\n\n"):
            if not paragraph.strip():
                continue
            if parts:
                offset += 2
            if level:
                headings.append((offset, offset + len(paragraph)))
            parts.append(paragraph)
            offset += len(paragraph)
    return "\n\n".join(parts), tuple(headings), title
