"""The asker's language first: of a bulletin published in two languages, quote the version
the member reads, when it answers as well; say so when no such version exists.

Families of translations are found in the store when asked (corpus/store_translations.py).
For each quote whose document has a version in the question's language, that version is
searched for the passage that best answers the same question, and quoted instead when its
confidence is comparable: at least the original's less ``COMPARABLE_MARGIN``, and above the
abstention threshold for its language pair. One answer never quotes two versions of one
bulletin. Quotes stay verbatim: nothing is machine-translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from bot.i18n import DEFAULT, LANGUAGES, catalogue, quoted_in, translate
from bot.thresholds import threshold
from corpus.store import Filters
from corpus.store_translations import family
from corpus.translations import Links

if TYPE_CHECKING:
    from bot.answer import Answerer, Quote

# How much confidence a version in the asker's language may give up and still be quoted
# instead of the original: a passage the member can read beats a slightly better match they
# cannot, but not a clearly better one. Confidences of one question differ by about this much
# between neighbouring passages of one bulletin (MiniLM and e5 alike), so a version scoring
# within it holds the same answer.
COMPARABLE_MARGIN = 0.05


def comparable(candidate: float, original: float, margin: float = COMPARABLE_MARGIN) -> bool:
    """True when a version scoring ``candidate`` answers as well as one scoring ``original``."""
    return candidate >= original - margin


def prefer_asker_language(answerer: Answerer, question: str, qvec: np.ndarray, language: str | None,
                          quotes: list[Quote], filters: Filters | None = None) -> list[Quote]:
    """``quotes`` (best first) with each one's bulletin versions known (``Quote.versions``),
    a quote replaced by its version in ``language`` when that one answers comparably, and
    any later quote from a version of an earlier quote's bulletin dropped."""
    kept: list[Quote] = []
    kept_family: list[set[str]] = []
    for quote in quotes:
        members = family(answerer.store, quote.doc_id)
        ids = {quote.doc_id} | {m.doc_id for m in members}
        versions = tuple(sorted({m.language for m in members if m.language} | {quote.language} - {None}))
        quote = replace(quote, versions=versions if members else ())
        sibling = next((m for m in members if m.language == language), None)
        if (sibling is not None and language and quote.language != language
                and not (filters and filters.doc_id)):
            better = _best_in(answerer, question, qvec, language, sibling.doc_id, filters)
            base, by_pair = answerer.settings.min_confidence, answerer.settings.min_confidence_by_pair
            if (better is not None and comparable(better.score, quote.score)
                    and better.score >= threshold(base, by_pair, language, better.language)):
                quote = replace(better, versions=versions)
        if any(quote.doc_id in fam and (k.doc_id != quote.doc_id or _overlaps(k, quote))
               for k, fam in zip(kept, kept_family, strict=True)):
            continue  # never two versions of one bulletin, nor one passage twice
        kept.append(quote)
        kept_family.append(ids)
    return kept


def _overlaps(a: Quote, b: Quote) -> bool:
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end


def _best_in(answerer: Answerer, question: str, qvec: np.ndarray, language: str, doc_id: str,
             filters: Filters | None) -> Quote | None:
    """The best quote of ``doc_id`` for ``question`` (the user's other filters still apply)."""
    scoped = replace(filters or Filters(), doc_id=doc_id)
    hits = answerer.searcher.search(question, limit=3, filters=scoped, query_vector=qvec, language=language)
    found = answerer._quotes(question, qvec, hits, language)  # the same package
    return max((q for _order, q in found), key=lambda q: q.score, default=None)


def language_note(quote: Quote, lang: str | None) -> str | None:
    """What a reply in ``lang`` says of a quote in another language: "quoted in English",
    and "; no Spanish version in the bulletins" when its bulletin has no version in ``lang``
    (a version that answered less well is not quoted, but it exists)."""
    note = quoted_in(quote.language, lang)
    if note is None:
        return None
    lang = lang if lang in LANGUAGES else DEFAULT
    if lang in quote.versions:
        return note
    return translate("translations.no_version", lang, quoted=note,
                     language=translate(f"languages.{lang}", lang))


def versions_line(found: Mapping[str, Links], lang: str | None) -> str | None:
    """"also in: Spanish — Title [doc id]" for a document's translations (``sources``,
    ``/source``; ``Steward.translations``); None when it has none."""
    if not found:
        return None
    lang = lang if lang in LANGUAGES else DEFAULT
    names = catalogue(DEFAULT)
    parts = [
        f"{translate(f'languages.{code}', lang) if f'languages.{code}' in names else code} — "
        f"{links.title} [{links.doc_id}]"
        for code, links in sorted(found.items())
    ]
    return translate("translations.also_in", lang, versions="; ".join(parts))


def translations_json(found: Mapping[str, Links]) -> list[dict[str, str | None]]:
    """A document's versions in other languages (``Steward.translations``), for
    ``sources --json``."""
    return [{"language": code, "doc_id": links.doc_id, "title": links.title, "url": links.url}
            for code, links in sorted(found.items())]
