"""``steward version``: the same line as ``steward --version``, as a subcommand too, because
that is what people type first (and what a bug report asks for). Needs no config or store."""

from __future__ import annotations

import argparse
from typing import TextIO

from bot.backup import steward_version


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print Steward's version (as --version does)")
    p.set_defaults(raw_func=cmd_version)


def cmd_version(args: argparse.Namespace, out: TextIO) -> int:
    print(f"steward {steward_version()}", file=out)
    return 0
