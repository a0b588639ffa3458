"""Steward's layering, kept true: no import circles, and nothing imports upward.

The rooms are ``corpus`` -> ``embeddings`` -> ``bot`` (see DESIGN.md). This reads every module
of the three packages with ``ast`` (no import is executed) and collects every import, also
the lazy ones inside functions and the relative ones, then checks:

* no circle of imports between the project's modules. Imports under ``if TYPE_CHECKING:``
  do not count here, since they never run; they do count for the rules below;
* ``corpus`` imports neither ``embeddings`` nor ``bot``; ``embeddings`` does not import ``bot``;
* the index reader (``embeddings.search``) and writer (``embeddings.indexer``) do not import
  each other: both use the generation layout in ``embeddings.generations``;
* only ``bot.discord`` imports discord.py;
* no front end imports another: nothing in ``bot.discord`` imports the CLI, and the CLI
  imports nothing of ``bot.discord`` but ``bot.discord.runner``, inside the function that
  serves Discord (so the terminal commands never load discord.py). The service and the
  rest of ``bot`` import neither front end.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "embeddings", "corpus")
FRONT_ENDS = ("bot.cli", "bot.__main__", "bot.discord")
# The one way the CLI reaches Discord: `steward bot` / `steward run` call its run_bot.
CLI_DISCORD_ENTRY = "bot.discord.runner"


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, e.g. "bot.cli"
    target: str  # a project module ("bot.discord.runner") or an outside name ("discord.ext")
    path: Path
    line: int
    lazy: bool  # inside a function: runs when the function is called
    type_only: bool  # under `if TYPE_CHECKING:`: never runs

    @property
    def internal(self) -> bool:
        return self.target.split(".")[0] in PACKAGES

    def where(self) -> str:
        try:
            shown = self.path.relative_to(ROOT)
        except ValueError:
            shown = self.path
        how = " (in a function)" if self.lazy else " (type checking only)" if self.type_only else ""
        return f"{shown}:{self.line} imports {self.target}{how}"


def project_modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of the packages by dotted name (a package is its ``__init__``)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, path: Path, modules: Mapping[str, Path]) -> None:
        self.module, self.path, self.modules = module, path, modules
        self.is_package = path.name == "__init__.py"
        self.found: list[Import] = []
        self._functions = 0
        self._type_checking = 0

    def _add(self, target: str, node: ast.stmt) -> None:
        self.found.append(
            Import(
                self.module,
                target,
                self.path,
                node.lineno,
                lazy=self._functions > 0,
                type_only=self._type_checking > 0,
            )
        )

    def _resolve(self, name: str) -> str:
        """The project module an absolute name lands in, or the name itself if outside."""
        if name.split(".")[0] not in PACKAGES:
            return name
        while name not in self.modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(self._resolve(alias.name), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: counted from this module's package
            package = self.module.split(".")
            if not self.is_package:
                package.pop()
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        for alias in node.names:
            # `from pkg import name`: the submodule pkg.name if there is one, else pkg itself.
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in self.modules else self._resolve(base), node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self._type_checking += 1
        for stmt in node.body:
            self.visit(stmt)
        self._type_checking -= 1
        for stmt in node.orelse:  # the `else:` of `if TYPE_CHECKING:` does run
            self.visit(stmt)


def collect_imports(modules: Mapping[str, Path]) -> list[Import]:
    """Every import statement of every module, resolved to the module it names."""
    found: list[Import] = []
    for module, path in modules.items():
        collector = _ImportCollector(module, path, modules)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(collector.found)
    return list(dict.fromkeys(found))  # `from m import a, b` is one import of m


def _reachable(start: str, edges: Mapping[str, list[str]]) -> set[str]:
    """The nodes reachable from ``start`` by one edge or more (``start`` too, if on a circle)."""
    seen: set[str] = set()
    todo = list(edges[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges[node])
    return seen


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One shortest circle per group of nodes that all reach each other, e.g. ``[a, b, a]``.

    The graph is small (some 60 modules), so plain reachability finds the groups; a
    breadth-first search from each group's first node (sorted) finds the shortest way back,
    so the answer is the same on every run.
    """
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    edges = {n: sorted(set(graph.get(n, ()))) for n in nodes}
    reach = {n: _reachable(n, edges) for n in nodes}
    groups = sorted(
        {tuple(m for m in nodes if m in reach[n] and n in reach[m]) for n in nodes if n in reach[n]}
    )
    cycles = []
    for group in groups:
        first = group[0]
        came_from: dict[str, str] = {}
        queue = deque([first])
        while queue:  # the shortest way from `first` back to itself inside the group
            node = queue.popleft()
            if first in edges[node]:
                back = [node]
                while back[-1] != first:
                    back.append(came_from[back[-1]])
                cycles.append([*reversed(back), first])
                break
            for nxt in edges[node]:
                if nxt in group and nxt != first and nxt not in came_from:
                    came_from[nxt] = node
                    queue.append(nxt)
    return cycles


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def rule_broken(imp: Import) -> str | None:
    """Why an import goes against the layering, or None when it is fine."""
    src, dst = imp.importer, imp.target
    if _within(src, "corpus") and (_within(dst, "embeddings") or _within(dst, "bot")):
        return "corpus is the bottom room: it imports neither embeddings nor bot"
    if _within(src, "embeddings") and _within(dst, "bot"):
        return "embeddings does not import bot"
    if {src, dst} == {"embeddings.search", "embeddings.indexer"}:
        return "the index reader and writer share embeddings.generations, not each other"
    if _within(dst, "discord") and not _within(src, "bot.discord"):
        return "only bot.discord imports discord.py"
    if _within(src, "bot.discord") and (_within(dst, "bot.cli") or _within(dst, "bot.__main__")):
        return "the Discord front end does not import the CLI"
    if _is_cli(src) and _within(dst, "bot.discord"):
        if dst == CLI_DISCORD_ENTRY and imp.lazy:
            return None
        return f"the CLI reaches Discord only through {CLI_DISCORD_ENTRY}, inside a function"
    is_front_end = _is_cli(src) or any(_within(src, f) for f in FRONT_ENDS)
    if _within(src, "bot") and not is_front_end and any(_within(dst, f) for f in FRONT_ENDS):
        return "the service and the rest of bot import no front end"
    return None


def _is_cli(module: str) -> bool:
    """The CLI: bot/cli.py and the command modules it discovers (bot/cli_*.py)."""
    return module == "bot.cli" or module.startswith("bot.cli_")


def cycle_report(imports: Iterable[Import]) -> list[str]:
    """One paragraph per circle: the modules in order, and the import lines that close it."""
    runtime = [i for i in imports if i.internal and not i.type_only and i.importer != i.target]
    graph: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], list[Import]] = {}
    for imp in runtime:
        graph.setdefault(imp.importer, set()).add(imp.target)
        lines.setdefault((imp.importer, imp.target), []).append(imp)
    report = []
    for cycle in find_cycles(graph):
        steps = [f"    {imp.where()}" for a, b in pairwise(cycle) for imp in lines[(a, b)]]
        report.append(" -> ".join(cycle) + "\n" + "\n".join(steps))
    return report


def upward_report(imports: Iterable[Import]) -> list[str]:
    return [f"{imp.where()}: {why}" for imp in imports if (why := rule_broken(imp))]


# --- the checks on Steward itself ----------------------------------------------------


def test_the_packages_have_no_import_circle() -> None:
    cycles = cycle_report(collect_imports(project_modules(ROOT)))
    assert not cycles, "import circles between Steward's modules:\n" + "\n".join(cycles)


def test_nothing_imports_upward_and_no_front_end_imports_another() -> None:
    broken = upward_report(collect_imports(project_modules(ROOT)))
    assert not broken, "imports against the layering (DESIGN.md):\n" + "\n".join(broken)


def test_the_walk_sees_every_package() -> None:
    modules = project_modules(ROOT)
    imports = collect_imports(modules)
    # Guards against a walk that silently finds nothing: the known entry points are there,
    # and so is the CLI's lazy import of the Discord runner.
    assert {"bot.cli", "bot.app", "embeddings.search", "corpus.store"} <= set(modules)
    assert any(
        i.importer == "bot.cli" and i.target == CLI_DISCORD_ENTRY and i.lazy for i in imports
    )


# --- the checker, on small made-up graphs and packages ---------------------------------


def test_find_cycles_finds_each_circle_once_and_nothing_in_a_tree() -> None:
    assert find_cycles({"a": ["b"], "b": ["c"], "c": [], "d": ["a", "c"]}) == []
    graph = {
        "a": ["b"],
        "b": ["c", "a"],  # a <-> b, and a -> b -> c -> a: one group, shortest circle a-b-a
        "c": ["a"],
        "x": ["y"],
        "y": ["z"],
        "z": ["x"],
        "s": ["s"],  # a module importing itself
        "leaf": [],
    }
    assert find_cycles(graph) == [["a", "b", "a"], ["s", "s"], ["x", "y", "z", "x"]]


def _write(root: Path, files: Mapping[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return project_modules(root)


def test_lazy_relative_and_type_checking_imports_are_resolved(tmp_path: Path) -> None:
    modules = _write(
        tmp_path,
        {
            "corpus/__init__.py": "from .types import Document\n",
            "corpus/types.py": "",
            "corpus/load.py": "def load():\n    from . import isolation\n",
            "corpus/isolation.py": "from corpus.load import load\n",
            "embeddings/__init__.py": "",
            "embeddings/search.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from embeddings.indexer import Indexer\n"
                "else:\n    import numpy\n"
            ),
            "embeddings/indexer.py": "from .search import Searcher\n",
            "bot/__init__.py": "",
            "bot/cli.py": "",
            "bot/discord/__init__.py": "",
            "bot/discord/client.py": "from ..cli import main\nimport discord.ext.commands\n",
        },
    )
    found = {(i.importer, i.target, i.lazy, i.type_only) for i in collect_imports(modules)}
    assert found == {
        ("corpus", "corpus.types", False, False),
        ("corpus.load", "corpus.isolation", True, False),
        ("corpus.isolation", "corpus.load", False, False),
        ("embeddings.search", "typing", False, False),
        ("embeddings.search", "embeddings.indexer", False, True),
        ("embeddings.search", "numpy", False, False),
        ("embeddings.indexer", "embeddings.search", False, False),
        ("bot.discord.client", "bot.cli", False, False),
        ("bot.discord.client", "discord.ext.commands", False, False),
    }
    # The lazy import closes a circle; the type-checking-only one does not.
    report = cycle_report(collect_imports(modules))
    assert len(report) == 1 and report[0].startswith("corpus.isolation -> corpus.load -> corpus")
    assert "corpus/load.py:2 imports corpus.isolation (in a function)" in report[0]


def test_the_layering_rules_name_each_upward_import(tmp_path: Path) -> None:
    modules = _write(
        tmp_path,
        {
            "corpus/__init__.py": "",
            "corpus/store.py": "def f():\n    import embeddings.search\n",
            "embeddings/__init__.py": "",
            "embeddings/search.py": "from bot.app import Steward\nfrom .indexer import FILE\n",
            "embeddings/indexer.py": "",
            "bot/__init__.py": "",
            "bot/app.py": "import discord\n",
            "bot/render.py": "from bot.discord import embeds\n",
            "bot/cli.py": (
                "from bot.discord.runner import run_bot\n"  # at import time: not allowed
                "def serve():\n    from bot.discord.runner import run_bot\n"  # allowed
                "def show():\n    from bot.discord.embeds import fit\n"  # not the runner
            ),
            "bot/discord/__init__.py": "",
            "bot/discord/runner.py": "import discord\nfrom bot.app import Steward\n",
            "bot/discord/embeds.py": "def ctx():\n    from bot.cli import source_context\n",
        },
    )
    broken = upward_report(collect_imports(modules))
    expected = [
        ("bot/app.py:1 imports discord", "only bot.discord"),
        ("bot/cli.py:1 imports bot.discord.runner", "inside a function"),
        ("bot/cli.py:5 imports bot.discord.embeds", "inside a function"),
        ("bot/discord/embeds.py:2 imports bot.cli", "does not import the CLI"),
        ("bot/render.py:1 imports bot.discord.embeds", "import no front end"),
        ("corpus/store.py:2 imports embeddings.search", "bottom room"),
        ("embeddings/search.py:1 imports bot.app", "does not import bot"),
        ("embeddings/search.py:2 imports embeddings.indexer", "not each other"),
    ]
    assert len(broken) == len(expected), "\n".join(broken)
    for (where, why), line in zip(expected, sorted(broken), strict=True):
        assert where in line and why in line, line
