"""``steward doctor [--json]``: what is wrong with this installation, one line per check.

A ``raw_func`` command: it must run when the settings, the store or the index are broken,
which is when it is needed."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from bot.doctor import MIN_FREE_MB, exit_code, run_doctor


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the settings, data folder, store, index, model and "
                                      "(with DISCORD_TOKEN) Discord; exit 1 if anything is wrong")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--min-free-mb", type=int, default=MIN_FREE_MB, metavar="MB",
                   help=f"free disk below this is a problem (default {MIN_FREE_MB})")
    p.add_argument("--no-model", action="store_true", help="skip loading the model (quicker)")
    p.add_argument("--no-discord", action="store_true",
                   help="skip the Discord checks even when DISCORD_TOKEN is set")
    p.set_defaults(raw_func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    discord = None
    if not args.no_discord:
        def discord(config):  # imported only when used: discord.py is slow to import
            from bot.discord.runner import doctor_checks

            return doctor_checks(config)
    checks = run_doctor(args.config, args.data_dir, min_free_mb=args.min_free_mb,
                        model=not args.no_model, discord=discord)
    if args.json:
        print(json.dumps({"ok": exit_code(checks) == 0,
                          "checks": [c.as_json() for c in checks]}, ensure_ascii=False, indent=2),
              file=out)
    else:
        for check in checks:
            print(check.line(), file=out)
    return exit_code(checks)
