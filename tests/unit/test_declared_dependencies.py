"""Every package that helpers/ imports is declared in pyproject.toml.

An import that can fail without harm (inside ``try: … except ImportError``) may come from an
optional extra; every other one must be in ``[project] dependencies``: a fresh install of the
course (``pip install .``) then has all it needs. Read from the source with :mod:`ast`; the
distribution behind an import name comes from the installed metadata
(``importlib.metadata.packages_distributions``).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _name(requirement: str) -> str:
    """``"docker>=7.2,<8"`` -> ``"docker"`` (PEP 503 normalised)."""
    bare = re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _optional(handlers: list[ast.ExceptHandler]) -> bool:
    caught = [h.type for h in handlers]
    names = {n.id for t in caught if t is not None
             for n in ast.walk(t) if isinstance(n, ast.Name)}
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def imported_top_levels(folder: Path) -> dict[str, bool]:
    """Top-level module name -> True when every import of it is optional (guarded)."""
    found: dict[str, bool] = {}

    def visit(node: ast.AST, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Try):
                inner = guarded or _optional(child.handlers)
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), inner)
                for part in (*child.handlers, *child.orelse, *child.finalbody):
                    visit(ast.Module(body=[part], type_ignores=[]) if not isinstance(
                        part, ast.ExceptHandler) else part, guarded)
                continue
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
                names = [child.module]
            for name in names:
                top = name.split(".")[0]
                found[top] = found.get(top, True) and guarded
            visit(child, guarded)

    for path in sorted(folder.rglob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return {top: optional for top, optional in found.items()
            if top not in sys.stdlib_module_names and top != "helpers"}


def test_the_reader_sees_guarded_and_plain_imports(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import docker.errors\ntry:\n    import cvss\n"
                                   "except ImportError:\n    cvss = None\n"
                                   "def f():\n    from yaml import safe_load\n")
    assert imported_top_levels(tmp_path) == {"docker": False, "cvss": True, "yaml": False}


def test_every_import_is_declared() -> None:
    required = {_name(r) for r in PROJECT["dependencies"]}
    extras = {_name(r) for group in PROJECT["optional-dependencies"].values() for r in group}
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for top, optional in sorted(imported_top_levels(ROOT / "helpers").items()):
        provided = {_name(d) for d in distributions.get(top, [])}
        assert provided, f"`import {top}`: no installed distribution provides it"
        allowed = required | extras if optional else required
        if not provided & allowed:
            missing.append(f"{top} ({', '.join(sorted(provided))}"
                           f"{', optional: an extra is enough' if optional else ''})")
    assert not missing, "imported by helpers/ but not declared in pyproject.toml: " + \
        "; ".join(missing)
