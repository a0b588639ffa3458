"""Backups that restore: a snapshot taken while an ingest runs restores to a data folder
that answers as the source did at one of its two generations; damaged backups are refused
naming the file; a restore never overwrites a folder it was not told to."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from stewardtest import CONFIG, make_steward

import bot.backup as backup_module
from bot.backup import BackupError, parse_every, restore_backup, rotate, verify_backup
from bot.cli import main
from embeddings.generations import Generations

QUESTIONS = (
    "How much did US union membership grow after 1935?",
    "What is a welga ng bayan?",
    "How much does the drivers' strike fund pay each week?",
)

NEW_BULLETIN = """The Harbor Drivers' Strike Fund

The strike fund of the harbor drivers pays each striking driver 300 dollars every week,
from the first day of a strike until the drivers vote to return to work.

Drivers pay two dollars a week into the fund. The fund's trustees are elected by the
drivers each spring, and its accounts are read out at every general meeting.
"""


def _answers(steward: object) -> list[tuple[bool, list[tuple[str, str]]]]:
    out = []
    for question in QUESTIONS:
        answer = steward.ask(question)  # type: ignore[attr-defined]
        out.append((answer.answered, [(q.doc_id, q.key_sentence) for q in answer.quotes]))
    return out


def _backup(data: Path, dest: Path, **kwargs: object) -> Path:
    steward = make_steward(data)
    try:
        return steward.backup(dest, **kwargs).path
    finally:
        steward.close()


def test_a_backup_taken_during_an_ingest_restores_one_of_the_two_generations(
    tmp_path: Path, sample_data_dir: Path, real_encoder: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingesting = make_steward(sample_data_dir, real_encoder)  # the bot, say
    backing_up = make_steward(sample_data_dir)  # `steward backup` in another process, say
    before = _answers(ingesting)
    bulletin = tmp_path / "harbor-strike-fund.txt"
    bulletin.write_text(NEW_BULLETIN, encoding="utf-8")

    # Hold the ingest where it is most dangerous: its document is in the store, the index
    # generation that holds it is not written yet.
    stored, release, retried = threading.Event(), threading.Event(), threading.Event()
    real_sync = ingesting.indexer.sync

    def held_sync(*args: object, **kwargs: object) -> object:
        stored.set()
        release.wait(120)
        return real_sync(*args, **kwargs)

    monkeypatch.setattr(ingesting.indexer, "sync", held_sync)
    real_disagreement = backup_module._disagreement

    def watched(*args: object) -> str | None:
        found = real_disagreement(*args)
        if found is not None:
            retried.set()
        return found

    monkeypatch.setattr(backup_module, "_disagreement", watched)
    ingest = threading.Thread(target=ingesting.ingest, args=([str(bulletin)],))
    ingest.start()
    assert stored.wait(120)
    results: list[object] = []
    taking = threading.Thread(target=lambda: results.append(backing_up.backup(tmp_path / "backups")))
    taking.start()
    assert retried.wait(120), "the backup did not notice the store ahead of the index"
    release.set()
    ingest.join()
    taking.join()
    after = _answers(ingesting)
    assert after != before  # the new bulletin answers the third question
    report = results[0]

    restored = tmp_path / "restored"
    restore_backup(report.path, restored)  # type: ignore[attr-defined]
    steward = make_steward(restored, real_encoder)
    try:
        stats = steward.stats()
        assert stats["passages"] == stats["indexed_passages"]
        assert _answers(steward) in (before, after)
        assert stats["generation"] == report.generation  # type: ignore[attr-defined]
    finally:
        for s in (steward, ingesting, backing_up):
            s.close()


def test_restore_then_stats_and_ask_on_the_restored_folder(tmp_path: Path, sample_data_dir: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    source = main(["--config", str(CONFIG), "--data-dir", str(sample_data_dir), "-q", "stats", "--json"],
                  out=(before := io.StringIO()))
    assert source == 0
    out = io.StringIO()
    assert main(["--config", str(CONFIG), "--data-dir", str(sample_data_dir), "-q", "backup",
                 str(tmp_path / "backups")], out=out) == 0
    snapshot = out.getvalue().split("backup written to ")[1].split(":")[0]
    restored = tmp_path / "restored"
    assert main(["--config", str(CONFIG), "--data-dir", str(restored), "restore", snapshot], out=out) == 0
    assert (restored / "restored-config.toml").read_text() == CONFIG.read_text()
    stats = io.StringIO()
    assert main(["--config", str(CONFIG), "--data-dir", str(restored), "-q", "stats", "--json"], out=stats) == 0
    was, now = json.loads(before.getvalue()), json.loads(stats.getvalue())
    for key in ("documents", "passages", "generation", "indexed_passages", "passages_with_sentence_vectors"):
        assert now[key] == was[key], key
    answer = io.StringIO()
    assert main(["--config", str(CONFIG), "--data-dir", str(restored), "-q", "ask", "--json", QUESTIONS[0]],
                out=answer) == 0
    assert "six million in 1940" in answer.getvalue()


def test_a_truncated_or_altered_backup_is_refused_naming_the_file(
    tmp_path: Path, sample_data_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    snapshot = _backup(sample_data_dir, tmp_path / "backups")
    manifest = verify_backup(snapshot)
    generation = manifest["generation"]

    dense = snapshot / "index" / str(generation) / "dense.faiss"
    dense.write_bytes(dense.read_bytes()[:-10])
    code = main(["backup", "--verify", str(snapshot)], out=io.StringIO())
    assert code == 2
    assert f"index/{generation}/dense.faiss is" in capsys.readouterr().err

    snapshot = _backup(sample_data_dir, tmp_path / "backups")
    store = snapshot / "steward.sqlite3"
    raw = bytearray(store.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, one byte changed
    store.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match=r"steward\.sqlite3 has been altered"):
        verify_backup(snapshot)
    target = tmp_path / "target"
    assert main(["--data-dir", str(target), "restore", str(snapshot)], out=io.StringIO()) == 2
    assert "steward.sqlite3 has been altered" in capsys.readouterr().err
    assert not target.exists()  # checked before anything was written

    (snapshot / "backup.json").unlink()
    with pytest.raises(BackupError, match=r"no backup\.json"):
        verify_backup(snapshot)


def test_restore_refuses_a_folder_that_is_not_empty_and_force_keeps_it_on_failure(
    tmp_path: Path, sample_data_dir: Path,
) -> None:
    snapshot = _backup(sample_data_dir, tmp_path / "backups")
    target = tmp_path / "target"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(BackupError, match=r"not empty.*--force"):
        restore_backup(snapshot, target)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]

    damaged = _backup(sample_data_dir, tmp_path / "other")
    (damaged / "steward.sqlite3").write_bytes(b"")
    with pytest.raises(BackupError, match=r"steward\.sqlite3 is 0 bytes"):
        restore_backup(damaged, target, force=True)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]  # nothing lost

    report = restore_backup(snapshot, target, force=True)
    assert report.replaced
    assert sorted(p.name for p in target.iterdir()) == ["index", "restored-config.toml", "steward.sqlite3"]


def test_a_restore_that_fails_half_way_puts_the_old_contents_back(
    tmp_path: Path, sample_data_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    snapshot = _backup(sample_data_dir, tmp_path / "backups")
    target = tmp_path / "target"
    target.mkdir()
    (target / "steward.sqlite3").write_text("old store")
    real_rename = Path.rename

    def failing_rename(self: Path, to: Path) -> Path:
        if self.name == "steward.sqlite3" and ".restoring-" in str(self):
            raise OSError(28, "No space left on device")
        return real_rename(self, to)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(BackupError, match="put back"):
        restore_backup(snapshot, target, force=True)
    assert sorted(p.name for p in target.iterdir()) == ["steward.sqlite3"]
    assert (target / "steward.sqlite3").read_text() == "old store"


def test_rotation_keeps_the_newest(tmp_path: Path, sample_data_dir: Path) -> None:
    dest = tmp_path / "backups"
    made = [_backup(sample_data_dir, dest, keep=2) for _ in range(3)]
    (dest / "unrelated").mkdir()  # not a backup: never touched
    assert sorted(p.name for p in dest.iterdir()) == sorted([made[1].name, made[2].name, "unrelated"])
    assert rotate(dest, 1) == [made[1].name]


def test_a_pinned_generation_outlives_cleanup(tmp_path: Path) -> None:
    generations = Generations(tmp_path / "index")
    for n in (1, 2, 3):
        (generations.root / f"gen-{n:06d}").mkdir(parents=True)
    generations._point_to("gen-000003")
    with generations.pin("gen-000001"):
        assert "gen-000001" not in generations.cleanup(keep=2)
        assert (generations.root / "gen-000001").is_dir()
    assert generations.cleanup(keep=2) == ["gen-000001"]
    assert not list(generations.root.glob(".pin-*"))


def test_backing_up_nothing_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--config", str(CONFIG), "--data-dir", str(tmp_path / "none"), "backup", str(tmp_path / "b")],
                out=io.StringIO())
    assert code == 2
    assert "nothing to back up" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_every_is_a_period() -> None:
    assert parse_every("") is None
    assert parse_every("1d") == 86400
    assert parse_every("12h") == 12 * 3600
    assert parse_every("30m") == 1800
    for bad in ("daily", "0h", "1y", "-1d"):
        with pytest.raises(ValueError, match="not a period"):
            parse_every(bad)


def test_a_failed_backup_leaves_no_pin_and_no_half_backup(tmp_path: Path, sample_data_dir: Path) -> None:
    from embeddings.errors import IndexError_

    index = sample_data_dir / "index"
    current = (index / "CURRENT").read_text().strip()
    (index / current / "dense.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexError_, match="damaged"):
        _backup(sample_data_dir, tmp_path / "backups")
    assert not list(index.glob(".pin-*"))  # cleanup may remove that generation again
    assert not list((tmp_path / "backups").iterdir())
