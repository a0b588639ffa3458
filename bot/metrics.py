"""Steward's metrics, for Prometheus (``/metrics`` on the health server, off by default).

Counts and timings only: no question text, no member or guild ids, no document titles
(organizing is sensitive). Label values are fixed words (``answered``, ``ok``...), never
anything a member typed.

The service counts questions and ingests (the decorators below, on ``bot.app.Steward``);
the Discord front end counts cooldown refusals and gateway reconnects; the index figures
(documents, passages, generation) are read from the service when ``/metrics`` is scraped.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

F = TypeVar("F", bound=Callable[..., Any])

CONTENT_TYPE = CONTENT_TYPE_LATEST
QUESTION_OUTCOMES = ("answered", "not_found", "cooldown", "failed")
RUN_OUTCOMES = ("ok", "failed")


@dataclass(frozen=True)
class HealthSettings:
    """``[health]``: the HTTP endpoints a monitor polls (``/healthz``, ``/metrics``)."""

    enabled: bool = False
    host: str = "127.0.0.1"  # loopback: only this machine (a local Prometheus or monitor)
    port: int = 9464


# A registry of Steward's own (not the library's global one), so nothing else leaks in.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # RSS, open files, CPU seconds: what a soak run watches

QUESTIONS = Counter("steward_questions", "Questions by outcome (answered, not_found, cooldown: "
                    "refused by the per-member limit, failed: an error)", ["outcome"], registry=REGISTRY)
ANSWER_SECONDS = Histogram(
    "steward_answer_seconds", "Time to answer a question (search and quote choice)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY)
INGESTS = Counter("steward_ingests", "Ingests (steward ingest, /admin add) by outcome", ["outcome"],
                  registry=REGISTRY)
SYNC_RUNS = Counter("steward_sync_runs", "Runs of followed-source syncs by outcome", ["outcome"],
                    registry=REGISTRY)
BACKUPS = Counter("steward_backups", "Scheduled backups by outcome", ["outcome"], registry=REGISTRY)
GATEWAY_RECONNECTS = Counter("steward_gateway_reconnects",
                             "Gateway connections after the first (new sessions and resumes)",
                             registry=REGISTRY)
for _outcome in QUESTION_OUTCOMES:
    QUESTIONS.labels(_outcome)
for _counter in (INGESTS, SYNC_RUNS, BACKUPS):
    for _outcome in RUN_OUTCOMES:
        _counter.labels(_outcome)


def question_refused() -> None:
    """A question refused by the cooldown (nothing was searched)."""
    QUESTIONS.labels("cooldown").inc()


def run_finished(counter: Counter, ok: bool) -> None:
    counter.labels("ok" if ok else "failed").inc()


def counts_question(fn: F) -> F:
    """Wraps ``Steward.ask``: first pages count as answered or not_found, with their time;
    "More passages" pages are the same question and are not counted again."""

    @functools.wraps(fn)
    def wrapper(self: object, question: str, *args: Any, **kwargs: Any) -> Any:
        page = kwargs.get("page", args[1] if len(args) > 1 else 0)
        started = time.perf_counter()
        try:
            answer = fn(self, question, *args, **kwargs)
        except Exception:
            if page == 0:
                QUESTIONS.labels("failed").inc()
            raise
        if page == 0:
            ANSWER_SECONDS.observe(time.perf_counter() - started)
            QUESTIONS.labels("answered" if answer.answered else "not_found").inc()
        return answer

    return wrapper  # type: ignore[return-value]


def counts_ingest(fn: F) -> F:
    """Wraps ``Steward.ingest``: ok when every source was read and the index published."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            report = fn(*args, **kwargs)
        except Exception:
            run_finished(INGESTS, False)
            raise
        run_finished(INGESTS, bool(report.ok))
        return report

    return wrapper  # type: ignore[return-value]


_GENERATION_NUMBER = re.compile(r"(\d+)$")


class IndexCollector(Collector):
    """Documents, passages and the index generation, read when ``/metrics`` is scraped."""

    def __init__(self, status: Callable[[], Mapping[str, object]]) -> None:
        self.status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self.status()
        yield GaugeMetricFamily("steward_documents", "Documents in the store",
                                value=float(status.get("documents") or 0))  # type: ignore[arg-type]
        yield GaugeMetricFamily("steward_passages", "Passages in the store",
                                value=float(status.get("passages") or 0))  # type: ignore[arg-type]
        found = _GENERATION_NUMBER.search(str(status.get("generation") or ""))
        yield GaugeMetricFamily("steward_index_generation",
                                "Number of the current index generation (0: none yet)",
                                value=float(found.group(1)) if found else 0.0)
        yield GaugeMetricFamily("steward_index_loaded",
                                "1 when an index generation is loaded for answering",
                                value=1.0 if status.get("loaded") else 0.0)


def render(status: Callable[[], Mapping[str, object]]) -> bytes:
    """The metrics in Prometheus' text format, with the index figures from ``status``."""
    index = CollectorRegistry()  # per scrape: two scrapes at once each have their own
    index.register(IndexCollector(status))
    return generate_latest(REGISTRY) + generate_latest(index)
