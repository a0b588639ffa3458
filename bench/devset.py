"""The organizer dev set: questions as members ask them, over real labor texts, measured.

    python -m bench.devset                      # the report half, every corpus (~2 min on 2 cores)
    python -m bench.devset --split tune         # the half to tune on
    python -m bench.devset --split all --json out.json
    python -m bench.devset --smoke              # the CI subset: ~30 tune questions, few documents
    python -m bench.devset --set answer.min_confidence=0.45 --corpus canada

``bench/devset/questions.jsonl`` holds the questions (``bench/devset/README.md`` says where
every document comes from). Each corpus is ingested into its own data folder with Steward's
public service (``Steward.ingest``), as a union would ingest its own bulletins, and each
question is put to its corpus's folder with ``Steward.search`` and ``Steward.ask`` under the
settings of ``config.toml`` (``--set`` overrides them). ``--index mixed`` puts every corpus
in one folder instead.

A question is *covered* when the documents answer it; its ``must`` phrases are short
verbatim pieces of the answering text, and a passage or quote "holds the answer" when it
contains one of them (case-insensitive, whitespace and quote marks normalised). Measured per
corpus and overall: search@1/3/10 (a must phrase in the k-th best search hit), hit@1 (in the
first quote), hit@3 (in one of the first three), key-sentence hit (in the first quote's key
sentence), false-abstain (a covered question declined) and, for uncovered questions, how many
are declined (near-topic and far separately). The loss decomposition says where covered
questions are lost: not found by search (top 10), found but its passage not quoted, passage
quoted but the fact cut out of the quoted sentences, quoted but not first, or declined.

Tune on ``split == "tune"``; report ``split == "report"``. The split is a fixed rule
(``assign_splits``): within each corpus, question language and kind of question (covered,
near, far), questions sorted by the SHA-1 of their id alternate tune, report, tune, ... The
smoke subset comes from the tune half only, so CI never looks at the reported questions.

Every figure is also given per language pair (the question's language -> its corpus's,
``CORPUS_LANGS``): es→es, en→es (English questions about Spanish text), es→en, en→en, and
es→* for every Spanish question (the uncovered Spanish ones are asked of both languages'
folders). The per-corpus rows stay as they were; "all (en)" is the English questions about
English text, the English dev set as it was before Spanish text joined it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import Steward
    from bot.config import Config
    from corpus.types import ReaderSettings
    from embeddings.encoder import Encoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
DEVSET = Path(__file__).resolve().parent / "devset"
QUESTIONS = DEVSET / "questions.jsonl"
RESULTS = Path(__file__).resolve().parent / "results"

# Corpus name -> its documents (a pattern relative to the repository; the samples folder
# also holds SOURCES.md, which is not a bulletin).
CORPORA: dict[str, str] = {
    "samples": "corpus/samples/*.txt",
    "wikipedia": "bench/devset/corpora/wikipedia/*.md",
    "canada": "bench/devset/corpora/canada-labour-code/*.txt",
    "estatuto": "bench/devset/corpora/estatuto-trabajadores/*.md",
}
# The language each corpus is written in: a question's language pair is its own language ->
# this (en->es: an English question put to the Spanish Estatuto).
CORPUS_LANGS: dict[str, str] = {"samples": "en", "wikipedia": "en", "canada": "en", "estatuto": "es"}
KINDS = ("covered", "near", "far")
SEARCH_K = (1, 3, 10)
# Smoke subset, per corpus of English questions about English text, from the tune half in
# hash order.
SMOKE_COVERED = 8
SMOKE_UNCOVERED = {"near": 1, "far": 1}
SMOKE_LANGS = ("en",)


# -- questions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: str
    corpus: str
    lang: str
    question: str
    must: tuple[str, ...]
    doc: str | None  # the answering document, relative to the repository; None if uncovered
    covered: bool
    kind: str  # "covered", "near" or "far"
    split: str  # "tune" or "report"
    smoke: bool = False

    def to_json(self) -> dict[str, object]:
        record: dict[str, object] = {
            "id": self.id, "corpus": self.corpus, "lang": self.lang, "question": self.question,
            "must": list(self.must), "doc": self.doc, "covered": self.covered,
        }
        if not self.covered:
            record["kind"] = self.kind
        record["split"] = self.split
        if self.smoke:
            record["smoke"] = True
        return record


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        r = json.loads(line)
        covered = bool(r.get("covered", True))
        questions.append(Question(
            id=r["id"], corpus=r["corpus"], lang=r.get("lang", "en"), question=r["question"],
            must=tuple(r.get("must", ())), doc=r.get("doc"), covered=covered,
            kind="covered" if covered else r["kind"], split=r["split"], smoke=bool(r.get("smoke", False)),
        ))
        q = questions[-1]
        if q.corpus not in CORPORA or q.kind not in KINDS or q.split not in ("tune", "report"):
            raise ValueError(f"{path}:{n}: bad corpus, kind or split in {q.id}")
        if q.covered != bool(q.must):
            raise ValueError(f"{path}:{n}: {q.id}: covered questions need must phrases, uncovered none")
    return questions


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def pair(lang: str, corpus: str) -> str:
    """A question's language pair: its language -> its corpus's ("en→es")."""
    return f"{lang}→{CORPUS_LANGS[corpus]}"


def assign_splits(questions: Sequence[Question]) -> list[Question]:
    """The fixed split and smoke subset (see the module docstring); order is kept."""
    split: dict[str, str] = {}
    # Grouped by language too, so that adding questions in one language pair never moves
    # another pair's questions between the halves (each group alternates on its own).
    groups: dict[tuple[str, str, str], list[Question]] = {}
    for q in questions:
        groups.setdefault((q.corpus, q.lang, q.kind), []).append(q)
    smoke: set[str] = set()
    for (corpus, lang, kind), members in groups.items():
        ordered = sorted(members, key=lambda q: _hash(q.id))
        for i, q in enumerate(ordered):
            split[q.id] = "tune" if i % 2 == 0 else "report"
        if lang not in SMOKE_LANGS or CORPUS_LANGS[corpus] != lang:
            continue
        quota = SMOKE_COVERED if kind == "covered" else SMOKE_UNCOVERED[kind]
        tune = [q for q in ordered if split[q.id] == "tune"]
        smoke.update(q.id for q in tune[:quota])
    return [Question(**{**asdict(q), "split": split[q.id], "smoke": q.id in smoke}) for q in questions]


# -- matching ------------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Case-folded, NFC, curly quotes made straight, runs of white space made one space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text).translate(_QUOTES)).strip().casefold()


def holds(text: str | None, phrases: Iterable[str]) -> bool:
    """Whether ``text`` contains one of ``phrases`` (see ``normalize``)."""
    if not text:
        return False
    norm = normalize(text)
    return any(normalize(p) in norm for p in phrases)


def check_questions(questions: Sequence[Question], reader_settings: ReaderSettings) -> list[str]:
    """Problems with the dev set (empty when sound): a covered question whose answering
    document is missing or whose must phrases are not in the text Steward stores for it (read
    with Steward's own readers and ``reader_settings``), an id used twice, or a split or smoke
    flag that does not follow ``assign_splits``."""
    from corpus.errors import ReadError
    from corpus.load import load_source

    problems: list[str] = []
    texts: dict[str, str] = {}
    for q in questions:
        if not q.covered:
            continue
        if q.doc not in texts:
            try:
                texts[q.doc] = "\n".join(d.text for d in load_source(str(REPO / q.doc), reader_settings))
            except (ReadError, OSError) as err:
                texts[q.doc] = ""
                problems.append(f"{q.id}: cannot read {q.doc}: {err}")
        missing = [m for m in q.must if not holds(texts[q.doc], [m])]
        if missing:
            problems.append(f"{q.id}: not in {q.doc}: {missing}")
    ids = [q.id for q in questions]
    problems += [f"{i}: id used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for q, expected in zip(questions, assign_splits(questions), strict=True):
        if (q.split, q.smoke) != (expected.split, expected.smoke):
            problems.append(f"{q.id}: split/smoke {q.split}/{q.smoke}, the rule gives "
                            f"{expected.split}/{expected.smoke}")
    return problems


# -- building the data folders -------------------------------------------------------------


def corpus_sources(corpus: str, only: Iterable[str] | None = None) -> list[str]:
    """The documents of ``corpus`` (absolute paths), or only those named in ``only``
    (paths relative to the repository)."""
    files = sorted(p for p in REPO.glob(CORPORA[corpus]) if p.is_file())
    if only is not None:
        wanted = {str((REPO / o).resolve()) for o in only}
        files = [p for p in files if str(p.resolve()) in wanted]
    return [str(p) for p in files]


def smoke_documents(questions: Sequence[Question]) -> dict[str, list[str]]:
    """Per corpus, the documents the smoke questions are answered from."""
    docs: dict[str, list[str]] = {}
    for q in questions:
        if q.smoke:
            docs.setdefault(q.corpus, [])
            if q.doc and q.doc not in docs[q.corpus]:
                docs[q.corpus].append(q.doc)
    return docs


@dataclass
class Built:
    stewards: dict[str, Steward]  # corpus -> the Steward holding it
    documents: dict[str, int] = field(default_factory=dict)
    passages: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def close(self) -> None:
        for steward in {id(s): s for s in self.stewards.values()}.values():
            steward.close()


def _steward(config: Config, data_dir: Path, encoder: Encoder | None) -> Steward:
    from bot.app import Steward

    config = config.model_copy(deep=True)
    config.data_dir = data_dir
    config.samples.auto_ingest = False
    steward = Steward(config)
    if encoder is not None:
        # One model for every data folder (loading it takes seconds); tests share it the same way.
        steward._encoder = encoder
    return steward


def build(
    sources: Mapping[str, Sequence[str]], config: Config, workdir: Path, encoder: Encoder | None = None,
    mixed: bool = False, log: Callable[[str], None] = lambda _: None,
) -> Built:
    """Ingest each corpus's ``sources`` into its own data folder under ``workdir`` (or all
    into one with ``mixed``) through ``Steward.ingest``; ``encoder`` replaces the configured
    model (it is loaded once otherwise and shared)."""
    started = time.perf_counter()
    built = Built(stewards={})
    groups = {"mixed": [s for c in sources for s in sources[c]]} if mixed else dict(sources)
    for name, files in groups.items():
        steward = _steward(config, workdir / name, encoder)
        report = steward.ingest(list(files))
        if encoder is None:
            encoder = steward.encoder
        built.failed += [f"{e}" for e in report.failed]
        for corpus in (sources if mixed else [name]):
            built.stewards[corpus] = steward
        built.documents[name] = len(report.added) + len(report.updated) + len(report.unchanged)
        built.passages[name] = report.passages
        log(f"  {name}: {built.documents[name]} documents, {report.passages} passages")
    built.seconds = time.perf_counter() - started
    return built


# -- asking --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one question got; the fields are what the metrics count."""

    id: str
    corpus: str
    lang: str
    kind: str
    split: str
    answered: bool
    search_rank: int | None = None  # 1-based rank of the first search hit holding the answer
    quote_rank: int | None = None  # 1-based rank of the first quote holding the answer
    key_hit: bool = False
    passage_quoted: bool = False  # a quoted passage holds the answer (its sentences may not)
    confidence: float = 0.0
    first_quote: str = ""
    seconds: float = 0.0
    # Every quote shown, in order: its confidence, its passage's language and whether it holds
    # a must phrase; what a per-language-pair threshold is fitted on (bench.pairfit).
    quotes: list[tuple[float, str | None, bool]] = field(default_factory=list)


def ask(steward: Steward, q: Question, search_limit: int = max(SEARCH_K)) -> Outcome:
    started = time.perf_counter()
    answer = steward.ask(q.question)
    seconds = time.perf_counter() - started
    out = Outcome(q.id, q.corpus, q.lang, q.kind, q.split, answered=bool(answer.answered),
                  confidence=float(getattr(answer, "confidence", 0.0)), seconds=seconds)
    quotes = list(answer.quotes) if answer.answered else []
    out.first_quote = quotes[0].text if quotes else ""
    out.quotes = [(float(qt.score), getattr(qt, "language", None), q.covered and holds(qt.text, q.must))
                  for qt in quotes]
    if not q.covered:
        return out
    hits = steward.search(q.question, limit=search_limit)
    out.search_rank = next((n for n, h in enumerate(hits, 1) if holds(h.passage.text, q.must)), None)
    out.quote_rank = next((n for n, qt in enumerate(quotes, 1) if holds(qt.text, q.must)), None)
    out.key_hit = bool(quotes) and holds(quotes[0].key_sentence, q.must)
    store = steward.store
    for qt in quotes:
        passage = store.passage(qt.passage_id)
        if passage is not None and holds(passage.text, q.must):
            out.passage_quoted = True
            break
    out.passage_quoted = out.passage_quoted or out.quote_rank is not None
    return out


def loss(o: Outcome) -> str:
    """Where a covered question's answer was lost (or "first quote" when it was not)."""
    if not o.answered:
        return "declined"
    if o.quote_rank == 1:
        return "first quote"
    if o.quote_rank is not None:
        return "quoted, not first"
    if o.passage_quoted:
        return "passage quoted, fact cut"
    if o.search_rank is not None:
        return "found, not quoted"
    return "not in search top 10"


LOSSES = ("first quote", "quoted, not first", "passage quoted, fact cut", "found, not quoted",
          "not in search top 10", "declined")


def metrics(outcomes: Sequence[Outcome]) -> dict[str, object]:
    covered = [o for o in outcomes if o.kind == "covered"]
    n = len(covered)

    def rate(count: int, total: int) -> float | None:
        return round(count / total, 4) if total else None

    m: dict[str, object] = {"covered": n}
    for k in SEARCH_K:
        m[f"search@{k}"] = rate(sum(o.search_rank is not None and o.search_rank <= k for o in covered), n)
    m["hit@1"] = rate(sum(o.quote_rank == 1 for o in covered), n)
    m["hit@3"] = rate(sum(o.quote_rank is not None and o.quote_rank <= 3 for o in covered), n)
    m["key_sentence"] = rate(sum(o.key_hit for o in covered), n)
    m["false_abstain"] = rate(sum(not o.answered for o in covered), n)
    m["losses"] = {name: sum(loss(o) == name for o in covered) for name in LOSSES}
    for kind in ("near", "far"):
        group = [o for o in outcomes if o.kind == kind]
        m[kind] = len(group)
        m[f"declined_{kind}"] = rate(sum(not o.answered for o in group), len(group))
    uncovered = [o for o in outcomes if o.kind != "covered"]
    m["uncovered"] = len(uncovered)
    m["declined_uncovered"] = rate(sum(not o.answered for o in uncovered), len(uncovered))
    times = sorted(o.seconds for o in outcomes)
    m["ask_ms_p50"] = round(1000 * times[len(times) // 2], 1) if times else None
    return m


def summarize(outcomes: Sequence[Outcome], splits: Sequence[str]) -> dict[str, dict[str, object]]:
    """``{split: {corpus or "all" or "all (en)": metrics}}``."""
    out: dict[str, dict[str, object]] = {}
    for split in splits:
        chosen = [o for o in outcomes if split == "all" or o.split == split]
        if not chosen:
            continue
        rows: dict[str, object] = {}
        for corpus in CORPORA:
            group = [o for o in chosen if o.corpus == corpus]
            if group:
                rows[corpus] = metrics(group)
        rows["all (en)"] = metrics([o for o in chosen if pair(o.lang, o.corpus) == "en→en"])
        rows["all"] = metrics(chosen)
        out[split] = rows
    return out


PAIRS = ("es→es", "en→es", "es→en", "en→en")


def summarize_pairs(outcomes: Sequence[Outcome], splits: Sequence[str]) -> dict[str, dict[str, object]]:
    """``{split: {pair or "es→*": metrics}}``: the same figures per language pair, and for
    every Spanish question together ("es→*", where uncovered Spanish questions are counted
    whichever folder they were put to)."""
    out: dict[str, dict[str, object]] = {}
    for split in splits:
        chosen = [o for o in outcomes if split == "all" or o.split == split]
        rows: dict[str, object] = {}
        for name in PAIRS:
            group = [o for o in chosen if pair(o.lang, o.corpus) == name]
            if group:
                rows[name] = metrics(group)
        spanish = [o for o in chosen if o.lang == "es"]
        if spanish:
            rows["es→*"] = metrics(spanish)
        if rows:
            out[split] = rows
    return out


# -- the run ---------------------------------------------------------------------------------


def select(questions: Sequence[Question], split: str, smoke: bool, corpora: Sequence[str] | None,
           langs: Sequence[str] | None = None) -> list[Question]:
    return [
        q for q in questions
        if (split == "all" or q.split == split) and (q.smoke or not smoke)
        and (corpora is None or q.corpus in corpora) and (langs is None or q.lang in langs)
    ]


def run(
    config: Config, split: str = "report", smoke: bool = False, corpora: Sequence[str] | None = None,
    encoder: Encoder | None = None, workdir: Path | None = None, mixed: bool = False,
    questions: Sequence[Question] | None = None, langs: Sequence[str] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, object]:
    """Build the data folders, ask every selected question, return the figures (a JSON dict)."""
    questions = list(questions if questions is not None else load_questions())
    if smoke:
        split = "tune"  # the smoke subset is part of the tune half
    chosen = select(questions, split, smoke, corpora, langs)
    names = [c for c in CORPORA if any(q.corpus == c for q in chosen)]
    only = smoke_documents(chosen) if smoke else {}
    sources = {c: corpus_sources(c, only.get(c) if smoke else None) for c in names}
    own_workdir = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="steward-devset-")) if workdir is None else workdir
    try:
        log(f"ingesting {sum(len(s) for s in sources.values())} documents ({', '.join(names)}) ...")
        built = build(sources, config, workdir, encoder, mixed, log)
        log(f"asking {len(chosen)} questions ...")
        outcomes = [ask(built.stewards[q.corpus], q) for q in chosen]
        built.close()
    finally:
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    splits = ["tune", "report"] if split == "all" else [split]
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "split": split,
        "smoke": smoke,
        "index": "mixed" if mixed else "per-corpus",
        "model": config.index.model,
        "backend": config.index.backend,
        # The numbers in use ("auto" resolved for the model), the base and per language pair.
        "min_confidence": config.answer_settings().min_confidence,
        "min_confidence_by_pair": dict(config.answer_settings().min_confidence_by_pair),
        "documents": built.documents,
        "passages": built.passages,
        "failed": built.failed,
        "ingest_seconds": round(built.seconds, 1),
        "questions": len(chosen),
        "results": summarize(outcomes, splits + (["all"] if split == "all" else [])),
        "pairs": summarize_pairs(outcomes, splits + (["all"] if split == "all" else [])),
        "outcomes": [asdict(o) for o in outcomes],
    }


def _pct(value: object) -> str:
    return "  -  " if value is None else f"{100 * float(value):5.1f}"  # type: ignore[arg-type]


def _by_pair(result: Mapping[str, object]) -> str:
    """The per-language-pair thresholds in use, as they read in config.toml ("" when none)."""
    pairs: Mapping[str, float] = result.get("min_confidence_by_pair") or {}  # type: ignore[assignment]
    return (" (" + ", ".join(f"{k}={v}" for k, v in sorted(pairs.items())) + ")") if pairs else ""


def table(result: Mapping[str, object]) -> str:
    """One table: a row per split and corpus, then the loss decomposition."""
    head = (f"{'split':<7}{'corpus':<11}{'cov':>4} {'s@1':>5} {'s@3':>5} {'s@10':>5} {'hit@1':>5} "
            f"{'hit@3':>5} {'key':>5} {'f-abs':>5} │{'unc':>4} {'near':>5} {'far':>5}")
    lines = [
        f"Organizer dev set — {result['index']} index, {result['model']} ({result['backend']}), "
        f"min_confidence={result['min_confidence']}{_by_pair(result)}; {result['questions']} questions"
        + (" (smoke subset)" if result["smoke"] else ""),
        "Covered questions: % with a must-phrase in the search hit at rank ≤ k (s@k), the first "
        "quote (hit@1), one of the first three (hit@3), the first key sentence (key); f-abs: % "
        "declined. Uncovered: % declined (near-topic, far).",
        head, "─" * len(head),
    ]
    results: Mapping[str, Mapping[str, Mapping[str, object]]] = result["results"]  # type: ignore[assignment]
    for split, rows in results.items():
        for corpus, m in rows.items():
            lines.append(
                f"{split:<7}{corpus:<11}{m['covered']:>4} {_pct(m['search@1'])} {_pct(m['search@3'])} "
                f"{_pct(m['search@10'])} {_pct(m['hit@1'])} {_pct(m['hit@3'])} {_pct(m['key_sentence'])} "
                f"{_pct(m['false_abstain'])} │{m['uncovered']:>4} {_pct(m['declined_near'])} "
                f"{_pct(m['declined_far'])}"
            )
        lines.append("")
    lines.append("Where covered questions are lost (counts): " + " · ".join(LOSSES))
    for split, rows in results.items():
        for corpus, m in rows.items():
            losses: Mapping[str, int] = m["losses"]  # type: ignore[assignment]
            lines.append(f"{split:<7}{corpus:<11}" + " ".join(f"{losses[name]:>5}" for name in LOSSES))
    pairs: Mapping[str, Mapping[str, Mapping[str, object]]] = result.get("pairs") or {}  # type: ignore[assignment]
    if pairs:
        lines += ["", pair_table(pairs)]
    return "\n".join(lines)


def pair_table(pairs: Mapping[str, Mapping[str, Mapping[str, object]]]) -> str:
    """Per language pair (question -> documents): the covered questions' figures and the
    uncovered ones declined (all, near-topic, far)."""
    head = (f"{'split':<7}{'pair':<7}{'cov':>4} {'s@10':>5} {'hit@1':>5} {'hit@3':>5} {'key':>5} "
            f"{'f-abs':>5} │{'unc':>4} {'decl':>5} {'near':>5} {'far':>5}")
    lines = ["Per language pair (question language → document language; es→* = every Spanish "
             "question). decl: % of uncovered questions declined.", head, "─" * len(head)]
    for split, rows in pairs.items():
        for name, m in rows.items():
            lines.append(
                f"{split:<7}{name:<7}{m['covered']:>4} {_pct(m['search@10'])} {_pct(m['hit@1'])} "
                f"{_pct(m['hit@3'])} {_pct(m['key_sentence'])} {_pct(m['false_abstain'])} "
                f"│{m['uncovered']:>4} {_pct(m['declined_uncovered'])} {_pct(m['declined_near'])} "
                f"{_pct(m['declined_far'])}"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.devset", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("tune", "report", "all"), default="report")
    parser.add_argument("--smoke", action="store_true", help="the CI subset (tune half, few documents)")
    parser.add_argument("--corpus", action="append", choices=list(CORPORA), default=None,
                        help="only this corpus (repeatable)")
    parser.add_argument("--lang", action="append", default=None, help="only questions in this language")
    parser.add_argument("--index", choices=("per-corpus", "mixed"), default="per-corpus",
                        help="one data folder per corpus (default) or every corpus in one")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="write the figures here (default: bench/results/devset-SPLIT.json)")
    parser.add_argument("--config", default=str(REPO / "config.toml"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a setting of config.toml for this run")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the data folders here (default: a temporary folder, removed)")
    parser.add_argument("--cache", action="store_true",
                        help="reuse passage vectors from bench/.cache (bench.embedcache) across runs")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    from bench.overrides import apply_overrides
    from bot.config import load_config

    config = apply_overrides(load_config(args.config), args.set)
    encoder = None
    if args.cache:
        from bench.embedcache import CachedEncoder

        encoder = CachedEncoder(config.encoder_settings())
    log: Callable[[str], None] = (lambda _: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    result = run(config, args.split, args.smoke, args.corpus, encoder, args.workdir,
                 args.index == "mixed", langs=args.lang, log=log)
    result["overrides"] = list(args.set)
    print(table(result))
    path = args.json or RESULTS / f"devset-{result['split']}{'-smoke' if args.smoke else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"figures written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
