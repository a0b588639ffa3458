"""Derived model files on disk, shared by processes: atomic writes, manifests, one builder.

They live in one per-user cache (``cache_root``), not in a data folder: a model is exported
once per user and recipe, and every data folder (``--data-dir``) and process shares it.

A cache *entry* is one folder of files derived from one model by one recipe (its name is
``fingerprint(model folder, recipe)``). Every file in it is written beside its final name and
moved into place with ``os.replace``, then a manifest (``<file>.json``: size, sha256 and what
made it) is written the same way; a file without a whole manifest that matches it is never
trusted. So a process killed mid-build leaves only hidden work folders and ``*.tmp`` files,
which the next builder deletes, and never a file that looks finished.

Builds are serialised by an exclusive ``flock`` on ``<entry>/.lock``: a second process that
finds the entry incomplete waits for the first, then uses its result (``build_once``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Hashed by content: what the model computes and how it tokenises.
_SMALL_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_LOCK_FILE = ".lock"

CACHE_DIR_ENV = "STEWARD_CACHE_DIR"


def cache_root(setting: str = "") -> Path:
    """The per-user folder for derived model files.

    ``$STEWARD_CACHE_DIR`` if set (it overrides the file, as ``$STEWARD_DATA_DIR`` does), else
    ``setting`` (``[index] model_cache``) if not empty, else ``$XDG_CACHE_HOME/steward``, else
    ``~/.cache/steward``.
    """
    chosen = os.environ.get(CACHE_DIR_ENV) or setting
    if chosen:
        return Path(chosen).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative $XDG_CACHE_HOME is invalid and must be ignored.
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "steward"


def fingerprint(model_path: Path, recipe: str) -> str:
    """A short hash naming the cache entry of ``model_path`` derived by ``recipe``.

    Small files (configs, tokenizer) are hashed by content; weight files by name, size and
    mtime, which is cheap (no 90 MB read per start) and changes whenever they are replaced.
    The recipe is part of the hash so a changed recipe never reuses old files.
    """
    h = hashlib.sha256(recipe.encode())
    for path in sorted(model_path.rglob("*")):
        rel = path.relative_to(model_path).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in rel.split("/")):
            continue
        if path.name in _SMALL_FILES or rel.endswith("config.json"):
            h.update(f"|{rel}|".encode())
            h.update(path.read_bytes())
        elif path.suffix in _WEIGHT_SUFFIXES:
            st = path.stat()
            h.update(f"|{rel}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or ``{}`` if it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary name beside ``final``, moved into place only if the block succeeds."""
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; other local users (the bot's service) must read it
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def work_dir(entry: Path, label: str) -> tempfile.TemporaryDirectory[str]:
    """A hidden scratch folder inside ``entry`` (removed on exit, or by the next builder)."""
    return tempfile.TemporaryDirectory(prefix=f".{label}-", dir=entry)


@contextlib.contextmanager
def entry_lock(entry: Path) -> Iterator[None]:
    """Hold the entry's build lock (blocks while another process builds it)."""
    entry.mkdir(parents=True, exist_ok=True)
    with open(entry / _LOCK_FILE, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def remove_leftovers(entry: Path) -> None:
    """Delete the work files of a build that was killed (safe: the caller holds the lock)."""
    for path in entry.glob(".*"):
        if path.is_dir():  # an entry holds no hidden folders but work_dir's
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.endswith(".tmp") and path.is_file():
            path.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read a megabyte at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def valid_file(path: Path, *, quiet: bool = False) -> dict[str, Any] | None:
    """The manifest of ``path`` if the file is whole (size and sha256 as written), else None."""
    meta = read_json(path.with_name(path.name + ".json"))
    if not meta or not path.exists():
        return None
    if path.stat().st_size != meta.get("size") or file_sha256(path) != meta.get("sha256"):
        if not quiet:
            log.warning("cached file %s is damaged (size or checksum differs); rebuilding", path)
        return None
    return meta


def install(tmp: Path, final: Path, meta: dict[str, Any]) -> None:
    """Move a finished file into place, then its manifest (without which it is not trusted)."""
    meta = {**meta, "size": tmp.stat().st_size, "sha256": file_sha256(tmp)}
    final.with_name(final.name + ".json").unlink(missing_ok=True)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    with atomic_path(final.with_name(final.name + ".json")) as t:
        t.write_text(json.dumps(meta, indent=2), encoding="utf-8")


def build_once(entry: Path, ready: Callable[[bool], T | None], build: Callable[[], None]) -> T | None:
    """``ready()``'s result, building the entry first if needed, by one process at a time.

    ``ready(quiet)`` returns the usable thing or None (logging why unless ``quiet``); ``build``
    makes the missing files. A process that waited for another's build uses its result.
    """
    found = ready(False)
    if found is not None:
        return found
    with entry_lock(entry):
        found = ready(True)  # another process may have built it while this one waited
        if found is None:
            remove_leftovers(entry)
            build()
            found = ready(False)
    return found
