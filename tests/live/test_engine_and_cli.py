"""The engine connection, preflight and cleanup, as a learner meets them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import docker
import pytest

from helpers import labels, settings
from helpers.engine import client as client_mod
from helpers.engine import containers, objects
from helpers.engine.cleanup import cleanup
from helpers.errors import EngineUnavailable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


def test_engine_facts_name_the_engine() -> None:
    facts = client_mod.engine_facts()
    assert facts.server_version and facts.api_version
    assert facts.os_type == "linux"
    assert facts.storage_driver


def test_preflight_is_ready_and_prints_a_table() -> None:
    done = _cli("preflight")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✔ Docker Engine" in done.stdout and "Ready." in done.stdout


def test_engine_facts_name_the_image_store_buildx_and_compose_v2() -> None:
    facts = client_mod.engine_facts()
    assert facts.image_store == "containerd" or facts.image_store.startswith("graphdriver (")
    assert facts.buildx != "not installed"
    assert facts.compose.startswith("docker compose ")


def test_preflight_refuses_an_end_of_life_engine_in_one_line() -> None:
    """Debian 12's Engine 20.10 (API 1.41), started by .ci/docker-stack beside the real one."""
    legacy = os.environ.get("COURSE_LEGACY_DOCKER_HOST")
    if not legacy:
        if settings.require_engine() and os.environ.get("CI"):
            pytest.fail("CI must start the 20.10 engine (.ci/docker-stack legacy start)")
        pytest.skip("no Engine 20.10 to test against (COURSE_LEGACY_DOCKER_HOST)")
    done = _cli("preflight", env={"DOCKER_HOST": legacy})
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("Not ready: Engine 20.10.")
    assert "too old" in last and "docker-compose-plugin" in last
    assert "Traceback" not in done.stdout + done.stderr


def test_preflight_without_engine_says_so_in_one_line() -> None:
    done = _cli("preflight", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert done.returncode != 0
    engine_line = [line for line in done.stdout.splitlines()
                   if line.startswith("✘ Docker Engine")]
    assert len(engine_line) == 1 and "connection refused" in engine_line[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_unreachable_engine_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    client_mod.reset()
    try:
        with pytest.raises(EngineUnavailable, match="No Docker Engine answered"):
            client_mod.client()
    finally:
        monkeypatch.delenv("DOCKER_HOST")
        client_mod.reset()


def test_cleanup_removes_course_objects_and_spares_hand_made_ones(scope, shell_image,
                                                                   hand_made) -> None:
    engine = docker.from_env()
    containers.run(shell_image, name=f"{scope}-c", command=["sleep", "30"])
    objects.create_volume(f"{scope}-v")
    objects.create_network(f"{scope}-n")
    report = cleanup(scope)
    assert sorted(report.containers) == [f"{scope}-c"]
    assert report.volumes == [f"{scope}-v"] and report.networks == [f"{scope}-n"]
    assert engine.containers.list(all=True, filters=labels.filters(scope)) == []
    assert hand_made.survived()


def test_cli_cleanup_scoped_to_a_notebook(scope, shell_image) -> None:
    containers.run(shell_image, name=f"{scope}-cli", command=["sleep", "30"])
    done = _cli("cleanup", "--notebook", scope)
    assert done.returncode == 0, done.stderr
    assert f"{scope}-cli" in done.stdout
    assert containers.container_state(f"{scope}-cli") == "missing"


def test_course_refuses_a_volume_it_did_not_make(scope) -> None:
    engine = docker.from_env()
    name = f"users-own-{uuid.uuid4().hex[:6]}"
    engine.volumes.create(name)
    try:
        with pytest.raises(Exception, match="course did not create it"):
            objects.create_volume(name)
        engine.volumes.get(name)  # still there
    finally:
        engine.volumes.get(name).remove()


def test_a_learners_container_from_a_course_image_is_not_the_courses(scope, shell_image) -> None:
    """Containers inherit image labels: course images must not mark them as course-made."""
    engine = docker.from_env()
    mine = engine.containers.create(shell_image, ["true"], name=f"learner-{uuid.uuid4().hex[:6]}")
    try:
        assert labels.COURSE_KEY not in (mine.labels or {})
        cleanup()
        engine.containers.get(mine.id)
        with pytest.raises(Exception, match="course did not create it"):
            containers.remove_if_ours(mine.name)
    finally:
        mine.remove(force=True)
