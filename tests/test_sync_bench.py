"""`python -m bench.sync` on a small site without the model: the table and JSON it reports
say what a pass did (nothing re-embedded when nothing changed; exactly the 7 edits acted on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.sync import main


def test_the_sync_bench_reports_each_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--articles", "12", "--encoder", "hash", "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert all(kind in table for kind in ("wordpress", "feed", "sitemap", "pattern"))
    result = json.loads((tmp_path / "sync-hash-12.json").read_text())
    for row in result["kinds"]:
        first, idle, edit = row["first"], row["unchanged"], row["five_changed_two_deleted"]
        assert first["documents"] == 12 and first["error"] is None
        assert (idle["bodies_downloaded"], idle["re_embedded_documents"], idle["passages_encoded"]) == (0, 0, 0)
        assert (edit["changed"], edit["removed"], edit["added"], edit["exactly_those_7"]) == (5, 2, 0, True)
