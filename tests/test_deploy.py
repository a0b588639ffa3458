"""deploy/: the systemd units parse, keep the hardening the README promises, run commands
``steward --help`` lists with options Steward accepts, and pass ``systemd-analyze verify``
where systemd is installed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = sorted(p for p in DEPLOY.iterdir() if p.suffix in (".service", ".timer"))
INSTALLED = "/opt/steward/.venv/bin/steward"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (a key may repeat); AssertionError on a line that is neither."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[([A-Za-z]+)\]", text)
        if header:
            current = sections.setdefault(header.group(1), {})
            continue
        pair = re.fullmatch(r"([A-Za-z]+)=(.*)", text)
        assert pair and current is not None, f"{path.name}:{n} is not a section or Key=value: {line!r}"
        current.setdefault(pair.group(1), []).append(pair.group(2))
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section].get(key, [])
    assert len(values) == 1, f"[{section}] {key}: {values}"
    return values[0]


def test_the_units_are_there_and_parse() -> None:
    names = {p.name for p in UNITS}
    assert {"steward.service", "steward-sync.service", "steward-sync.timer",
            "steward-backup.service", "steward-backup.timer"} <= names
    for path in UNITS:
        parse_unit(path)
    for timer in (p for p in UNITS if p.suffix == ".timer"):
        assert (DEPLOY / f"{timer.stem}.service").is_file(), f"{timer.name} has no service to start"
        assert parse_unit(timer)["Timer"].get("OnCalendar"), timer.name


def test_the_bot_unit_is_hardened() -> None:
    unit = parse_unit(DEPLOY / "steward.service")
    service = unit["Service"]
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "User") not in ("root", "0")
    assert one(unit, "Service", "EnvironmentFile").startswith("/etc/")
    for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                       ("ProtectHome", "yes"), ("PrivateDevices", "yes"), ("RestrictSUIDSGID", "yes")):
        assert one(unit, "Service", key) == value, key
    # Writable: the data folder only, and the data, cache and home Steward uses are inside it.
    assert one(unit, "Service", "ReadWritePaths") == "/var/lib/steward"
    env = dict(e.split("=", 1) for e in service["Environment"])
    for name in ("STEWARD_DATA_DIR", "STEWARD_CACHE_DIR", "HOME"):
        assert env[name].startswith("/var/lib/steward"), name
    assert "CapabilityBoundingSet" in service and service["CapabilityBoundingSet"] == [""]


def test_no_unit_holds_the_token() -> None:
    for path in DEPLOY.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(Environment=)?DISCORD_TOKEN=\S", text, re.MULTILINE), path.name


@pytest.mark.parametrize("path", [p for p in UNITS if p.suffix == ".service"], ids=lambda p: p.name)
def test_each_service_runs_a_command_steward_has(path: Path) -> None:
    argv = shlex.split(one(parse_unit(path), "Service", "ExecStart"))
    assert argv[0] == INSTALLED
    parser = build_parser()
    listed = parser.format_help()
    command = next(a for a in argv[1:] if not a.startswith("-"))
    if command == "sync":
        # Hourly timer, per-source intervals: without --due every source would sync hourly.
        assert "--due" in argv, "steward-sync.service should run `steward sync --due`"
    assert re.search(rf"^\s+{command}\s", listed, re.MULTILINE), f"`steward {command}` is not in steward --help"
    parser.parse_args(argv[1:])  # its options too: argparse exits on one Steward does not accept


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here; the units were only parsed")
    steward = Path(sys.executable).parent / "steward"
    if not steward.is_file():
        pytest.skip(f"no steward executable beside {sys.executable} to stand in for {INSTALLED}")
    for path in UNITS:
        # verify checks that ExecStart= exists: point it at this checkout's steward.
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8").replace(INSTALLED, str(steward)))
    done = subprocess.run([analyze, "verify", *(str(tmp_path / p.name) for p in UNITS)],
                          capture_output=True, text=True, check=False)
    # Unknown keys and bad values are warnings with status 0: any line about our units fails.
    ours = [line for line in (done.stdout + done.stderr).splitlines()
            if any(p.name in line for p in UNITS)]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr
