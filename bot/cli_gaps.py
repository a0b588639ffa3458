"""``steward gaps [--days N] [--json | --csv FILE]``: what the bulletins don't answer."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TextIO

from bot import i18n
from bot.app import Steward
from bot.gaps import gaps_report, report_lines


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gaps", help="what members asked that the bulletins don't answer (for their writers)")
    p.add_argument("--days", type=int, default=30, metavar="N", help="how many days back (default 30)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--csv", metavar="FILE", help="write the groups (or closest documents and tags) as CSV")
    p.add_argument("--lang", choices=i18n.LANGUAGES, default=argparse.SUPPRESS,
                   help="the language of the report (default: from LC_ALL/LANG, else en)")
    p.set_defaults(func=cmd_gaps)


def cmd_gaps(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.days <= 3650:
        raise ValueError("--days must be between 1 and 3650")
    report = gaps_report(steward, args.days)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2), file=out)
        return 0
    if args.csv:  # written first: a path that cannot be written is the only thing said
        path = Path(args.csv)
        try:
            path.write_text(report.to_csv(), encoding="utf-8")
        except OSError as err:
            raise ValueError(f"could not write {path} ({err.strerror or err}); "
                             "check the folder exists and is writable") from err
    lang = getattr(args, "lang", None) or i18n.from_environment()
    for line in report_lines(report, lang):
        print(line, file=out)
    if args.csv:
        print(f"CSV written to {path}", file=out)
    return 0
