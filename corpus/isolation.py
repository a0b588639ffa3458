"""Reading untrusted documents in a separate, disposable process with hard limits.

Why: the readers check ``read_timeout_s`` between steps, but one library call can run for
minutes and take hundreds of MB, and Python cannot interrupt it (measured: a 31 KB PDF whose
one page holds three million text operators keeps pypdf busy ~30 s and takes 350 MB; Beautiful
Soup needs ~25 s for 100,000 nested ``<div>``). Reading in a worker process makes the limits
real: the worker is killed when a read passes its deadline, its address space is capped
(``RLIMIT_AS``) so a bomb that gets past the readers' own checks ends in a MemoryError there,
and a crash inside a C library (lxml, zlib) ends the worker, never the bot.

One long-lived worker per process, started on first use (~0.3–1 s, paid once per ingest, not
per file; then ~1 ms per read). It is replaced after it was killed or crashed, after a
MemoryError, and after ``MAX_READS_PER_WORKER`` reads; it exits by itself when idle for
``IDLE_EXIT_S`` or when its parent dies. Replies are JSON, not pickle, so a parser subverted by
a hostile file cannot make the parent run code by what it sends back. The worker gets no
secrets: ``DISCORD_TOKEN`` and every ``*TOKEN*``/``*SECRET*``/``*PASSWORD*`` variable are
removed from its environment.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import importlib
import json
import logging
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path

from corpus.errors import ReadError, UnsupportedFormat
from corpus.read import read_source
from corpus.types import Document, ReaderSettings

__all__ = ["load_isolated", "shutdown_worker"]

log = logging.getLogger(__name__)

MAX_READS_PER_WORKER = 200  # a fresh process now and then: no slow growth from fragmentation
IDLE_EXIT_S = 300.0  # an idle bot holds no parser process
START_TIMEOUT_S = 60.0  # a cold start on a loaded machine imports pypdf, lxml, bs4
GRACE_S = 2.0  # on top of the reader's own deadline, so its message (said in-process) usually wins
_SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|CREDENTIAL", re.IGNORECASE)
_MAX_LOG_RECORDS = 20  # warnings forwarded per read (a fuzzed PDF can log thousands)
_READERS = ("corpus.read", "corpus.fetch", "corpus.readers.text", "corpus.readers.markdown",
            "corpus.readers.html", "corpus.readers.pdf", "corpus.readers.docx")


# -- the parent's side ---------------------------------------------------------------------


class _Worker:
    """One worker process and the two pipes to it."""

    def __init__(self, memory_bytes: int) -> None:
        parent_r, child_w = os.pipe()
        child_r, parent_w = os.pipe()
        env = {k: v for k, v in os.environ.items() if not _SECRET_ENV.search(k)}
        # The worker must import the same corpus package, installed or not.
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "corpus.isolation", str(child_r), str(child_w),
                 str(memory_bytes)],
                pass_fds=(child_r, child_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env=env,  # stderr is shared: a fatal error in a parser shows in Steward's console
            )
        except BaseException:
            for fd in (parent_r, parent_w):
                os.close(fd)
            raise
        finally:
            os.close(child_r)
            os.close(child_w)
        self.owner = os.getpid()
        self.memory_bytes = memory_bytes
        self.reader = Connection(parent_r, writable=False)
        self.writer = Connection(parent_w, readable=False)
        if not self.reader.poll(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"the document reader process did not start within {START_TIMEOUT_S:g} s")
        hello = json.loads(self.reader.recv_bytes())
        if "fatal" in hello:
            self.stop()
            raise ImportError(hello["fatal"])  # a broken install, as read_source would say

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 0.0) -> int | None:
        """Kill the worker (after ``grace`` seconds to end by itself) and return its exit status."""
        if grace:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)  # a worker that hung up is usually exiting: learn why
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.close_pipes()
        return self.process.returncode

    def close_pipes(self) -> None:
        for conn in (self.reader, self.writer):
            with contextlib.suppress(OSError):
                conn.close()


_lock = threading.Lock()
_worker: _Worker | None = None
_requests = 0


def _after_fork_in_child() -> None:
    """A forked child must not share its parent's worker (their requests would interleave)."""
    global _lock, _worker
    _lock = threading.Lock()  # another thread may have held it at the fork
    if _worker is not None:
        _worker.close_pipes()  # the child's copies only; the parent's worker is untouched
    _worker = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def shutdown_worker() -> None:
    """Stop this process's worker, if any (at exit, and for tests)."""
    global _worker
    with _lock:
        if _worker is not None and _worker.owner == os.getpid():
            _worker.stop()
        _worker = None


atexit.register(shutdown_worker)


def _get_worker(memory_bytes: int) -> _Worker:
    global _worker
    if _worker is not None and (not _worker.alive() or _worker.memory_bytes != memory_bytes):
        _worker.stop()
        _worker = None
    if _worker is None:
        _worker = _Worker(memory_bytes)
    return _worker


def _drop_worker(grace: float = 0.0) -> int | None:
    global _worker
    code = _worker.stop(grace) if _worker is not None else None
    _worker = None
    return code


def load_isolated(
    source: str, settings: ReaderSettings, overrides: Mapping[str, object] | None = None
) -> list[Document]:
    """:func:`corpus.read.read_source` in the worker: same results, same errors, hard limits.

    Past ``read_timeout_s`` (plus ``url_timeout_s`` for a URL) the worker is killed and the
    read is a ReadError; so is a worker that dies (a parser crash, the memory cap).
    """
    from corpus.metadata import is_url

    global _requests
    budget = settings.read_timeout_s + (settings.url_timeout_s if is_url(source) else 0.0)
    with _lock:
        _requests += 1
        request = json.dumps({
            "id": _requests,  # echoed back: a reply is never taken for another request's
            "source": source,
            "settings": dataclasses.asdict(settings),
            "overrides": _encode_values(dict(overrides or {})),
            "cwd": _cwd(),
            "max_read_memory_bytes": settings.max_read_memory_bytes,
        }).encode("utf-8")
        for attempt in (1, 2):
            try:
                worker = _get_worker(settings.max_read_memory_bytes)
            except (OSError, RuntimeError) as err:
                raise ReadError(source, f"the reader process could not be started ({err}); if this "
                                        "system cannot start processes, set isolate = false in "
                                        "config.toml [reader]") from err
            try:
                worker.writer.send_bytes(request)
                if not worker.reader.poll(budget + GRACE_S):
                    _drop_worker()
                    raise ReadError(source, f"reading took longer than read_timeout_s = "
                                            f"{settings.read_timeout_s:g} s and was stopped; the file "
                                            "may be malformed, or raise read_timeout_s in config.toml "
                                            "[reader]")
                reply = json.loads(worker.reader.recv_bytes())
                if reply.get("id") != _requests:
                    raise ValueError(f"reply {reply.get('id')} to request {_requests}")
            except (EOFError, OSError, ValueError) as err:
                code = _drop_worker(grace=1.0)
                if code == 0 and attempt == 1:
                    continue  # it had just retired (idle or recycled): a fresh one reads the file
                raise ReadError(source, f"the reader process stopped while reading this file "
                                        f"({_describe_exit(code)}); the file may be malformed or need "
                                        f"more than max_read_memory_mb = "
                                        f"{settings.max_read_memory_bytes // (1024 * 1024):,}") from err
            except BaseException:
                _drop_worker()  # interrupted mid-read (Ctrl-C): its late reply must not be read later
                raise
            break
    _replay_logs(reply.get("logs", ()))
    if "error" in reply:
        cls = UnsupportedFormat if reply["error"] == "UnsupportedFormat" else ReadError
        raise cls(reply["source"], reply["reason"])
    if "fatal" in reply:
        raise ImportError(reply["fatal"])
    return [_decode_document(d) for d in reply["documents"]]


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the working folder was deleted: absolute paths still read fine
        return None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it did not answer"
    if code < 0:
        return f"ended by signal {-code}"
    return f"exit status {code}"


def _replay_logs(records: object) -> None:
    for name, level, message in records:  # type: ignore[attr-defined]
        logging.getLogger(name).log(level, "%s", message)


# -- the wire format -----------------------------------------------------------------------


def _encode_values(values: dict[str, object]) -> dict[str, object]:
    return {k: {"$date": v.isoformat()} if isinstance(v, dt.date) else v for k, v in values.items()}


def _decode_values(values: dict[str, object]) -> dict[str, object]:
    return {k: dt.date.fromisoformat(v["$date"]) if isinstance(v, dict) and "$date" in v else v
            for k, v in values.items()}


def _encode_document(document: Document) -> dict[str, object]:
    data = dataclasses.asdict(document)
    data["date"] = document.date.isoformat() if document.date else None
    return data


def _decode_document(data: dict[str, object]) -> Document:
    date = data.pop("date")
    data["tags"] = tuple(data["tags"])  # type: ignore[arg-type]  # JSON has lists only
    data["pages"] = tuple(data["pages"])  # type: ignore[arg-type]
    data["headings"] = tuple(tuple(h) for h in data.get("headings", ()))  # type: ignore[union-attr]
    data["alternates"] = tuple(data.get("alternates", ()))  # type: ignore[arg-type]
    return Document(**data, date=dt.date.fromisoformat(date) if date else None)  # type: ignore[arg-type]


# -- the worker's side ---------------------------------------------------------------------


class _Collect(logging.Handler):
    """Keeps the warnings of one read, to be logged by the parent (where the log file is)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < _MAX_LOG_RECORDS:
            with contextlib.suppress(Exception):
                self.records.append((record.name, record.levelno, record.getMessage()[:2000]))
        else:
            self.dropped += 1

    def take(self) -> list[tuple[str, int, str]]:
        records = self.records
        if self.dropped:
            records.append((__name__, logging.WARNING, f"... and {self.dropped} more warnings"))
        self.records, self.dropped = [], 0
        return records


def _limit_memory(memory_bytes: int) -> None:
    """Cap the address space at what the worker holds now plus ``memory_bytes``."""
    with open("/proc/self/statm") as statm:
        current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = current + memory_bytes
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def _handle(request: dict[str, object], collect: _Collect) -> tuple[dict[str, object], bool]:
    """Read one source; (the reply, whether this worker should retire afterwards)."""
    source = str(request["source"])
    restart = False
    try:
        if request["cwd"]:
            with contextlib.suppress(OSError):  # relative names are resolved where the caller is
                os.chdir(str(request["cwd"]))
        settings = ReaderSettings(**request["settings"])  # type: ignore[arg-type]
        documents = read_source(source, settings, _decode_values(request["overrides"]))  # type: ignore[arg-type]
        reply: dict[str, object] = {"documents": [_encode_document(d) for d in documents]}
    except ReadError as err:
        reason = err.reason
        if isinstance(err.__cause__, MemoryError):
            restart = True  # the heap may be fragmented or short: a fresh process for the next file
            limit = int(request["max_read_memory_bytes"]) // (1024 * 1024)  # type: ignore[call-overload]
            reason = (f"reading it needs more memory than max_read_memory_mb = {limit:,} allows; it "
                      "may be a decompression bomb, or raise max_read_memory_mb in config.toml [reader]")
        reply = {"error": type(err).__name__, "source": err.source, "reason": reason}
    except ImportError as err:
        reply = {"fatal": f"{type(err).__name__}: {err}"}
    except BaseException as err:  # read_source wraps bad input; this is a last line of defence
        restart = True
        reply = {"error": "ReadError", "source": source,
                 "reason": f"could not be read ({type(err).__name__}: {err})"}
    reply["logs"] = collect.take()
    reply["id"] = request.get("id")
    return reply, restart


def _serve(read_fd: int, write_fd: int, memory_bytes: int) -> int:
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    try:
        for name in _READERS:  # import everything first: the parent's clock is not yet running
            importlib.import_module(name)
        _limit_memory(memory_bytes)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file
    except ImportError as err:
        outbox.send_bytes(json.dumps({"fatal": f"{type(err).__name__}: {err}"}).encode())
        return 1
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    root.setLevel(logging.WARNING)
    parent = os.getppid()
    try:
        outbox.send_bytes(json.dumps({"ready": os.getpid()}).encode())
        idle_since, reads = time.monotonic(), 0
        while True:
            if not inbox.poll(1.0):
                if os.getppid() != parent or time.monotonic() - idle_since > IDLE_EXIT_S:
                    return 0
                continue
            request = json.loads(inbox.recv_bytes())
            reply, restart = _handle(request, collect)
            outbox.send_bytes(json.dumps(reply).encode("utf-8"))
            reads += 1
            if restart or reads >= MAX_READS_PER_WORKER:
                return 0
            idle_since = time.monotonic()
    except (EOFError, BrokenPipeError):
        return 0  # the parent closed its end, or died


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
