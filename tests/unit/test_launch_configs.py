"""Binder and Codespaces launch files: they parse, agree with pyproject.toml, and resolve."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


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


def _devcontainer() -> dict:
    return json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())


def _dind(config: dict) -> tuple[str, dict]:
    keys = [key for key in config["features"] if "/docker-in-docker:" in key]
    assert len(keys) == 1, "the docker-in-docker feature is missing"
    return keys[0], config["features"][keys[0]]


def test_devcontainer_has_python_bookworm_docker_in_docker_and_lab_port() -> None:
    config = _devcontainer()
    assert "python" in config["image"] and "bookworm" in config["image"]
    key, _ = _dind(config)
    assert int(key.rsplit(":", 1)[1].split(".")[0]) >= 4, "docker-in-docker major 4 or newer"
    port = config["forwardPorts"][0]
    assert config["postStartCommand"] == "bash .devcontainer/start-lab"
    start_lab = (ROOT / ".devcontainer" / "start-lab").read_text()
    assert f'port="${{COURSE_LAB_PORT:-{port}}}"' in start_lab
    assert "make .venv/.installed" in config["postCreateCommand"]


def test_devcontainer_docker_in_docker_is_the_current_major_with_documented_options() -> None:
    feature_file = SHARED / "schemas" / "docker-in-docker.devcontainer-feature.json"
    if not feature_file.exists():
        pytest.skip("../shared/schemas is not here")
    feature = json.loads(feature_file.read_text())
    key, options = _dind(_devcontainer())
    assert key.rsplit(":", 1)[1].split(".")[0] == feature["version"].split(".")[0]
    documented = feature["options"]
    for name, value in options.items():
        assert name in documented, f"{name} is not an option of the feature"
        spec = documented[name]
        kind = {"boolean": bool, "string": str}[spec["type"]]
        assert isinstance(value, kind), f"{name} must be a {spec['type']}"
        if "enum" in spec:
            assert value in spec["enum"], f"{name}={value!r} not in {spec['enum']}"
    assert options["dockerDashComposeVersion"] == "v2" and options["installDockerBuildx"]
    assert options.get("installDockerComposeSwitch") is False, "no Compose v1 shim"
    mounts = {m["target"] for m in feature.get("mounts", [])}
    assert {"/var/lib/docker", "/var/lib/containerd"} <= mounts  # what major 3+ brought


def test_devcontainer_validates_against_the_spec_schema() -> None:
    schema_file = SHARED / "schemas" / "devContainer.base.schema.json"
    if not schema_file.exists():
        pytest.skip("../shared/schemas is not here")
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(
        _devcontainer())]
    assert errors == []
    assert list(validator.iter_errors({**_devcontainer(), "notAProperty": 1})), \
        "the schema must refuse unknown top-level keys (it is really checked)"


def test_devcontainer_sizes_the_machine_quiets_ports_and_names_the_interpreter() -> None:
    config = _devcontainer()
    assert config["hostRequirements"]["cpus"] >= 4
    assert int(config["hostRequirements"]["memory"].removesuffix("gb")) >= 8
    settings = config["customizations"]["vscode"]["settings"]
    assert settings["python.defaultInterpreterPath"].endswith("/.venv/bin/python")
    assert config["otherPortsAttributes"]["onAutoForward"] == "silent"
    attributes = config["portsAttributes"]
    from helpers.preflight import COURSE_PORTS

    for port in COURSE_PORTS:
        ranges = [key for key in attributes if "-" in key
                  and int(key.split("-")[0]) <= port <= int(key.split("-")[1])]
        assert ranges and all(attributes[r]["onAutoForward"] == "silent" for r in ranges), port
    assert attributes[str(config["forwardPorts"][0])]["label"] == "JupyterLab"


def test_start_lab_survives_the_hook_and_allows_the_codespaces_origin() -> None:
    script = ROOT / ".devcontainer" / "start-lab"
    assert script.stat().st_mode & stat.S_IXUSR
    text = script.read_text()
    assert "setsid nohup" in text and "</dev/null &" in text
    assert "--ip=127.0.0.1" in text  # Codespaces forwards to loopback; the port stays private
    assert "--IdentityProvider.token=" in text and "ServerApp.token" not in text
    assert "--ServerApp.allow_remote_access=True" in text
    assert r"app\.github\.dev" in text
    assert '--ServerApp.root_dir="$root"' in text and "/lab/tree/notebooks/" in text


def _run_post_create(tmp_path: Path, *, make_ok: bool, preflight_ok: bool) -> int:
    """postCreateCommand with stand-ins for make and the venv's python."""
    bin_dir = tmp_path / "bin"
    venv_bin = tmp_path / ".venv" / "bin"
    for folder in (bin_dir, venv_bin):
        folder.mkdir(parents=True, exist_ok=True)
    for path, ok in ((bin_dir / "make", make_ok), (venv_bin / "python", preflight_ok)):
        path.write_text(f"#!/bin/sh\nexit {0 if ok else 1}\n")
        path.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(["/bin/sh", "-c", _devcontainer()["postCreateCommand"]], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60,
                          check=False).returncode


def test_post_create_fails_on_a_failed_install_but_not_on_a_not_ready_engine(tmp_path) -> None:
    assert _run_post_create(tmp_path, make_ok=False, preflight_ok=True) != 0
    assert _run_post_create(tmp_path, make_ok=True, preflight_ok=False) == 0
    assert _run_post_create(tmp_path, make_ok=True, preflight_ok=True) == 0
