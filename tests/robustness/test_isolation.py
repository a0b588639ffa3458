"""Reading in a worker process (``[reader] isolate``, on by default): the same results as
reading in-process, and limits a single slow or greedy library call cannot escape."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from robustness_support import CONFIG, FORMATS, seed_files, slow_pdf

import corpus.isolation as isolation
from corpus.errors import ReadError, UnsupportedFormat
from corpus.load import load_source
from corpus.types import ReaderSettings

ISOLATED = ReaderSettings(isolate=True, read_timeout_s=20)
IN_PROCESS = ReaderSettings(isolate=False)


@pytest.fixture(autouse=True)
def fresh_worker() -> Iterator[None]:
    isolation.shutdown_worker()
    yield
    isolation.shutdown_worker()


def worker_pid() -> int:
    assert isolation._worker is not None
    return isolation._worker.process.pid


def test_same_documents_as_reading_in_process(tmp_path: Path) -> None:
    overrides = {"date": dt.date(2024, 5, 1), "tags": ["dues", "pay"], "publication": "Local 12 News"}
    seeds = seed_files()
    for suffix in FORMATS:
        for n, data in enumerate(seeds[suffix]):
            path = tmp_path / f"seed-{n}{suffix}"
            path.write_bytes(data)
            isolated = load_source(str(path), ISOLATED, overrides)
            assert isolated == load_source(str(path), IN_PROCESS, overrides), path.name


def test_same_errors_as_reading_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.7\ngarbage")
    monkeypatch.chdir(tmp_path)  # relative names are resolved where the caller is, not the worker
    for name in ("sheet.xlsx", "bad.pdf", "missing.txt"):
        with pytest.raises(ReadError) as inside:
            load_source(name, IN_PROCESS)
        with pytest.raises(ReadError) as isolated:
            load_source(name, ISOLATED)
        assert type(isolated.value) is type(inside.value)
        assert (isolated.value.source, isolated.value.reason) == (inside.value.source, inside.value.reason)
    with pytest.raises(UnsupportedFormat):
        load_source("sheet.xlsx", ISOLATED)


def test_one_slow_library_call_is_stopped_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "GRACE_S", 0.5)
    path = tmp_path / "slow.pdf"
    path.write_bytes(slow_pdf())
    settings = ReaderSettings(isolate=True, read_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(ReadError, match=r"took longer than read_timeout_s = 0.5 s and was stopped"):
        load_source(str(path), settings)
    assert time.monotonic() - started < 0.5 + isolation.GRACE_S + 3
    # The next file gets a fresh worker and reads normally.
    good = tmp_path / "good.txt"
    good.write_text("Members met about wages.")
    assert load_source(str(good), settings)[0].text == "Members met about wages."


def test_memory_is_capped(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"wages " * 4_000_000)  # 24 MB: decoding and cleaning need several copies
    settings = ReaderSettings(isolate=True, max_read_memory_bytes=48 * 1024 * 1024,
                              max_text_chars=50_000_000)
    with pytest.raises(ReadError, match="max_read_memory_mb = 48"):
        load_source(str(big), settings)
    good = tmp_path / "good.txt"
    good.write_text("Members met about wages.")
    assert load_source(str(good), settings)[0].text == "Members met about wages."


def test_a_crashing_parser_is_a_read_error_not_a_crash(tmp_path: Path) -> None:
    """A segfault in a C library (simulated with SIGSEGV) ends the worker, not Steward."""
    path = tmp_path / "slow.pdf"
    path.write_bytes(slow_pdf())
    good = tmp_path / "good.txt"
    good.write_text("Members met about wages.")
    load_source(str(good), ISOLATED)  # the worker is up
    pid = worker_pid()
    threading.Timer(0.5, os.kill, (pid, signal.SIGSEGV)).start()
    with pytest.raises(ReadError, match=r"reader process stopped .*signal 11"):
        load_source(str(path), ISOLATED)
    assert load_source(str(good), ISOLATED)[0].text == "Members met about wages."
    assert worker_pid() != pid


def test_the_worker_holds_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "MTk4.worker-must-not-see-this")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-worker")
    good = tmp_path / "good.txt"
    good.write_text("Members met about wages.")
    load_source(str(good), ISOLATED)
    environ = Path(f"/proc/{worker_pid()}/environ").read_bytes()
    assert b"worker-must-not-see-this" not in environ and b"hunter2-worker" not in environ
    assert b"PATH=" in environ


def _start_worker_then_wait(path: str, report) -> None:  # type: ignore[no-untyped-def]
    load_source(path, ISOLATED)
    report.send(worker_pid())
    time.sleep(60)


def test_a_killed_parent_leaves_no_worker_behind(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Members met about wages.")
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_start_worker_then_wait, args=(str(good), send))
    child.start()
    assert receive.poll(30)
    orphan = receive.recv()
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{orphan}").exists():
        status = Path(f"/proc/{orphan}/status").read_text() if Path(f"/proc/{orphan}").exists() else ""
        if "State:\tZ" in status:
            break  # exited; only its (reparented) zombie entry remains
        time.sleep(0.1)
    else:
        assert not Path(f"/proc/{orphan}").exists(), "the worker outlived its parent"


def _read_in_child(path: str, report) -> None:  # type: ignore[no-untyped-def]
    try:
        docs = load_source(path, ISOLATED)
        report.send((docs[0].text, worker_pid()))
    except BaseException as err:  # report, so the parent's assertion says what happened
        report.send((repr(err), 0))
    os._exit(0)


def test_a_forked_child_gets_its_own_worker(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Members met about wages.")
    load_source(str(good), ISOLATED)
    parent_worker = worker_pid()
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_read_in_child, args=(str(good), send))
    child.start()
    assert receive.poll(30)
    text, child_worker = receive.recv()
    child.join()
    assert text == "Members met about wages." and child_worker not in (0, parent_worker)
    assert load_source(str(good), ISOLATED)[0].text == "Members met about wages."
    assert worker_pid() == parent_worker


def test_steward_ingest_reads_in_isolation_by_default(tmp_path: Path) -> None:
    from bot.config import load_config

    assert load_config(CONFIG, tmp_path).reader_settings().isolate is True


def test_an_interrupted_read_never_hands_its_reply_to_the_next(tmp_path: Path) -> None:
    """Ctrl-C while the worker reads file A: the next read (file B) must get B, not A's late reply."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("File A text.")
    b.write_text("File B text.")
    load_source(str(b), ISOLATED)
    worker = isolation._worker
    assert worker is not None

    def interrupted(timeout: float | None = None) -> bool:
        raise KeyboardInterrupt

    worker.reader.poll = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        load_source(str(a), ISOLATED)
    assert load_source(str(b), ISOLATED)[0].text == "File B text."


def test_a_worker_that_cannot_start_is_a_read_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Members met about wages.")
    monkeypatch.setattr(isolation.sys, "executable", str(tmp_path / "no-python"))
    with pytest.raises(ReadError, match=r"could not be started .*isolate = false"):
        load_source(str(good), ISOLATED)
