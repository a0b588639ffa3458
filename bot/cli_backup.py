"""``steward backup DEST``, ``steward backup --verify SRC`` and ``steward restore SRC``.

Both run without a working store: ``--verify`` and ``restore`` need none at all (restore is
what one runs when the data folder is lost or damaged), so they are ``raw_func`` commands.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from bot.app import Steward
from bot.backup import STORE_FILE, BackupError, describe, restore_backup, verify_backup
from bot.config import ConfigError, load_config
from bot.logs import setup_logging


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="snapshot the store, index and config into DEST (the bot may keep running)")
    p.add_argument("dest", metavar="DEST", help="folder to put the new backup in (or, with --verify, a backup)")
    p.add_argument("--verify", action="store_true",
                   help="check the backup DEST (sizes and sha256 checksums) without restoring it")
    p.add_argument("--keep", type=int, metavar="N", help="then remove all but the newest N backups in DEST")
    p.add_argument("--wait", type=float, default=300, metavar="SECONDS",
                   help="how long to wait for a running ingest to finish (default 300)")
    p.set_defaults(raw_func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup into an empty data folder (stop the bot first)")
    p.add_argument("src", metavar="SRC", help="the backup folder (steward-...) to restore")
    p.add_argument("--force", action="store_true",
                   help="replace a non-empty data folder (its contents are kept aside until the restore is complete)")
    p.add_argument("--config-to", metavar="PATH",
                   help="write the backed-up settings here (default: restored-config.toml in the data folder)")
    p.set_defaults(raw_func=cmd_restore)


def cmd_backup(args: argparse.Namespace, out: TextIO) -> int:
    if args.verify:
        manifest = verify_backup(Path(args.dest))
        print(f"{args.dest}: backup OK", file=out)
        for line in describe(manifest):
            print(f"  {line}", file=out)
        return 0
    if args.keep is not None and args.keep < 1:
        raise BackupError("--keep must be at least 1")
    config = load_config(args.config, args.data_dir)
    if not (config.data_dir / STORE_FILE).is_file():
        raise BackupError(f"nothing to back up: {config.data_dir} has no {STORE_FILE} "
                          "(check --data-dir / STEWARD_DATA_DIR / [data] dir)")
    setup_logging(config, quiet=args.quiet)
    steward = Steward(config)
    try:
        report = steward.backup(Path(args.dest), keep=args.keep)
    finally:
        steward.close()
    print(f"backup written to {report.path}: {report.documents} documents, {report.passages} "
          f"passages, index generation {report.generation or '(none)'}, {report.files} files, "
          f"{report.bytes / 1024 / 1024:.1f} MiB in {report.seconds:.1f} s", file=out)
    if report.removed:
        print(f"removed {len(report.removed)} older backups: {', '.join(report.removed)}", file=out)
    return 0


def _data_dir(args: argparse.Namespace) -> Path:
    """Where to restore: --data-dir, $STEWARD_DATA_DIR, else the settings' [data] dir."""
    chosen = args.data_dir or os.environ.get("STEWARD_DATA_DIR")
    if chosen:
        return Path(chosen).expanduser().resolve()
    try:
        return load_config(args.config).data_dir
    except ConfigError as err:
        raise BackupError(f"cannot read the settings to find the data folder ({err}); "
                          "say where to restore with --data-dir DIR") from err


def cmd_restore(args: argparse.Namespace, out: TextIO) -> int:
    data_dir = _data_dir(args)
    report = restore_backup(Path(args.src), data_dir, force=args.force,
                            config_to=Path(args.config_to) if args.config_to else None)
    replaced = " (its previous contents were replaced)" if report.replaced else ""
    print(f"restored {report.documents} documents, {report.passages} passages and index generation "
          f"{report.generation or '(none)'} into {report.data_dir}{replaced}", file=out)
    if report.config is not None:
        print(f"the settings the backup was taken with are in {report.config}; compare them with "
              "your config file (another model or chunker needs `steward reindex`)", file=out)
    return 0
