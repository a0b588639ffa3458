"""Answers, search results and sources as Discord embeds that always fit Discord's limits.

Every piece of stored text is escaped and trimmed with ``bot.discord.text`` before it is
placed in an embed; a trimmed quote's full text is one button ("Show source") away. Steward's
own words come from the catalogues in ``lang``; quotes and titles are shown as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote as url_quote

import discord

from bot.answer import Answer, Citation, Quote
from bot.discord.text import ELLIPSIS, bold, escape, fit, fit_left, flatten, split_text
from bot.i18n import translate
from bot.translations import language_note
from corpus.store import DocumentInfo
from embeddings.search import Hit

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000  # summed over every embed in one message
EMBEDS_PER_MESSAGE = 10

# Readability, not a Discord rule: a quote longer than this is trimmed in the answer.
QUOTE_MAX = 1000
URL_MAX = 512  # longer links are left out of masked links rather than crowding the text

COLOUR = discord.Colour(0x2E7D32)
NOT_FOUND_COLOUR = discord.Colour(0x9E9E9E)


# -- pieces of an answer --------------------------------------------------------------------


def safe_url(url: str | None) -> str | None:
    """A URL usable in a masked link: http(s) only, no spaces or parentheses to break it."""
    if not url or not url.lower().startswith(("http://", "https://")) or len(url) > URL_MAX:
        return None
    return url_quote(url, safe=":/?#@!$&'*+,;=%~-._[]")


def _link(title: str, url: str | None, limit: int) -> str:
    """The title as a masked link, in at most ``limit`` chars (plain when the URL would
    leave the title too little room)."""
    safe = safe_url(url)
    if safe and limit - len(safe) - 4 >= 40:
        return f"[{fit(flatten(title), limit - len(safe) - 4)}]({safe})"
    return fit(flatten(title), max(limit, 1))


def citation_line(citation: Citation, limit: int = 400) -> str:
    """``[Title](url) — Publication, 2023-02-01 · Author · ¶ 12`` with every part escaped."""
    where = ", ".join(
        x for x in (citation.publication, citation.date.isoformat() if citation.date else None) if x
    )
    rest = [p for p in (where, citation.author, citation.locator) if p]
    tail = escape(flatten(" · ".join(rest)))[:150] if rest else ""
    head = _link(citation.title, citation.url, limit - len(tail) - 3)
    return f"{head} — {tail}" if tail else head


def quote_body(quote: Quote, limit: int) -> str:
    """The quote in curly quotes, escaped, key sentence bold, trimmed around the key sentence.

    The key sentence is kept whole when it fits; text before it is trimmed from the start,
    text after it from the end, each at a sentence or word boundary.
    """
    text = flatten(quote.text)
    key = flatten(quote.key_sentence)
    at = text.find(key)
    if at < 0 or not key:  # cannot happen with verbatim quotes; stay safe anyway
        return "“" + fit(text, limit - 2) + "”"
    before, after = text[:at], text[at + len(key) :]
    room = limit - 2 - 4  # curly quotes, bold markers
    key_out = escape(key)
    if len(key_out) > room:
        return "“" + bold(fit(key, room)) + "”"
    left = room - len(key_out)
    after_out = fit(after, max(left - min(len(escape(before)), left // 2), 0)) if after else ""
    if after.strip() and not after_out.strip():
        after_out = ELLIPSIS if left >= len(ELLIPSIS) else ""
    left -= len(after_out)
    before_out = fit_left(before, left) if before else ""
    if before.strip() and not before_out.strip():
        before_out = ELLIPSIS if left >= len(ELLIPSIS) else ""
    return "“" + before_out + bold(key_out) + after_out + "”"


def also_in_line(quote: Quote, limit: int = 200, lang: str = "en") -> str:
    """``also in: Title (2023-01-10); Title`` for a quote repeated in other documents, or ""."""
    if not quote.also_in:
        return ""
    names = [
        flatten(c.title) + (f" ({c.date.isoformat()})" if c.date else "") for c in quote.also_in
    ]
    return "\n" + fit(translate("answer.also_in", lang, documents="; ".join(names)),
                      limit)  # fit escapes


def quote_block(quote: Quote, limit: int, lang: str = "en") -> str:
    citation = citation_line(quote.citation, min(400, limit // 2))
    note = language_note(quote, lang)
    citation += f" · *{note}*" if note else ""
    also = also_in_line(quote, min(200, limit // 4), lang)
    head = f"**[{quote.n}]** "
    body = quote_body(quote, limit - len(head) - len(citation) - len(also) - 3)
    return f"{head}{body}\n— {citation}{also}"


# -- whole embeds ---------------------------------------------------------------------------


def embed_chars(embed: discord.Embed) -> int:
    """What Discord counts towards the 6000-char total of a message."""
    return len(embed)


def answer_embed(answer: Answer, lang: str = "en") -> discord.Embed:
    """An answer (or an honest "not found") as one embed within every limit, framed in
    ``lang``."""
    title = fit(flatten(answer.question), TITLE_MAX)
    if not answer.answered:
        lines = [translate("answer.not_found", lang)]
        if answer.closest:
            lines.append("")
            lines.append(translate("answer.closest", lang))
            lines += [f"• {fit(flatten(t), 200)}" for _doc_id, t in answer.closest]
        lines.append("")
        lines.append(translate("answer.try_other", lang))
        embed = discord.Embed(title=title, description="\n".join(lines), colour=NOT_FOUND_COLOUR)
        embed.set_footer(text=translate("answer.not_found_footer", lang))
        return embed
    n = max(len(answer.quotes), 1)
    separators = 2 * (n - 1)
    per_quote = min((DESCRIPTION_MAX - separators) // n, QUOTE_MAX + 450)
    blocks = [quote_block(q, per_quote, lang) for q in answer.quotes]
    description = "\n\n".join(blocks)
    embed = discord.Embed(title=title, description=description[:DESCRIPTION_MAX], colour=COLOUR)
    footer = translate("answer.footer", lang)
    if answer.page:
        footer = translate("answer.page", lang, page=answer.page + 1) + " " + footer
    embed.set_footer(text=footer)
    return embed


def search_embed(
    query: str, hits: Sequence[Hit], page: int, page_size: int, total_pages: int,
    lang: str = "en",
) -> discord.Embed:
    title = fit(translate("search.title", lang, query=flatten(query)), TITLE_MAX)
    if not hits:
        return discord.Embed(
            title=title, description=translate("search.none", lang), colour=NOT_FOUND_COLOUR
        )
    start = page * page_size
    per_item = min(700, (DESCRIPTION_MAX - 2 * page_size) // page_size)
    lines = []
    for rank, hit in enumerate(hits[start : start + page_size], start=start + 1):
        doc = hit.document
        date = doc.date.isoformat() if doc.date else translate("answer.undated", lang)
        where = f" ({date}, {escape(hit.passage.locator_label)})"
        head = f"**{rank}.** {_link(doc.title, doc.url, per_item // 2 - len(where))}{where}"
        first = fit(flatten(hit.passage.text), max(per_item - len(head) - 1, 20))
        lines.append(f"{head}\n{first}")
    embed = discord.Embed(title=title, description="\n\n".join(lines)[:DESCRIPTION_MAX],
                          colour=COLOUR)
    embed.set_footer(text=translate("search.footer", lang, page=page + 1, pages=total_pages,
                                    count=len(hits)))
    return embed


def document_line(doc: DocumentInfo, limit: int = 400, lang: str = "en") -> str:
    date = doc.date.isoformat() if doc.date else translate("answer.undated", lang)
    extra = " · ".join(x for x in (doc.publication, doc.author) if x)
    extra = f" — {escape(flatten(extra))[:120]}" if extra else ""
    tail = " " + translate("documents.line", lang, date=date, passages=doc.passages) + extra
    return _link(doc.title, doc.url, limit - len(tail)) + tail


def documents_embed(
    title: str, docs: Sequence[DocumentInfo], page: int, page_size: int, total_pages: int,
    lang: str = "en",
) -> discord.Embed:
    if not docs:
        return discord.Embed(title=title, description=translate("documents.none", lang),
                             colour=NOT_FOUND_COLOUR)
    start = page * page_size
    lines = [f"**{n}.** {document_line(d, lang=lang)}"
             for n, d in enumerate(docs[start : start + page_size], start=start + 1)]
    embed = discord.Embed(title=fit(title, TITLE_MAX, escaped=False),
                          description="\n".join(lines)[:DESCRIPTION_MAX], colour=COLOUR)
    embed.set_footer(text=translate("documents.footer", lang, page=page + 1, pages=total_pages,
                                    count=len(docs)))
    return embed


def _render_paragraph(raw: str, offset: int, mark: tuple[int, int] | None) -> str:
    """One paragraph of a source, escaped, with the part inside ``mark`` in bold."""
    if mark is None:
        return escape(raw)
    lo = max(mark[0] - offset, 0)
    hi = min(mark[1] - offset, len(raw))
    if lo >= hi:
        return escape(raw)
    return escape(raw[:lo]) + bold(escape(raw[lo:hi])) + escape(raw[hi:])


def source_pages(context: str, quote_text: str | None, limit: int = DESCRIPTION_MAX) -> list[str]:
    """The context of a quote as embed descriptions of at most ``limit`` chars each, the
    quoted part in bold, split between paragraphs (or sentences/words for huge ones)."""
    context = context.strip()
    mark = None
    if quote_text:
        at = context.find(quote_text)
        if at >= 0:
            mark = (at, at + len(quote_text))
    # Paragraphs with their offsets in ``context``; long ones split further.
    paragraphs: list[tuple[int, str]] = []
    for m in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", context, flags=re.S):
        base = m.start()
        rest = m.group()
        for piece in split_text(rest, limit // 2):
            at = context.find(piece, base)
            paragraphs.append((at, piece))
            base = at + len(piece)
    pages: list[str] = []
    current = ""
    for offset, raw in paragraphs:
        rendered = _render_paragraph(raw, offset, mark)
        if len(rendered) > limit:  # escaping doubled a markdown-heavy paragraph
            rendered = fit(raw, limit)
        candidate = f"{current}\n\n{rendered}" if current else rendered
        if len(candidate) <= limit:
            current = candidate
        else:
            pages.append(current)
            current = rendered
    if current:
        pages.append(current)
    return pages or [ELLIPSIS]


def source_embeds(
    entries: Iterable[tuple[Quote, str]], lang: str = "en",
) -> list[discord.Embed]:
    """Embeds with the full context of each quote (continued over several when long)."""
    embeds: list[discord.Embed] = []
    for quote, context in entries:
        label = citation_line(quote.citation, 1000)
        pages = source_pages(context, quote.text, DESCRIPTION_MAX)
        for i, page in enumerate(pages):
            head = f"[{quote.n}] {flatten(quote.citation.title)}"
            if len(pages) > 1:
                head += f" ({i + 1}/{len(pages)})"
            embed = discord.Embed(title=fit(head, TITLE_MAX), description=page, colour=COLOUR)
            if i == len(pages) - 1:
                embed.add_field(name=translate("answer.source_field", lang),
                                value=label[:FIELD_VALUE_MAX], inline=False)
            embeds.append(embed)
    return embeds


def pack(embeds: Sequence[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds into messages: at most 10 per message and 6000 chars in all."""
    messages: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    total = 0
    for embed in embeds:
        size = embed_chars(embed)
        if current and (total + size > EMBED_TOTAL_MAX or len(current) >= EMBEDS_PER_MESSAGE):
            messages.append(current)
            current, total = [], 0
        current.append(embed)
        total += size
    if current:
        messages.append(current)
    return messages


def stats_embed(stats: dict[str, object], lang: str = "en") -> discord.Embed:
    def mib(value: object) -> str:
        return f"{value / 1024 / 1024:.1f} MiB" if isinstance(value, int) else "?"

    def t(key: str, **values: object) -> str:
        return translate(f"stats.{key}", lang, **values)

    embed = discord.Embed(title=t("title"), colour=COLOUR)
    rows = [
        (t("version"), stats.get("version")),
        (t("documents"), stats.get("documents")),
        (t("passages"), stats.get("passages")),
        (t("generation"), stats.get("generation") or t("none_yet")),
        (t("model"), stats.get("model")),
        (t("last_ingest"), stats.get("last_ingest") or t("never")),
        (t("sentence_vectors"), _sentence_vectors(stats, lang)),
        (t("disk"), t("disk_use", store=mib(stats.get("store_bytes")),
                      index=mib(stats.get("index_bytes")))),
        (t("questions"), t("questions_line", answered=stats.get("answered", 0),
                           not_found=stats.get("not_found", 0))),
        (t("feedback"), f"👍 {stats.get('thumbs_up', 0)} · 👎 {stats.get('thumbs_down', 0)}"),
    ]
    for name, value in rows:
        embed.add_field(name=name, value=fit(str(value), FIELD_VALUE_MAX, escaped=False) or "?",
                        inline=True)
    return embed


def _sentence_vectors(stats: dict[str, object], lang: str = "en") -> str:
    kept, indexed = stats.get("passages_with_sentence_vectors", 0), stats.get("indexed_passages", 0)
    line = translate("stats.vectors_line", lang, kept=kept, indexed=indexed)
    if isinstance(kept, int) and isinstance(indexed, int) and kept < indexed:
        line += translate("stats.vectors_slow", lang)
    return line
