"""A soak of the running bot: does Steward stay healthy when it serves for a long time?

    python -m bench.soak --minutes 30               # the run in docs/reliability.md
    python -m bench.soak --minutes 3 --every 10     # a quick look
    python -m bench.soak --questions 12             # count-based (tests/test_soak_smoke.py)

The real StewardBot (real model, the shipped samples) runs against the loopback fake Discord
of tests/fakediscord, as the Discord tests run it. Several members ask /ask at a steady rate
(one question every ``--interval`` seconds, spread over the members so none hits the
cooldown); every ``--churn`` seconds' worth of questions a bulletin is ingested or removed
again (in a worker thread, as an admin's ``/admin add`` or a ``steward ingest`` beside the
bot would) and a notice in a followed folder is added or rewritten and synced; every
``--backup`` seconds' worth a backup is taken (``keep=3``). Pacing by
question count keeps a count-based run (``--questions``) doing the same work anywhere.
Every ``--every`` seconds it samples the process's RSS, open file descriptors and threads,
the data folder's size on disk and the answer latencies since the last sample.

It fails (exit 1) when

* any question goes unanswered (no follow-up within 120 s, or Discord refused it), any
  ingest, removal or backup raises, or the fake Discord recorded a broken rule; or
* a resource keeps growing: for RSS, fds, threads and data-folder size, the least-squares
  slope over the last third of the samples is both above a floor (RSS 10 MB/h, 30 fds/h,
  10 threads/h, data 100 MB/h) and more than half the slope of the first third. Warm-up
  growth that levels off passes; growth that goes on at the start's rate fails. Runs shorter
  than 10 minutes or with fewer than 9 samples are not judged on growth.

Results: ``bench/results/soak.json`` and the plot ``docs/soak.png`` (``--out`` and ``--plot``
move them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.machine import status_kb

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "soak.json"
PLOT = REPO / "docs" / "soak.png"

QUESTIONS = [
    "How much did US union membership grow after 1935?",
    "What is a welga ng bayan?",
    "Who organized the maquiladora workers?",
    "What happened at the general strike?",
    "How do workers build tri-national labor unity?",
    "What did the union win in the contract?",
    "Why did the workers go on strike?",
    "How many members does the union have?",
]
MEMBERS = 6
ANSWER_TIMEOUT = 120.0
# Growth that goes on at more than this per hour in the last third fails (with the slope rule).
# RSS was 60 MB/h until the first 30-minute run grew a steady ~58 MB/h and passed: a leak of
# 1.4 GB a day is what this bench is for, so the floor is now low enough to catch it.
FLOORS_PER_HOUR = {"rss_mb": 10.0, "fds": 30.0, "threads": 10.0, "data_mb": 100.0}
MIN_JUDGED_S = 600  # growth over a shorter run is warm-up, not a trend

BULLETIN = """Soak bulletin {n}

Local {n} members voted to ratify the new contract after a three-week campaign. The
agreement raises wages by four percent each year and adds two paid days of leave.

Stewards in every department collected grievances about forced overtime. The bargaining
committee won a rule that overtime is offered by seniority and can be refused twice a month.

The next membership meeting is on the first Tuesday of the month in the union hall.
"""


@dataclass
class Sample:
    t: float  # seconds since the start
    rss_mb: float
    fds: int
    threads: int
    data_mb: float
    answered: int  # questions answered so far
    latency_p50: float | None  # over the answers since the last sample
    latency_max: float | None


@dataclass
class Soak:
    settings: dict[str, Any]
    samples: list[Sample] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    ingests: int = 0
    removals: int = 0
    syncs: int = 0
    backups: int = 0
    growth: dict[str, dict[str, float]] = field(default_factory=dict)

    def verdict(self) -> list[str]:
        problems = list(self.failures)
        for name, g in self.growth.items():
            if g["failed"]:
                problems.append(f"{name} keeps growing: {g['last_per_h']:+.1f}/h in the last third "
                                f"against {g['first_per_h']:+.1f}/h in the first")
        return problems


def _threads() -> int:
    # OS threads (torch, FAISS and SQLite workers too), not just Python's.
    return len(os.listdir("/proc/self/task"))


def _disk_mb(folder: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue  # removed while we walked (an old index generation cleaned up)
    return total / 1024 / 1024


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2:
        return 0.0
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return sum((t - mt) * (v - mv) for t, v in points) / den * 3600


def judge_growth(samples: list[Sample]) -> dict[str, dict[str, float]]:
    """The growth rule in the module docstring, per resource."""
    if len(samples) < 9 or samples[-1].t - samples[0].t < MIN_JUDGED_S:
        return {}
    third = len(samples) // 3
    out: dict[str, dict[str, float]] = {}
    for name, floor in FLOORS_PER_HOUR.items():
        first = slope_per_hour([(s.t, getattr(s, name)) for s in samples[:third]])
        last = slope_per_hour([(s.t, getattr(s, name)) for s in samples[-third:]])
        failed = last > floor and last > 0.5 * max(first, 0.0)
        out[name] = {"first_per_h": round(first, 2), "last_per_h": round(last, 2),
                     "floor_per_h": floor, "failed": float(failed)}
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _soak(args: argparse.Namespace, work: Path) -> Soak:
    sys.path.insert(0, str(REPO / "tests"))
    import torch
    from fakediscord import FakeUser, connected_bot, running_fake_discord, snowflake

    from bot.app import Steward
    from bot.config import load_config
    from bot.discord.client import StewardBot

    torch.set_num_threads(1)  # the bot's single question worker does best on a shared machine
    data = work / "data"
    if args.data_dir:
        shutil.copytree(args.data_dir, data, ignore=shutil.ignore_patterns("*.lock"))
    steward = Steward(load_config(REPO / "config.toml", data))
    steward.ensure_samples()
    steward.ask(QUESTIONS[0])  # the model is loaded before the clock starts
    soak = Soak(settings={k: v for k, v in vars(args).items() if k not in ("out", "plot")})
    bulletins = work / "bulletins"
    bulletins.mkdir()
    # A followed folder (bot/sync.py) whose notices change as the soak goes, synced with the churn.
    followed = work / "followed"
    followed.mkdir()
    (followed / "notice-0.txt").write_text(BULLETIN.format(n=1000))
    steward.sync.follow(str(followed), kind="folder")
    stop = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()
    since_sample: list[float] = []
    start = time.monotonic()

    async with running_fake_discord() as fake:
        members = [FakeUser(snowflake(), f"member{i}") for i in range(MEMBERS)]
        for member in members:
            fake.guild.add_member(member)
        async with connected_bot(StewardBot(steward, steward.config.discord, sync="global"),
                                 fake, timeout=60):

            async def ask(n: int) -> None:
                question = QUESTIONS[n % len(QUESTIONS)]
                began = time.monotonic()
                try:
                    inter = await fake.send_slash_command(
                        "ask", {"question": question}, user=members[n % MEMBERS])
                    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
                except Exception as e:  # any failure is a finding, recorded
                    soak.failures.append(f"question {n} ({question!r}): {type(e).__name__}: {e}")
                    return
                if not answer.ok or not (answer.data or {}).get("embeds"):
                    soak.failures.append(f"question {n} ({question!r}): {answer.status} {answer.data}")
                    return
                took = time.monotonic() - began
                soak.latencies.append(took)
                since_sample.append(took)

            # Churn and backups are paced by the question count (at the steady question rate,
            # every --churn / --backup seconds), so a count-based run does the same work
            # whatever the machine's speed. One at a time, like an admin would.
            churn_every = max(1, round(args.churn / args.interval))
            backup_every = max(1, round(args.backup / args.interval))
            writer = asyncio.Lock()
            added: list[str] = []

            async def churn(n: int) -> None:
                async with writer:
                    try:
                        if not added:
                            path = bulletins / f"soak-{n}.txt"
                            path.write_text(BULLETIN.format(n=n))
                            report = await asyncio.to_thread(steward.ingest, [str(path)])
                            if not report.ok or not report.added:
                                raise RuntimeError(report.summary())
                            added.append(report.added[0])
                            soak.ingests += 1
                        else:
                            doc_id = added.pop()
                            if await asyncio.to_thread(steward.remove, doc_id) is None:
                                raise RuntimeError(f"{doc_id} was not there to remove")
                            soak.removals += 1
                        # a notice added or rewritten in the followed folder, then a sync
                        (followed / f"notice-{n % 3}.txt").write_text(BULLETIN.format(n=1000 + n))
                        for outcome in await asyncio.to_thread(steward.sync.run):
                            if outcome.error:
                                raise RuntimeError(f"sync of {outcome.source.url}: {outcome.error}")
                        soak.syncs += 1
                    except Exception as e:
                        soak.failures.append(f"churn after question {n}: {type(e).__name__}: {e}")

            async def backup() -> None:
                async with writer:
                    try:
                        await asyncio.to_thread(steward.backup, work / "backups", 3)
                        soak.backups += 1
                    except Exception as e:
                        soak.failures.append(f"backup: {type(e).__name__}: {e}")

            def launch(coro: Any) -> None:
                task = asyncio.create_task(coro)
                pending.add(task)
                task.add_done_callback(pending.discard)

            async def questions() -> None:
                n = 0
                while not stop.is_set() and (args.questions is None or n < args.questions):
                    launch(ask(n))
                    n += 1
                    if n % churn_every == 0:
                        launch(churn(n))
                    if n % backup_every == 0:
                        launch(backup())
                    await _sleep(stop, args.interval)
                while pending:
                    await asyncio.gather(*list(pending))
                stop.set()

            def take_sample() -> None:
                # The fake Discord shares this process: its log of requests, its answered
                # interactions (an /ask's deferred reply edits the original message, so it
                # records no follow-up id: match on the records), its ping log and its gateway
                # replay buffer would count as the bot's growth. (Messages stay: the bot
                # edits them when their buttons time out.)
                fake.requests.clear()
                fake.pings.clear()
                now = asyncio.get_running_loop().time()
                for iid in [i for i, inter in fake.interactions.items()
                            if inter.records and now - inter.dispatched_at > 120]:
                    del fake.interactions[iid]
                for session in fake.gateway.sessions.values():
                    del session.sent[:-200]  # a resume replays far fewer than this
                lat = list(since_sample)
                since_sample.clear()
                soak.samples.append(Sample(
                    t=round(time.monotonic() - start, 1), rss_mb=round(status_kb("VmRSS") / 1024, 1),
                    fds=len(os.listdir("/proc/self/fd")), threads=_threads(),
                    data_mb=round(_disk_mb(data), 2), answered=len(soak.latencies),
                    latency_p50=round(statistics.median(lat), 3) if lat else None,
                    latency_max=round(max(lat), 3) if lat else None))

            async def sampler() -> None:
                take_sample()
                while not await _sleep(stop, args.every):
                    take_sample()
                take_sample()  # the end state, after the last answers

            async def clock() -> None:
                if args.questions is None:
                    await _sleep(stop, args.minutes * 60)
                    stop.set()

            await asyncio.gather(questions(), sampler(), clock())
        soak.failures.extend(f"Discord rule broken: {v}" for v in fake.violations)
    steward.close()
    soak.growth = judge_growth(soak.samples)
    return soak


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when the soak was stopped meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


def plot(soak: Soak, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t / 60 for s in soak.samples]
    fig, axes = plt.subplots(5, 1, figsize=(8, 10), sharex=True)
    series = [("rss_mb", "RSS (MB)"), ("fds", "open fds"), ("threads", "threads"),
              ("data_mb", "data folder (MB)")]
    for ax, (name, label) in zip(axes, series, strict=False):
        ax.plot(t, [getattr(s, name) for s in soak.samples], marker=".")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    lat = [(s.t / 60, s.latency_p50, s.latency_max) for s in soak.samples if s.latency_p50 is not None]
    axes[4].plot([x for x, _, _ in lat], [p for _, p, _ in lat], marker=".", label="median")
    axes[4].plot([x for x, _, _ in lat], [m for _, _, m in lat], marker=".", label="max")
    axes[4].set_ylabel("answer latency (s)")
    axes[4].set_ylim(bottom=0)
    axes[4].legend()
    axes[4].grid(alpha=0.3)
    axes[4].set_xlabel("minutes")
    fig.suptitle(f"Steward soak: {len(soak.latencies)} answers, {soak.ingests} ingests, "
                 f"{soak.removals} removals, {soak.syncs} folder syncs, {soak.backups} backups")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30, help="how long to run (default 30)")
    p.add_argument("--questions", type=int, help="stop after this many questions instead")
    p.add_argument("--interval", type=float, default=2.5, help="seconds between questions (2.5)")
    p.add_argument("--churn", type=float, default=120, help="seconds between ingests/removals (120)")
    p.add_argument("--backup", type=float, default=300, help="seconds between backups (300)")
    p.add_argument("--every", type=float, default=30, help="seconds between samples (30)")
    p.add_argument("--data-dir", help="start from a copy of this data folder (default: the samples)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    p.add_argument("--plot", type=Path, default=PLOT, help=f"PNG plot (default {PLOT})")
    args = p.parse_args(argv)
    if args.interval <= 0 or args.every <= 0 or (args.questions is not None and args.questions < 1):
        p.error("--interval and --every must be positive, --questions at least 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="steward-soak-") as tmp:
        soak = asyncio.run(_soak(args, Path(tmp)))
    problems = soak.verdict()
    summary = {
        "answers": len(soak.latencies),
        "latency_p50_s": round(statistics.median(soak.latencies), 3) if soak.latencies else None,
        "latency_p95_s": round(_percentile(soak.latencies, 0.95), 3) if soak.latencies else None,
        "latency_max_s": round(max(soak.latencies), 3) if soak.latencies else None,
        "ingests": soak.ingests, "removals": soak.removals, "syncs": soak.syncs,
        "backups": soak.backups,
        "python_threads_at_end": threading.active_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "settings": soak.settings, "summary": summary, "growth": soak.growth,
        "problems": problems, "samples": [asdict(s) for s in soak.samples],
    }, indent=1, default=str))
    if soak.samples:
        plot(soak, args.plot)
    first, last = (soak.samples[0], soak.samples[-1]) if soak.samples else (None, None)
    print(f"{summary['answers']} answers (median {summary['latency_p50_s']} s, p95 "
          f"{summary['latency_p95_s']} s, max {summary['latency_max_s']} s), {soak.ingests} ingests, "
          f"{soak.removals} removals, {soak.syncs} folder syncs, {soak.backups} backups")
    if first and last:
        print(f"RSS {first.rss_mb:.0f} -> {last.rss_mb:.0f} MB, fds {first.fds} -> {last.fds}, "
              f"threads {first.threads} -> {last.threads}, data {first.data_mb:.1f} -> "
              f"{last.data_mb:.1f} MB over {last.t / 60:.1f} min")
    for name, g in soak.growth.items():
        print(f"  {name}: first third {g['first_per_h']:+.1f}/h, last third {g['last_per_h']:+.1f}/h")
    print(f"results: {args.out}, plot: {args.plot}")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
