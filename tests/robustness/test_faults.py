"""Crashes, full disks, damaged files and searches during swaps: the previous generation keeps
serving, the store and the index agree, and the next run completes the work.

tests/test_index.py already kills a bare ``Indexer.sync`` 20 times and checks damaged index
files at the Searcher; here the kills hit a real multi-format ``Steward.ingest``, the disk
fills up under it, and the errors are checked where users see them (the CLI).
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from robustness_support import (
    CONFIG,
    documents_in,
    hash_encoder,
    kill_campaign,
    make_steward,
    searches_during_swaps,
    store_agrees_with_index,
    write_corpus,
)

import bot.app
import embeddings.dense
import embeddings.generations
from bot.cli import main
from corpus.errors import StoreError
from embeddings.errors import IndexError_
from embeddings.generations import DENSE_FILE


def test_sigkill_at_20_random_moments_of_a_real_ingest(tmp_path: Path) -> None:
    tally = kill_campaign(tmp_path, rounds=20, seed=20240501)
    assert tally.failures == []
    assert tally.kills == tally.survived == 20
    assert tally.isolated_rounds >= 3  # some kills also orphan a reader process


def test_searches_never_fail_during_ingests_and_swaps(tmp_path: Path) -> None:
    tally = searches_during_swaps(tmp_path, batches=3, per_batch=20, threads=2, kinds=(".txt", ".md"))
    assert tally.errors == []
    assert tally.swaps >= 5 and len(tally.generations_seen) >= 3
    assert tally.searches >= 50


# -- a full disk while a generation is written -------------------------------------------------


def _leftovers(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith(".") and p.name != ".lock")


def _fail_dense_save(self: object, path: Path) -> None:
    Path(path).write_bytes(b"partial")
    raise RuntimeError(f"Error in faiss::write_index: write error in {path}: 7 != 4096 (No space left on device)")


def _fail_flush(path: Path) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("stage", ["dense file", "flush", "pointer"])
def test_a_failing_write_keeps_the_previous_generation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       stage: str) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs, range(3))
    steward = make_steward(tmp_path / "data", hash_encoder(), reader__isolate=False)
    index = steward.generations.root
    try:
        steward.ingest([str(docs)])
        serving = steward.generations.current_name()
        write_corpus(docs, range(3, 6))
        with monkeypatch.context() as patch:
            if stage == "dense file":
                patch.setattr(embeddings.dense.DenseIndex, "save", _fail_dense_save)
            elif stage == "flush":
                patch.setattr(embeddings.generations, "fsync_tree", _fail_flush)
            else:
                real_fsync = os.fsync

                def fsync(fd: int) -> None:
                    if ".CURRENT." in os.readlink(f"/proc/self/fd/{fd}"):
                        raise OSError(errno.ENOSPC, "No space left on device")
                    real_fsync(fd)

                patch.setattr(os, "fsync", fsync)
            with pytest.raises(IndexError_, match=r"disk may be full\. The previous generation still serves"):
                steward.ingest([str(docs)])
        assert steward.generations.current_name() == serving
        assert _leftovers(index) == []
        other = make_steward(tmp_path / "data", hash_encoder(), reader__isolate=False)
        try:
            assert other.search("members wages", 3)  # the bot, in another process, still answers
        finally:
            other.close()
        # Space again: the next ingest completes what the failed one started.
        report = steward.ingest([str(docs)])
        assert report.ok and report.sync is not None and report.sync.changed
        assert store_agrees_with_index(steward) is None
        assert steward.store.counts()[0] == documents_in(docs)
        assert _leftovers(index) == []
    finally:
        steward.close()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs root and mount permission; skipped where there is none)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _cli(args: list[str], data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(["--config", str(CONFIG), "--data-dir", str(data), "-q", *args], out=out)
    return code, out.getvalue(), capsys.readouterr().err


def test_a_real_full_disk_is_a_clear_error_and_space_again_completes(
        tmp_path: Path, tiny_disk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bot.app, "load_encoder", lambda *_a, **_k: hash_encoder())
    data = tiny_disk / "data"
    small, large = tmp_path / "small", tmp_path / "large"
    write_corpus(small, range(2))
    for n in range(40):
        (large / f"long-{n}.txt").parent.mkdir(exist_ok=True)
        (large / f"long-{n}.txt").write_text(" ".join(f"Members of local {n} met about wages {j} and "
                                                      f"safety {j * 7}." for j in range(600)))
    code, _out, err = _cli(["ingest", str(small)], data, capsys)
    assert code == 0, err
    serving = (data / "index" / "CURRENT").read_text().strip()

    code, _out, err = _cli(["ingest", str(large)], data, capsys)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("steward: error: ") and len(err.strip().splitlines()) == 1
    assert "disk is full" in err or "disk may be full" in err
    assert (data / "index" / "CURRENT").read_text().strip() == serving
    assert _leftovers(data / "index") == []
    code, out, err = _cli(["search", "members wages", "--json"], data, capsys)
    assert code == 0 and '"results"' in out, err  # still served, from the old generation

    subprocess.run(["mount", "-o", "remount,size=256m", str(tiny_disk)], check=True)
    code, out, err = _cli(["ingest", str(large)], data, capsys)
    assert code == 0, err
    steward = make_steward(data, hash_encoder(), reader__isolate=False)
    try:
        assert store_agrees_with_index(steward) is None
        assert steward.store.counts()[0] == 2 + 40
    finally:
        steward.close()
    assert _leftovers(data / "index") == []


def test_a_full_disk_in_the_store_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where tmpfs cannot be mounted: SQLite's own 'database or disk is full' from a write."""
    import sqlite3

    docs = tmp_path / "docs"
    write_corpus(docs, range(2))
    steward = make_steward(tmp_path / "data", hash_encoder(), reader__isolate=False)
    try:
        steward.ingest([str(docs)])
        write_corpus(docs, range(2, 4))
        real = steward.store._conn

        class Full:  # every write fails as SQLite fails on a full disk; reads work
            def __getattr__(self, name: str) -> object:
                return getattr(real, name)

            def execute(self, sql: str, *args: object) -> object:
                if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                    raise sqlite3.OperationalError("database or disk is full")
                return real.execute(sql, *args)

            def executemany(self, *args: object) -> None:
                raise sqlite3.OperationalError("database or disk is full")

        steward.store._conn = Full()  # type: ignore[assignment]
        with pytest.raises(StoreError, match="the disk is full"):
            steward.ingest([str(docs)])
        assert not real.in_transaction
        # Members still get answers: only the usage count is lost.
        assert steward.ask("What did members vote on about wages?").question
        steward.store._conn = real
        assert not real.in_transaction
        report = steward.ingest([str(docs)])
        assert report.ok and steward.store.counts()[0] == documents_in(docs)
        assert store_agrees_with_index(steward) is None
    finally:
        steward.close()


# -- damaged index files, as the user meets them -----------------------------------------------


@pytest.mark.parametrize("damage", ["truncated index", "garbage index", "missing manifest", "bad pointer"])
def test_damaged_index_is_one_clear_line_and_reindex_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    monkeypatch.setattr(bot.app, "load_encoder", lambda *_a, **_k: hash_encoder())
    data, docs = tmp_path / "data", tmp_path / "docs"
    write_corpus(docs, range(3))
    assert _cli(["ingest", str(docs)], data, capsys)[0] == 0
    current = data / "index" / (data / "index" / "CURRENT").read_text().strip()
    if damage == "truncated index":
        (current / DENSE_FILE).write_bytes((current / DENSE_FILE).read_bytes()[:200])
    elif damage == "garbage index":
        (current / DENSE_FILE).write_bytes(os.urandom(4096))
    elif damage == "missing manifest":
        (current / "manifest.json").unlink()
    else:
        shutil.rmtree(current)
    for command in (["search", "wages"], ["ask", "What did members vote on?"], ["ingest", str(docs)]):
        code, _out, err = _cli(command, data, capsys)
        assert code == 2 and "Traceback" not in err, (command, err)
        assert len(err.strip().splitlines()) == 1 and "steward reindex" in err, (command, err)
    code, out, err = _cli(["reindex"], data, capsys)
    assert code == 0, err
    code, out, err = _cli(["search", "wages", "--json"], data, capsys)
    assert code == 0 and '"results"' in out


def test_a_running_searcher_keeps_serving_when_a_new_generation_is_damaged(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs, range(3))
    writer = make_steward(tmp_path / "data", hash_encoder(), reader__isolate=False)
    bot_side = make_steward(tmp_path / "data", hash_encoder(), reader__isolate=False)
    try:
        writer.ingest([str(docs)])
        assert bot_side.search("members wages", 3)
        served = bot_side.searcher._loaded.name  # type: ignore[union-attr]
        write_corpus(docs, range(3, 5))
        newer = writer.ingest([str(docs)]).sync.generation  # type: ignore[union-attr]
        (writer.generations.root / newer / "manifest.json").write_text("{damaged")
        assert bot_side.search("members wages", 3)  # no error: the loaded generation serves on
        assert bot_side.searcher._loaded.name == served  # type: ignore[union-attr]
        writer.reindex()  # a good generation again: picked up
        assert bot_side.search("members wages", 3)
        assert bot_side.searcher._loaded.name == writer.generations.current_name()  # type: ignore[union-attr]
    finally:
        writer.close()
        bot_side.close()


def test_keyword_index_loads_are_serialised(tmp_path: Path) -> None:
    """numpy reads .npy headers with ast.literal_eval, which CPython 3.11 cannot run in two
    threads at once (python/cpython#106905; seen as a SystemError in a search during a swap):
    every keyword-index load takes one lock."""
    import threading

    from embeddings.bm25 import TermCounts
    from embeddings.generations import KEYWORD_DIR
    from embeddings.keyword import NPY_LOCK, KeywordIndex

    docs = tmp_path / "docs"
    write_corpus(docs, range(2), kinds=(".txt",))
    steward = make_steward(tmp_path / "data", hash_encoder(), reader__isolate=False)
    try:
        steward.ingest([str(docs)])
        folder = steward.generations.current() / KEYWORD_DIR  # type: ignore[operator]
    finally:
        steward.close()
    for load in (lambda: KeywordIndex.load(folder), lambda: TermCounts.load(folder)):
        done = threading.Event()
        with NPY_LOCK:
            worker = threading.Thread(target=lambda load=load, done=done: (load(), done.set()))
            worker.start()
            assert not done.wait(0.3), "a keyword index was loaded without the lock"
        assert done.wait(10)
        worker.join()
