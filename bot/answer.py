"""Questions in, quoted answers out: the heart of Steward, with no Discord in it.

An answer is made only of verbatim slices of stored documents: the sentences of the best
passages that answer the question, the key one marked, each with a citation a member can
check. Below a calibrated confidence Steward abstains and names the closest documents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from corpus.sentences import sentence_spans
from corpus.store import Filters, Store
from embeddings.keyword import tokenize
from embeddings.search import Hit, Searcher


@dataclass(frozen=True)
class AnswerSettings:
    max_quotes: int = 3
    min_confidence: float = 0.35
    quote_max_sentences: int = 3
    quote_max_chars: int = 700
    closest_titles: int = 3
    # How much a sentence's share of the question's words adds to its cosine when choosing
    # the key sentence; names and numbers matter to organizers.
    lexical_weight: float = 0.15


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    publication: str | None
    date: dt.date | None
    author: str | None
    locator: str
    url: str | None

    def label(self) -> str:
        """``Title — Publication, 2023-02-01 · Author · ¶ 12 · URL`` (parts only when known)."""
        head = self.title
        where = ", ".join(x for x in (self.publication, self.date.isoformat() if self.date else None) if x)
        if where:
            head += f" — {where}"
        parts = [head, self.author, self.locator, self.url]
        return " · ".join(p for p in parts if p)

    def to_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "publication": self.publication,
            "date": self.date.isoformat() if self.date else None,
            "author": self.author,
            "locator": self.locator,
            "url": self.url,
        }


@dataclass(frozen=True)
class Quote:
    n: int
    text: str  # verbatim slice of the document's stored text
    key_sentence: str  # verbatim, and a substring of ``text``
    doc_id: str
    passage_id: str
    score: float
    citation: Citation
    start: int  # span of ``text`` in the document
    end: int


@dataclass
class Answer:
    question: str
    answered: bool
    quotes: list[Quote] = field(default_factory=list)
    closest: list[tuple[str, str]] = field(default_factory=list)  # (doc_id, title)
    confidence: float = 0.0
    page: int = 0

    @property
    def passage_ids(self) -> list[str]:
        return [q.passage_id for q in self.quotes]


def citation_for(hit: Hit) -> Citation:
    d = hit.document
    return Citation(
        doc_id=d.doc_id,
        title=d.title,
        publication=d.publication,
        date=d.date,
        author=d.author,
        locator=hit.passage.locator_label,
        url=d.url,
    )


class Answerer:
    def __init__(self, searcher: Searcher, store: Store, settings: AnswerSettings | None = None) -> None:
        self.searcher = searcher
        self.store = store
        self.settings = settings or AnswerSettings()

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        page: int = 0,
        context: str | None = None,
    ) -> Answer:
        """Answer ``question``; ``page`` > 0 gives the next passages ("More passages");
        ``context`` (an earlier question in the same thread) helps retrieval only."""
        question = question.strip()
        query = f"{context.strip()} {question}" if context else question
        per_page = self.settings.max_quotes
        qvec = self.searcher.encode_query(query)
        hits = self.searcher.search(query, limit=(page + 1) * per_page, filters=filters, query_vector=qvec)
        closest = _closest(hits, self.settings.closest_titles)
        page_hits = hits[page * per_page : (page + 1) * per_page]
        quotes = _best_first(self._quotes(question, qvec, page_hits))
        # The best quote decides: if even it is weak, say so rather than quote it.
        confident = [q for q in quotes if q.score >= self.settings.min_confidence]
        top = quotes[0].score if quotes else 0.0
        if not confident or (page == 0 and top < self.settings.min_confidence):
            return Answer(question, False, [], closest, top, page)
        numbered = [_renumber(q, n) for n, q in enumerate(confident, start=1)]
        return Answer(question, True, numbered, closest, top, page)

    def _quotes(self, question: str, qvec: np.ndarray, hits: list[Hit]) -> list[Quote]:
        if not hits:
            return []
        texts: dict[str, str] = {}
        spans_per_hit: list[list[tuple[int, int]]] = []
        for hit in hits:
            doc_id = hit.passage.doc_id
            if doc_id not in texts:
                document = self.store.document(doc_id)
                texts[doc_id] = document.text if document else ""
            spans = sentence_spans(texts[doc_id], hit.passage.start, hit.passage.end)
            spans_per_hit.append(spans or [(hit.passage.start, hit.passage.end)])
        flat = [texts[h.passage.doc_id][s:e] for h, spans in zip(hits, spans_per_hit, strict=True) for s, e in spans]
        prefix = self.searcher.index_settings.encoder.passage_prefix
        vectors = self.searcher.encoder.encode([prefix + t for t in flat])
        sims = vectors @ qvec
        q_terms = set(tokenize(question))
        quotes, offset = [], 0
        for n, (hit, spans) in enumerate(zip(hits, spans_per_hit, strict=True), start=1):
            text = texts[hit.passage.doc_id]
            local = sims[offset : offset + len(spans)]
            offset += len(spans)
            scores = [
                float(s) + self.settings.lexical_weight * _overlap(q_terms, text[a:b])
                for s, (a, b) in zip(local, spans, strict=True)
            ]
            key = int(np.argmax(scores))
            first, last = self._window(text, spans, scores, key)
            start, end = spans[first][0], spans[last][1]
            confidence = max(hit.dense, float(local[key]))
            quotes.append(
                Quote(
                    n=n,
                    text=text[start:end],
                    key_sentence=text[spans[key][0] : spans[key][1]],
                    doc_id=hit.passage.doc_id,
                    passage_id=hit.passage.passage_id,
                    score=confidence,
                    citation=citation_for(hit),
                    start=start,
                    end=end,
                )
            )
        return quotes

    def _window(
        self, text: str, spans: list[tuple[int, int]], scores: list[float], key: int
    ) -> tuple[int, int]:
        """Grow around the key sentence toward the better-scoring neighbour, within limits."""
        first = last = key
        limit_chars = self.settings.quote_max_chars
        while last - first + 1 < self.settings.quote_max_sentences:
            options = []
            if first > 0:
                options.append((scores[first - 1], first - 1, last))
            if last + 1 < len(spans):
                options.append((scores[last + 1], first, last + 1))
            options = [o for o in options if spans[o[2]][1] - spans[o[1]][0] <= limit_chars]
            if not options:
                break
            _score, first, last = max(options)
        return first, last


def _overlap(q_terms: set[str], sentence: str) -> float:
    if not q_terms:
        return 0.0
    return len(q_terms & set(tokenize(sentence))) / len(q_terms)


def _closest(hits: list[Hit], limit: int) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for hit in hits:
        if hit.document.doc_id not in seen:
            seen[hit.document.doc_id] = hit.document.title
        if len(seen) >= limit:
            break
    return list(seen.items())


def _renumber(quote: Quote, n: int) -> Quote:
    return replace(quote, n=n)


def _best_first(quotes: list[Quote]) -> list[Quote]:
    """Strongest quote first; a quote overlapping a stronger one from the same document
    (neighbouring passages share a sentence) is dropped rather than shown twice."""
    kept: list[Quote] = []
    for quote in sorted(quotes, key=lambda q: -q.score):
        if not any(k.doc_id == quote.doc_id and k.start < quote.end and quote.start < k.end for k in kept):
            kept.append(quote)
    return kept
