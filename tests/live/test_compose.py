"""The two-tier app under Compose v2 on the real engine: health gating, restarts, data, failures.

Each test uses project names of its own scope, and nothing of it may remain afterwards: every
failure must be one clear error that names the service (and port, or image) concerned.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import docker
import pandas as pd
import pytest
import requests

from helpers import course, labels
from helpers.engine import compose as engine
from helpers.engine.cleanup import cleanup
from helpers.errors import ComposeFileInvalid, ImageUnavailable, NotReady, PortInUse
from helpers.lessons import compose

FOLDER = compose.APP_FOLDER


@pytest.fixture(scope="module")
def app_image() -> Iterator[str]:
    """The sample app, built once for this module under a label of its own."""
    owner = f"test-{uuid.uuid4().hex[:8]}"
    previous = labels.current_notebook()
    labels.set_notebook(owner)
    tag = f"docker-course/{owner}-app:1"
    try:
        course.build_image(tag)
        yield tag
    finally:
        cleanup(owner)
        labels.set_notebook(previous)


@pytest.fixture
def env_files(scope) -> Iterator[None]:
    """The env file, override and passwords go to the state folder, never into data/."""
    before = sorted(FOLDER.rglob("*"))
    yield
    assert sorted(FOLDER.rglob("*")) == before
    assert not (FOLDER / ".secrets").exists()


def _nothing_left(scope: str) -> None:
    assert compose.leftovers(scope).empty
    engine_ = docker.from_env()
    assert not engine_.containers.list(all=True, filters=labels.filters(scope))
    assert not engine_.volumes.list(filters=labels.filters(scope))
    assert not engine_.networks.list(filters=labels.filters(scope))


def _texts(stack: compose.Stack) -> list[str]:
    app = compose.service(stack, "app")
    answer = requests.get(app.url(path="/api/messages"), timeout=10)
    assert answer.status_code == 200
    return [m["text"] for m in answer.json()]


def _epoch(stamp: str) -> float:
    return pd.Timestamp(stamp).value / 1e9


def test_health_gating_restart_and_data_across_down_up(scope, env_files, app_image) -> None:
    stack = compose.prepare(app_image, project=scope, port=0)
    assert stack.compose.startswith("docker compose ")
    # the course's files of the project are in the state folder; the printed paths work in
    # notebooks/ (the compose file relative to it, the state folder's files absolute)
    folder = compose.project_folder(scope)
    assert stack.files == ["../data/apps/two-tier/compose.yaml",
                           str(folder / "course.override.yaml")]
    assert stack.env_file == str(folder / f"{scope}.env")
    assert sorted(p.name for p in (folder / "secrets").iterdir()) == [
        "db_password.txt", "db_root_password.txt"]
    assert "io.docker-course.notebook" in compose.override_file(stack)
    assert stack.services == ["db", "app"]
    # the model is Compose's own: the env file's values are filled in, short syntax expanded
    [port] = engine.published_ports(stack.model, "app")
    assert (port.address, port.target) == (f"127.0.0.1:{stack.app_port}", 5000)
    table = compose.services_table(stack)
    assert table.loc["app", "image"] == app_image
    assert table.loc["app", "ports"] == f"127.0.0.1:{stack.app_port}->5000/tcp"

    before_up = time.time()
    first = compose.up(stack)
    # the app is started only once the database is healthy: engine timestamps say so
    assert first.compose == stack.compose
    assert first.started["app"] >= first.healthy["db"], first.timeline
    events = engine.events(scope, before_up - 1)
    db_healthy = min(e["time"] for e in events
                     if e["service"] == "db" and e["action"] == "health_status: healthy")
    app_attrs = docker.from_env().containers.get(compose.ps(stack).loc["app", "container"]).attrs
    assert _epoch(app_attrs["State"]["StartedAt"]) >= db_healthy
    table = compose.ps(stack)
    assert set(table["health"]) == {"healthy"} and list(table["restarts"]) == [0, 0]
    assert table.loc["app", "ports"].startswith("127.0.0.1:")

    assert _texts(stack) == ["Welcome! This row was written by the init script."]
    app = compose.service(stack, "app")
    assert requests.post(app.url(path="/api/messages"), json={"text": "kept"},
                         timeout=10).status_code == 201

    # the app's main process ends: restart: always brings it back within 15 s
    recovery = compose.kill_main_process(stack)
    assert recovery.restarts_after == recovery.restarts_before + 1
    assert recovery.seconds_until_running < 15
    assert recovery.seconds_until_healthy < 30
    assert compose.ps(stack).loc["app", "restarts"] == 1
    assert "kept" in _texts(stack)

    # a deliberate stop is respected; start brings it back
    stopped = compose.stop_service(stack, "app")
    assert stopped.loc["app", "state"] == "exited"
    started = compose.start_service(stack, "app")
    assert started.loc["app", "health"] == "healthy"
    assert "Booting worker" in compose.logs(stack, "app", 20)

    # down keeps the named volume, so the data survives
    gone = compose.down(stack)
    assert len(gone.containers) == 2 and gone.volumes_kept == [f"{scope}_db-data"]
    compose.up(stack)
    assert _texts(stack) == ["Welcome! This row was written by the init script.", "kept"]

    # down -v removes it: a new, empty volume, initialised by the init script again
    emptied = compose.down(stack, volumes=True)
    assert emptied.volumes_removed == [f"{scope}_db-data"] and not emptied.volumes_kept
    compose.up(stack)
    assert _texts(stack) == ["Welcome! This row was written by the init script."]

    # the course's cleanup finds everything Compose made, by the labels in the compose file
    report = cleanup(scope)
    assert len(report.containers) == 2 and report.volumes and report.networks
    _nothing_left(scope)


def test_a_syntax_error_is_one_clear_message_and_creates_nothing(scope, env_files,
                                                                 app_image) -> None:
    with pytest.raises(ComposeFileInvalid) as failure:
        compose.prepare(app_image, project=scope, compose_file="broken-compose.yaml", port=0)
    assert "line 8" in failure.value.message
    assert "restart: always" in failure.value.log_tail
    assert "did not find expected key" in failure.value.log_tail  # what Compose itself said
    assert failure.value.hint.count("docker compose -p") == 1
    _nothing_left(scope)


def test_a_schema_error_names_the_service_and_creates_nothing(scope, env_files, app_image,
                                                              tmp_path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("services:\n  app:\n    imag: docker-course/flask-app:1.0\n",
                    encoding="utf-8")
    with pytest.raises(ComposeFileInvalid) as failure:
        compose.prepare(app_image, project=scope, compose_file=str(typo), port=0)
    assert "(service app)" in failure.value.message
    assert "additional properties 'imag' not allowed" in failure.value.message
    _nothing_left(scope)


def test_a_missing_image_names_it_and_leaves_nothing(scope, env_files, app_image,
                                                     tmp_path) -> None:
    missing = f"docker-course/{scope}-missing:1"
    override = tmp_path / "missing-image.yaml"
    override.write_text(f"services:\n  app:\n    image: {missing}\n", encoding="utf-8")
    stack = compose.prepare(app_image, project=scope, extra_files=[str(override)], port=0)
    assert compose.services_table(stack).loc["app", "image"] == missing
    with pytest.raises(ImageUnavailable) as failure:
        compose.up(stack, timeout=120)
    assert f"{missing} (service app)" in failure.value.message
    assert failure.value.log_tail and failure.value.hint
    _nothing_left(scope)


def test_a_health_check_that_never_passes_fails_fast_and_leaves_nothing(scope, env_files,
                                                                        app_image) -> None:
    stack = compose.prepare(app_image, project=scope, extra_files=["never-healthy.yaml"],
                            port=0)
    with pytest.raises(NotReady) as failure:
        compose.up(stack, timeout=120)
    error = failure.value
    assert error.message.startswith("Service db never became healthy")
    assert "pretend the database is broken" in error.log_tail
    assert "health unhealthy" in error.log_tail and error.hint
    _nothing_left(scope)


def test_a_health_check_still_starting_at_the_timeout_says_so(scope, env_files, app_image,
                                                               tmp_path) -> None:
    slow = tmp_path / "slow-health.yaml"
    slow.write_text("services:\n  db:\n    healthcheck:\n      test: [\"CMD-SHELL\", \"echo "
                    "'still not ready' >&2; exit 1\"]\n      interval: 1s\n      retries: 1000\n",
                    encoding="utf-8")
    stack = compose.prepare(app_image, project=scope, extra_files=[str(slow)], port=0)
    with pytest.raises(NotReady) as failure:
        compose.up(stack, timeout=15)
    error = failure.value
    assert "within 15 s" in error.message
    assert "still not ready" in error.log_tail and "health starting" in error.log_tail
    _nothing_left(scope)


def test_a_port_already_taken_is_refused_and_leaves_nothing(scope, env_files,
                                                            app_image) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        stack = compose.prepare(app_image, project=scope, port=port)
        with pytest.raises(PortInUse) as early:  # checked before anything is created
            compose.up(stack)
        assert str(port) in early.value.message and "Nothing was started" in early.value.message
        _nothing_left(scope)
        # and when Compose itself runs into it (the port taken between check and start)
        proj = engine.Project(name=stack.project, files=tuple(stack.files),
                              env_file=stack.env_file)
        with pytest.raises(PortInUse) as late:
            engine.up(proj, timeout=120)
        assert f"127.0.0.1:{port}" in late.value.message and late.value.log_tail
        assert "service app" in late.value.message
    _nothing_left(scope)


def test_watch_syncs_a_saved_file_and_leaves_nothing(scope) -> None:
    before = sorted(compose.WATCH_FOLDER.rglob("*"))
    synced = compose.watch_demo("changed by the test\n", timeout=30)
    assert (synced.before, synced.after) == ("version 1", "changed by the test")
    assert synced.seconds_until_synced is not None and synced.seconds_until_synced < 30
    assert any("Watch enabled" in line for line in synced.watch_said)
    # the repository's copy is untouched; the project and the image Compose built are gone
    assert sorted(compose.WATCH_FOLDER.rglob("*")) == before
    assert (compose.WATCH_FOLDER / "site" / "index.html").read_text() == "version 1\n"
    assert not any(engine.objects(synced.project).values())
    images = docker.from_env().images.list(filters={"reference": f"{synced.project}*"})
    assert not images
    _nothing_left(scope)
