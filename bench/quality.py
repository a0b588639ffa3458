"""Retrieval, quote and abstention quality on SciFact and on the organizer dev set, measured
with Steward's own code.

    python -m bench.quality                  # test split + the dev set's report half (~6 min warm cache)
    python -m bench.quality --devset tune    # ... with the dev set's tuning half instead
    python -m bench.quality --devset none    # SciFact only
    python -m bench.quality --split train    # the tuning split, with the calibration table
    python -m bench.quality --smoke 300      # ~300 documents and their queries (seconds)
    python -m bench.quality --set search.fusion=rrf --set answer.min_confidence=0.5

Every figure comes from Steward's ingest, index, search and answer code: SciFact documents
are built as ``Document(title, abstract)`` (the title is put before every passage by
``index.embed_title``), cut by ``corpus.chunk.chunk_document``, written with ``Store.upsert``
and indexed by ``Indexer.sync``; rankings come from ``Searcher.search`` and quotes from
``Answerer.ask``, all with the settings of ``config.toml`` (``--set`` overrides them).
A document's rank is its best passage's rank (a search with one passage per document).
Vectors are cached by content hash in ``bench/.cache/`` so a second run encodes nothing.

The data (``../shared/data/scifact``, CC BY-NC 2.0) is read in place and never copied into
the package. Tune with ``--split train``; report ``--split test``. The organizer dev set
(``bench/devset/``, run by ``bench.devset``) is printed after SciFact with the same settings:
hit@1/@3, key sentence, false-abstain and uncovered declined per corpus; tune on its ``tune``
half, report its ``report`` half.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import pickle
import random
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.embedcache import CACHE_DIR, CachedEncoder
from bench.machine import cpu_model
from bench.overrides import apply_overrides
from bot.answer import Answer, Answerer
from bot.config import Config, load_config
from corpus.chunk import ChunkerSettings, chunk_document
from corpus.sentences import sentence_spans
from corpus.store import Store
from corpus.types import Document, Passage
from embeddings.generations import Generations
from embeddings.indexer import Indexer
from embeddings.search import Searcher

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "scifact"
RESULTS = Path(__file__).resolve().parent / "results"
ABSTAIN_FILE = Path(__file__).resolve().parent / "abstain_questions.txt"
ABSTAIN_TRAIN_FILE = Path(__file__).resolve().parent / "abstain_questions_train.txt"

# Published nDCG@10 (and Recall@100 where known) on the SciFact test split.
PUBLISHED = [
    ("published: BM25 (BEIR, Elasticsearch)", 0.665, None),
    ("published: BM25 + cross-encoder rerank (BEIR)", 0.688, None),
    ("published: all-MiniLM-L6-v2 (MTEB)", 0.6451, 0.925),
]
MODES = (("dense", "dense only"), ("keyword", "BM25 only"), ("hybrid", "hybrid (default)"))
# A document run counts as "one passage per abstract" with these chunker settings: the MTEB
# setup (title + abstract encoded whole), which checks the encoder and the index.
WHOLE_DOCUMENT = {"target_words": 100_000, "max_words": 100_000, "overlap_sentences": 0}


# -- data --------------------------------------------------------------------------------


@dataclass
class SciFact:
    docs: dict[str, tuple[str, str]]  # doc id -> (title, abstract)
    sentences: dict[str, list[str]]  # doc id -> the abstract's original sentences
    queries: dict[str, str]  # query id -> claim (only those judged in this split)
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}
    evidence: dict[str, dict[str, set[int]]] = field(default_factory=dict)  # qid -> doc -> sents


def _jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_scifact(root: Path, split: str) -> SciFact:
    docs = {d["_id"]: (d["title"], d["text"]) for d in _jsonl(root / "corpus.jsonl")}
    sentences = {s["_id"]: s["sentences"] for s in _jsonl(root / "sentences.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with (root / "qrels" / f"{split}.tsv").open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    queries, evidence = {}, {}
    for q in _jsonl(root / "queries.jsonl"):
        if q["_id"] not in qrels:
            continue
        queries[q["_id"]] = q["text"]
        ev = {
            did: {i for item in items for i in item["sentences"]}
            for did, items in (q.get("metadata") or {}).items()
            if did in qrels[q["_id"]]
        }
        if ev:
            evidence[q["_id"]] = ev
    return SciFact(docs, sentences, queries, qrels, evidence)


def subset(data: SciFact, n_docs: int, seed: int = 13) -> SciFact:
    """About ``n_docs`` documents: those judged for the first queries, then random others."""
    keep: set[str] = set()
    queries: dict[str, str] = {}
    for qid in sorted(data.queries, key=int):
        relevant = set(data.qrels[qid])
        if len(keep | relevant) > n_docs // 3:
            break
        keep |= relevant
        queries[qid] = data.queries[qid]
    others = sorted(set(data.docs) - keep)
    random.Random(seed).shuffle(others)
    keep |= set(others[: max(0, n_docs - len(keep))])
    return SciFact(
        {d: data.docs[d] for d in sorted(keep, key=int)},
        data.sentences,
        queries,
        {q: data.qrels[q] for q in queries},
        {q: e for q, e in data.evidence.items() if q in queries},
    )


def documents(data: SciFact) -> list[Document]:
    """SciFact abstracts as Steward documents: the title is the document's title and goes in
    front of every passage when it is embedded and keyword-indexed (``index.embed_title``)."""
    return [
        Document(source=f"scifact:{did}", title=title, text=text, doc_id=did, format="text")
        for did, (title, text) in data.docs.items()
    ]


# -- building the index with Steward's code ---------------------------------------------


def _source_hash(*modules: str) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update((REPO / module).read_bytes())
    return digest.hexdigest()[:16]


def chunk_all(docs: Sequence[Document], settings: ChunkerSettings,
              cache_dir: Path = CACHE_DIR) -> dict[str, list[Passage]]:
    """``chunk_document`` for every document, cached by settings, code and content (pysbd
    takes about a minute on SciFact)."""
    key = hashlib.sha256(
        f"{settings}\0{_source_hash('corpus/chunk.py', 'corpus/sentences.py')}".encode()
    ).hexdigest()[:16]
    path = cache_dir / f"chunks-{key}.pkl"
    cached: dict[str, list[Passage]] = {}
    if path.is_file():
        with path.open("rb") as handle:
            cached = pickle.load(handle)
    out, new = {}, 0
    for doc in docs:
        ck = hashlib.sha256(f"{doc.doc_id}\0{doc.title}\0{doc.text}".encode()).hexdigest()[:20]
        if ck not in cached:
            cached[ck] = chunk_document(doc, settings)
            new += 1
        out[doc.doc_id] = cached[ck]
    if new:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            pickle.dump(cached, handle)
        tmp.replace(path)
    return out


@dataclass
class Built:
    config: Config
    store: Store
    generations: Generations
    indexer: Indexer
    searcher: Searcher  # the product's searcher (as configured)
    doc_searcher: Searcher  # the same ranking, one passage per document
    answerer: Answerer
    passages: int
    seconds: float

    def close(self) -> None:
        self.store.close()


def build(docs: Sequence[Document], config: Config, encoder: CachedEncoder, workdir: Path,
          progress: bool = True, cache_dir: Path = CACHE_DIR) -> Built:
    """Ingest ``docs`` into a fresh store and index in ``workdir`` the way ``steward ingest``
    does (chunk, upsert, sync), and put a searcher and an answerer on top."""
    started = time.perf_counter()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    store = Store(workdir / "steward.sqlite3")
    generations = Generations(workdir / "index")
    index_settings = config.index_settings()
    chunker_key = repr(sorted(config.chunker.model_dump().items()))
    passages = chunk_all(docs, config.chunker_settings(), cache_dir)
    total = 0
    for doc in docs:
        store.upsert(doc, passages[doc.doc_id], chunker_key)
        total += len(passages[doc.doc_id])
    indexer = Indexer(store, generations, lambda: encoder, index_settings)
    indexer.sync(progress=progress)
    search_settings = config.search_settings()
    searcher = Searcher(store, generations, encoder, index_settings, search_settings)
    doc_searcher = Searcher(
        store, generations, encoder, index_settings, replace(search_settings, max_per_document=1)
    )
    answerer = Answerer(searcher, store, config.answer_settings())
    return Built(config, store, generations, indexer, searcher, doc_searcher, answerer, total,
                 time.perf_counter() - started)


# -- metrics -----------------------------------------------------------------------------


def ndcg(ranked: Sequence[str], rels: dict[str, int], k: int) -> float:
    """trec_eval's ndcg_cut: linear gain, log2 discount."""
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: Sequence[str], rels: dict[str, int], k: int) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr(ranked: Sequence[str], rels: dict[str, int], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if rels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def ranked_documents(searcher: Searcher, query: str, qvec, mode: str, limit: int) -> list[str]:
    hits = searcher.search(query, limit=limit, diversify=True, query_vector=qvec, mode=mode)
    return [h.document.doc_id for h in hits]


def retrieval(built: Built, data: SciFact, modes: Sequence[str]) -> dict[str, dict[str, float]]:
    """nDCG@10, Recall@10, MRR@10 from a 10-document search and Recall@100 from a
    100-document search, as Steward would answer each request."""
    out = {}
    qids = sorted(data.queries, key=int)
    vectors = {q: v for q, v in zip(qids, _encode_queries(built, [data.queries[q] for q in qids]),
                                    strict=True)}
    for mode in modes:
        sums = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
        for qid in qids:
            rels, query = data.qrels[qid], data.queries[qid]
            top10 = ranked_documents(built.doc_searcher, query, vectors[qid], mode, 10)
            top100 = ranked_documents(built.doc_searcher, query, vectors[qid], mode, 100)
            sums["ndcg@10"] += ndcg(top10, rels, 10)
            sums["recall@10"] += recall(top10, rels, 10)
            sums["mrr@10"] += mrr(top10, rels, 10)
            sums["recall@100"] += recall(top100, rels, 100)
        out[mode] = {k: v / len(qids) for k, v in sums.items()}
    return out


def _encode_queries(built: Built, queries: Sequence[str]):
    prefix = built.config.index_settings().encoder.query_prefix
    return built.searcher.encoder.encode([prefix + q for q in queries])


# -- quotes ------------------------------------------------------------------------------


def evidence_spans(data: SciFact, doc_id: str, indices: set[int]) -> list[tuple[int, int]]:
    """Character spans, in the stored abstract, of the evidence sentences ``indices``."""
    sents = data.sentences[doc_id]
    text = data.docs[doc_id][1]
    spans, cursor = [], 0
    for i, sent in enumerate(sents):
        start = text.find(sent, cursor)
        if start < 0:
            raise ValueError(f"sentence {i} of {doc_id} is not in its abstract")
        cursor = start + len(sent)
        if i in indices:
            spans.append((start, cursor))
    return spans


def is_evidence(span: tuple[int, int], evidence: list[tuple[int, int]]) -> bool:
    """A Steward sentence counts as an evidence sentence when at least half of its characters
    lie in the annotated evidence (pysbd and SciFact's own split rarely disagree)."""
    s, e = span
    covered = sum(max(0, min(e, b) - max(s, a)) for a, b in evidence)
    return e > s and covered / (e - s) >= 0.5


def quote_hits(answer: Answer, data: SciFact, qid: str, texts: dict[str, str]) -> tuple[bool, bool]:
    """(the top quote's key sentence is evidence, some quoted sentence is evidence)."""
    ev = data.evidence.get(qid, {})
    spans = {d: evidence_spans(data, d, idx) for d, idx in ev.items()}
    top = any_ = False
    for n, quote in enumerate(answer.quotes):
        text = texts[quote.doc_id]
        assert text[quote.start : quote.end] == quote.text, "a quote is not a verbatim slice"
        offset = quote.text.find(quote.key_sentence)
        assert offset >= 0, "the key sentence is not inside its quote"
        if quote.doc_id not in spans:
            continue
        key = (quote.start + offset, quote.start + offset + len(quote.key_sentence))
        if n == 0 and is_evidence(key, spans[quote.doc_id]):
            top = True
        if any(is_evidence(s, spans[quote.doc_id]) for s in sentence_spans(text, quote.start, quote.end)):
            any_ = True
    return top, any_


# -- abstention --------------------------------------------------------------------------


def read_questions(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


# The limit on answerable questions that get "not found".
ANSWERABLE_DECLINED_TARGET = 0.05


def abstain_rate(confidences: Sequence[float], threshold: float) -> float:
    return sum(c < threshold for c in confidences) / len(confidences) if confidences else 0.0


def calibrate(answerable: Sequence[float], unanswerable: Sequence[float], max_false: float) -> float:
    """The highest threshold that leaves at most ``max_false`` of answerable questions
    unanswered (so the most unanswerable ones are declined)."""
    values = sorted(answerable)
    allowed = math.floor(max_false * len(values))
    # abstain iff confidence < threshold: the threshold is the (allowed+1)-th smallest value.
    return values[min(allowed, len(values) - 1)] if values else 0.0


def ask_all(answerer: Answerer, questions: Sequence[str]) -> list[Answer]:
    return [answerer.ask(q) for q in questions]


def _declined(answers: Sequence[Answer]) -> int:
    """How many got Steward's "not found" (the curve below uses their confidences)."""
    return sum(not a.answered for a in answers)


# -- running -----------------------------------------------------------------------------


def machine() -> str:
    return f"{os.cpu_count()} cores, {cpu_model()}"


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    config = apply_overrides(load_config(args.config, REPO / "bench" / ".cache" / "unused"), args.set)
    data = load_scifact(args.data, args.split)
    if args.smoke:
        data = subset(data, args.smoke)
    docs = documents(data)
    cache = Path(args.cache) if getattr(args, "cache", None) else CACHE_DIR
    encoder = CachedEncoder(config.encoder_settings(), cache)
    work = cache / f"work-{args.split}-{args.smoke or 'full'}-{os.getpid()}"
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if not args.quiet else (lambda *a: None)
    result: dict = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "split": args.split,
        "documents": len(docs),
        "queries": len(data.queries),
        "settings": {k: getattr(config, k).model_dump() for k in ("chunker", "index", "search", "answer")},
        "overrides": list(args.set),
    }
    try:
        log(f"ingesting {len(docs)} documents ...")
        built = build(docs, config, encoder, work / "main", not args.quiet, cache)
        result["passages"] = built.passages
        log(f"  {built.passages} passages in {built.seconds:.0f} s")
        log("ranking ...")
        result["retrieval"] = retrieval(built, data, [m for m, _ in MODES])
        if args.reference:
            ref_config = apply_overrides(
                config.model_copy(deep=True), [f"chunker.{k}={v}" for k, v in WHOLE_DOCUMENT.items()]
            )
            log("reference index: one passage per abstract ...")
            ref = build(docs, ref_config, encoder, work / "reference", not args.quiet, cache)
            result["retrieval"]["dense-whole"] = retrieval(ref, data, ["dense"])["dense"]
            ref.close()
        if args.answers:
            log("answering ...")
            result.update(answers(built, data, args))
        built.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["encoder"] = {"cache_hits": encoder.hits, "encoded": encoder.misses,
                         "encode_seconds": round(encoder.encode_seconds, 1)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    encoder.close()
    return result


def answers(built: Built, data: SciFact, args: argparse.Namespace) -> dict:
    qids = sorted(data.queries, key=int)
    texts = {d: text for d, (_t, text) in data.docs.items()}
    threshold = built.answerer.settings.min_confidence
    asked = ask_all(built.answerer, [data.queries[q] for q in qids])
    top = any_ = 0
    with_evidence = [q for q in qids if q in data.evidence]
    by_id = dict(zip(qids, asked, strict=True))
    for qid in with_evidence:
        t, a = quote_hits(by_id[qid], data, qid, texts)
        top += t
        any_ += a
    out: dict = {
        "quotes": {
            "queries_with_evidence": len(with_evidence),
            "top_key_sentence": top / len(with_evidence) if with_evidence else 0.0,
            "any_quoted_sentence": any_ / len(with_evidence) if with_evidence else 0.0,
        }
    }
    if args.no_abstain:
        return out
    answerable = [a.confidence for a in asked]
    declined = {"answerable": _declined(asked)}
    ood_file = ABSTAIN_TRAIN_FILE if args.split == "train" else ABSTAIN_FILE
    ood_questions = read_questions(ood_file)
    if args.smoke:  # a third of them keeps the smoke run quick
        ood_questions = ood_questions[::3]
    ood_answers = ask_all(built.answerer, ood_questions)
    ood = [a.confidence for a in ood_answers]
    declined["out_of_domain"] = _declined(ood_answers)
    # SciFact claims whose relevant abstracts are removed, through Steward's own removal path.
    removed_docs = {d for q in qids for d in data.qrels[q]} & set(data.docs)
    for did in removed_docs:
        built.store.remove(did)
    built.indexer.sync()
    removed_answers = ask_all(built.answerer, [data.queries[q] for q in qids])
    removed = [a.confidence for a in removed_answers]
    declined["removed"] = _declined(removed_answers)
    unanswerable = ood + removed
    # docs/quality.md's bound: an answerable claim whose answer shows no relevant abstract (quoted
    # or named) sees only topically close ones, as a claim whose abstract was removed does; a
    # confidence score that declines a share r of removed claims declines about r of those too.
    shown = sum(any(data.qrels[q].get(d, 0) > 0 for d, _t in a.closest) for q, a in zip(qids, asked, strict=True))
    look_alike = 1 - shown / len(asked)
    ceiling = min(1.0, ANSWERABLE_DECLINED_TARGET / look_alike) if look_alike else 1.0
    out["abstention"] = {
        "threshold": threshold,
        "answerable_not_found": declined["answerable"] / len(asked),
        "unanswerable_not_found": (declined["out_of_domain"] + declined["removed"]) / len(unanswerable),
        "out_of_domain_not_found": declined["out_of_domain"] / len(ood),
        "removed_not_found": declined["removed"] / len(removed),
        "answerable": len(answerable),
        "out_of_domain": len(ood),
        "removed": len(removed),
        "removed_documents": len(removed_docs),
        "out_of_domain_file": str(ood_file.relative_to(REPO)),
        "answerable_shown_relevant": shown / len(asked),
        "removed_ceiling": ceiling,
        "unanswerable_ceiling": (declined["out_of_domain"] + ceiling * len(removed)) / len(unanswerable),
    }
    curve = []
    for t in sorted({round(x / 100, 2) for x in range(0, 101, 1)}):
        curve.append({"threshold": t, "answerable_not_found": abstain_rate(answerable, t),
                      "unanswerable_not_found": abstain_rate(unanswerable, t),
                      "out_of_domain_not_found": abstain_rate(ood, t),
                      "removed_not_found": abstain_rate(removed, t)})
    out["abstention"]["curve"] = curve
    if args.split == "train":
        for target in (0.03, 0.04, 0.05):
            t = calibrate(answerable, unanswerable, target)
            out["abstention"][f"calibrated@{target:.2f}"] = {
                "threshold": t,
                "answerable_not_found": abstain_rate(answerable, t),
                "unanswerable_not_found": abstain_rate(unanswerable, t),
                "out_of_domain_not_found": abstain_rate(ood, t),
                "removed_not_found": abstain_rate(removed, t),
            }
    if args.dump_confidences:
        out["confidences"] = {"answerable": answerable, "out_of_domain": ood, "removed": removed}
    return out


def table(result: dict) -> str:
    r = result["retrieval"]
    lines = [
        f"SciFact {result['split']}: {result['queries']} queries, {result['documents']} documents, "
        f"{result.get('passages', '?')} passages — {result['date']} — {result['machine']}",
        "",
        f"{'system':<52} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7}",
    ]

    def row(name: str, m: dict[str, float]) -> str:
        return (f"{name:<52} {m['ndcg@10']:>8.4f} {m['recall@10']:>7.4f} {m['recall@100']:>7.4f} "
                f"{m['mrr@10']:>7.4f}")

    if "dense-whole" in r:
        lines.append(row("Steward dense, one passage per abstract (MTEB setup)", r["dense-whole"]))
    for mode, label in MODES:
        lines.append(row(f"Steward {label}", r[mode]))
    for name, value, r100 in PUBLISHED:
        r100s = f"{r100:>7.4f}" if r100 is not None else f"{'—':>7}"
        lines.append(f"{name:<52} {value:>8.4f} {'—':>7} {r100s} {'—':>7}")
    q = result.get("quotes")
    if q:
        lines += [
            "",
            f"quote precision over {q['queries_with_evidence']} queries with evidence: top key "
            f"sentence {q['top_key_sentence']:.1%}, some quoted sentence {q['any_quoted_sentence']:.1%}",
        ]
    a = result.get("abstention")
    if a:
        lines += [
            f"abstention at min_confidence={a['threshold']}: \"not found\" for "
            f"{a['unanswerable_not_found']:.1%} of {a['out_of_domain'] + a['removed']} unanswerable "
            f"({a['out_of_domain_not_found']:.1%} of {a['out_of_domain']} out-of-domain, "
            f"{a['removed_not_found']:.1%} of {a['removed']} claims with their "
            f"{a['removed_documents']} abstracts removed) and {a['answerable_not_found']:.1%} of "
            f"{a['answerable']} answerable",
        ]
        if "removed_ceiling" in a:
            lines.append(
                f"  bound: {a['answerable_shown_relevant']:.1%} of answerable claims are shown a relevant abstract; "
                f"if the rest look like removed ones, declining <= {ANSWERABLE_DECLINED_TARGET:.0%} of answerable "
                f"declines at most {a['removed_ceiling']:.1%} of removed ({a['unanswerable_ceiling']:.1%} pooled)"
            )
        for key in ("calibrated@0.03", "calibrated@0.04", "calibrated@0.05"):
            if key in a:
                c = a[key]
                lines.append(
                    f"  {key}: threshold {c['threshold']:.4f} -> unanswerable {c['unanswerable_not_found']:.1%} "
                    f"(ood {c['out_of_domain_not_found']:.1%}, removed {c['removed_not_found']:.1%}), "
                    f"answerable {c['answerable_not_found']:.1%}"
                )
    e = result["encoder"]
    lines.append(f"\n{result['seconds']:.0f} s; {e['encoded']} texts encoded "
                 f"({e['encode_seconds']:.0f} s), {e['cache_hits']} from the cache")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--smoke", type=int, default=0, metavar="N", help="use about N documents")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="write the figures here (default: bench/results/quality-SPLIT.json)")
    parser.add_argument("--config", default=str(REPO / "config.toml"))
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a setting of config.toml for this run")
    parser.add_argument("--no-reference", dest="reference", action="store_false",
                        help="skip the one-passage-per-abstract dense reference row")
    parser.add_argument("--no-abstain", action="store_true", help="skip the abstention figures")
    parser.add_argument("--no-answers", dest="answers", action="store_false",
                        help="rankings only: skip quotes and abstention")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="vector and chunk cache (default bench/.cache; a new folder = a cold run)")
    parser.add_argument("--devset", choices=("report", "tune", "all", "none"), default="report",
                        help="which half of the organizer dev set to run after SciFact (default report)")
    parser.add_argument("--dump-confidences", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not (args.data / "corpus.jsonl").is_file():
        print(f"no SciFact data in {args.data}", file=sys.stderr)
        return 2
    if args.smoke:
        args.reference = False
    result = run(args)
    if args.devset != "none":
        from bench import devset

        config = apply_overrides(load_config(args.config, REPO / "bench" / ".cache" / "unused"), args.set)
        log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
        encoder = CachedEncoder(config.encoder_settings(), Path(args.cache) if args.cache else CACHE_DIR)
        try:
            result["devset"] = devset.run(config, args.devset, smoke=bool(args.smoke), encoder=encoder, log=log)
        finally:
            encoder.close()
    print(table(result))
    if "devset" in result:
        from bench import devset

        print()
        print(devset.table(result["devset"]))
    path = args.json or RESULTS / f"quality-{args.split}{'-smoke' if args.smoke else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
