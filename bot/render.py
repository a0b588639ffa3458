"""Answers and search results as terminal text (framed in the reply language: ``lang``) and
as JSON (a stable interface for scripts, never translated). Quotes are shown verbatim."""

from __future__ import annotations

import textwrap

from bot.answer import Answer, Quote
from bot.i18n import translate
from bot.translations import language_note
from embeddings.search import Hit

_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def _highlight(quote: Quote, color: bool) -> str:
    start = quote.text.find(quote.key_sentence)
    before, key, after = (
        quote.text[:start],
        quote.key_sentence,
        quote.text[start + len(quote.key_sentence) :],
    )
    marked = f"{_BOLD}{key}{_RESET}" if color else f"**{key}**"
    return before + marked + after


def answer_text(answer: Answer, color: bool = False, width: int = 88, lang: str = "en") -> str:
    """A readable answer: numbered quotes, the key sentence highlighted, then citations."""
    if not answer.answered:
        lines = [translate("cli.not_covered", lang, question=answer.question)]
        if answer.closest:
            lines.append(translate("cli.closest", lang))
            lines += [f"  - {title}  [{doc_id}]" for doc_id, title in answer.closest]
        return "\n".join(lines)
    lines: list[str] = []
    for quote in answer.quotes:
        body = " ".join(_highlight(quote, color).split())
        wrapped = textwrap.fill(f"“{body}”", width=width, initial_indent=f"[{quote.n}] ",
                                subsequent_indent="    ", break_on_hyphens=False)
        lines.append(wrapped)
        lines.append("")
    lines.append(translate("cli.sources", lang))
    for quote in answer.quotes:
        label = quote.citation.label()
        note = language_note(quote, lang)
        label += f" ({note})" if note else ""
        lines.append(f"  [{quote.n}] {_DIM + label + _RESET if color else label}")
        if quote.also_in:
            also = "; ".join(c.label() for c in quote.also_in)
            also = _DIM + also + _RESET if color else also
            lines.append("      " + translate("cli.also_in", lang, documents=also))
    return "\n".join(lines)


def answer_json(answer: Answer) -> dict[str, object]:
    return {
        "question": answer.question,
        "answered": answer.answered,
        "quotes": [
            {
                "n": q.n,
                "text": q.text,
                "key_sentence": q.key_sentence,
                "doc_id": q.doc_id,
                "passage_id": q.passage_id,
                "score": round(q.score, 4),
                "citation": q.citation.to_json(),
                "also_in": [c.to_json() for c in q.also_in],
            }
            for q in answer.quotes
        ],
        "closest": [{"doc_id": d, "title": t} for d, t in answer.closest],
    }


def search_json(query: str, hits: list[Hit]) -> dict[str, object]:
    return {
        "query": query,
        "results": [
            {
                "rank": rank,
                "doc_id": h.passage.doc_id,
                "passage_id": h.passage.passage_id,
                "score": round(h.score, 6),
                "title": h.document.title,
                "date": h.document.date.isoformat() if h.document.date else None,
                "locator": h.passage.locator_label,
                "text": h.passage.text,
            }
            for rank, h in enumerate(hits, start=1)
        ],
    }


def first_line(text: str, limit: int = 140) -> str:
    """The opening of a passage, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def search_text(query: str, hits: list[Hit], lang: str = "en") -> str:
    if not hits:
        return translate("cli.no_match", lang, query=query)
    lines = []
    for rank, h in enumerate(hits, start=1):
        date = h.document.date.isoformat() if h.document.date else translate("cli.undated", lang)
        lines.append(f"{rank:>2}. {h.document.title} ({date}, {h.passage.locator_label})")
        lines.append(f"    {first_line(h.passage.text)}")
    return "\n".join(lines)
