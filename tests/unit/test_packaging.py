"""Packaging that lasts: an SPDX licence with its file, minimums that were measured to work, a
pinned linter, and course data found for every way the package can be installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Lowest versions measured to work (`make lowest`: uv's lowest-direct resolution, unit tests and
# strict replay). Below these: docker 7.1 ignores Docker contexts; pandas 3 wants jinja2 ≥ 3.1.5
# for DataFrame.style (3.1.2–3.1.4: "The '.style' accessor requires jinja2"); the recordings and
# committed outputs are made with pandas 3 (pandas 2 was seen to change strict-replay cells);
# python-debian 0.1.x depends on chardet, which warns into every notebook; matplotlib releases
# before 3.8.4 require NumPy < 2, which the lowest resolution never picks.
MEASURED_MINIMUMS = {"docker": "7.2", "pandas": "3.0", "jinja2": "3.1.5",
                     "python-debian": "1.0", "matplotlib": "3.8.4"}


def _requirements() -> dict[str, Requirement]:
    project = PYPROJECT["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values()
                                        for r in extra]
    return {Requirement(r).name.lower(): Requirement(r) for r in listed}


def _minimum(requirement: Requirement) -> Version | None:
    floors = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    return max(floors) if floors else None


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))
    backend = Requirement(PYPROJECT["build-system"]["requires"][0])
    assert backend.name == "setuptools" and _minimum(backend) >= Version("77")


def test_minimums_are_the_measured_ones_and_every_dependency_has_one() -> None:
    requirements = _requirements()
    for name, floor in MEASURED_MINIMUMS.items():
        assert _minimum(requirements[name]) >= Version(floor), name
    for name, requirement in requirements.items():
        assert _minimum(requirement) is not None, f"{name} needs a lower bound"


def test_ruff_is_pinned() -> None:
    ruff = _requirements()["ruff"]
    assert [s.operator for s in ruff.specifier] == ["=="]


def _settings_root(cwd: Path, site: Path, **env: str) -> str:
    """settings.PROJECT_ROOT as a package installed in ``site`` (no checkout around it) sees it."""
    clean = {k: v for k, v in os.environ.items() if k not in ("COURSE_ROOT", "PYTHONPATH")}
    done = subprocess.run([sys.executable, "-I", "-c",
                           f"import sys; sys.path.insert(0, {str(site)!r}); "
                           "from helpers import settings; print(settings.PROJECT_ROOT)"],
                          cwd=cwd, env={**clean, **env}, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def installed_copy(tmp_path_factory) -> Path:
    """The package as a non-editable install lays it out: helpers/ alone in a site folder."""
    site = tmp_path_factory.mktemp("site-packages")
    shutil.copytree(ROOT / "helpers", site / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return site


def test_a_non_editable_install_finds_the_course_from_its_notebooks(installed_copy) -> None:
    assert _settings_root(ROOT / "notebooks", installed_copy) == str(ROOT)
    assert _settings_root(ROOT / "data" / "apps", installed_copy) == str(ROOT)


def test_course_root_variable_wins(installed_copy, tmp_path) -> None:
    assert _settings_root(ROOT / "notebooks", installed_copy,
                          COURSE_ROOT=str(tmp_path)) == str(tmp_path.resolve())


def test_outside_any_course_the_package_folder_is_named(installed_copy, tmp_path) -> None:
    assert _settings_root(tmp_path, installed_copy) == str(installed_copy)


def test_an_editable_checkout_still_uses_itself() -> None:
    from helpers import settings

    assert settings.is_course_root(ROOT)
    if not os.environ.get("COURSE_ROOT"):
        assert settings.find_course_root() == ROOT


def test_wheel_carries_the_licence_and_builds_without_deprecation_warnings(tmp_path) -> None:
    if os.environ.get("COURSE_OFFLINE") == "1":
        pytest.skip("COURSE_OFFLINE=1: building needs setuptools from the package index")
    source = tmp_path / "source"  # setuptools builds in the source tree: keep ROOT clean
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "helpers", source / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose",
                           "--wheel-dir", str(tmp_path), str(source)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    log = done.stdout + done.stderr
    assert "project.license` as a TOML table is deprecated" not in log
    assert "License classifiers are deprecated" not in log
    (wheel,) = tmp_path.glob("docker_course_helpers-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    assert "License-Expression: MIT" in text and "License-File: LICENSE" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "helpers/settings.py" in names
