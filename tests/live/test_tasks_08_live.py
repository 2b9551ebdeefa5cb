"""Notebook 08's "Your turn" tasks done with the Compose CLI as a learner does it, and done wrong.

Each test writes compose files of its own into a temporary folder, brings them up under a
project name of its own (``t-<hex>-stack``) and removes the project afterwards
(``docker compose -p NAME down -v``).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from helpers import settings, tasks
from tests.live.test_compose import app_image  # noqa: F401  (the app, built under its own tag)
from tests.live.test_tasks_live import fails, free_port, passes


def compose(folder: Path, project: str, *args: str, check: bool = True) -> \
        subprocess.CompletedProcess:
    """``docker compose -p PROJECT -f FOLDER/compose.yaml ARGS`` as a learner types it."""
    return subprocess.run(["docker", "compose", "-p", project, "-f",
                           str(folder / "compose.yaml"), *args],
                          capture_output=True, text=True, check=check, timeout=300)


class Stack:
    """A folder for compose files and a project name; the project is removed afterwards."""

    def __init__(self, root: Path) -> None:
        self.project = f"t-{uuid.uuid4().hex[:8]}-stack"
        self.folder = root / self.project
        self.folder.mkdir()

    def write(self, text: str) -> None:
        (self.folder / "compose.yaml").write_text(text, encoding="utf-8")

    def up(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return compose(self.folder, self.project, "up", "-d", *args, check=check)

    def remove(self) -> None:
        subprocess.run(["docker", "compose", "-p", self.project, "down", "-v", "-t", "1"],
                       capture_output=True, text=True, check=False, timeout=300,
                       cwd=self.folder.parent)


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Iterator[Stack]:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    made = Stack(tmp_path)
    try:
        yield made
    finally:
        made.remove()


HEALTHY = {"db": {"condition": "service_healthy"}}


def _web(image: str, **extra: object) -> dict:
    """An app service: busybox httpd on 5000 (quick to start), with ``extra`` keys."""
    return {"image": image, "command": "httpd -f -p 5000", "stop_grace_period": "1s", **extra}


def _db(image: str, test: object = ("CMD", "true")) -> dict:
    """A db service that only sleeps, with a health check ``test`` (None: no check)."""
    spec: dict = {"image": image, "command": "sleep 3600", "stop_grace_period": "1s"}
    if test is not None:
        spec["healthcheck"] = {"test": list(test) if isinstance(test, tuple) else test,
                               "interval": "1s", "retries": 2}
    return spec


def _file(**services: dict) -> str:
    return yaml.safe_dump({"services": services}, sort_keys=False)


def test_wait_for_healthy_wrong_states(stack, shell_image):
    names = {"project": stack.project}
    fails("08.wait-for-healthy", "is not up", **names)
    # only the app: no db service
    stack.write(_file(app=_web(shell_image)))
    stack.up()
    fails("08.wait-for-healthy", "has no service db", **names)
    # a db without a health check, and the short depends_on form
    stack.write(_file(db=_db(shell_image, test=None), app=_web(shell_image, depends_on=["db"])))
    stack.up("--remove-orphans")
    fails("08.wait-for-healthy", "db has no health check", **names)
    # a health check, but the app waits only for "started"
    stack.write(_file(db=_db(shell_image), app=_web(shell_image, depends_on=["db"])))
    stack.up("--force-recreate")
    result = fails("08.wait-for-healthy", "condition service_started, not service_healthy",
                   **names)
    assert "service_healthy" in result.hint
    # the condition added, but `up` alone keeps the app container (and its old dependency)
    stack.write(_file(db=_db(shell_image), app=_web(shell_image, depends_on=HEALTHY)))
    stack.up()
    assert "--force-recreate" in fails("08.wait-for-healthy", "condition service_started",
                                       **names).hint
    # no depends_on at all
    stack.write(_file(db=_db(shell_image), app=_web(shell_image)))
    stack.up("--force-recreate")
    fails("08.wait-for-healthy", "does not depend on db", **names)
    stack.write(_file(db=_db(shell_image), app=_web(shell_image, depends_on=HEALTHY)))
    stack.up("--force-recreate", "--wait")
    passes("08.wait-for-healthy", **names)


def test_wait_for_healthy_unhealthy_db(stack, shell_image):
    names = {"project": stack.project}
    stack.write(_file(db=_db(shell_image, test="echo no database here; exit 1"),
                      app=_web(shell_image, depends_on=HEALTHY)))
    done = stack.up(check=False)  # Compose gives up: the dependency is unhealthy
    assert done.returncode != 0
    result = fails("08.wait-for-healthy", "db is unhealthy", **names)
    assert "no database here" in result.message


def test_scale_app_wrong_states(stack, shell_image):
    names = {"project": stack.project, "replicas": "2"}
    fails("08.scale-app", "is not up", **names)
    port = free_port()
    stack.write(_file(db=_db(shell_image), app=_web(shell_image, depends_on=HEALTHY,
                                                    ports=[f"127.0.0.1:{port}:5000"])))
    stack.up("--wait")
    fails("08.scale-app", "has 1 app container(s), not 2", **names)
    done = stack.up("--scale", "app=2", check=False)  # the second cannot bind the same port
    assert done.returncode != 0
    result = fails("08.scale-app", f"asks for host port 127.0.0.1:{port}", **names)
    assert '"127.0.0.1::5000"' in result.hint
    stack.remove()
    stack.write(_file(db=_db(shell_image), app=_web(shell_image, depends_on=HEALTHY,
                                                    container_name=f"{stack.project}-web",
                                                    ports=["127.0.0.1::5000"])))
    stack.up("--wait")
    stack.up("--scale", "app=2", check=False)  # Compose refuses to scale a named container
    fails("08.scale-app", "fixed container_name", **names)
    stack.remove()
    stack.write(_file(db=_db(shell_image), app=_web(shell_image, depends_on=HEALTHY,
                                                    ports=["5000"])))
    stack.up("--wait", "--scale", "app=2")
    fails("08.scale-app", "every interface", **names)


def _solution_lines(task_id: str, names: dict[str, str], image: str) -> list[str]:
    from helpers import resolver

    database = resolver.resolve("database").reference
    return [line.format(**names, notebooks=settings.PROJECT_ROOT / "notebooks")
            .replace("<database-image>", database)
            .replace("docker-course/flask-app:1.0", image)
            for line in tasks.get(task_id).solution]


def test_both_tasks_done_by_their_solution_lines(stack, app_image):  # noqa: F811
    names = {"project": stack.project, "replicas": "2"}
    for task_id in ("08.wait-for-healthy", "08.scale-app"):
        for line in _solution_lines(task_id, names, app_image):
            done = subprocess.run(["bash", "-c", line], cwd=stack.folder.parent,
                                  capture_output=True, text=True, timeout=300, check=False)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
    assert "service_healthy" in passes("08.wait-for-healthy", project=stack.project).message
    assert "2 app containers run" in passes("08.scale-app", **names).message
    # the notebook's cleanup cell: remove_my_objects takes the whole project down
    from helpers.engine.learner import remove_by_name

    assert remove_by_name("project", stack.project)
    fails("08.wait-for-healthy", "is not up", project=stack.project)
    assert not remove_by_name("project", stack.project)
