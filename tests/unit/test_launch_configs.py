"""Binder and Codespaces launch files: they parse, agree with pyproject.toml, and resolve."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["lab"]


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _pip_section(environment: dict) -> list[str]:
    sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert len(sections) == 1, "environment.yml needs exactly one pip section"
    return sections[0]


def test_environment_yml_matches_pyproject() -> None:
    environment = _environment()
    assert any(str(d).startswith("python=3.1") for d in environment["dependencies"])
    assert "pip" in environment["dependencies"]
    assert _pip_section(environment) == _pyproject_requirements()


def test_environment_resolves_with_pip(tmp_path) -> None:
    if os.environ.get("COURSE_OFFLINE") == "1":
        pytest.skip("COURSE_OFFLINE=1: no package index to resolve against")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(_pip_section(_environment())) + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
                           "--ignore-installed", "--report", str(tmp_path / "report.json"),
                           "-r", str(requirements)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    names = {item["metadata"]["name"].lower() for item in report["install"]}
    assert {"docker", "pandas", "jupyterlab", "matplotlib"} <= names


def test_binder_files_install_the_package_quiet_the_news_and_replay() -> None:
    post_build = ROOT / "postBuild"
    start = ROOT / "start"
    for script in (post_build, start):
        assert script.stat().st_mode & stat.S_IXUSR, f"{script.name} must be executable"
        assert script.read_text().startswith("#!/usr/bin/env bash")
    assert "pip install --no-deps -e ." in post_build.read_text()
    assert "overrides.json" in post_build.read_text()
    assert 'COURSE_MODE="${COURSE_MODE:-replay}"' in start.read_text()
    assert 'exec "$@"' in start.read_text()
    overrides = json.loads((ROOT / "lab-settings" / "overrides.json").read_text())
    news = overrides["@jupyterlab/apputils-extension:notification"]
    assert news["fetchNews"] == "false" and news["checkForUpdates"] is False
    assert not (ROOT / "binder").exists(), "a binder/ folder would hide the root config files"


def test_readme_binder_badge_opens_the_first_notebook() -> None:
    readme = (ROOT / "README.md").read_text()
    first = sorted((ROOT / "notebooks").glob("01_*.ipynb"))[0].name
    assert f"urlpath=lab/tree/notebooks/{first}" in readme


def test_devcontainer_has_python_bookworm_docker_in_docker_and_lab_port() -> None:
    config = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    assert "python" in config["image"] and "bookworm" in config["image"]
    features = config["features"]
    dind = [key for key in features if "/docker-in-docker:" in key]
    assert dind, "the docker-in-docker feature is missing"
    assert int(dind[0].rsplit(":", 1)[1].split(".")[0]) >= 2
    port = config["forwardPorts"][0]
    assert f"--port={port}" in config["postStartCommand"]
    assert "jupyter lab" in config["postStartCommand"]
    assert "make .venv/.installed" in config["postCreateCommand"]
