"""Realistic large corpora for the speed benchmark, built without encoding a million passages.

* **Text** is real English: every synthetic bulletin is made of whole sentences of SciFact
  abstracts (``../shared/data/scifact``, evaluation data read in place, never shipped), mostly
  from one "topic" abstract and partly from random others, in passages of 110–170 words
  (what Steward's chunker makes). So BM25 sees a real vocabulary, real term statistics and
  long posting lists for common words, and the answerer runs sentence splitting on real text.
* **Vectors** are synthetic but clustered like real ones: real embeddings of SciFact
  abstracts are the cluster centres, and each passage vector is its topic's embedding plus a
  little of another abstract's plus Gaussian noise, normalised (cosine to its centre ~0.75).
  Approximate-search recall is therefore *also* measured on real embeddings (SciFact).

Corpora are written with Steward's own store and index code (``Store.upsert``,
``DenseIndex.build``, the incremental BM25 counts, ``Generations``), so a Steward pointed at
the folder serves them exactly like an ingested corpus, and later ingests are incremental.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.chunk import passage_id
from corpus.store import Store, vector_id
from corpus.types import Document, Passage
from embeddings.bm25 import TermCounts, build_params, tokenizer_signature
from embeddings.dense import DenseIndex, auto_nlist
from embeddings.generations import DENSE_FILE, KEYWORD_DIR, Generations, IndexSettings, Manifest
from embeddings.keyword import tokenize
from embeddings.sentence_store import sentence_store

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "data" / "scifact"
GENERATOR_VERSION = 4  # 4: sentence spans and sentence vectors
PUBLICATIONS = ("Local 12 Bulletin", "Organizer's Notebook", "Steward News", "Labor Notes Digest")


@dataclass
class SciFact:
    ids: list[str]
    titles: list[str]
    sentences: list[list[str]]
    queries: list[str]

    def abstract(self, i: int) -> str:
        return " ".join(self.sentences[i])


def load_scifact(path: Path = SCIFACT) -> SciFact:
    titles = {}
    with open(path / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            titles[row["_id"]] = row["title"]
    ids, sentences = [], []
    with open(path / "sentences.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            sents = [s.strip() for s in row["sentences"] if s.strip()]
            if row["_id"] in titles and sents:
                ids.append(row["_id"])
                sentences.append(sents)
    with open(path / "queries.jsonl", encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for line in handle]
    return SciFact(ids, [titles[i] for i in ids], sentences, queries)


def questions(data: SciFact, n: int, seed: int = 7) -> list[str]:
    """``n`` varied questions: SciFact claims (on topic for the synthetic text), some asked
    as questions, some as keywords, some with organizing words around them."""
    rng = random.Random(seed)
    claims = list(data.queries)
    rng.shuffle(claims)
    forms = (
        "{c}",
        "Is it true that {l}?",
        "What do the bulletins say about {k}?",
        "{k}",
        "Did anyone write that {l}?",
        "Where can I read about {k} for the next meeting?",
    )
    out = []
    for i in range(n):
        claim = claims[i % len(claims)].rstrip(".")
        words = claim.split()
        keywords = " ".join(words[: max(2, min(5, len(words)))])
        lowered = claim[0].lower() + claim[1:] if claim else claim
        out.append(rng.choice(forms).format(c=claim, l=lowered, k=keywords))
    return out


@dataclass
class Synth:
    """One synthetic bulletin: a Document, its passages, their vectors and BM25 tokens."""

    document: Document
    passages: list[Passage]
    vectors: np.ndarray
    tokens: list[list[str]]
    sentence_vectors: list[np.ndarray]  # per passage, one row per sentence


class Generator:
    """Deterministic synthetic bulletins (``seed``) over SciFact text and centre vectors."""

    def __init__(self, data: SciFact, centres: np.ndarray, seed: int = 0, noise: float = 0.8) -> None:
        self.data = data
        self.centres = np.ascontiguousarray(centres, np.float32)
        self.topics = len(centres)
        self.noise = noise
        self.seed = seed
        self._sentence_tokens: dict[tuple[int, int], list[str]] = {}

    def _tokens(self, d: int, s: int) -> list[str]:
        key = (d, s)
        found = self._sentence_tokens.get(key)
        if found is None:
            found = self._sentence_tokens[key] = tokenize(self.data.sentences[d][s])
        return found

    def document(self, number: int, passages: int = 20) -> Synth:
        rng = random.Random(self.seed * 1_000_003 + number)
        topic = rng.randrange(self.topics)
        doc_id = f"synth-{self.seed}-{number:07d}"
        title = f"Bulletin {number}: {self.data.titles[topic][:90]}"
        bodies: list[tuple[str, list[tuple[int, int]]]] = []
        cursor = 0
        for _ in range(passages):
            chosen: list[tuple[int, int]] = []
            words = 0
            target = rng.randint(110, 150)
            while words < target:
                if rng.random() < 0.7:
                    d, s = topic, cursor % len(self.data.sentences[topic])
                    cursor += 1
                else:
                    d = rng.randrange(len(self.data.sentences))
                    s = rng.randrange(len(self.data.sentences[d]))
                sentence = self.data.sentences[d][s]
                n = len(sentence.split())
                if words and words + n > 170:
                    break
                chosen.append((d, s))
                words += n
            bodies.append((" ".join(self.data.sentences[d][s] for d, s in chosen), chosen))
        text = "\n\n".join(b for b, _ in bodies)
        date = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3650))
        document = Document(
            source=f"synthetic://{doc_id}",
            title=title,
            text=text,
            doc_id=doc_id,
            author=f"Steward {rng.randrange(40)}",
            date=date,
            publication=PUBLICATIONS[rng.randrange(len(PUBLICATIONS))],
        )
        title_tokens = tokenize(title)
        out_passages, tokens, start = [], [], 0
        seen: dict[str, int] = {}
        for ordinal, (body, chosen) in enumerate(bodies):
            end = start + len(body)
            spans, at = [], start
            for d, s in chosen:
                spans.append((at, at + len(self.data.sentences[d][s])))
                at = spans[-1][1] + 1
            occurrence = seen.get(body, 0)  # a repeated passage gets its own id, as the chunker does
            seen[body] = occurrence + 1
            out_passages.append(
                Passage(
                    passage_id=passage_id(doc_id, title, body, occurrence),
                    doc_id=doc_id,
                    start=start,
                    end=end,
                    text=body,
                    locator_kind="paragraph",
                    locator=ordinal + 1,
                    ordinal=ordinal,
                    sentences=tuple(spans),
                )
            )
            # tokenize() of "title\ntext" is the title's tokens then each sentence's (the
            # sentences are joined by spaces), so sentence tokens are computed once.
            tokens.append(title_tokens + [t for d, s in chosen for t in self._tokens(d, s)])
            start = end + 2
        nrng = np.random.default_rng(self.seed * 1_000_003 + number)
        others = nrng.integers(0, self.topics, size=len(bodies))
        vectors = self.centres[topic] + 0.35 * self.centres[others]
        vectors += nrng.standard_normal(vectors.shape).astype(np.float32) * (self.noise / np.sqrt(vectors.shape[1]))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        # Sentence vectors near their passage's (as pooled token states are), each its own.
        sentence_vectors = []
        for vector, p in zip(vectors, out_passages, strict=True):
            rows = vector + nrng.standard_normal((len(p.sentences), len(vector))).astype(np.float32) * (
                self.noise / np.sqrt(len(vector))
            )
            sentence_vectors.append((rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32))
        return Synth(document, out_passages, vectors.astype(np.float32), tokens, sentence_vectors)

    def documents(self, total_passages: int, per_document: int = 20, first: int = 0) -> Iterator[Synth]:
        made, number = 0, first
        while made < total_passages:
            synth = self.document(number, min(per_document, total_passages - made))
            made += len(synth.passages)
            number += 1
            yield synth


def corpus_key(n: int, settings: IndexSettings, centres: np.ndarray) -> str:
    """Names a built corpus: size, generator, tokenizer, index tier settings, centre vectors."""
    h = hashlib.sha256()
    h.update(json.dumps([n, GENERATOR_VERSION, tokenizer_signature(), build_params(),
                         settings.dense.exact_max_passages, settings.dense.nlist or auto_nlist(n),
                         settings.encoder.model,
                         settings.chunker, settings.embed_title]).encode())
    h.update(np.ascontiguousarray(centres[:64]).tobytes())
    return h.hexdigest()[:12]


def build_corpus(data_dir: Path, n: int, generator: Generator, settings: IndexSettings, backend: str,
                 log: callable = print) -> dict[str, float]:  # type: ignore[valid-type]
    """Write ``n`` synthetic passages into a Steward data folder (store + one generation)."""
    import time

    timings: dict[str, float] = {}
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / "steward.sqlite3")
    vids: list[int] = []
    vector_parts: list[np.ndarray] = []
    counts = TermCounts.empty()
    pending_vids: list[int] = []
    pending_tokens: list[list[str]] = []
    sentences = sentence_store(data_dir / "index", settings, generator.centres.shape[1])
    pending_sentences: list[tuple[int, list[tuple[int, int]], np.ndarray]] = []
    t0 = time.perf_counter()
    for i, synth in enumerate(generator.documents(n)):
        store.upsert(synth.document, synth.passages, "synthetic")
        ids = [vector_id(p.passage_id) for p in synth.passages]
        pending_sentences.extend(
            (vid, [(a - p.start, b - p.start) for a, b in p.sentences], sv)
            for vid, p, sv in zip(ids, synth.passages, synth.sentence_vectors, strict=True)
        )
        if len(pending_sentences) >= 20_000:
            sentences.put(pending_sentences)
            pending_sentences = []
        vids.extend(ids)
        vector_parts.append(synth.vectors)
        pending_vids.extend(ids)
        pending_tokens.extend(synth.tokens)
        if len(pending_vids) >= 100_000:
            counts = counts.update(np.empty(0, np.int64), pending_vids, pending_tokens)
            pending_vids, pending_tokens = [], []
        if i and i % 10_000 == 0:
            log(f"    {len(vids):,} passages written ({time.perf_counter() - t0:.0f} s)")
    counts = counts.update(np.empty(0, np.int64), pending_vids, pending_tokens)
    sentences.put(pending_sentences)
    sentences.close()
    store.close()
    timings["store_and_tokens_s"] = time.perf_counter() - t0
    vectors = np.concatenate(vector_parts)
    np.save(data_dir / "synthetic-vectors.npy", vectors)  # for the exact-search baseline
    np.save(data_dir / "synthetic-vids.npy", np.asarray(vids, np.int64))
    t0 = time.perf_counter()
    dense = DenseIndex.build(np.asarray(vids, np.int64), vectors, settings.dense)
    timings["dense_build_s"] = time.perf_counter() - t0
    del vectors
    t0 = time.perf_counter()
    params = build_params()
    keyword = counts.keyword_index(float(params["k1"]), float(params["b"]), str(params["method"]))
    timings["bm25_scores_s"] = time.perf_counter() - t0
    manifest = Manifest(
        model=settings.encoder.model,
        dimension=dense.dimension,
        normalized=True,
        embed_title=settings.embed_title,
        chunker=dict(settings.chunker),
        passages=dense.size,
        index_type=dense.index_type,
        backend=backend,
        index_params=dense.params,
    )
    t0 = time.perf_counter()
    generations = Generations(data_dir / "index")
    with generations.lock(), generations.new() as folder:
        dense.save(folder / DENSE_FILE)
        keyword.save(folder / KEYWORD_DIR)
        counts.save_extra(folder / KEYWORD_DIR)
        (folder / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    timings["write_generation_s"] = time.perf_counter() - t0
    return timings


def bulletin_file(folder: Path, generator: Generator, number: int, marker: str) -> tuple[Path, str]:
    """A bulletin-sized Markdown file (~20 passages) carrying a unique ``marker`` word."""
    synth = generator.document(number, 20)
    paragraphs = synth.document.text.split("\n\n")
    paragraphs[0] = f"{marker} " + paragraphs[0]
    path = folder / f"bulletin-{number}.md"
    date = synth.document.date.isoformat() if synth.document.date else "2024-01-01"
    path.write_text(
        f"---\ntitle: \"{synth.document.title}\"\ndate: {date}\npublication: Steward News\n---\n\n"
        + "\n\n".join(paragraphs) + "\n",
        encoding="utf-8",
    )
    return path, synth.document.title
