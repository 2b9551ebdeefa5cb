"""The private engine of ``.ci/docker-stack scratch``: Engine 28 in a network namespace of its
own, with its own socket and state, for the live tests that must not use the shared engine
(tests/live/test_engine_loss.py stops and kills it; tests/live/test_printed_commands.py runs the
notebooks' printed lines on it under the course's own names)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import docker
import docker.errors
import pytest
import requests

from helpers import settings

STACK = settings.PROJECT_ROOT / ".ci" / "docker-stack"
NETNS = "course-scratch"  # its network namespace, as .ci/docker-stack names it
LOCK = Path("/tmp/course-scratch-engine.lock")


def stack(*args: str) -> subprocess.CompletedProcess:
    """``.ci/docker-stack scratch ARGS`` (start, stop, kill, env), its output captured."""
    return subprocess.run([str(STACK), "scratch", *args], capture_output=True, text=True,
                          timeout=240, check=False)


def answers(host: str) -> bool:
    """Whether an engine answers at ``host`` within 5 seconds."""
    try:
        docker.DockerClient(base_url=host, timeout=5).ping()
    except (docker.errors.DockerException, requests.RequestException):
        return False
    return True


def unavailable(reason: str, wanted: str) -> NoReturn:
    """Skip (``wanted``: what the private engine is for), or fail in CI under
    COURSE_REQUIRE_ENGINE=1, with ``reason``."""
    given = bool(os.environ.get("COURSE_SCRATCH_DOCKER_HOST"))
    if settings.require_engine() and (given or os.environ.get("CI")):
        pytest.fail(f"the private engine is needed here: {reason}")
    pytest.skip(f"no private engine {wanted} ({reason}); CI starts one with "
                "`.ci/docker-stack scratch start`")


def _exported(done: subprocess.CompletedProcess) -> str:
    found = [line for line in done.stdout.splitlines()
             if line.startswith("export COURSE_SCRATCH_DOCKER_HOST=")]
    return found[-1].split("=", 1)[1] if done.returncode == 0 and found else ""


def address(wanted: str) -> tuple[str, bool]:
    """The private engine's address, and whether it was started here: False when it already
    answered (CI starts it and exports COURSE_SCRATCH_DOCKER_HOST; another test run may have
    started it), so that only an engine started here is stopped afterwards. Skips or fails
    (:func:`unavailable`) when it cannot be started."""
    host = os.environ.get("COURSE_SCRATCH_DOCKER_HOST", "") or _exported(stack("env"))
    if host and answers(host):
        return host, False
    done = stack("start")
    if not _exported(done):
        unavailable(f"`.ci/docker-stack scratch start` failed: {done.stderr[-300:]}", wanted)
    return _exported(done), True


@contextlib.contextmanager
def alone() -> Iterator[None]:
    """Hold the private engine for one test module: another test run on this machine that
    wants it waits (one engine per machine; its tests stop it, or remove what they made)."""
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
