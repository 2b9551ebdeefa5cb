"""The engine goes away: between cells, mid-build, mid-compose-up (issue 17).

These tests stop and kill an engine, so they never use the shared one: they run on a private
engine in a network namespace of its own (`.ci/docker-stack scratch start`, which prints
`COURSE_SCRATCH_DOCKER_HOST`). Without it (not root, no stack) they are skipped; under
COURSE_REQUIRE_ENGINE=1 in CI they fail instead. Every test ends with the engine running
again, `cleanup` of its scope and of everything, and checks that nothing of the course is
left while the hand-made objects (including images built FROM course images) survive.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import pytest
import scratch_engine

from helpers import course, labels, resolver
from helpers.engine import build, compose, containers, images, objects, ownership
from helpers.engine import client as client_mod
from helpers.engine.cleanup import cleanup
from helpers.errors import CourseError, EngineUnavailable

WANTED = "to stop and kill"


def _unavailable(reason: str):
    scratch_engine.unavailable(reason, WANTED)


@pytest.fixture(scope="module")
def scratch_host() -> Iterator[str]:
    """The private engine's address, started here when CI did not start it; held alone."""
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "nsenter")):
        _unavailable("stopping and restarting it needs root, ip and nsenter")
    with scratch_engine.alone():
        yield scratch_engine.address(WANTED)[0]


@dataclass
class Private:
    host: str
    scope: str
    shell: str
    hand_made: list[tuple[str, str]] = field(default_factory=list)  # (kind, name or id)

    def engine(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=60)

    def stop(self) -> None:
        assert scratch_engine.stack("stop").returncode == 0
        assert not scratch_engine.answers(self.host)

    def kill(self) -> None:
        assert scratch_engine.stack("kill").returncode == 0

    def start(self) -> None:
        if not scratch_engine.answers(self.host):
            done = scratch_engine.stack("start")
            assert done.returncode == 0, done.stderr
        client_mod.reset()

    def course_objects(self, scope: str | None = None) -> list[str]:
        engine = self.engine()
        wanted = labels.filters(scope)
        found = ([f"container {c.name}" for c in engine.containers.list(all=True,
                                                                          filters=wanted)]
                 + [f"volume {v.name}" for v in engine.volumes.list(filters=wanted)]
                 + [f"network {n.name}" for n in engine.networks.list(filters=wanted)])
        if scope:
            found += [f"image {i.tags or i.id}" for i in engine.images.list(
                all=True, filters={"label": [f"{labels.IMAGE_NOTEBOOK_KEY}={scope}"]})
                if not any(t.startswith("mine-") for t in i.tags)]
        return found


def _make_hand_made(private: Private, tmp_path: Path) -> None:
    """A learner's objects on the private engine, some of them from a course image."""
    engine = private.engine()
    name = f"mine-{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "course-image"
    folder.mkdir()
    (folder / "Dockerfile").write_text(f"FROM {private.shell}\nRUN echo course > /who\n")
    course_tag = f"docker-course/{private.scope}-base:1"
    build.build(folder, course_tag, quiet=True)
    engine.images.build(fileobj=io.BytesIO(f"FROM {course_tag}\nRUN echo mine > /who\n"
                                           .encode()), tag=f"{name}/from-course:1", rm=True)
    engine.images.get(course_tag).tag(f"{name}/same", "1")
    engine.containers.create(course_tag, ["true"], name=f"{name}-runs-course")
    engine.containers.create(private.shell, ["true"], name=name)
    engine.volumes.create(name)
    engine.networks.create(name)
    private.hand_made += [("image", f"{name}/from-course:1"), ("image", f"{name}/same:1"),
                          ("container", f"{name}-runs-course"), ("container", name),
                          ("volume", name), ("network", name)]


def _check_hand_made(private: Private) -> None:
    engine = private.engine()
    for kind, name in private.hand_made:
        if kind == "image":
            engine.images.get(name)
        elif kind == "container":
            engine.containers.get(name)
        elif kind == "volume":
            engine.volumes.get(name)
        else:
            assert [n.name for n in engine.networks.list(names=[name])] == [name]


def _remove_hand_made(private: Private) -> None:
    engine = private.engine()
    for kind, name in private.hand_made:
        with contextlib.suppress(docker.errors.APIError):
            if kind == "container":
                engine.containers.get(name).remove(force=True)
    for kind, name in private.hand_made:
        with contextlib.suppress(docker.errors.APIError):
            if kind == "image":
                engine.images.remove(name)
            elif kind == "volume":
                engine.volumes.get(name).remove()
            elif kind == "network":
                for network in engine.networks.list(names=[name]):
                    network.remove()


@pytest.fixture
def private(scratch_host, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", scratch_host)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COURSE_NO_PULL", "1")  # no registry in the private namespace
    monkeypatch.setenv("COURSE_BUILD_NETWORK", "default")
    scope = f"test-{uuid.uuid4().hex[:8]}"
    previous = labels.current_notebook()
    client_mod.reset()
    made = Private(host=scratch_host, scope=scope, shell="")
    made.start()
    made.shell = resolver.resolve("shell").reference
    labels.set_notebook(scope)
    try:
        _make_hand_made(made, tmp_path)
        yield made
        made.start()
        cleanup(scope)
        assert made.course_objects(scope) == []
        assert ownership.entries(scope) == []
        assert client_mod.endpoint().host == made.host  # the private engine, never another
        cleanup()  # everything the course made on this engine: still never the learner's
        assert made.course_objects() == []
        _check_hand_made(made)
    finally:
        made.start()
        _remove_hand_made(made)
        cleanup(scope)
        labels.set_notebook(previous)
        client_mod.reset()


def _later(seconds: float, action) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def _is_course_error_naming(error: EngineUnavailable, host: str) -> None:
    assert host in error.message, error.message
    assert "from DOCKER_HOST" in error.message
    assert error.hint


def test_the_engine_stopped_between_cells(private) -> None:
    name = f"{private.scope}-app"
    containers.run(private.shell, name=name, command=["sleep", "300"])
    assert containers.container_state(name) == "running"
    private.stop()
    calls = [lambda: containers.container_state(name),
             lambda: containers.list_course(private.scope),
             lambda: course.containers_table(),
             lambda: images.inspect(private.shell),
             lambda: objects.create_volume(f"{private.scope}-v"),
             lambda: list(images.export_stream(private.shell)),
             lambda: compose.states(private.scope),
             lambda: cleanup(private.scope)]
    for call in calls:
        with pytest.raises(EngineUnavailable) as caught:
            call()
        _is_course_error_naming(caught.value, private.host)
        assert "stopped answering" in caught.value.message
    with pytest.raises(EngineUnavailable) as caught:
        course.leftovers()
    _is_course_error_naming(caught.value, private.host)
    private.start()
    report = cleanup(private.scope)
    assert name in report.containers


def test_the_engine_killed_mid_build(private, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {private.shell}\nRUN echo {private.scope} "
                                         "&& sleep 45\n")
    tag = f"docker-course/{private.scope}-slow:1"
    timer = _later(5, private.kill)
    started = time.monotonic()
    try:
        with pytest.raises(EngineUnavailable) as caught:
            build.build(tmp_path, tag, quiet=True)
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 40
    _is_course_error_naming(caught.value, private.host)
    print(caught.value.render())
    assert f"while building {tag}" in caught.value.message
    assert "fix that Dockerfile instruction" not in caught.value.hint
    private.start()
    cleanup(private.scope)
    assert private.course_objects(private.scope) == []


COMPOSE_FILE = """
x-labels: &labels
  io.docker-course.managed: "true"
  io.docker-course.notebook: "{scope}"
services:
  waits:
    image: {image}
    command: ["sleep", "600"]
    labels: *labels
    volumes: [data:/data]
    networks: [back]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 600
      start_period: 300s
networks:
  back:
    labels: *labels
volumes:
  data:
    labels: *labels
"""


def test_the_engine_stopped_mid_compose_up(private, tmp_path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE_FILE.format(scope=private.scope, image=private.shell))
    proj = compose.project(private.scope, [path])
    timer = _later(6, private.stop)
    try:
        with pytest.raises(EngineUnavailable) as caught:
            compose.up(proj, timeout=120)
    finally:
        timer.cancel()
        timer.join()
    print(caught.value.render())
    _is_course_error_naming(caught.value, private.host)
    private.start()
    report = cleanup(private.scope)
    assert report.containers and report.networks and report.volumes
    assert private.course_objects(private.scope) == []


def test_names_taken_on_the_private_engine_survive_course_calls(private) -> None:
    """The hand-made container's name used by a course call: an error, and it stays."""
    taken = next(name for kind, name in private.hand_made if kind == "container"
                 and not name.endswith("-runs-course"))
    with pytest.raises(CourseError, match="did not create it"):
        containers.run(private.shell, name=taken, command=["true"])
    with pytest.raises(CourseError, match="did not create it"):
        course.remove_container(taken)
    _check_hand_made(private)
