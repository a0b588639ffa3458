"""The service counts what /metrics reports: ingests by outcome, first-page questions with
their time (a "More passages" page is the same question), and the index figures."""

from __future__ import annotations

from pathlib import Path

from bot import metrics
from bot.app import samples_dir
from bot.metrics import REGISTRY


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_ingests_and_questions_are_counted(fast_steward: object, tmp_path: Path) -> None:
    ok, failed = _value("steward_ingests_total", outcome="ok"), _value("steward_ingests_total", outcome="failed")
    sample = sorted(samples_dir().glob("*.txt"))[0]
    fast_steward.ingest([str(sample)])  # type: ignore[attr-defined]
    fast_steward.ingest([str(tmp_path / "missing.txt")])  # type: ignore[attr-defined]
    assert _value("steward_ingests_total", outcome="ok") == ok + 1
    assert _value("steward_ingests_total", outcome="failed") == failed + 1

    asked = _value("steward_answer_seconds_count")
    counted = sum(_value("steward_questions_total", outcome=o) for o in ("answered", "not_found"))
    fast_steward.ask("union membership after 1935")  # type: ignore[attr-defined]
    fast_steward.ask("union membership after 1935", None, 1)  # type: ignore[attr-defined]
    fast_steward.ask("union membership after 1935", page=2)  # type: ignore[attr-defined]
    assert _value("steward_answer_seconds_count") == asked + 1
    assert sum(_value("steward_questions_total", outcome=o) for o in ("answered", "not_found")) == counted + 1

    text = metrics.render(fast_steward.index_status).decode()  # type: ignore[attr-defined]
    documents, passages = fast_steward.store.counts()  # type: ignore[attr-defined]
    assert f"steward_documents {float(documents)}" in text
    assert f"steward_passages {float(passages)}" in text
    assert "steward_index_generation 1.0" in text
    assert "union" not in text and "membership" not in text


def test_a_scrape_survives_a_store_it_cannot_read() -> None:
    def broken() -> dict[str, object]:
        return {}

    text = metrics.render(broken).decode()
    assert "steward_documents 0.0" in text and "steward_index_loaded 0.0" in text
