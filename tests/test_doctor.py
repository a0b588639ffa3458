"""`steward doctor`: every check ✓ on a working data folder (and after a restore), and one ✗
line saying what to do for a broken setting, a damaged store, an index that disagrees with
the store or was built with another model; a store from Steward 0.1 is upgraded in place."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest
from stewardtest import CONFIG, make_steward

from bot.backup import restore_backup
from bot.cli import main
from bot.doctor import run_doctor


def doctor(data: Path, *extra: str, config: Path = CONFIG) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--config", str(config), "--data-dir", str(data), "doctor", "--no-discord",
                 *extra], out)
    return code, out.getvalue()


def marks(text: str) -> dict[str, str]:
    """check name -> its line."""
    return {line[2:].split(":")[0]: line for line in text.splitlines()}


def test_a_working_data_folder_is_all_checked(sample_data_dir: Path) -> None:
    code, text = doctor(sample_data_dir)
    assert code == 0, text
    lines = marks(text)
    assert set(lines) == {"config", "data folder", "store", "index", "model"}
    assert all(line.startswith("✓") for line in lines.values())
    assert "86 passages" in lines["index"] and "384 dimensions" in lines["model"]
    code, text = doctor(sample_data_dir, "--json", "--no-model")
    parsed = json.loads(text)
    assert code == 0 and parsed["ok"] is True
    assert [c["name"] for c in parsed["checks"]] == ["config", "data folder", "store", "index"]


def test_a_bad_setting_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.read_text().replace("query_retention_days = 90",
                                                 "query_retention_days = -5"))
    code, text = doctor(tmp_path / "data", config=config)
    assert code == 1
    assert text.startswith("✗ config:") and "query_retention_days" in text and len(text.splitlines()) == 1


def test_a_damaged_store_is_named_with_what_to_do(sample_data_dir: Path) -> None:
    store = sample_data_dir / "steward.sqlite3"
    data = bytearray(store.read_bytes())
    page = 4096
    for at in range(page * 2, len(data) - page, page):  # every page but the header's
        data[at + 100: at + 400] = b"\xff" * 300
    store.write_bytes(bytes(data))
    code, text = doctor(sample_data_dir, "--no-model")
    line = marks(text)["store"]
    assert code == 1 and line.startswith("✗ store:")
    assert "steward restore" in line and "Traceback" not in text


def test_an_index_that_disagrees_with_the_store(sample_data_dir: Path) -> None:
    conn = sqlite3.connect(sample_data_dir / "steward.sqlite3")
    conn.execute("PRAGMA foreign_keys=ON")
    doc = conn.execute("SELECT doc_id FROM documents LIMIT 1").fetchone()[0]
    conn.execute("DELETE FROM passages WHERE doc_id=?", (doc,))
    conn.commit()
    conn.close()
    code, text = doctor(sample_data_dir, "--no-model")
    line = marks(text)["index"]
    assert code == 1 and "holds 86 passages but the store has" in line
    assert "steward reindex" in line


def test_an_index_built_with_another_model(sample_data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    text = CONFIG.read_text()
    assert 'model = "' in text
    start = text.index('model = "')
    end = text.index('"', start + 9)
    config.write_text(text[:start] + 'model = "multilingual-e5-small' + text[end:])
    code, said = doctor(sample_data_dir, "--no-model", config=config)
    line = marks(said)["index"]
    assert code == 1 and "multilingual-e5-small" in line and "steward reindex" in line


def test_a_restored_backup_is_all_checked(sample_data_dir: Path, real_encoder: object,
                                          tmp_path: Path) -> None:
    steward = make_steward(sample_data_dir, real_encoder)
    try:
        report = steward.backup(tmp_path / "backups")
    finally:
        steward.close()
    restore_backup(report.path, tmp_path / "restored")
    code, text = doctor(tmp_path / "restored")
    assert code == 0, text
    assert all(line.startswith("✓") for line in text.splitlines())


def test_a_store_from_steward_0_1_is_upgraded_in_place(sample_data_dir: Path,
                                                       real_encoder: object) -> None:
    # Steward 0.1's layout: schema 1, no migrations table, none of the columns added since.
    conn = sqlite3.connect(sample_data_dir / "steward.sqlite3")
    for table, column in (("passages", "sentences"), ("passages", "headings"),
                          ("passages", "language"), ("documents", "headings"),
                          ("documents", "language")):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("DROP TABLE migrations")
    conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    checks = {c.name: c for c in run_doctor(str(CONFIG), str(sample_data_dir), model=False)}
    assert checks["store"].ok and "schema 1, brought up to" in checks["store"].detail

    steward = make_steward(sample_data_dir, real_encoder)
    try:
        assert steward.store.schema_version > 1
        answer = steward.ask("How much did US union membership grow after 1935?")
        assert answer.answered
        assert "six million" in answer.quotes[0].text
    finally:
        steward.close()
    checks = {c.name: c for c in run_doctor(str(CONFIG), str(sample_data_dir), model=False)}
    assert all(c.ok for c in checks.values()) and "brought up" not in checks["store"].detail


@pytest.mark.parametrize("free", [10])
def test_low_disk_is_reported(sample_data_dir: Path, free: int) -> None:
    code, text = doctor(sample_data_dir, "--no-model", "--min-free-mb", str(10**9))
    line = marks(text)["data folder"]
    assert code == 1 and "MB free" in line and "free disk space" in line
