"""bench/soak.py keeps working: a count-based soak (12 questions from several members, with
ingests, removals and backups between them) against the loopback Discord answers every
question (and syncs a followed folder as it changes), writes its JSON and plot, and its
growth rule tells levelling off from a leak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.soak import Sample, judge_growth, main


@pytest.fixture
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)  # the soak serves on one thread, as the bot does


def test_a_short_soak_answers_everything_and_writes_its_results(
    sample_data_dir: Path, tmp_path: Path, one_torch_thread: None, capsys: pytest.CaptureFixture[str],
) -> None:
    out, plot = tmp_path / "soak.json", tmp_path / "soak.png"
    code = main(["--questions", "12", "--interval", "0.2", "--churn", "0.6", "--backup", "1.2",
                 "--every", "0.5", "--data-dir", str(sample_data_dir),
                 "--out", str(out), "--plot", str(plot)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    result = json.loads(out.read_text())
    assert result["problems"] == []
    assert result["summary"]["answers"] == 12
    # every 3rd question an ingest or a removal, alternating; every 6th a backup
    assert (result["summary"]["ingests"], result["summary"]["removals"]) == (2, 2)
    assert result["summary"]["syncs"] == 4  # a followed folder changed and synced with each
    assert result["summary"]["backups"] == 2
    assert result["samples"][-1]["answered"] == 12
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "12 answers" in printed


def _samples(values: list[float]) -> list[Sample]:
    return [Sample(t=120.0 * i, rss_mb=v, fds=20, threads=8, data_mb=1.0, answered=i,
                   latency_p50=0.02, latency_max=0.03) for i, v in enumerate(values)]


def test_growth_that_levels_off_passes_and_steady_growth_fails() -> None:
    # RSS climbs 10 MB every 2 minutes during warm-up, then stays flat: a pass
    warm_up = [400.0, 410, 420, 430, 440, 440, 440, 440, 441, 440, 440, 440]
    assert not judge_growth(_samples(warm_up))["rss_mb"]["failed"]
    # RSS climbs 1 MB every 2 minutes throughout (30 MB/h): a leak
    leak = [400.0 + i for i in range(12)]
    judged = judge_growth(_samples(leak))["rss_mb"]
    assert judged["failed"] and judged["last_per_h"] == pytest.approx(30)
    # too few samples, or too short a run, to judge
    assert judge_growth(_samples(leak[:5])) == {}
    quick = [Sample(**{**vars(s), "t": s.t / 100}) for s in _samples(leak)]
    assert judge_growth(quick) == {}
