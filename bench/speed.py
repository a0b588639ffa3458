"""Speed, memory and scale of Steward on this machine: one table, one JSON file, one plot.

    python -m bench.speed                          # full run (~20-25 min once corpora are cached)
    python -m bench.speed --quick                  # ~3 min: 10k and 100k passages, fewer questions
    python -m bench.speed --sizes 10000,100000,1000000 --questions 500

Every figure is a median with its spread (min-max) over repeated runs, and every speed-up
is a ratio to a baseline measured in the same run, interleaved, because the machine is
shared and its speed moves by 2x from minute to minute:

* **Ingest throughput** (passages/s) on realistic ~200-word passages (SciFact abstracts):
  Steward's encoder (configured backend, length-sorted batches) + ``DenseIndex.add`` against
  the naive ``SentenceTransformer(model).encode(texts, batch_size=32)`` +
  ``faiss.IndexFlatIP.add``, alternating, with the compute bound (FLOPs per passage /
  measured GEMM FLOP/s) measured in the same run. Then ``steward ingest FOLDER`` end to end.
* **Approximate-search recall@10** against exact search on real embeddings (SciFact
  abstracts and sentences, SciFact claims as queries) for the IVF settings Steward would use.
* Per corpus size (10k, 100k, 1M passages; synthetic clustered vectors, real SciFact text,
  see bench/synthetic.py): start-up to first answer and peak RSS of a fresh serving process;
  question -> Answer latency p50/p95/p99 over >= 500 varied questions single-threaded and
  with 8 concurrent askers; the retrieval stage against a naive exact baseline (paired per
  question); incremental add of one bulletin (~20 passages) until a search in *another*
  process sees it; index size on disk per passage.

Results: ``bench/results/speed.json`` and the plot ``docs/speed.png``. Built corpora are kept
in ``bench/.cache/speed/`` (git-ignored) so later runs skip building them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from bench.machine import cpu_model
from bench.synthetic import (
    Generator,
    SciFact,
    build_corpus,
    bulletin_file,
    corpus_key,
    load_scifact,
    questions,
)
from bot.config import Config, load_config
from corpus.sentences import sentence_spans
from embeddings.dense import DenseIndex, DenseSettings, auto_nprobe
from embeddings.encoder import SpanEncoder, load_encoder, resolve_model
from embeddings.sentence_store import SentenceStore
from embeddings.spans import shift

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
SPEED_CACHE = CACHE / "speed"
RESULTS = Path(__file__).resolve().parent / "results" / "speed.json"
PLOT = REPO / "docs" / "speed.png"
MACHINE = "2-core AMD EPYC Zen 3 (this sandbox), shared with other jobs"
SECTIONS = ("ingest", "recall_real", "ingest_folder", "sizes")

# Targets from the issue, checked in the table.
TARGETS = {
    "ingest_ratio": 1.5,
    "p99_ms": {100_000: 50.0, 1_000_000: 100.0},
    "p50_ms": {100_000: 20.0},
    "incremental_s": {100_000: 5.0},
    "rss_mb": {1_000_000: 1536.0},
    "startup_s": {100_000: 5.0},
    "recall": 0.98,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and min-max of repeated measurements."""
    vals = [float(v) for v in values]
    if not vals:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if len(values) else float("nan")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- compute bound -----------------------------------------------------------------------------


def gemm_flops(threads: int, repeats: int = 7) -> dict[str, dict[str, float]]:
    """Measured GEMM FLOP/s now: fp32 (numpy/OpenBLAS) and int8 (onnxruntime MatMulInteger),
    on the transformer's own shapes (tokens x 384 @ 384 x 1536)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    m, k, n = 4096, 384, 1536
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    fp32 = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        fp32.append(2 * m * k * n / (time.perf_counter() - t))
    a8 = rng.integers(0, 255, (m, k), dtype=np.uint8)
    b8 = rng.integers(-127, 127, (k, n), dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        "gemm",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [None, k])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [None, n])],
        [numpy_helper.from_array(b8, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    session.run(None, {"A": a8})
    int8 = []
    for _ in range(repeats):
        t = time.perf_counter()
        session.run(None, {"A": a8})
        int8.append(2 * m * k * n / (time.perf_counter() - t))
    del onnx
    return {"fp32": spread(fp32), "int8": spread(int8)}


def flops_per_passage(token_counts: Sequence[int], model_path: str, max_len: int) -> tuple[float, float]:
    """Mean forward-pass FLOPs per passage from the model config: (dense layers, attention)."""
    cfg = json.loads((Path(model_path) / "config.json").read_text(encoding="utf-8"))
    h, i, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    dense = attention = 0.0
    for n in token_counts:
        t = min(n, max_len)
        dense += layers * t * (2 * 4 * h * h + 2 * 2 * h * i)  # QKV + output, FFN in and out
        attention += layers * 2 * 2 * t * t * h  # QK^T and probabilities x V
    count = max(1, len(token_counts))
    return dense / count, attention / count


def bound_per_s(dense: float, attention: float, fp32_flops: float, int8: bool) -> float:
    """Passages/s if every FLOP ran at the machine's measured GEMM rate. Dynamic int8 runs the
    dense layers' matrix products in int8, at twice the fp32 rate on AVX2 (vpmaddubsw +
    vpmaddwd: 2x the multiply-adds of an fp32 FMA per instruction; no VNNI here); attention
    stays fp32."""
    if int8:
        return 1.0 / (dense / (2 * fp32_flops) + attention / fp32_flops)
    return fp32_flops / (dense + attention)


# -- ingest ------------------------------------------------------------------------------------


def ingest_throughput(config: Config, data: SciFact, n_texts: int, repeats: int) -> dict[str, object]:
    """Steward's encoder + index vs the naive sentence-transformers + IndexFlatIP, alternating."""
    import faiss
    from sentence_transformers import SentenceTransformer

    texts = [f"{data.titles[i]}\n{data.abstract(i)}" for i in range(n_texts)]
    words = [len(t.split()) for t in texts]
    encoder = load_encoder(config.encoder_settings(), CACHE / "models")
    naive_model = SentenceTransformer(resolve_model(config.index.model), device="cpu")
    batch = config.index.batch_size
    vids = np.arange(len(texts), dtype=np.int64)

    # Steward's ingest also keeps every sentence's vector (pooled from the same pass) for
    # quotes; the sentence spans come from the chunker, which both sides' inputs went through.
    title_len = [len(data.titles[i]) + 1 for i in range(n_texts)]
    spans = [shift(sentence_spans(t[k:]), k) for t, k in zip(texts, title_len, strict=True)]
    sentence_db = Path(tempfile.mkdtemp(prefix="steward-ingest-")) / "sentences.sqlite"

    def ours() -> tuple[float, np.ndarray]:
        sentence_db.unlink(missing_ok=True)
        t = time.perf_counter()
        if isinstance(encoder, SpanEncoder):
            vectors, pooled = encoder.encode_with_spans(texts, spans, batch_size=batch)
            store = SentenceStore(sentence_db, encoder.dimension)
            store.put(zip(vids.tolist(), spans, pooled, strict=True))
            store.close()
        else:
            vectors = encoder.encode(texts, batch_size=batch)
        index = DenseIndex.empty(encoder.dimension)
        index.add(vids, vectors)
        return time.perf_counter() - t, vectors

    def naive() -> tuple[float, np.ndarray]:
        t = time.perf_counter()
        vectors = naive_model.encode(texts, batch_size=32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return time.perf_counter() - t, vectors

    encoder.encode(texts[:8])
    naive_model.encode(texts[:8])
    ours_rate, naive_rate, ratios, gemm = [], [], [], []
    threads = len(os.sched_getaffinity(0))
    vec_ours = vec_naive = None
    for r in range(repeats):
        gemm.append(gemm_flops(threads, repeats=3))
        order: list[tuple[str, Callable[[], tuple[float, np.ndarray]]]] = [("ours", ours), ("naive", naive)]
        if r % 2:
            order.reverse()
        got: dict[str, float] = {}
        for name, fn in order:
            took, vectors = fn()
            got[name] = len(texts) / took
            if name == "ours":
                vec_ours = vectors
            else:
                vec_naive = vectors
        ours_rate.append(got["ours"])
        naive_rate.append(got["naive"])
        ratios.append(got["ours"] / got["naive"])
        log(f"    ingest repeat {r + 1}/{repeats}: steward {got['ours']:.1f}/s, naive {got['naive']:.1f}/s "
            f"(x{ratios[-1]:.2f}); load {load_average()}")
    cos = (vec_ours * vec_naive).sum(axis=1)  # type: ignore[operator]
    counts = encoder.token_counts(texts) if hasattr(encoder, "token_counts") else [256] * len(texts)
    max_len = int(getattr(encoder, "max_seq_length", 256))
    dense, attention = flops_per_passage(counts, resolve_model(config.index.model), max_len)
    flops = dense + attention
    int8 = config.index.backend == "onnx-int8"
    bound = [bound_per_s(dense, attention, g["fp32"]["median"], int8) for g in gemm]
    return {
        "passages": len(texts),
        "words_per_passage_mean": float(np.mean(words)),
        "tokens_per_passage_mean": float(np.mean(counts)),
        "truncated_share": float(np.mean([c > max_len for c in counts])),
        "backend": config.index.backend,
        "batch_size": batch,
        "steward_per_s": spread(ours_rate),
        "naive_per_s": spread(naive_rate),
        "ratio": spread(ratios),
        "cosine_to_naive": {"mean": float(cos.mean()), "min": float(cos.min())},
        "gflop_per_passage": flops / 1e9,
        "gflop_per_passage_attention": attention / 1e9,
        "gemm_gflops": {k: spread([g[k]["median"] / 1e9 for g in gemm]) for k in ("fp32", "int8")},
        "compute_bound_per_s": spread(bound),
        "share_of_bound": spread([o / b for o, b in zip(ours_rate, bound, strict=True)]),
        "naive_share_of_fp32_bound": spread(
            [n / (g["fp32"]["median"] / flops) for n, g in zip(naive_rate, gemm, strict=True)]
        ),
    }


def ingest_folder(config_path: Path, generator: Generator, documents: int, repeats: int) -> dict[str, object]:
    """``steward ingest FOLDER`` end to end (process start, read, chunk, store, encode, index,
    swap) into a fresh data folder, as an admin runs it."""
    totals, passages, syncs = [], [], []
    with tempfile.TemporaryDirectory(prefix="steward-speed-") as tmp:
        folder = Path(tmp) / "bulletins"
        folder.mkdir()
        for d in range(documents):
            bulletin_file(folder, generator, 9_000_000 + d, f"ingestmarker{d}")
        for r in range(repeats):
            data_dir = Path(tmp) / f"data-{r}"
            data_dir.mkdir()
            (data_dir / "models").symlink_to(CACHE / "models")  # the exported ONNX model
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "bot.cli", "--config", str(config_path), "--data-dir", str(data_dir),
                 "-q", "ingest", str(folder)],
                capture_output=True, text=True, cwd=REPO, check=False,
            )
            totals.append(time.perf_counter() - started)
            if proc.returncode != 0:
                raise RuntimeError(f"steward ingest failed: {proc.stderr[-2000:]}")
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("index generation")), "")
            count = int(line.split(":")[1].split()[0]) if line else 0
            passages.append(count)
            syncs.append(count / totals[-1])
            log(f"    steward ingest {documents} documents ({count} passages): {totals[-1]:.1f} s")
    return {
        "documents": documents,
        "passages": passages[0] if passages else 0,
        "total_s": spread(totals),
        "passages_per_s": spread(syncs),
    }


# -- real-embedding recall -------------------------------------------------------------------------


def real_embeddings(config: Config, data: SciFact, abstracts: int, sentences: int) -> tuple[np.ndarray, np.ndarray]:
    """Real vectors of SciFact abstracts and sentences, cached by content (bench/embedcache)."""
    from bench.embedcache import CachedEncoder

    encoder = CachedEncoder(config.encoder_settings())
    texts = [f"{data.titles[i]}\n{data.abstract(i)}" for i in range(min(abstracts, len(data.ids)))]
    sents = [s for doc in data.sentences for s in doc][:sentences]
    log(f"    real embeddings: {len(texts)} abstracts + {len(sents)} sentences (cached after the first run)")
    a = encoder.encode(texts, batch_size=config.index.batch_size, progress=True)
    b = encoder.encode(sents, batch_size=config.index.batch_size, progress=True)
    encoder.close()
    return a, b


def recall_real(db: np.ndarray, queries: np.ndarray, settings: DenseSettings) -> dict[str, object]:
    """recall@10 of IVF-SQ8 (Steward's automatic nlist/nprobe for this size) vs exact search."""
    import faiss

    n = len(db)
    vids = np.arange(n, dtype=np.int64)
    exact = faiss.IndexFlatIP(db.shape[1])
    exact.add(db)
    _, truth = exact.search(queries, 10)
    ivf = DenseIndex.build(vids, db, DenseSettings(exact_max_passages=0, nlist=settings.nlist))
    nlist = int(ivf.params["nlist"])
    sweep = {}
    for nprobe in sorted({1, 2, 4, 8, 16, 32, 64, auto_nprobe(nlist), settings.nprobe or 0} - {0}):
        if nprobe > nlist:
            continue
        ivf_np = DenseIndex(ivf._index, DenseSettings(exact_max_passages=0, nprobe=nprobe))
        hits = []
        t = time.perf_counter()
        for q, true in zip(queries, truth, strict=True):
            got, _ = ivf_np.search(q, 10)
            hits.append(len(set(got.tolist()) & set(true.tolist())) / 10)
        sweep[nprobe] = {"recall_at_10": float(np.mean(hits)),
                         "ms_per_query": (time.perf_counter() - t) / len(queries) * 1000}
    chosen = settings.nprobe or auto_nprobe(nlist)
    return {"vectors": n, "queries": len(queries), "nlist": nlist, "nprobe": min(chosen, nlist),
            "recall_at_10": sweep[min(chosen, nlist)]["recall_at_10"], "sweep": sweep}


# -- one corpus size ------------------------------------------------------------------------------


def corpus_dir(n: int, config: Config, centres: np.ndarray, generator: Generator) -> Path:
    settings = config.index_settings()
    key = corpus_key(n, settings, centres)
    path = SPEED_CACHE / f"corpus-{n}-{key}"
    if (path / "READY").exists():
        return path
    for old in SPEED_CACHE.glob(f"corpus-{n}-*"):
        shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)
    log(f"  building a {n:,}-passage corpus in {path} (once; kept for later runs)")
    started = time.perf_counter()
    timings = build_corpus(path, n, generator, settings, config.index.backend, log=log)
    (path / "models").symlink_to(CACHE / "models")
    timings["total_s"] = time.perf_counter() - started
    (path / "READY").write_text(json.dumps(timings), encoding="utf-8")
    log(f"  built in {timings['total_s']:.0f} s: {timings}")
    return path


def run_worker(args: list[str], timeout: float = 1800) -> dict[str, object]:
    spawned = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.speedworker", *args, "--spawned", repr(spawned)],
        capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"speed worker failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def remove_added(steward: object) -> int:
    """Remove the bulletins earlier incremental-add measurements ingested (one generation)."""
    store = steward.store  # type: ignore[attr-defined]
    added = [d.doc_id for d in store.documents() if not d.source.startswith("synthetic://")]
    for doc_id in added:
        store.remove(doc_id)
    if added:
        steward.indexer.sync()  # type: ignore[attr-defined]
    return len(added)


def incremental_adds(path: Path, config_path: Path, generator: Generator, repeats: int, tag: str) -> dict[str, object]:
    """Add one bulletin (~20 passages) to a running Steward; time until another process's
    search serves it. The adding Steward is warm (model loaded), as the bot is."""
    from bot.app import Steward

    config = load_config(config_path, path)
    steward = Steward(config)
    encoder = steward.encoder
    encoder.encode(["warm up"])
    encode_s: list[float] = []
    inner_encode = encoder.encode

    def timed_encode(*a: object, **k: object) -> np.ndarray:
        t = time.perf_counter()
        try:
            return inner_encode(*a, **k)  # type: ignore[arg-type]
        finally:
            encode_s.append(time.perf_counter() - t)

    encoder.encode = timed_encode  # type: ignore[method-assign]
    visible, sync_s, encoded, encoding = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="steward-add-") as tmp:
        for r in range(repeats):
            marker = f"addmarker{tag}x{r}x{int(time.time())}"
            file, _title = bulletin_file(Path(tmp), generator, 8_000_000 + r + int(time.time()) % 100_000, marker)
            watcher = subprocess.Popen(
                [sys.executable, "-m", "bench.speedworker", "watch", "--data", str(path), "--config",
                 str(config_path), "--marker", marker, "--timeout", "900"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
            )
            assert watcher.stdout is not None
            line = watcher.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"watcher did not start: {line} {watcher.stderr.read() if watcher.stderr else ''}")
            encode_s.clear()
            started = time.time()
            report = steward.ingest([str(file)])
            encoding.append(sum(encode_s))
            out, err = watcher.communicate(timeout=900)
            result = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[7:])
            if result.get("seen_at") is None:
                raise RuntimeError(f"the new bulletin never became visible: {err[-2000:]}")
            visible.append(result["seen_at"] - started)
            sync_s.append(report.sync.seconds if report.sync else float("nan"))
            encoded.append(report.sync.encoded if report.sync else 0)
            log(f"    add one bulletin ({encoded[-1]} passages): visible in another process after "
                f"{visible[-1]:.2f} s (index sync {sync_s[-1]:.2f} s, of which encoding {encoding[-1]:.2f} s)")
    remove_added(steward)  # leave the corpus as built, for the next size and the next run
    steward.close()
    return {"visible_s": spread(visible), "sync_s": spread(sync_s), "encode_s": spread(encoding),
            "index_work_s": spread([a - b for a, b in zip(sync_s, encoding, strict=True)]),
            "passages_added": encoded}


def disk_per_passage(path: Path, passages: int) -> dict[str, float]:
    from embeddings.generations import Generations

    gen = Generations(path / "index").current()
    assert gen is not None
    dense = (gen / "dense.faiss").stat().st_size
    keyword = sum(p.stat().st_size for p in (gen / "keyword").rglob("*") if p.is_file())
    store = sum(p.stat().st_size for p in path.glob("steward.sqlite3*") if p.is_file())
    sentences = sum(p.stat().st_size for p in (path / "index").glob("sentences-*.sqlite*") if p.is_file())
    return {
        "sentence_bytes_per_passage": sentences / passages,
        "dense_bytes_per_passage": dense / passages,
        "keyword_bytes_per_passage": keyword / passages,
        "index_bytes_per_passage": (dense + keyword) / passages,
        "store_bytes_per_passage": store / passages,
    }


def measure_size(n: int, config: Config, config_path: Path, centres: np.ndarray, generator: Generator,
                 qfile: Path, args: argparse.Namespace) -> dict[str, object]:
    log(f"\n== {n:,} passages ==")
    path = corpus_dir(n, config, centres, generator)
    from bot.app import Steward

    cleaner = Steward(load_config(config_path, path))
    if remove_added(cleaner):  # left by an interrupted run
        log("    removed bulletins an earlier run added")
    cleaner.close()
    result: dict[str, object] = {"passages": n}
    startups = []
    for _ in range(args.startup_repeats):
        s = run_worker(["serve", "--data", str(path), "--config", str(config_path), "--questions", str(qfile),
                        "--startup-only"])
        startups.append(s)
        log(f"    start-up to first answer {s['startup_s']:.2f} s, RSS {s['rss_after_first_mb']:.0f} MB")
    result["startup_s"] = spread([s["startup_s"] for s in startups])
    result["rss_after_first_answer_mb"] = spread([s["rss_after_first_mb"] for s in startups])
    result["index_type"] = startups[0]["index_type"]
    result["index_params"] = startups[0]["index_params"]
    log(f"    serving {args.questions} questions single-threaded, then {args.threads} concurrent askers ...")
    serve = run_worker(["serve", "--data", str(path), "--config", str(config_path), "--questions", str(qfile),
                        "--rounds", str(args.rounds), "--threads", str(args.threads),
                        "--baseline-vectors", str(path / "synthetic-vectors.npy"),
                        "--baseline-questions", str(args.baseline_questions)])
    rounds = serve["single"]["rounds_ms"]  # type: ignore[index]
    pooled = [x for r in rounds for x in r]
    result["single"] = {
        "questions": len(pooled),
        "cpu_ms_per_question": serve["single"]["cpu_ms_per_question"],  # type: ignore[index]
        "p50_ms": pct(pooled, 50), "p95_ms": pct(pooled, 95), "p99_ms": pct(pooled, 99),
        "round_p50_ms": spread([pct(r, 50) for r in rounds]),
        "retrieval_p50_ms": pct(serve["single"]["retrieval_ms"], 50),  # type: ignore[index]
        "retrieval_p95_ms": pct(serve["single"]["retrieval_ms"], 95),  # type: ignore[index]
        "retrieval_p99_ms": pct(serve["single"]["retrieval_ms"], 99),  # type: ignore[index]
        "round_p99_ms": spread([pct(r, 99) for r in rounds]),
    }
    conc = serve["concurrent"]  # type: ignore[index]
    lat = conc["latencies_ms"]
    result["concurrent"] = {
        "threads": conc["threads"], "questions": len(lat),
        "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
        "questions_per_s": conc["questions_per_s"],
        "cpu_ms_per_question": conc["cpu_ms_per_question"],
    }
    result["stages_ms_p50"] = serve["stages_ms_p50"]
    result["stages_ms_mean"] = serve["stages_ms_mean"]
    result["answered_share"] = serve["answered_share"]
    result["peak_rss_mb"] = serve["peak_rss_mb"]
    result["rss_end_mb"] = {k: serve[f"rss_{k}_mb"] for k in ("file", "anon")}
    base = serve.get("baseline")
    if base:
        ours, naive = base["steward_ms"], base["naive_ms"]  # type: ignore[index]
        result["retrieval_vs_naive"] = {
            "questions": base["questions"],  # type: ignore[index]
            "steward_p50_ms": pct(ours, 50), "steward_p99_ms": pct(ours, 99),
            "naive_p50_ms": pct(naive, 50), "naive_p99_ms": pct(naive, 99),
            "speedup_p50": pct([b / max(a, 1e-9) for a, b in zip(ours, naive, strict=True)], 50),
            "dense_recall_at_10_vs_exact": base["dense_recall_at_10_vs_exact"],  # type: ignore[index]
        }
    log(f"    p50 {result['single']['p50_ms']:.1f} ms, p99 {result['single']['p99_ms']:.1f} ms; "  # type: ignore[index]
        f"stages {json.dumps({k: round(v, 1) for k, v in serve['stages_ms_p50'].items()})}; "  # type: ignore[union-attr]
        f"peak RSS {serve['peak_rss_mb']:.0f} MB")
    result["disk"] = disk_per_passage(path, n)
    result["incremental_add"] = incremental_adds(path, config_path, generator, args.add_repeats, str(n))
    return result


# -- output -----------------------------------------------------------------------------------------


def fmt(s: dict[str, float], digits: int = 1) -> str:
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"


def table(results: dict[str, object]) -> str:
    lines = [f"Steward speed — {results['date']} — {results['machine']}",
             f"backend {results['backend']}; load average at start {results['load_start']}, "
             f"end {results['load_end']}; median (min–max) over repeats"]
    for run in results.get("partial_runs", []):
        lines.append(f"re-measured {', '.join(run['sections'])} on {run['date']}: load average {run['load'][0]} "
                     f"at start, {run['load'][1]} at end")
    lines.append("")
    ing = results.get("ingest")
    if ing:
        lines += [
            "| ingest (~{:.0f}-word passages, {} of them) | passages/s |".format(
                ing["words_per_passage_mean"], ing["passages"]),
            "|---|---|",
            f"| Steward ({ing['backend']}, length-sorted batches of {ing['batch_size']}) + index | "
            f"{fmt(ing['steward_per_s'])} |",
            f"| naive SentenceTransformer(batch 32) + IndexFlatIP | {fmt(ing['naive_per_s'])} |",
            f"| ratio (paired per repeat; target >= {TARGETS['ingest_ratio']}) | {fmt(ing['ratio'], 2)} |",
            f"| compute bound now ({ing['gflop_per_passage']:.2f} GFLOP/passage; fp32 GEMM "
            f"{ing['gemm_gflops']['fp32']['median']:.0f} GFLOP/s measured, int8 layers at 2x) | "
            f"{fmt(ing['compute_bound_per_s'])} |",
            f"| Steward's share of the bound | {fmt(ing['share_of_bound'], 2)} |",
            "",
        ]
    folder = results.get("ingest_folder")
    if folder:
        lines += [f"`steward ingest` of {folder['documents']} bulletins ({folder['passages']} passages), "
                  f"process start to swapped generation: {fmt(folder['total_s'])} s = "
                  f"{fmt(folder['passages_per_s'])} passages/s", ""]
    rec = results.get("recall_real")
    if rec:
        lines += [f"IVF-SQ8 recall@10 vs exact on real embeddings ({rec['vectors']:,} SciFact vectors, "
                  f"{rec['queries']} claims): {rec['recall_at_10']:.3f} at nlist {rec['nlist']}, nprobe "
                  f"{rec['nprobe']} (target >= {TARGETS['recall']})", ""]
    sizes = results.get("sizes", [])
    if sizes:
        lines += [
            "| passages | index | start-up s | peak RSS MB | answer p50 / p95 / p99 ms | retrieval p50 / p99 ms | "
            "answer p50 / p99 ms, 8 askers | q/s, 8 askers | dense+BM25 top-100 p50 vs naive exact | "
            "add 1 bulletin s | index B/passage |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        nan = float("nan")
        for s in sizes:
            single, conc = s["single"], s["concurrent"]
            rvn = s.get("retrieval_vs_naive", {})
            lines.append(
                f"| {s['passages']:,} | {s['index_type']} | {fmt(s['startup_s'], 2)} | {s['peak_rss_mb']:.0f} | "
                f"{single['p50_ms']:.0f} / {single['p95_ms']:.0f} / {single['p99_ms']:.0f} | "
                f"{single.get('retrieval_p50_ms', nan):.1f} / {single.get('retrieval_p99_ms', nan):.1f} | "
                f"{conc['p50_ms']:.0f} / {conc['p99_ms']:.0f} | {conc['questions_per_s']:.1f} | "
                f"{rvn.get('steward_p50_ms', float('nan')):.1f} vs {rvn.get('naive_p50_ms', float('nan')):.1f} ms | "
                f"{fmt(s['incremental_add']['visible_s'], 2)} | {s['disk']['index_bytes_per_passage']:.0f} |"
            )
        lines.append("")
        lines.append("Answer stages, p50 ms: " + "; ".join(
            f"{s['passages']:,}: " + ", ".join(f"{k} {v:.1f}" for k, v in s["stages_ms_p50"].items())
            for s in sizes))
    return "\n".join(lines)


def plot(results: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results.get("sizes", [])
    if not sizes:
        return
    n = [s["passages"] for s in sizes]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax1.plot(n, [s["single"]["p50_ms"] for s in sizes], "o-", label="answer p50")
    ax1.plot(n, [s["single"]["p99_ms"] for s in sizes], "o-", label="answer p99")
    ax1.plot(n, [s["single"].get("retrieval_p50_ms", np.nan) for s in sizes], "s--", label="retrieval p50")
    ax1.plot(n, [s["single"].get("retrieval_p99_ms", np.nan) for s in sizes], "s--", label="retrieval p99")
    ax1.plot(n, [s.get("retrieval_vs_naive", {}).get("steward_p50_ms", np.nan) for s in sizes], "^-.",
             label="dense+BM25 top-100 p50")
    ax1.plot(n, [s.get("retrieval_vs_naive", {}).get("naive_p50_ms", np.nan) for s in sizes], "x:",
             label="naive exact dense+BM25 p50")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("passages")
    ax1.set_ylabel("ms per question (1 asker)")
    ax1.legend(fontsize=7)
    ax1.grid(True, which="both", alpha=0.3)
    ax2.plot(n, [s["peak_rss_mb"] for s in sizes], "o-", label="peak RSS, serving")
    ax2.plot(n, [s["disk"]["index_bytes_per_passage"] * s["passages"] / 2**20 for s in sizes], "s--",
             label="index on disk")
    ax2.axhline(1536, color="grey", lw=0.8, ls=":", label="1.5 GB budget")
    ax2.set_xscale("log")
    ax2.set_xlabel("passages")
    ax2.set_ylabel("MB")
    ax2.legend(fontsize=7)
    ax2.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"Steward cost growth — {results['date']}, {MACHINE}", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~3 min: 10k and 100k, 100 questions, fewer repeats")
    parser.add_argument("--sizes", default="", help="comma-separated corpus sizes (default 10000,100000,1000000)")
    parser.add_argument("--questions", type=int, default=0, help="questions per size (default 500; quick 100)")
    parser.add_argument("--config", default=str(REPO / "config.toml"))
    parser.add_argument("--threads", type=int, default=8, help="concurrent askers")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: ingest,folder,recall,sizes")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, default=PLOT)
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = [int(s) for s in (args.sizes or ("10000,100000" if quick else "10000,100000,1000000")).split(",")]
    args.questions = args.questions or (100 if quick else 500)
    args.rounds = 3 if quick else 5
    args.startup_repeats = 2 if quick else 3
    args.add_repeats = 2 if quick else 3
    args.baseline_questions = 50 if quick else 200
    skip = set(filter(None, args.skip.split(",")))

    config_path = Path(args.config).resolve()
    config = load_config(config_path)
    started = time.perf_counter()
    results: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "machine": MACHINE,
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "backend": config.index.backend,
        "quick": quick,
        "load_start": load_average(),
        "settings": {"exact_max_passages": config.index.exact_max_passages, "nprobe": config.index.nprobe,
                     "nlist": config.index.nlist, "batch_size": config.index.batch_size,
                     "candidates": config.search.candidates},
        "targets": {k: v for k, v in TARGETS.items()},
    }
    data = load_scifact()
    SPEED_CACHE.mkdir(parents=True, exist_ok=True)
    # Make sure the ONNX export exists before anything is timed (once per model).
    load_encoder(config.encoder_settings(), CACHE / "models")

    if "ingest" not in skip:
        log("== ingest throughput (Steward vs naive, alternating) ==")
        # Short calls, many of them, alternating (ABBA): load on a shared machine changes
        # within seconds, so each ratio pairs two calls a few seconds apart.
        results["ingest"] = ingest_throughput(config, data, 48 if quick else 64, 4 if quick else 10)
    abstracts, sentences = (1500, 8000) if quick else (len(data.ids), 20_000)
    real_a, real_s = real_embeddings(config, data, abstracts, sentences)
    if "recall" not in skip:
        log("== IVF recall on real embeddings ==")
        encoder = load_encoder(config.encoder_settings(), CACHE / "models")
        qv = encoder.encode(data.queries[: 300 if quick else len(data.queries)])
        results["recall_real"] = recall_real(np.concatenate([real_a, real_s]), qv, config.index_settings().dense)
        log(f"    recall@10 {results['recall_real']['recall_at_10']:.3f} "  # type: ignore[index]
            f"(nlist {results['recall_real']['nlist']}, nprobe {results['recall_real']['nprobe']})")  # type: ignore[index]
    generator = Generator(data, real_a[:1500], seed=0)
    if "folder" not in skip:
        log("== steward ingest FOLDER ==")
        results["ingest_folder"] = ingest_folder(config_path, generator, 5 if quick else 10, 2 if quick else 3)
    if "sizes" not in skip:
        qfile = SPEED_CACHE / f"questions-{args.questions}.txt"
        # 1 start-up question + 3 warm-up + N single-threaded + N concurrent, all different.
        qfile.write_text("\n".join(questions(data, 2 * args.questions + 4)) + "\n", encoding="utf-8")
        results["sizes"] = [measure_size(n, config, config_path, real_a[:1500], generator, qfile, args)
                            for n in sizes]
    results["load_end"] = load_average()
    results["seconds"] = time.perf_counter() - started
    if skip and args.json.exists():
        # A partial run (--skip) updates only the sections it measured.
        previous = json.loads(args.json.read_text(encoding="utf-8"))
        results = {**previous, **{k: v for k, v in results.items() if k in SECTIONS}, "partial_runs": [
            *previous.get("partial_runs", []),
            {"date": results["date"], "sections": sorted(k for k in results if k in SECTIONS),
             "load": [results["load_start"], results["load_end"]]},
        ]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    plot(results, args.plot)
    print(table(results))
    log(f"\nwrote {args.json} and {args.plot} in {results['seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
