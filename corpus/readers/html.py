"""HTML: the main content as paragraphs, site chrome removed, metadata from the head.

Steps: parse with lxml (through Beautiful Soup; lxml's ``huge_tree`` stays off); read the
head's metadata; remove every element matching ``settings.chrome_selectors``; take the main
content (``<main>``, else ``[role=main]``, else the one ``<article>``, else ``<body>``);
turn it into text with one blank line between blocks (paragraphs, headings, list…) and one
line break between list items, table rows and ``<br>``-separated lines.

**Multi-article issues** are split into one article per document when either

* the main content holds two or more ``<article>`` elements (not nested in one another), or
* the page says ``<meta name="steward:split" content="h2">`` (or ``split = "h2"`` is given
  as an override or in the sidecar) and the main content has two or more ``<h2>``
  headings; each ``<h2>`` starts an article that runs to the next ``<h2>``.

Each article's title is its first heading (``<h1>``–``<h6>``; for h2 splits, that ``<h2>``).
Text outside the articles (the issue's masthead, dateline, table of contents) is not stored;
it is used for the issue's metadata (date, publication), which every article inherits.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import soupsieve
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString, Script, Stylesheet, TemplateString

from corpus.clean import clean_text
from corpus.language import normalize_language
from corpus.metadata import SPLIT_MODES, parse_date_text
from corpus.readers import Article, Extracted, ReadContext
from corpus.readers.text import binary_reason

# Blocks separated by a blank line (2) or by a line break (1).
_PARAGRAPH_BLOCKS = (
    "address", "article", "aside", "blockquote", "caption", "center", "dd", "details",
    "dialog", "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "main", "menu", "nav", "ol", "p", "pre",
    "section", "summary", "table", "ul",
)
_BLOCK_BREAKS: dict[str, int] = dict.fromkeys(_PARAGRAPH_BLOCKS, 2)
_BLOCK_BREAKS.update({"li": 1, "dt": 1, "tr": 1, "option": 1})
_CELLS = frozenset(("td", "th"))
_SKIPPED = frozenset(("script", "style", "noscript", "template", "head", "title", "meta"))
_NOT_TEXT = (PreformattedString, Script, Stylesheet, TemplateString)  # comments, doctype…
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_DATE_KEYS = ("article:published_time", "date", "dc.date", "dc.date.issued",
              "datepublished", "publish-date", "publication_date",
              "fecha", "fecha-publicacion", "fecha_publicacion")  # Spanish sites' own names
_AUTHOR_KEYS = ("author", "article:author", "dc.creator", "autor")
_KEYWORD_KEYS = ("keywords", "palabras-clave", "palabras clave", "palabras_clave")
# Where a page states its language, most specific first: <meta> names, then og:locale (often
# the site's default, not the page's). <html lang> comes before all of them.
_LANGUAGE_KEYS = ("content-language", "language", "dc.language", "idioma", "og:locale")
_MAX_TAGS = 50
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


class _TextBuilder:
    """Collects text runs and breaks; HTML whitespace rules, breaks merged to the strongest."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = 0  # strongest break asked for since the last text
        self.at_line_start = True

    def brk(self, strength: int) -> None:
        self.pending = max(self.pending, strength)

    def text(self, s: str, preformatted: bool) -> None:
        if not preformatted:
            s = _HTML_SPACE.sub(" ", s)
            if self.pending or self.at_line_start or (self.parts and self.parts[-1][-1] == " "):
                s = s.lstrip(" ")
        if not s:
            return
        if self.pending and self.parts:
            self.parts.append("\n" * self.pending)
        self.pending = 0
        self.parts.append(s)
        self.at_line_start = s.endswith("\n")

    def result(self) -> str:
        return "".join(self.parts)


def html_to_segments(root: Tag, split_tag: str | None = None) -> list[tuple[Tag | None, str]]:
    """The text of ``root``; cut before each ``split_tag`` element when one is given.

    Returns ``[(None, text before the first cut), (cut element, its text), …]``. Iterative,
    so deeply nested pages cannot exhaust Python's recursion limit.
    """
    segments: list[tuple[Tag | None, _TextBuilder]] = [(None, _TextBuilder())]
    pre_depth = 0
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        builder = segments[-1][1]
        if leaving:
            assert isinstance(node, Tag)
            if node.name == "pre":
                pre_depth -= 1
            builder.brk(_BLOCK_BREAKS.get(node.name, 0))
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, _NOT_TEXT):
                builder.text(str(node), pre_depth > 0)
            continue
        if not isinstance(node, Tag) or node.name in _SKIPPED:
            continue
        name = node.name
        if name == "br":
            builder.brk(1)
            continue
        if name == split_tag:
            segments.append((node, _TextBuilder()))
            builder = segments[-1][1]
        if name in _CELLS:
            builder.text(" ", False)
        builder.brk(_BLOCK_BREAKS.get(name, 0))
        if name == "pre":
            pre_depth += 1
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    return [(tag, b.result()) for tag, b in segments]


def _inline_text(tag: Tag) -> str:
    return " ".join(tag.get_text().split())


def _head_metadata(
    soup: BeautifulSoup, base_url: str | None
) -> tuple[dict[str, object], str | None, str]:
    """(metadata from <meta> and <link rel=canonical>, the <title>, the split mode asked for).

    The title is og:title when given; the caller falls back to the page's one <h1>, then
    <title> (which often carries a " | Site name" suffix).
    """
    metas: dict[str, str] = {}
    for el in soup.find_all("meta"):
        key = el.get("name") or el.get("property") or el.get("itemprop") or el.get("http-equiv")
        content = el.get("content")
        if isinstance(key, str) and isinstance(content, str) and content.strip():
            metas.setdefault(key.strip().lower(), content.strip())
    meta: dict[str, object] = {}
    if metas.get("og:title"):
        meta["title"] = metas["og:title"]
    title_tag = soup.find("title")
    page_title = _inline_text(title_tag) if title_tag else None
    author = next((metas[k] for k in _AUTHOR_KEYS if metas.get(k)), None)
    if author and not author.startswith(("http://", "https://")):
        meta["author"] = author
    for key in _DATE_KEYS:
        if key in metas and (date := parse_date_text(metas[key])):
            meta["date"] = date
            break
    if metas.get("og:site_name"):
        meta["publication"] = metas["og:site_name"]
    canonical = soup.find("link", rel="canonical")
    url = metas.get("og:url") or (canonical.get("href") if canonical else None)
    if isinstance(url, str) and url.strip():
        url = urljoin(base_url, url.strip()) if base_url else url.strip()
        if url.startswith(("http://", "https://")):
            meta["url"] = url
    language = _page_language(soup, metas)
    if language:
        meta["language"] = language
    alternates = _alternates(soup, base_url, meta.get("url"))
    if alternates:
        meta["alternates"] = alternates
    tags = next((metas[k] for k in _KEYWORD_KEYS if metas.get(k)), "").split(",")
    tags += [el.get("content") for el in soup.find_all("meta", property="article:tag")]
    tags = [t.strip() for t in tags if isinstance(t, str) and t.strip()]
    if tags:
        meta["tags"] = tuple(dict.fromkeys(tags))[:_MAX_TAGS]
    return meta, page_title, metas.get("steward:split", "").lower()


def _alternates(soup: BeautifulSoup, base_url: str | None, own: object) -> tuple[str, ...]:
    """The URLs of the page's versions in other languages: ``<link rel="alternate"
    hreflang="es" href=…>`` (x-default included, the page's own URL left out), which make
    the page and those versions one family of translations (corpus/translations.py)."""
    found: list[str] = []
    base = base_url or (own if isinstance(own, str) else None)  # a saved page: its canonical URL
    for link in soup.find_all("link", hreflang=True):
        rel = link.get("rel") or []
        href = link.get("href")
        if "alternate" not in [r.lower() for r in rel] or not isinstance(href, str) or not href.strip():
            continue
        url = urljoin(base, href.strip()) if base else href.strip()
        if url.startswith(("http://", "https://")) and url != own and url not in found:
            found.append(url)
    return tuple(found[:_MAX_TAGS])


def _page_language(soup: BeautifulSoup, metas: dict[str, str]) -> str | None:
    """The page's language as an ISO 639-1 code: ``<html lang>`` (or ``xml:lang``), else the
    <meta> tags that state one; None when none names a language (a list such as
    "es, en" names none in particular)."""
    html = soup.find("html")
    stated = [html.get("lang"), html.get("xml:lang")] if isinstance(html, Tag) else []
    stated += [metas.get(key) for key in _LANGUAGE_KEYS]
    for value in stated:
        if isinstance(value, str) and value.strip() and "," not in value:
            code = normalize_language(value)
            if code:
                return code
    return None


def _remove_chrome(soup: BeautifulSoup, selectors: list[str], ctx: ReadContext) -> None:
    for selector in selectors:
        try:
            soupsieve.compile(selector)
        except soupsieve.SelectorSyntaxError as err:
            raise ctx.fail(f"chrome_selectors entry {selector!r} is not a valid CSS selector "
                           f"({str(err).splitlines()[0]}); fix it in config.toml [reader]") from err
    # Bare tag names are found in one cheap pass; only the rest need the CSS engine.
    names = [s.strip().lower() for s in selectors if _TAG_NAME.fullmatch(s.strip())]
    others = [s for s in selectors if not _TAG_NAME.fullmatch(s.strip())]
    found = soup.find_all(names) if names else []
    if others:
        found += soup.select(", ".join(others))
    for el in found:
        el.extract()  # extract, not decompose: a match may sit inside an earlier one


def _top_level(tags: list[Tag], name: str) -> list[Tag]:
    return [t for t in tags if t.find_parent(name) is None]


def _main_content(soup: BeautifulSoup) -> Tag:
    for el in (soup.find("main"), soup.find(attrs={"role": "main"})):
        if el is not None and el.get_text().strip():
            return el
    articles = _top_level(soup.find_all("article"), "article")
    if len(articles) == 1:
        return articles[0]
    return soup.body or soup


def _articles(scope: Tag, split: str | None, ctx: ReadContext) -> list[Article]:
    """The issue's articles (see the module docstring); [] when the page is one article."""
    chrome, captions = ctx.settings.chrome_lines, ctx.settings.chrome_captions
    found: list[Article] = []
    articles = _top_level(scope.find_all("article"), "article")
    if len(articles) >= 2:
        for article in articles:
            heading = article.find(_HEADINGS)
            text = clean_text(html_to_segments(article)[0][1], chrome, captions)
            if text:
                found.append(Article(_inline_text(heading) if heading else "", text))
    elif split == "h2" and len(scope.find_all("h2")) >= 2:
        for heading, raw in html_to_segments(scope, split_tag="h2")[1:]:
            text = clean_text(raw, chrome, captions)
            if heading is not None and text:
                found.append(Article(_inline_text(heading), text))
    return found if len(found) >= 2 else []


def read(data: bytes, ctx: ReadContext) -> Extracted:
    reason = binary_reason(data)
    if reason:
        raise ctx.fail(reason)
    try:
        soup = BeautifulSoup(data, "lxml", from_encoding=ctx.charset)
    except RecursionError as err:
        raise ctx.fail("the HTML is nested too deeply to read") from err
    meta, page_title, page_split = _head_metadata(soup, ctx.base_url)
    split = ctx.split or (page_split if page_split in SPLIT_MODES else None)
    _remove_chrome(soup, ctx.settings.chrome_selectors, ctx)
    ctx.check_time()
    scope = _main_content(soup)
    h1s = scope.find_all("h1")
    if "title" not in meta and len(h1s) == 1 and _inline_text(h1s[0]):
        meta["title"] = _inline_text(h1s[0])
    elif "title" not in meta and page_title:
        meta["title"] = page_title
    text = clean_text(html_to_segments(scope)[0][1], ctx.settings.chrome_lines, ctx.settings.chrome_captions)
    if not text:
        raise ctx.fail("the HTML page has no readable text after removing site chrome "
                       "(menus, headers, scripts); if the page builds its text with "
                       "JavaScript, save it from a browser as PDF and add that instead")
    ctx.check_time()
    return Extracted(text=text, meta=meta, articles=_articles(scope, split, ctx))
