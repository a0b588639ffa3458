"""Backups that restore: a consistent snapshot of a data folder, checked by checksums.

A backup is one folder, ``steward-YYYYMMDDTHHMMSSZ``, written under a temporary name and
renamed when complete (so a half-written backup never looks like one)::

    backup.json                 what is inside: Steward version, generation, counts, and the
                                size and sha256 of every other file
    steward.sqlite3             the store, copied through SQLite's online backup API
    index/CURRENT               names the one generation below
    index/gen-000007/...        the generation that was serving (immutable once published)
    index/sentences-*.sqlite    the sentence vectors (online backup API too)
    config.toml                 the settings file in use, when there is one

Consistency while the bot keeps serving: the store and the sentence vectors are copied and
the current generation pinned (so cleanup cannot remove it while it is copied) under the
generations' lock, which an ingest holds while it publishes. An ingest writes the store
*before* it takes that lock, so the snapshot is then checked: the store's passages must be
exactly the generation's vectors, as ``steward ingest`` leaves them. If an ingest is half
way, the snapshot is taken again a moment later, for up to ``wait_s`` seconds.

This module knows nothing of the configuration or the service (``bot.app`` calls it with the
paths), so ``steward restore`` can run where no store or settings work yet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings.dense import DenseIndex
from embeddings.generations import DENSE_FILE, MANIFEST, Generations, Manifest, fsync_tree

log = logging.getLogger(__name__)

BACKUP_MANIFEST = "backup.json"
FORMAT_VERSION = 1
STORE_FILE = "steward.sqlite3"  # as bot.app.Steward names it, under the data folder
INDEX_DIR = "index"
CONFIG_FILE = "config.toml"
RESTORED_CONFIG = "restored-config.toml"
_NAME = re.compile(r"^steward-\d{8}T\d{6}Z(-\d+)?$")
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_CHUNK = 1 << 20


class BackupError(ValueError):
    """A backup cannot be taken, verified or restored; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSettings:
    """``[backup]``: scheduled backups from the running bot."""

    every: str = ""  # "1d", "12h", "30m"...; "" = no scheduled backups
    keep: int = 7  # backups kept in ``dir`` (the oldest are removed)
    dir: str = "backups"  # relative to the config file's folder, as [data] dir


def parse_every(text: str) -> float | None:
    """Seconds between scheduled backups for "30m", "12h", "1d", "1w" (None for "")."""
    if not text.strip():
        return None
    found = _EVERY.match(text)
    if found is None or float(found.group(1)) <= 0:
        raise ValueError(f"every = {text!r} is not a period; use a number and s, m, h, d or w, "
                         "e.g. \"1d\", or \"\" for no scheduled backups")
    return float(found.group(1)) * _UNITS[found.group(2)]


@dataclass
class BackupReport:
    path: Path
    generation: str | None
    documents: int
    passages: int
    files: int
    bytes: int
    seconds: float
    removed: list[str] = field(default_factory=list)  # older backups removed by rotation


@dataclass
class RestoreReport:
    data_dir: Path
    generation: str | None
    documents: int
    passages: int
    config: Path | None  # where the backed-up settings were written
    replaced: bool  # --force replaced an existing folder's contents


def steward_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("steward")
    except metadata.PackageNotFoundError:
        return "unknown"


# -- taking a backup ---------------------------------------------------------------------------


def take_backup(
    dest: Path,
    *,
    store_path: Path,
    generations: Generations,
    config_path: Path | None,
    write_lock: threading.Lock | None = None,
    keep: int | None = None,
    wait_s: float = 300.0,
) -> BackupReport:
    """Write a new backup folder under ``dest``; with ``keep``, remove all but the newest
    ``keep`` backups there afterwards."""
    started = time.perf_counter()
    store_path = Path(store_path)
    if not store_path.is_file():
        raise BackupError(f"nothing to back up: there is no store at {store_path} "
                          "(check --data-dir / [data] dir)")
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(dest)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        tmp = dest / f".tmp-steward-{stamp}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as err:
        raise BackupError(f"cannot write a backup in {dest}: {err.strerror or err}") from err
    try:
        with contextlib.ExitStack() as stack:
            generation = _consistent_snapshot(tmp, store_path, generations, write_lock, wait_s, stack)
            if generation is not None:
                _copy_tree(generations.root / generation, tmp / INDEX_DIR / generation)
                (tmp / INDEX_DIR / "CURRENT").write_text(generation + "\n", encoding="utf-8")
        if config_path is not None and Path(config_path).is_file():
            shutil.copyfile(config_path, tmp / CONFIG_FILE)
        documents, passages = _counts(tmp / STORE_FILE)
        files = _checksums(tmp)
        manifest = {
            "format": FORMAT_VERSION,
            "steward_version": steward_version(),
            "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "generation": generation,
            "documents": documents,
            "passages": passages,
            "config": CONFIG_FILE if (tmp / CONFIG_FILE).is_file() else None,
            "files": files,
        }
        (tmp / BACKUP_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        fsync_tree(tmp)
        final = _free_name(dest, stamp)
        os.rename(tmp, final)
    except OSError as err:
        raise BackupError(f"could not write the backup in {dest} ({err.strerror or err}); the disk "
                          "may be full. Nothing in the data folder was changed") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    removed = rotate(dest, keep) if keep else []
    return BackupReport(final, generation, documents, passages, len(files),
                        sum(f["bytes"] for f in files.values()), time.perf_counter() - started, removed)


def _consistent_snapshot(
    tmp: Path, store_path: Path, generations: Generations, write_lock: threading.Lock | None,
    wait_s: float, stack: contextlib.ExitStack,
) -> str | None:
    """Copy the store and sentence vectors into ``tmp`` and pin the current generation (kept
    pinned until ``stack`` closes), retrying until the store and the generation agree."""
    deadline = time.monotonic() + wait_s
    while True:
        attempt = contextlib.ExitStack()
        try:
            with write_lock or contextlib.nullcontext(), generations.lock():
                generation = generations.current_name()
                _sqlite_copy(store_path, tmp / STORE_FILE)
                for path in sorted(generations.root.glob("sentences-*.sqlite")):
                    _sqlite_copy(path, tmp / INDEX_DIR / path.name)
                if generation is not None:
                    attempt.enter_context(generations.pin(generation))
            behind = _disagreement(tmp / STORE_FILE, generations.root / generation if generation else None)
        except BaseException:
            attempt.close()  # no pin outlives a failed backup (the bot's process lives on)
            raise
        if behind is None:
            stack.push(attempt)
            return generation
        attempt.close()
        if time.monotonic() >= deadline:
            raise BackupError(
                f"the index does not match the store ({behind}) and did not catch up in "
                f"{wait_s:.0f} s. If no ingest is running, one was interrupted: run "
                "`steward reindex`, then back up again")
        log.info("an ingest is under way (%s); taking the snapshot again in a moment", behind)
        time.sleep(1.0)


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL readers never block its writers)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    except sqlite3.Error as err:
        raise BackupError(f"cannot copy {source} ({err}); is the file damaged, or the disk full?") from err
    finally:
        src.close()


def _disagreement(store_copy: Path, generation: Path | None) -> str | None:
    """What differs between the copied store's passages and the generation's vectors (None:
    they are the same set, as a finished ingest leaves them)."""
    conn = _read_only(store_copy)
    try:
        wanted = np.fromiter((row[0] for row in conn.execute("SELECT vid FROM passages")), np.int64)
    finally:
        conn.close()
    if generation is None:
        return None if not len(wanted) else f"{len(wanted)} passages and no index generation yet"
    manifest = Manifest.read(generation / MANIFEST)
    have = DenseIndex.load(generation / DENSE_FILE, mmap=True, params=manifest.index_params).ids()
    missing = len(np.setdiff1d(wanted, have))
    extra = len(np.setdiff1d(have, wanted))
    if not missing and not extra:
        return None
    return f"{missing} passages not yet indexed, {extra} indexed passages since removed"


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection to a copy that nothing else writes: no -wal/-shm files appear beside it."""
    return sqlite3.connect(f"file:{path}?immutable=1", uri=True)


def _copy_tree(source: Path, target: Path) -> None:
    for path in sorted(source.rglob("*")):
        out = target / path.relative_to(source)
        if path.is_dir():
            out.mkdir(parents=True, exist_ok=True)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out)


def _counts(store_copy: Path) -> tuple[int, int]:
    conn = _read_only(store_copy)
    try:
        documents = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        passages = conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    finally:
        conn.close()
    return int(documents), int(passages)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _checksums(folder: Path) -> dict[str, dict[str, object]]:
    return {
        path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


def _free_name(dest: Path, stamp: str) -> Path:
    final = dest / f"steward-{stamp}"
    n = 2
    while final.exists():  # two backups in one second
        final = dest / f"steward-{stamp}-{n}"
        n += 1
    return final


def backups_in(dest: Path) -> list[Path]:
    """The complete backups in ``dest``, oldest first."""
    if not Path(dest).is_dir():
        return []
    return sorted(p for p in Path(dest).iterdir()
                  if _NAME.match(p.name) and (p / BACKUP_MANIFEST).is_file())


def rotate(dest: Path, keep: int) -> list[str]:
    """Remove all but the newest ``keep`` backups in ``dest``; the names removed."""
    found = backups_in(dest)
    removed = []
    for path in found[: max(0, len(found) - max(keep, 1))]:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


def _remove_abandoned(dest: Path) -> None:
    """Temporary folders of backups whose process is gone (killed mid-way)."""
    for path in dest.glob(".tmp-steward-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- verifying -----------------------------------------------------------------------------------


def read_manifest(src: Path) -> dict[str, object]:
    src = Path(src)
    if not src.is_dir():
        raise BackupError(f"{src} is not a folder; give the backup folder (steward-...) that "
                          "`steward backup` printed")
    path = src / BACKUP_MANIFEST
    if not path.is_file():
        found = backups_in(src)
        if found:
            raise BackupError(f"{src} holds backups, not one backup; name one, e.g. {found[-1]} "
                              "(the newest)")
        raise BackupError(f"{src} has no {BACKUP_MANIFEST}: it is not a Steward backup, or the "
                          "backup was cut short; use another backup")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict) or manifest["format"] != FORMAT_VERSION:
            raise ValueError("unknown layout")
    except OSError as err:
        raise BackupError(f"cannot read {path} ({err.strerror or err}); check its permissions") from err
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise BackupError(f"{path} is damaged or from another Steward ({err}); use another backup") from err
    return manifest


def verify_backup(src: Path) -> dict[str, object]:
    """The backup's manifest once every file it lists is there with its size and checksum;
    BackupError naming the first file that is missing, truncated or altered."""
    src = Path(src)
    manifest = read_manifest(src)
    for name, entry in manifest["files"].items():  # type: ignore[union-attr]
        _check_file(src, name, entry)
    if STORE_FILE not in manifest["files"]:  # type: ignore[operator]
        raise BackupError(f"the backup in {src} lists no {STORE_FILE}; use another backup")
    return manifest


def _safe_name(src: Path, name: str) -> Path:
    path = (src / name).resolve()
    if not path.is_relative_to(src.resolve()) or name.startswith("/"):
        raise BackupError(f"the backup's manifest names {name!r}, outside the backup; it has been "
                          "tampered with. Use another backup")
    return path


def _check_file(src: Path, name: str, entry: dict[str, object], path: Path | None = None) -> None:
    path = path or _safe_name(src, name)
    if not path.is_file():
        raise BackupError(f"backup damaged: {name} is missing from {src}; use another backup")
    try:
        size = path.stat().st_size
        digest = _sha256(path) if size == entry.get("bytes") else ""
    except OSError as err:
        raise BackupError(f"cannot read {name} in {src} ({err.strerror or err}); check its permissions") from err
    if size != entry.get("bytes"):
        raise BackupError(f"backup damaged: {name} is {size} bytes, the manifest says "
                          f"{entry.get('bytes')} (truncated or altered); use another backup")
    if digest != entry.get("sha256"):
        raise BackupError(f"backup damaged: {name} has been altered (its sha256 differs from the "
                          "manifest's); use another backup")


# -- restoring -----------------------------------------------------------------------------------


def restore_backup(src: Path, data_dir: Path, *, force: bool = False,
                   config_to: Path | None = None) -> RestoreReport:
    """Restore the backup ``src`` into ``data_dir``, which must be empty unless ``force``
    (then its contents are kept aside until the restore is complete, and put back if it
    fails). The backed-up settings go to ``config_to``, else ``restored-config.toml`` in the
    data folder."""
    src, data_dir = Path(src), Path(data_dir)
    manifest = verify_backup(src)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BackupError(f"cannot create the data folder {data_dir}: {err.strerror or err}") from err
    _remove_abandoned_restores(data_dir)
    present = [p for p in data_dir.iterdir() if not p.name.startswith((".restoring-", ".before-restore-"))]
    if present and not force:
        raise BackupError(f"{data_dir} is not empty ({len(present)} entries, e.g. {present[0].name}); "
                          "restore into an empty folder, or add --force to replace its contents "
                          "(they are kept aside until the restore is complete)")
    has_config = bool(manifest.get("config"))
    if has_config and config_to is not None and Path(config_to).exists() and not force:
        raise BackupError(f"{config_to} exists; choose another --config-to path or add --force")
    staging = data_dir / f".restoring-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _stage(src, manifest, staging)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise BackupError(f"could not copy the backup into {data_dir} ({err.strerror or err}); the disk "
                          "may be full. Nothing in the data folder was changed") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    aside = data_dir / f".before-restore-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"
    _swap_in(staging, data_dir, present, aside)
    config_path = None
    if has_config:
        config_path = Path(config_to) if config_to is not None else data_dir / RESTORED_CONFIG
        try:
            config_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / CONFIG_FILE, config_path)
        except OSError as err:  # the data is restored; only the settings copy is missing
            raise BackupError(f"the data folder {data_dir} is restored, but the settings could not be "
                              f"written to {config_path} ({err.strerror or err}); they are in "
                              f"{src / CONFIG_FILE}") from err
    return RestoreReport(data_dir, manifest.get("generation"), int(manifest.get("documents", 0)),  # type: ignore[arg-type]
                         int(manifest.get("passages", 0)), config_path, bool(present))  # type: ignore[call-overload]


def _stage(src: Path, manifest: dict[str, object], staging: Path) -> None:
    """Copy the store and index into ``staging``, checking each copy (not only the source:
    the backup could change between the check and the copy)."""
    for name, entry in manifest["files"].items():  # type: ignore[union-attr]
        if name == CONFIG_FILE:
            continue
        out = staging / name
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_safe_name(src, name), out)
        _check_file(src, name, entry, path=out)
    fsync_tree(staging)


def _swap_in(staging: Path, data_dir: Path, present: list[Path], aside: Path) -> None:
    """Move ``present`` aside, the staged files in; on failure, undo both."""
    moved_aside: list[Path] = []
    moved_in: list[Path] = []
    try:
        if present:
            aside.mkdir()
            for path in present:
                path.rename(aside / path.name)
                moved_aside.append(path)
        for path in sorted(staging.iterdir()):
            target = data_dir / path.name
            path.rename(target)
            moved_in.append(target)
    except OSError as err:
        for target in moved_in:
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        for path in moved_aside:
            (aside / path.name).rename(path)
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            aside.rmdir()
        raise BackupError(f"could not restore into {data_dir} ({err.strerror or err}); its "
                          "contents were put back as they were") from err
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)  # the restore is complete: the old contents go


def _remove_abandoned_restores(data_dir: Path) -> None:
    """Staging folders of restores whose process is gone. (The contents a killed ``--force``
    restore had moved aside stay in ``.before-restore-*``, for the admin to look at: putting
    them back by guesswork could mix two data folders.)"""
    for path in data_dir.glob(".restoring-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def describe(manifest: dict[str, object]) -> Iterator[str]:
    """Lines saying what a verified backup holds."""
    yield (f"Steward {manifest.get('steward_version')}, taken {manifest.get('created_at')}: "
           f"{manifest.get('documents')} documents, {manifest.get('passages')} passages, "
           f"index generation {manifest.get('generation') or '(none)'}")
    files = manifest.get("files") or {}
    total = sum(int(e.get("bytes", 0)) for e in files.values())  # type: ignore[union-attr]
    yield f"{len(files)} files, {total / 1024 / 1024:.1f} MiB, every checksum matches"  # type: ignore[arg-type]
