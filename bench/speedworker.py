"""Child processes of ``python -m bench.speed``: a serving Steward measured from the outside.

    python -m bench.speedworker serve   --data DIR --questions FILE --spawned T [...]
    python -m bench.speedworker watch   --data DIR --marker WORD

``serve`` is the serving process: it reports the time from its spawn to its first answer,
answers every question single-threaded and then with concurrent askers (threads sharing one
Steward, as the bot's worker threads do), times the stages of each answer, reads its own peak
RSS, and finally times the same questions' retrieval against a naive exact baseline
(``faiss.IndexFlatIP`` over the same vectors + bm25s ``get_scores`` over every passage).
``watch`` waits, searching in a loop, until a passage containing ``marker`` is served, and
prints the wall-clock time it saw it (the parent measures incremental-add visibility).
Output is one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

SPAWNED_AT = time.time()  # before the heavy imports, for the start-up figure

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json  # noqa: E402
import threading  # noqa: E402
from collections import defaultdict  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

from bench.machine import status_kb  # noqa: E402


def _steward(data: str, config: str | None, sets: list[str]):  # type: ignore[no-untyped-def]
    from bot.app import Steward
    from bot.config import load_config

    cfg = load_config(config, data)
    for item in sets:
        dotted, value = item.split("=", 1)
        section, key = dotted.split(".", 1)
        current = getattr(getattr(cfg, section), key)
        typed: object = value
        if isinstance(current, bool):
            typed = value.lower() in ("1", "true", "yes")
        elif isinstance(current, int):
            typed = int(value)
        elif isinstance(current, float):
            typed = float(value)
        setattr(getattr(cfg, section), key, typed)
    return Steward(cfg)


class StageTimer:
    """Per-thread stage times of one answer (query encoding, search, quote selection)."""

    def __init__(self) -> None:
        self.local = threading.local()

    def reset(self) -> None:
        self.local.times = defaultdict(float)
        self.local.stage = None

    @property
    def times(self) -> dict[str, float]:
        return dict(self.local.times)

    def wrap(self, obj: object, name: str, stage: str, within: str | None = None) -> None:
        """Time ``obj.name`` as ``stage`` (only inside stage ``within`` when given)."""
        inner = getattr(obj, name)

        def timed(*args: object, **kwargs: object) -> object:
            outer = getattr(self.local, "stage", None)
            if within is not None and outer != within:
                return inner(*args, **kwargs)
            self.local.stage = stage
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                took = time.perf_counter() - started
                self.local.stage = outer
                if hasattr(self.local, "times"):
                    self.local.times[stage] += took
                    if outer is not None:  # report stages exclusively
                        self.local.times[outer] -= took

        setattr(obj, name, timed)


def serve(args: argparse.Namespace) -> dict[str, object]:
    import numpy as np

    import embeddings.sentences

    steward = _steward(args.data, args.config, args.set)
    questions = [q for q in Path(args.questions).read_text(encoding="utf-8").splitlines() if q.strip()]
    first = steward.ask(questions[0])
    ready = time.time()
    out: dict[str, object] = {
        "startup_s": ready - args.spawned,
        "startup_in_process_s": ready - SPAWNED_AT,
        "first_answered": first.answered,
        "rss_after_first_mb": status_kb("VmRSS") / 1024,
        "index_type": steward.searcher.generation.manifest.index_type,
        "index_params": steward.searcher.generation.manifest.index_params,
        "passages": steward.searcher.generation.dense.size,
    }
    if args.startup_only:
        out["peak_rss_mb"] = status_kb("VmHWM") / 1024
        return out

    timer = StageTimer()
    searcher, answerer = steward.searcher, steward.answerer
    timer.wrap(searcher, "encode_query", "encode_query")
    timer.wrap(searcher, "search", "search")
    timer.wrap(answerer, "_quotes", "quotes_other")
    timer.wrap(searcher.sentence_vectors, "kept", "quotes_kept_vectors", within="quotes_other")
    timer.wrap(embeddings.sentences, "sentence_spans", "quotes_sentence_split", within="quotes_other")
    timer.wrap(searcher.encoder, "encode", "quotes_encode_sentences", within="quotes_other")

    def one(question: str) -> tuple[float, dict[str, float], bool]:
        timer.reset()
        started = time.perf_counter()
        answer = steward.ask(question)
        took = time.perf_counter() - started
        times = timer.times
        return took, times, answer.answered

    def cold() -> None:
        # Each phase starts with empty answer caches and asks questions no phase asked before.
        searcher.sentence_vectors.clear_cache()

    for q in questions[1:4]:  # warm the code paths (a bot's first questions do that too)
        one(q)
    n = (len(questions) - 4) // 2
    single_qs, concurrent_qs = questions[4 : 4 + n], questions[4 + n : 4 + 2 * n]
    cold()
    rounds = max(1, args.rounds)
    per_round = [single_qs[i::rounds] for i in range(rounds)]
    cpu_started = time.process_time()
    single: list[list[float]] = []
    stages: dict[str, list[float]] = defaultdict(list)
    retrieval: list[float] = []
    answered = 0
    for chunk in per_round:
        lat = []
        for q in chunk:
            took, times, ok = one(q)
            lat.append(took)
            answered += ok
            for k, v in times.items():
                stages[k].append(v)
            # question -> ranked passages: encoding it and the hybrid search (with the hits)
            retrieval.append(times.get("encode_query", 0.0) + times.get("search", 0.0))
        single.append(lat)
    asked = sum(len(r) for r in single)
    out["single"] = {"rounds_ms": [[round(x * 1000, 3) for x in r] for r in single],
                     "retrieval_ms": [round(x * 1000, 3) for x in retrieval],
                     "cpu_ms_per_question": (time.process_time() - cpu_started) / asked * 1000}
    out["answered_share"] = answered / asked
    out["stages_ms_p50"] = {k: float(np.median(v) * 1000) for k, v in stages.items()}
    out["stages_ms_mean"] = {k: float(np.mean(v) * 1000) for k, v in stages.items()}

    # Concurrent askers: each thread asks its share one after another.
    conc: list[float] = []
    lock = threading.Lock()
    share = [concurrent_qs[i :: args.threads] for i in range(args.threads)]
    cold()
    cpu_started = time.process_time()

    def asker(qs: list[str]) -> None:
        for q in qs:
            took, _times, _ok = one(q)
            with lock:
                conc.append(took)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(asker, share))
    wall = time.perf_counter() - started
    out["concurrent"] = {
        "threads": args.threads,
        "latencies_ms": [round(x * 1000, 3) for x in conc],
        "questions_per_s": len(conc) / wall,
        "cpu_ms_per_question": (time.process_time() - cpu_started) / max(1, len(conc)) * 1000,
    }
    out["peak_rss_mb"] = status_kb("VmHWM") / 1024
    out["rss_mb"] = status_kb("VmRSS") / 1024
    # File-backed pages are the memory-mapped index (and libraries): clean, shared by every
    # process serving the same generation, and reclaimable; anonymous pages are this process's.
    out["rss_file_mb"] = status_kb("RssFile") / 1024
    out["rss_anon_mb"] = status_kb("RssAnon") / 1024

    if args.baseline_vectors:
        out["baseline"] = baseline(steward, questions[: args.baseline_questions], args.baseline_vectors)
    return out


def baseline(steward: object, questions: list[str], vectors_path: str) -> dict[str, object]:
    """Retrieval only, paired per question: Steward's dense + BM25 top-k vs the naive ones."""
    import faiss
    import numpy as np

    from embeddings.keyword import tokenize

    gen = steward.searcher.generation  # type: ignore[attr-defined]
    vectors = np.load(vectors_path, mmap_mode="r")
    vids = np.load(str(vectors_path).replace("synthetic-vectors", "synthetic-vids"))
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    for i in range(0, len(vids), 100_000):
        flat.add_with_ids(np.ascontiguousarray(vectors[i : i + 100_000], np.float32), vids[i : i + 100_000])
    model = gen.keyword._model
    k = steward.searcher.settings.candidates  # type: ignore[attr-defined]
    ours, naive, overlap = [], [], []
    faiss.omp_set_num_threads(1)
    for q in questions:
        qvec = steward.searcher.encode_query(q)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        d_ids, _ = gen.dense.search(qvec, k)
        gen.keyword.search(q, k)
        t1 = time.perf_counter()
        _, exact = flat.search(qvec.reshape(1, -1), k)
        tokens = [t for t in tokenize(q) if t in model.vocab_dict]
        if tokens:
            scores = model.get_scores(tokens)
            top = np.argpartition(-scores, k - 1)[:k]
            top[np.argsort(-scores[top], kind="stable")]
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        naive.append(t2 - t1)
        overlap.append(len(set(d_ids[:10].tolist()) & set(exact[0][:10].tolist())) / 10)
    return {
        "questions": len(questions),
        "steward_ms": [round(x * 1000, 3) for x in ours],
        "naive_ms": [round(x * 1000, 3) for x in naive],
        "dense_recall_at_10_vs_exact": float(np.mean(overlap)),
    }


def watch(args: argparse.Namespace) -> dict[str, object]:
    steward = _steward(args.data, args.config, args.set)
    searcher = steward.searcher
    searcher.search("warm up", limit=1)
    print("ready", flush=True)
    deadline = time.time() + args.timeout
    polls = 0
    served = searcher.generation.name
    while time.time() < deadline:
        # Searching in a tight loop would take CPU from the process adding the bulletin; a
        # search starts by reading the CURRENT pointer (Searcher.refresh), so poll only that
        # every 10 ms and search whenever it names a generation not yet searched.
        if steward.generations.current_name() != served:
            hits = searcher.search(args.marker, limit=3, mode="keyword")
            polls += 1
            served = searcher.generation.name
            if any(args.marker in h.passage.text for h in hits):
                return {"seen_at": time.time(), "searches": polls, "generation": served}
        time.sleep(0.01)
    return {"seen_at": None, "searches": polls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speedworker")
    parser.add_argument("mode", choices=("serve", "watch"))
    parser.add_argument("--data", required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--questions")
    parser.add_argument("--spawned", type=float, default=SPAWNED_AT)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--startup-only", action="store_true")
    parser.add_argument("--baseline-vectors", default="")
    parser.add_argument("--baseline-questions", type=int, default=200)
    parser.add_argument("--marker", default="")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    result = serve(args) if args.mode == "serve" else watch(args)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
