"""Every "Your turn" task done as a learner does it (the docker CLI), and done wrong.

Each task's check must pass on the right state and fail, with its specific message, on typical
wrong states. Every test uses names of its own (``t-<hex>-…``) and removes what it made.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from helpers import settings, tasks


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the docker CLI as a learner types it."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                          timeout=600)


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


class Made:
    """Names for one test, and removal of everything made under them."""

    def __init__(self) -> None:
        self.prefix = f"t-{uuid.uuid4().hex[:8]}"
        self.objects: list[tuple[str, str]] = []

    def name(self, kind: str, role: str) -> str:
        name = f"{self.prefix}-{role}"
        if (kind, name) not in self.objects:
            self.objects.append((kind, name))
        return name

    def remove(self) -> None:
        rm = {"container": ["rm", "-f"], "network": ["network", "rm"],
              "volume": ["volume", "rm", "-f"], "image": ["image", "rm", "-f"]}
        order = {"container": 0, "network": 1, "volume": 2, "image": 3}
        for kind, name in sorted(self.objects, key=lambda o: order[o[0]]):
            docker(*rm[kind], name, check=False)


@pytest.fixture
def made(tmp_path, monkeypatch) -> Iterator[Made]:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    names = Made()
    try:
        yield names
    finally:
        names.remove()


def verdict(task_id: str, **names: str) -> tasks.Verdict:
    return tasks.run_check(task_id, names, record=False)


def fails(task_id: str, words: str, **names: str) -> tasks.Verdict:
    result = verdict(task_id, **names)
    assert not result.passed, result.text()
    assert words in result.message, result.text()
    assert result.hint, result.text()
    return result


def passes(task_id: str, **names: str) -> tasks.Verdict:
    result = verdict(task_id, **names)
    assert result.passed, result.text()
    return result


# --- 01 -------------------------------------------------------------------------------------

def test_memory_limit(made, shell_image):
    box = made.name("container", "limited")
    fails("01.memory-limit", "there is no container", container=box)
    docker("run", "-d", "--name", box, shell_image, "sleep", "3600")
    fails("01.memory-limit", "has no memory limit", container=box)
    docker("rm", "-f", box)
    docker("run", "-d", "--name", box, "--memory", "128m", shell_image, "sleep", "3600")
    fails("01.memory-limit", "is 128 MiB, not 64 MiB", container=box)
    docker("rm", "-f", box)
    docker("run", "-d", "--name", box, "--memory", "64m", shell_image, "true")
    docker("wait", box)
    fails("01.memory-limit", "is exited, not running", container=box)
    docker("rm", "-f", box)
    docker("run", "-d", "--name", box, "--memory", "64m", shell_image, "sleep", "3600")
    passes("01.memory-limit", container=box)


# --- 03 -------------------------------------------------------------------------------------

def test_paused(made, shell_image):
    box = made.name("container", "box")
    fails("03.paused", "there is no container", container=box)
    docker("create", "--name", box, shell_image, "sleep", "3600")
    assert "docker start" in fails("03.paused", "is created, not paused", container=box).hint
    docker("start", box)
    assert "docker pause" in fails("03.paused", "is running, not paused", container=box).hint
    docker("pause", box)
    passes("03.paused", container=box)
    docker("unpause", box)
    docker("stop", "-t", "1", box)
    fails("03.paused", "is exited, not paused", container=box)


def _settled(box: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", box).stdout
        if status.split()[0] == "exited" and int(status.split()[1]) >= 3:
            return
        time.sleep(0.5)


def test_restart_policy(made, shell_image):
    box = made.name("container", "retry")
    fails("03.restart-policy", "there is no container", container=box)
    docker("run", "-d", "--name", box, shell_image, "sh", "-c", "exit 1")
    fails("03.restart-policy", "restart policy is 'no'", container=box)
    docker("rm", "-f", box)
    docker("run", "-d", "--name", box, "--restart", "on-failure:5", shell_image,
           "sh", "-c", "exit 1")
    fails("03.restart-policy", "may restart 5 times, not 3", container=box)
    docker("rm", "-f", box)
    docker("run", "-d", "--name", box, "--restart", "on-failure:3", shell_image, "true")
    docker("wait", box)
    fails("03.restart-policy", "exited with 0, so on-failure never", container=box)
    docker("rm", "-f", box)
    docker("run", "-d", "--name", box, "--restart", "on-failure:3", shell_image,
           "sh", "-c", "exit 1")
    _settled(box)
    assert "restarted 3 times" in passes("03.restart-policy", container=box).message


# --- 06 -------------------------------------------------------------------------------------

def test_keep_a_file(made, shell_image):
    volume, writer = made.name("volume", "data"), made.name("container", "writer")
    names = {"volume": volume, "container": writer}
    fails("06.keep-a-file", "there is no volume", **names)
    docker("volume", "create", volume)
    # written into the writable layer, not the volume
    docker("run", "--name", writer, shell_image, "sh", "-c", "echo hello > /data-hello.txt")
    fails("06.keep-a-file", "hello.txt is not in the volume", **names)
    docker("rm", writer)
    docker("run", "--name", writer, "-v", f"{volume}:/data", shell_image,
           "sh", "-c", "echo goodbye > /data/hello.txt")
    fails("06.keep-a-file", "holds 'goodbye', not hello", **names)
    docker("rm", writer)
    docker("run", "--name", writer, "-v", f"{volume}:/data", shell_image,
           "sh", "-c", "echo hello > /data/hello.txt")
    fails("06.keep-a-file", "still exists", **names)
    docker("rm", writer)
    passes("06.keep-a-file", **names)


def test_read_only(made, shell_image):
    volume, reader = made.name("volume", "data"), made.name("container", "reader")
    names = {"volume": volume, "container": reader}
    docker("volume", "create", volume)
    fails("06.read-only", "there is no container", **names)
    docker("run", "-d", "--name", reader, "-v", f"{volume}:/data", shell_image, "sleep", "3600")
    fails("06.read-only", "read-write", **names)
    docker("rm", "-f", reader)
    docker("run", "-d", "--name", reader, "-v", f"{volume}:/mnt:ro", shell_image, "sleep", "3600")
    fails("06.read-only", "at /mnt, not /data", **names)
    docker("rm", "-f", reader)
    docker("run", "-d", "--name", reader, shell_image, "sleep", "3600")
    fails("06.read-only", "does not mount the volume", **names)
    docker("rm", "-f", reader)
    docker("run", "-d", "--name", reader, "-v", f"{volume}:/data:ro", shell_image, "sleep", "3600")
    passes("06.read-only", **names)


# --- 07 -------------------------------------------------------------------------------------

def test_reach_by_name(made, shell_image):
    net = made.name("network", "net")
    server, client = made.name("container", "web"), made.name("container", "client")
    names = {"network": net, "server": server, "client": client}
    fails("07.reach-by-name", "there is no network", **names)
    docker("network", "create", net)
    # both on the default bridge: no names there
    docker("run", "-d", "--name", server, shell_image, "httpd", "-f", "-p", "8080")
    docker("run", "-d", "--name", client, shell_image, "sleep", "3600")
    fails("07.reach-by-name", f"is on bridge, not on {net}", **names)
    docker("network", "connect", net, server)
    fails("07.reach-by-name", f"{client} is on bridge, not on {net}", **names)
    docker("network", "connect", net, client)
    docker("network", "disconnect", "bridge", server)
    docker("network", "disconnect", "bridge", client)
    passes("07.reach-by-name", **names)
    docker("stop", "-t", "1", server)
    fails("07.reach-by-name", "is exited, not running", **names)


def test_publish_loopback(made, shell_image):
    site, port = made.name("container", "site"), free_port()
    names = {"container": site, "port": port}
    fails("07.publish-loopback", "there is no container", **names)
    docker("run", "-d", "--name", site, "-p", f"{port}:8080", shell_image,
           "httpd", "-f", "-p", "8080")
    fails("07.publish-loopback", "every interface", **names)
    docker("rm", "-f", site)
    other = free_port()
    docker("run", "-d", "--name", site, "-p", f"127.0.0.1:{other}:8080", shell_image,
           "httpd", "-f", "-p", "8080")
    fails("07.publish-loopback", f"host port {other}, not {port}", **names)
    docker("rm", "-f", site)
    docker("run", "-d", "--name", site, shell_image, "httpd", "-f", "-p", "8080")
    fails("07.publish-loopback", "does not publish its port 8080", **names)
    docker("rm", "-f", site)
    docker("run", "-d", "--name", site, "-p", f"127.0.0.1:{port}:8080", shell_image,
           "httpd", "-f", "-p", "8080")
    deadline = time.monotonic() + 10
    while not (result := verdict("07.publish-loopback", **names)).passed \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    assert result.passed, result.text()


# --- 09 -------------------------------------------------------------------------------------

APP = str(settings.APPS_DIR / "flask-app")


def _build(tag: str, requirements: str, python_image: str) -> None:
    docker("build", "-q", "-t", tag, "--build-arg", f"REQUIREMENTS={requirements}",
           "--build-arg", f"PYTHON_IMAGE={python_image}", APP)


@pytest.fixture(scope="module")
def fixed_app(python_image) -> Iterator[str]:
    tag = f"t-{uuid.uuid4().hex[:8]}-app:fixed"
    _build(tag, "requirements-bumped.txt", python_image)
    try:
        yield tag
    finally:
        docker("image", "rm", "-f", tag, check=False)


def test_fixed_image(made, python_image, shell_image, fixed_app):
    image = made.name("image", "app") + ":fixed"
    made.objects.append(("image", image))
    fails("09.fixed-image", "there is no image", image=image)
    _build(image, "requirements-2021.txt", python_image)
    result = fails("09.fixed-image", "still has", image=image)
    assert "CVE-2023-30861" in result.message or "Flask 2.0.1" in result.message, result.text()
    other = made.name("image", "shell") + ":x"
    made.objects.append(("image", other))
    docker("tag", shell_image, other)
    fails("09.fixed-image", "judged no package", image=other)
    passes("09.fixed-image", image=fixed_app)


def test_run_non_root(made, fixed_app):
    app, port = made.name("container", "app"), free_port()
    names = {"container": app, "image": fixed_app, "port": port}
    fails("09.run-non-root", "there is no container", **names)
    docker("run", "-d", "--name", app, "--user", "0", "-p", f"127.0.0.1:{port}:5000", fixed_app)
    fails("09.run-non-root", "runs as root", **names)
    docker("rm", "-f", app)
    docker("run", "-d", "--name", app, "-p", f"{port}:5000", fixed_app)
    fails("09.run-non-root", "every interface", **names)
    docker("rm", "-f", app)
    docker("run", "-d", "--name", app, "-p", f"127.0.0.1:{port}:5000", fixed_app)
    deadline = time.monotonic() + 30
    while not (result := verdict("09.run-non-root", **names)).passed \
            and time.monotonic() < deadline:
        time.sleep(1)
    assert result.passed, result.text()
