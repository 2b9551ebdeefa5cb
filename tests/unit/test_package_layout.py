"""The package's layout: imports go one way, and only helpers/engine/ talks to the engine.

Read from the source with :mod:`ast` (nothing is imported). An import counts at module level,
and also inside a function (it runs when the function runs: a circle through one is still a
circle, only a later one); an import under ``if TYPE_CHECKING:`` never runs and does not count.
Importing ``helpers.a.b`` runs ``helpers/a/__init__.py`` too, so it counts as an import of
``helpers.a`` as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "helpers"
ENGINE = "helpers.engine"

# Circles that run-time imports still make, each with what removes it. The test fails when one
# of them is gone (delete it here) and when any other circle appears.
KNOWN_CIRCLES: dict[frozenset[str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, top: bool = True) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement that can run, and whether it runs at module level."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and _type_checking_only(child):
            for branch in child.orelse:
                yield from _imports(ast.Module(body=[branch], type_ignores=[]), top)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, top
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _imports(child, False)
        else:
            yield from _imports(child, top)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The dotted names an import statement brings in (absolute, submodules resolved)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        base = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    for alias in node.names:
        yield f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source


def import_graph(*, module_level_only: bool) -> dict[str, set[str]]:
    """helpers module -> the helpers modules its imports run (``__init__`` modules included)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for module, path in MODULES.items():
        for node, top in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module_level_only and not top:
                continue
            for target in _targets(module, node):
                parts = target.split(".")
                for depth in range(2, len(parts) + 1):
                    package = ".".join(parts[:depth])
                    if package in MODULES and package != module \
                            and not module.startswith(package + "."):
                        graph[module].add(package)
    return graph


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(frozenset(group))
    return found


def _described(found: list[frozenset[str]], graph: dict[str, set[str]]) -> str:
    return "\n".join(
        "circle: " + "; ".join(f"{m} -> {', '.join(sorted(graph[m] & group))}"
                               for m in sorted(group))
        for group in found)


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [frozenset({"a", "b", "c"})]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_circle_among_module_level_imports() -> None:
    graph = import_graph(module_level_only=True)
    found = circles(graph)
    assert not found, _described(found, graph)


def test_no_circle_among_run_time_imports_either() -> None:
    graph = import_graph(module_level_only=False)
    found = circles(graph)
    new = [group for group in found if group not in KNOWN_CIRCLES]
    assert not new, _described(new, graph)
    gone = [reason for group, reason in KNOWN_CIRCLES.items() if group not in found]
    assert not gone, f"no longer a circle, remove it from KNOWN_CIRCLES: {gone}"


def _outside_engine() -> list[tuple[str, ast.Module]]:
    return [(module, ast.parse(path.read_text(encoding="utf-8")))
            for module, path in MODULES.items()
            if module != ENGINE and not module.startswith(ENGINE + ".")]


def _imports_docker(tree: ast.Module) -> list[int]:
    lines = []
    for node in ast.walk(tree):  # also under TYPE_CHECKING: the SDK's types belong there too
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(name == "docker" or name.startswith("docker.") for name in names):
            lines.append(node.lineno)
    return lines


def _runs_docker_cli(tree: ast.Module) -> list[int]:
    """Lines that build a ``docker …`` argv (a list or tuple whose first item is "docker" or
    "docker-compose") or look the CLI up (``which("docker")``), in a module that can start a
    process (imports subprocess, or calls os.system/os.popen)."""
    starts_processes = any(
        (isinstance(n, ast.Import) and any(a.name == "subprocess" for a in n.names))
        or (isinstance(n, ast.ImportFrom) and n.module == "subprocess")
        or (isinstance(n, ast.Attribute) and n.attr in ("system", "popen")
            and isinstance(n.value, ast.Name) and n.value.id == "os")
        for n in ast.walk(tree))
    if not starts_processes:
        return []
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            first = node.elts[0]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", "")) == "which" and node.args:
            first = node.args[0]
        else:
            continue
        if isinstance(first, ast.Constant) and first.value in ("docker", "docker-compose"):
            lines.append(node.lineno)
    return lines


def test_the_engine_checks_can_fail() -> None:
    sdk = ast.parse("import subprocess\nimport docker.errors\n"
                    "subprocess.run(['docker', 'ps'])\n")
    assert _imports_docker(sdk) == [2] and _runs_docker_cli(sdk) == [3]
    text = ast.parse("words = ['docker', 'compose']\n")  # parsing a command line runs nothing
    assert _runs_docker_cli(text) == []


def test_only_the_engine_package_imports_the_docker_sdk() -> None:
    found = {module: lines for module, tree in _outside_engine()
             if (lines := _imports_docker(tree))}
    assert not found, f"docker imported outside helpers/engine/ (module: lines): {found}"


def test_only_the_engine_package_runs_the_docker_cli() -> None:
    found = {module: lines for module, tree in _outside_engine()
             if (lines := _runs_docker_cli(tree))}
    assert not found, f"docker CLI run outside helpers/engine/ (module: lines): {found}"


@pytest.mark.parametrize("module", ["helpers.display", "helpers.scan.reports", "helpers.commands"])
def test_lower_modules_do_not_import_the_ones_above(module: str) -> None:
    above = ("helpers.session", "helpers.lessons", "helpers.course", "helpers.cli")
    graph = import_graph(module_level_only=False)
    assert not {t for t in graph[module] if t.startswith(above)}, graph[module]


def test_only_the_engine_package_uses_the_sdk_client() -> None:
    """Outside helpers/engine/ nobody reaches through the SDK client (``client().…``, the
    low-level ``.api``, an SDK collection such as ``engine.containers.list``): a lesson asks an
    engine function instead."""
    import re

    pattern = re.compile(r"client\(\)\.|\.api\.|"
                         r"\bengine\.(containers|images|volumes|networks)\.(list|get|run|create)\(")
    found = [f"{module}:{number}: {line.strip()}" for module, path in MODULES.items()
             if module != ENGINE and not module.startswith(ENGINE + ".")
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line)]
    assert not found, "\n".join(found)


CHARTS = "helpers.charts"


def _imports_at_run_time(tree: ast.Module, package: str) -> list[int]:
    """Lines that import ``package`` (or a submodule) and can run: not under TYPE_CHECKING."""
    lines = []
    for node, _ in _imports(tree):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
            [] if node.level else [node.module or ""]
        if any(name == package or name.startswith(package + ".") for name in names):
            lines.append(node.lineno)
    return lines


def test_only_the_charts_package_draws() -> None:
    """matplotlib is imported in helpers/charts/ only (elsewhere for type hints at most)."""
    found = {module: lines for module, path in MODULES.items()
             if module != CHARTS and not module.startswith(CHARTS + ".")
             if (lines := _imports_at_run_time(ast.parse(path.read_text(encoding="utf-8")),
                                               "matplotlib"))}
    assert not found, f"matplotlib imported outside helpers/charts/ (module: lines): {found}"


def test_the_charts_check_can_fail() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                     "    from matplotlib.figure import Figure\n"
                     "def draw():\n    from matplotlib.figure import Figure\n")
    assert _imports_at_run_time(tree, "matplotlib") == [5]


FIRST_CELL = """
import sys
from helpers import charts, course, display, tasks
from helpers.lessons import (anatomy, compose, isolation, lifecycle, networking, recap,
                             registry, two_tier, volumes, vulnerabilities)
print(" ".join(sorted(m for m in ("docker", "requests", "urllib3", "matplotlib")
                      if m in sys.modules)))
"""


def test_a_first_cell_imports_neither_the_sdk_nor_matplotlib() -> None:
    """What every notebook's first cell imports leaves the Docker SDK, requests, urllib3 and
    matplotlib out (about 0.5 s per notebook): they come with the first live engine call or
    the first chart."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FIRST_CELL], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "COURSE_MODE": "replay"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], f"imported at start: {done.stdout.strip()}"


def _module_state(tree: ast.Module) -> list[int]:
    """Lines that keep state in a module: a ``global`` statement, or a module-level name that
    is not a CONSTANT bound to a dict, list or set (literal or made by a call)."""
    lines = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Global)]
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        mutable = isinstance(value, (ast.Dict, ast.List, ast.Set)) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id in ("dict", "list", "set", "defaultdict"))
        if mutable and any(not name.isupper() and name != "__all__" for name in names):
            lines.append(node.lineno)
    return lines


def test_the_state_check_can_fail() -> None:
    tree = ast.parse("KNOWN = {}\n_cache: dict = {}\ndef f():\n    global X\n")
    assert _module_state(tree) == [4, 2]


def test_lessons_keep_no_state_of_their_own() -> None:
    """Lessons orchestrate: what a kernel must remember lives in helpers/session/."""
    found = {module: lines for module, path in MODULES.items()
             if module.startswith("helpers.lessons")
             if (lines := _module_state(ast.parse(path.read_text(encoding="utf-8"))))}
    assert not found, f"module state in lessons (module: lines): {found}"
