"""Upgrading: an index generation built with other settings (another chunker, another model)
is refused with one line naming `steward reindex`, nothing is changed by the refusal, and
after `steward reindex` Steward answers and `steward doctor` is all ✓. (A store in Steward
0.1's layout upgraded in place: tests/test_doctor.py.)"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from stewardtest import CONFIG

from bot.cli import main

QUESTION = "How much did US union membership grow after 1935?"


def steward(config: Path, data: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--config", str(config), "--data-dir", str(data), "-q", *argv], out)
    return code, out.getvalue(), err.getvalue()


def settings_with(tmp_path: Path, old: str, new: str) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = tmp_path / "changed.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def index_files(data: Path) -> dict[str, bytes]:
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted((data / "index").rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


@pytest.mark.parametrize(("old", "new", "named"), [
    ("target_words = 110", "target_words = 80", "chunker"),
    ('model = "sentence-transformers/all-MiniLM-L6-v2"', 'model = "multilingual-e5-small"',
     "multilingual-e5-small"),
])
def test_an_index_built_with_other_settings_is_refused_in_one_line(
    sample_data_dir: Path, tmp_path: Path, old: str, new: str, named: str,
) -> None:
    changed = settings_with(tmp_path, old, new)
    before = index_files(sample_data_dir)
    code, out, err = steward(changed, sample_data_dir, "ask", QUESTION)
    assert code != 0 and out == ""
    [line] = err.strip().splitlines()
    assert named in line and "`steward reindex`" in line
    assert index_files(sample_data_dir) == before  # the refusal changed nothing


def test_reindex_after_a_chunker_change_answers_and_doctor_is_all_checked(
    sample_data_dir: Path, tmp_path: Path,
) -> None:
    changed = settings_with(tmp_path, "target_words = 110", "target_words = 80")
    code, out, err = steward(changed, sample_data_dir, "reindex")
    assert code == 0, err
    code, out, err = steward(changed, sample_data_dir, "ask", QUESTION)
    assert code == 0, err
    assert "six million" in out
    code, out, _ = steward(changed, sample_data_dir, "doctor", "--no-discord", "--no-model")
    assert code == 0, out
    assert all(line.startswith("✓") for line in out.splitlines())
    # and the old settings are now the ones refused
    code, _, err = steward(CONFIG, sample_data_dir, "ask", QUESTION)
    assert code != 0 and "chunker" in err and "`steward reindex`" in err
