"""Numbered pages: a URL with ``{n}`` (``https://example.org/voices/{n}/``), as LibreOrganize
sites publish bulletins and articles. ``{n=124}`` starts the first walk at 124.

Each pass re-checks known numbers with a conditional GET (the newest ``recheck``, then as many
older ones in turn, so every page is seen again within a few passes) and walks upward from the
highest number seen until ``missing_run`` consecutive 404s. robots.txt is honoured.
"""

from __future__ import annotations

import re
from typing import Any

from corpus.sources.errors import SourceError
from corpus.sources.http import Client, Validators
from corpus.sources.model import Entry, Listing, SourceSpec
from corpus.sources.settings import SyncSettings
from corpus.sources.state import ItemState

_SLOT = re.compile(r"\{n(?:=(\d+))?\}")
GONE = (404, 410)


def template(url: str) -> tuple[str, int]:
    """(URL with ``{n}``, first number); SourceError unless the URL has exactly one slot."""
    slots = _SLOT.findall(url)
    if len(slots) != 1:
        raise SourceError(f"{url}: a numbered-page URL needs exactly one {{n}}, e.g. "
                          "https://example.org/voices/{n}/")
    start = int(slots[0]) if slots[0] else 1
    return _SLOT.sub("{n}", url), start


def url_for(url: str, n: int) -> str:
    return template(url)[0].replace("{n}", str(n))


def _rechecks(numbers: list[int], recheck: int, cursor: int) -> tuple[list[int], int]:
    recent, older = numbers[-recheck:], numbers[:-recheck]
    if not older:
        return recent, 0
    cursor %= len(older)
    batch = (older[cursor:] + older[:cursor])[:recheck]
    return recent + batch, (cursor + len(batch)) % len(older)


def listing(client: Client, spec: SourceSpec, state: dict[str, Any],
            known: dict[str, ItemState], settings: SyncSettings) -> Listing:
    form, start = template(spec.url)
    out = Listing(state=dict(state))
    by_number = {int(m.group(1)): item for item in known.values()
                 if (m := re.fullmatch(re.escape(form).replace(r"\{n\}", r"(\d+)"), item.key))}
    numbers = sorted(by_number)
    again, out.state["cursor"] = _rechecks(numbers, max(settings.recheck, 0), int(state.get("cursor", 0)))
    for n in again:
        item, url = by_number[n], form.replace("{n}", str(n))
        if not client.allowed(url):
            continue
        fetched = client.get(url, Validators(item.etag, item.last_modified))
        if fetched.status == 304:
            out.entries.append(Entry(key=url, url=url, not_modified=True))
        elif fetched.status == 200:
            out.entries.append(Entry(key=url, url=url, body=fetched.data, body_format=fetched.format or "html",
                                     etag=fetched.etag, last_modified=fetched.last_modified))
        elif fetched.status in GONE:
            out.gone.append(url)
    highest = max([int(state.get("highest", start - 1)), *numbers])
    n, misses, found = highest + 1, 0, 0
    while misses < settings.missing_run:
        url = form.replace("{n}", str(n))
        if not client.allowed(url):
            out.notes.append(f"robots.txt disallows {url}; the walk stops there")
            break
        if found >= settings.max_items_per_pass:
            out.notes.append(f"stopped at {url} after {found} new pages (max_items_per_pass)")
            break
        fetched = client.get(url)
        if fetched.status == 200:
            out.entries.append(Entry(key=url, url=url, body=fetched.data, body_format=fetched.format or "html",
                                     etag=fetched.etag, last_modified=fetched.last_modified))
            highest, misses, found = n, 0, found + 1
        else:
            misses += 1  # 404, or anything else that is not a page
        n += 1
    if not numbers and not found and misses >= settings.missing_run:
        # Numbering that starts higher (older pages deleted) looks like an empty site.
        out.notes.append(f"no page found from {start} to {n - 1}; if the site's numbers start "
                         f"higher, follow {form.replace('{n}', '{n=FIRST}')} with its first number")
    out.state["highest"] = highest
    return out
