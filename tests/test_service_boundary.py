"""The front ends (the CLI and the Discord bot) do their work through the service's methods
(``bot.app.Steward``), never through its parts: the store, the index, the usage records.

Read with ``ast`` (nothing is imported): any attribute of those names in ``bot/cli.py`` or
``bot/discord/`` is a front end reaching past the service, and so is ``getattr(x, "store")``.
The Discord front end is handed its ``[discord]`` settings and reads no other configuration.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The service's parts: Steward builds and owns them; only bot/app.py touches them.
PARTS = frozenset({"store", "searcher", "records", "generations", "indexer", "encoder",
                   "answerer", "index_settings"})


def front_end_files() -> list[Path]:
    return [ROOT / "bot" / "cli.py", *sorted((ROOT / "bot" / "discord").rglob("*.py"))]


def reaches(path: Path, names: Iterable[str]) -> list[str]:
    """``path:line .name`` for each use of an attribute called one of ``names``."""
    wanted = frozenset(names)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant)):
            name = node.args[1].value
        if name in wanted:
            found.append((node.lineno, name))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return [f"{shown}:{line} .{name}" for line, name in sorted(found)]


def test_the_walk_sees_the_front_ends() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in front_end_files()}
    assert {"bot/cli.py", "bot/discord/client.py", "bot/discord/exts/ask.py"} <= names


@pytest.mark.parametrize("path", front_end_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_front_ends_use_only_the_service(path: Path) -> None:
    assert reaches(path, PARTS) == []


def test_the_discord_front_end_reads_no_configuration() -> None:
    found = [hit for path in (ROOT / "bot" / "discord").rglob("*.py")
             for hit in reaches(path, {"config"})]
    assert found == []


def test_reaching_past_the_service_is_found(tmp_path: Path) -> None:
    sample = tmp_path / "front.py"
    sample.write_text("def f(steward):\n"
                      "    steward.store.documents()\n"
                      "    getattr(steward, 'searcher').search('x')\n"
                      "    return steward.documents()\n")
    assert [hit.split(" ")[-1] for hit in reaches(sample, PARTS)] == [".store", ".searcher"]
