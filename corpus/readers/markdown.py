"""Markdown: YAML front matter becomes metadata; the body is kept as written.

The Markdown source is stored as it is (a quote of it is what the member will find in the
file); only the front matter block is taken off. Title: front matter ``title``, else the
first level-1 heading (``# Title``), else the first line.
"""

from __future__ import annotations

import re

import yaml

from corpus.clean import clean_text
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


def first_h1(text: str) -> str | None:
    """The text of the first ATX level-1 heading ("# Title #" → "Title")."""
    for line in text.split("\n"):
        if line.startswith(("# ", "#\t")):
            title = line[1:].strip()
            closed = title.rstrip("#")
            if closed != title and (not closed or closed[-1].isspace()):
                title = closed.strip()  # "# Title ##": closing hashes; "# C#" keeps its '#'
            if title:
                return title[:500]
    return None


def _front_matter_metadata(data: dict[str, object], ctx: ReadContext) -> dict[str, object]:
    data = {str(k).lower(): v for k, v in data.items()}
    if isinstance(data.get("author"), list):  # "author: [A, B]" is common
        data["author"] = ", ".join(str(a) for a in data["author"])
    if isinstance(data.get("date"), str) and (parsed := parse_date_text(data["date"])):
        data["date"] = parsed  # "date: Feb. 1, 2023" as well as ISO dates
    return validate_fields(data, ctx.source, "the front matter", ignore_unknown=True)


def read(data: bytes, ctx: ReadContext) -> Extracted:
    front_matter, body = split_front_matter(decode_text(data, ctx).lstrip("\ufeff"), ctx)
    text = clean_text(body, ctx.settings.chrome_lines)
    meta: dict[str, object] = {}
    if h1 := first_h1(text):
        meta["title"] = h1
    meta.update(_front_matter_metadata(front_matter, ctx))
    return Extracted(text=text, meta=meta)
