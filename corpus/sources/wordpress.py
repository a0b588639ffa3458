"""WordPress sites through their REST API (``/wp-json/wp/v2/posts``): the post's own title,
dates, author, categories and tags, and its content, with no HTML page to scrape.

Each pass lists every post's id, link and ``modified`` time (``_fields``, 100 a page: cheap),
which says what exists (a post no longer listed was deleted) and what changed; the changed
posts' content comes from one ``modified_after`` query since the newest change seen.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from corpus.sources.errors import SourceError
from corpus.sources.http import Client
from corpus.sources.model import Entry, Listing, SourceSpec

PER_PAGE = 100
MAX_PAGES = 2000  # 200,000 posts: past this a site is not a bulletin
_TAG = re.compile(r"<[^>]+>")


def posts_endpoint(url: str) -> str:
    """The posts endpoint for a site URL, a ``/wp-json/`` URL or the endpoint itself."""
    parts = urlsplit(url)
    path = parts.path
    if "/wp-json" in path:
        path = path[: path.index("/wp-json")]
    path = path.rstrip("/") + "/wp-json/wp/v2/posts"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _plain(rendered: object) -> str:
    return html.unescape(_TAG.sub("", str(rendered or ""))).strip()


def _get_json(client: Client, url: str) -> Any:
    fetched = client.get(url)
    if fetched.status == 400:  # WordPress: "rest_post_invalid_page_number", past the last page
        return []
    if fetched.status != 200:
        raise SourceError(f"the WordPress API {url} answered {fetched.status}; check the site's "
                          "address (its REST API may be turned off)")
    try:
        return json.loads(fetched.data)
    except (ValueError, RecursionError) as err:
        raise SourceError(f"the WordPress API {url} did not answer JSON ({type(err).__name__})") from err


def _pages(client: Client, endpoint: str, params: dict[str, str]) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        batch = _get_json(client, f"{endpoint}?{urlencode({**params, 'per_page': PER_PAGE, 'page': page})}")
        if not isinstance(batch, list):
            raise SourceError(f"the WordPress API {endpoint} did not answer a list of posts")
        posts += [p for p in batch if isinstance(p, dict)]
        if len(batch) < PER_PAGE:
            return posts
    raise SourceError(f"the WordPress API {endpoint} lists more than {MAX_PAGES * PER_PAGE:,} posts")


def entry_of(post: dict[str, Any], with_body: bool) -> Entry | None:
    link = post.get("link")
    if not isinstance(link, str) or not link:
        return None
    raw_title = post.get("title")
    title = _plain(raw_title.get("rendered") if isinstance(raw_title, dict) else raw_title)
    meta: dict[str, Any] = {"title": title or None}
    date = str(post.get("date") or "")[:10]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        meta["date"] = date
    embedded = post.get("_embedded") or {}
    authors = embedded.get("author") or []
    if authors and isinstance(authors[0], dict) and authors[0].get("name"):
        meta["author"] = str(authors[0]["name"])
    # Categories and tags both become Steward tags ("wp:term" holds one list per taxonomy).
    terms = [t.get("name") for group in embedded.get("wp:term") or [] if isinstance(group, list)
             for t in group if isinstance(t, dict) and t.get("taxonomy") in ("category", "post_tag")]
    if terms:
        meta["tags"] = [html.unescape(str(t)) for t in terms if t]
    body = None
    if with_body:
        content = (post.get("content") or {}).get("rendered", "") if isinstance(post.get("content"), dict) else ""
        body = (f"<html><head><title>{html.escape(title)}</title></head><body><article>"
                f"<h1>{html.escape(title)}</h1>{content}</article></body></html>").encode()
    return Entry(key=link, url=link, lastmod=str(post.get("modified") or "") or None, meta=meta, body=body)


def listing(client: Client, spec: SourceSpec, state: dict[str, Any]) -> Listing:
    endpoint = posts_endpoint(spec.url)
    since = state.get("modified")
    out = Listing(complete=True, state=dict(state))
    if since is None:
        posts = _pages(client, endpoint, {"_embed": "author,wp:term", "orderby": "modified"})
        full = {e.key: e for p in posts if (e := entry_of(p, True))}
    else:
        changed = _pages(client, endpoint, {"_embed": "author,wp:term", "modified_after": since})
        full = {e.key: e for p in changed if (e := entry_of(p, True))}
        posts = _pages(client, endpoint, {"_fields": "id,link,modified"})
    for post in posts:
        entry = entry_of(post, False)
        if entry is not None:
            out.entries.append(full.get(entry.key, entry))
    stamps = [e.lastmod for e in out.entries if e.lastmod]
    if stamps:
        out.state["modified"] = max(stamps)
    return out
