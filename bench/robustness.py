"""Robustness figures: files fuzzed, kills survived, searches during swaps, crafted inputs refused.

    python -m bench.robustness            # the full run (~10 minutes on 2 cores)
    python -m bench.robustness --quick    # a smoke run (~1 minute)

Larger versions of the checks in tests/robustness (the same code: tests/robustness/
robustness_support.py), with fresh seeds each run (printed, so a failure can be replayed
with --seed). Atheris (coverage-guided, libFuzzer) fuzzes each reader when it is installed.
Writes bench/results/robustness.json; exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import cpu_model

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "robustness.json"
SUPPORT = REPO / "tests" / "robustness"
# The Discord tests that send crafted interactions which must be refused (every admin path
# from non-admins, forged and replayed button ids, other members' pages, the owner's text
# command) and a flood of 500 interactions from one member; each writes what it sent and
# what came back to the JSON file named by STEWARD_DISCORD_FIGURES.
DISCORD_TESTS = REPO / "tests" / "discord" / "test_discord_abuse.py"
DISCORD_FIGURES_ENV = "STEWARD_DISCORD_FIGURES"


def _support():  # type: ignore[no-untyped-def]
    for path in (SUPPORT, REPO / "tests"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    import robustness_support

    return robustness_support


def machine() -> dict[str, object]:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


# -- the parts -------------------------------------------------------------------------------


def fuzz(workdir: Path, per_format: int, seed: int) -> dict[str, object]:
    rs = _support()
    started = time.perf_counter()
    tally = rs.fuzz_campaign(workdir, per_format, seed)
    return {"files": tally.files, "accepted": tally.accepted, "refused": tally.refused,
            "by_format": tally.by_format, "slowest_s": round(tally.slowest_s, 2),
            "failures": tally.failures, "seconds": round(time.perf_counter() - started, 1)}


def hostile(workdir: Path) -> dict[str, object]:
    """The crafted files of tests/robustness, through the isolated reader: each must be refused."""
    rs = _support()
    from corpus.errors import ReadError
    from corpus.load import load_source
    from corpus.types import ReaderSettings

    settings = ReaderSettings(isolate=True, read_timeout_s=2, max_read_memory_bytes=384 << 20)
    deep = 100_000
    laughs = b"<!ENTITY a0 'lol'>" + b"".join(b"<!ENTITY a%d '%s'>" % (i, b"&a%d;" % (i - 1) * 10)
                                             for i in range(1, 10))
    xml = (b"<?xml version='1.0'?><!DOCTYPE w:document [" + laughs + b"]><w:document xmlns:w='http://"
           b"schemas.openxmlformats.org/wordprocessingml/2006/main'><w:body><w:p><w:r><w:t>&a9;</w:t>"
           b"</w:r></w:p></w:body></w:document>")
    files = {
        "nested.html": b"<html><body>" + b"<div>" * deep + b"x" + b"</div>" * deep,
        "slow.pdf": rs.slow_pdf(),
        "bomb.pdf": rs.flate_bomb_pdf(100),
        "pages.pdf": rs.page_tree_pdf(b"<< /Type /Pages /Kids [" + b" ".join([b"3 0 R"] * 5000) + b"] /Count 5000 >>"),
        "cycle.pdf": rs.page_tree_pdf(b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>"),
        "laughs.docx": rs.replace_docx_part(rs.docx_bytes(["x"]), "word/document.xml", xml),
        "zip-bomb.docx": rs.replace_docx_part(rs.docx_bytes(["x"]), "word/media/zeros.bin", bytes(300 << 20)),
        "nul.txt": b"Members\x00met" * 1000,
        "long-line.txt": b"Wages rose. " * 500_000,
        "binary.md": bytes(range(256)) * 100,
    }
    workdir.mkdir(parents=True, exist_ok=True)
    refused, failures, slowest = 0, [], 0.0
    for name, data in files.items():
        path = workdir / name
        path.write_bytes(data)
        started = time.perf_counter()
        try:
            load_source(str(path), settings)
            failures.append(f"{name}: accepted")
        except ReadError:
            refused += 1
        except Exception as err:
            failures.append(f"{name}: {type(err).__name__}: {err}")
        slowest = max(slowest, time.perf_counter() - started)
    urls = ["http://2130706433/", "http://0x7f000001/", "http://127.1/", "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[fd00::1]/",
            "http://0/", "file:///etc/passwd", "ftp://example.org/x.txt", "gopher://127.0.0.1:25/"]
    for url in urls:
        try:
            load_source(url, settings)
            failures.append(f"{url}: fetched")
        except ReadError as err:
            refused += err.reason.startswith("refused")
            if not err.reason.startswith("refused"):
                failures.append(f"{url}: {err.reason}")
    return {"refused": refused, "crafted": len(files) + len(urls), "slowest_s": round(slowest, 2),
            "failures": failures}


def kills(workdir: Path, rounds: int, seed: int) -> dict[str, object]:
    rs = _support()
    started = time.perf_counter()

    shown = [0]

    def progress(_round: int, tally) -> None:  # type: ignore[no-untyped-def]
        if tally.kills % 10 == 0 and tally.kills != shown[0]:
            shown[0] = tally.kills
            print(f"  ... {tally.kills} kills", file=sys.stderr, flush=True)

    tally = rs.kill_campaign(workdir, rounds, seed, on_round=progress)
    return {"kills": tally.kills, "survived": tally.survived, "isolated_rounds": tally.isolated_rounds,
            "phases": tally.phases, "failures": tally.failures,
            "seconds": round(time.perf_counter() - started, 1)}


def swaps(workdir: Path, batches: int, per_batch: int, threads: int, seed: int) -> dict[str, object]:
    rs = _support()
    started = time.perf_counter()
    tally = rs.searches_during_swaps(workdir, batches, per_batch, threads, seed)
    return {"searches": tally.searches, "swaps": tally.swaps, "generations": len(tally.generations_seen),
            "documents": 5 + batches * per_batch, "failures": tally.errors,
            "seconds": round(time.perf_counter() - started, 1)}


def atheris_all(workdir: Path, runs: int, seed: int) -> dict[str, object]:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return {"runs": "n/a", "note": "atheris is not installed", "failures": []}
    rs = _support()
    seeds = rs.seed_files()
    total, failures, by_format = 0, [], {}
    for suffix in rs.FORMATS:
        corpus = workdir / f"seeds{suffix}"
        corpus.mkdir(parents=True, exist_ok=True)
        for n, data in enumerate(seeds[suffix]):
            (corpus / f"seed-{n}").write_bytes(data)
        crashes = workdir / f"crashes{suffix}"
        crashes.mkdir(exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "bench.robustness", "--atheris-target", suffix, str(corpus),
             f"-runs={runs}", f"-seed={seed}", "-timeout=60", "-rss_limit_mb=3072",
             f"-artifact_prefix={crashes}/", "-print_final_stats=1"],
            cwd=REPO, capture_output=True, text=True, timeout=3600,
        )
        found = re.findall(r"Done (\d+) runs", done.stderr)
        count = int(found[-1]) if found else 0
        by_format[suffix] = count
        total += count
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            failures.append(f"atheris {suffix}: exit {done.returncode}; artifacts in {crashes}\n{tail}")
    return {"runs": total, "by_format": by_format, "failures": failures}


def _atheris_target(suffix: str, libfuzzer_args: list[str]) -> None:
    """Run in a child process: libFuzzer drives the reader for ``suffix`` with mutated bytes."""
    import atheris

    logging.disable(logging.CRITICAL)  # pypdf warns about every damaged file
    with atheris.instrument_imports():
        import corpus.readers.docx
        import corpus.readers.html
        import corpus.readers.markdown
        import corpus.readers.pdf
        import corpus.readers.text  # noqa: F401
        from corpus.errors import ReadError
        from corpus.load import load_source
    from corpus.types import ReaderSettings

    rs = _support()
    settings = ReaderSettings(read_timeout_s=30, isolate=False)  # atheris sees coverage in this process only
    path = Path(tempfile.mkdtemp(prefix="steward-atheris-")) / f"input{suffix}"

    def one(data: bytes) -> None:
        path.write_bytes(data)
        try:
            documents = load_source(str(path), settings)
        except ReadError:
            return
        rs.check_documents(documents)  # raises (a crash for libFuzzer) if an invariant breaks

    atheris.Setup([sys.argv[0], *libfuzzer_args], one)
    atheris.Fuzz()


def discord_refusals() -> dict[str, object]:
    """Crafted Discord interactions refused, counted from the interactions the tests in
    DISCORD_TESTS actually sent, and what a flood from one member cost."""
    if not DISCORD_TESTS.is_file():
        return {"refused": "n/a", "failures": []}
    with tempfile.TemporaryDirectory(prefix="steward-discord-") as tmp:
        figures_path = Path(tmp) / "figures.json"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(DISCORD_TESTS), "-q", "-p", "no:cacheprovider"],
            cwd=REPO, capture_output=True, text=True, timeout=1800,
            env={**os.environ, DISCORD_FIGURES_ENV: str(figures_path)},
        )
        figures = json.loads(figures_path.read_text(encoding="utf-8")) if figures_path.exists() else {}
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    failures = [] if done.returncode == 0 else [f"{DISCORD_TESTS.relative_to(REPO)}: {summary or done.stderr[-500:]}"]
    crafted, flood = figures.get("crafted"), figures.get("flood")
    if crafted is None:
        return {"refused": "n/a", "note": summary or "no crafted interactions were sent",
                "failures": failures or ["the crafted-interaction test recorded no figures"]}
    failures += [f"crafted interaction not refused: {case['name']}: {case['said'][:200]}"
                 for case in crafted["cases"] if not case["refused"]]
    if not crafted["store_unchanged"] or crafted["downloads"] or crafted["syncs"]:
        failures.append(f"crafted interactions changed something: store unchanged "
                        f"{crafted['store_unchanged']}, downloads {crafted['downloads']}, syncs {crafted['syncs']}")
    result: dict[str, object] = {
        "refused": crafted["refused"], "sent": crafted["sent"],
        "hidden_by_discord": crafted["hidden_by_discord"], "cases": crafted["cases"], "failures": failures,
    }
    if flood is not None:
        result["flood"] = flood
    return result


# -- the report ------------------------------------------------------------------------------


def _flood(discord: dict[str, object]) -> str:
    """A flood from one member: questions actually answered of the interactions sent,
    e.g. "4/500 (496 refused, 0 unacknowledged)"."""
    flood = discord.get("flood")
    if not isinstance(flood, dict):
        return "n/a"
    late = flood["interactions"] - flood["acknowledged"]
    return f"{flood['answered']}/{flood['interactions']} ({flood['refused']} refused, {late} unacknowledged)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.robustness", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, about a minute")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (printed by every run)")
    parser.add_argument("--fuzz-per-format", type=int, default=None)
    parser.add_argument("--kills", type=int, default=None)
    parser.add_argument("--atheris-runs", type=int, default=None, help="per format; 0 skips atheris")
    parser.add_argument("--no-discord", action="store_true",
                        help="do not run the Discord crafted-interaction and flood tests")
    parser.add_argument("--atheris-target", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.atheris_target:
        _atheris_target(args.atheris_target[0], args.atheris_target[1:])
        return 0
    logging.disable(logging.CRITICAL)  # damaged files make pypdf chatty (even at ERROR); the figures are the output
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    per_format = args.fuzz_per_format or (60 if args.quick else 1000)
    rounds = args.kills or (20 if args.quick else 100)
    atheris_runs = args.atheris_runs if args.atheris_runs is not None else (300 if args.quick else 5000)
    batches, per_batch, threads = (3, 20, 2) if args.quick else (6, 150, 4)
    print(f"seed {seed}", flush=True)
    started = time.perf_counter()
    parts: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="steward-robustness-") as tmp:
        work = Path(tmp)
        steps = [
            ("fuzz", lambda: fuzz(work / "fuzz", per_format, seed)),
            ("atheris", lambda: atheris_all(work / "atheris", atheris_runs, seed) if atheris_runs
             else {"runs": 0, "failures": []}),
            ("hostile", lambda: hostile(work / "hostile")),
            ("kills", lambda: kills(work / "kills", rounds, seed)),
            ("swaps", lambda: swaps(work / "swaps", batches, per_batch, threads, seed)),
            ("discord", lambda: {"refused": "n/a", "failures": []} if args.no_discord else discord_refusals()),
        ]
        for name, step in steps:
            print(f"{name} ...", file=sys.stderr, flush=True)
            try:
                parts[name] = step()
            except Exception as err:  # a broken step is a failure to report, not a traceback
                parts[name] = {"failures": [f"{name} crashed: {type(err).__name__}: {err}"]}
    failures = [f for part in parts.values() for f in part.get("failures", [])]  # type: ignore[union-attr]
    figures = {
        "files_fuzzed": parts["fuzz"].get("files", 0),
        "atheris_runs": parts["atheris"].get("runs", 0),
        "hostile_inputs_refused": f"{parts['hostile'].get('refused', 0)}/{parts['hostile'].get('crafted', 0)}",
        "kills_survived": f"{parts['kills'].get('survived', 0)}/{parts['kills'].get('kills', 0)}",
        "searches_during_swaps": parts["swaps"].get("searches", 0),
        "swaps": parts["swaps"].get("swaps", 0),
        "crafted_interactions_refused": (f"{parts['discord']['refused']}/{parts['discord']['sent']}"
                                         if "sent" in parts["discord"] else parts["discord"].get("refused", "n/a")),
        "flood_interactions_answered": _flood(parts["discord"]),
        "failures": len(failures),
    }
    result = {"date": dt.date.today().isoformat(), "seed": seed, "quick": args.quick, "machine": machine(),
              "seconds": round(time.perf_counter() - started, 1), "figures": figures, "parts": parts}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key.replace('_', ' '):<{width}}  {value}")
    for failure in failures:
        print(f"FAILURE: {failure}", file=sys.stderr)
    print(f"({result['seconds']} s; {RESULTS.relative_to(REPO)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
