"""Connecting to the engine, and the facts a learner should know about it."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions

from ..display import FactsView
from ..errors import EngineUnavailable

CONNECT_TIMEOUT = 120  # seconds for one API call; exports of big images need long reads


def _install_hint() -> str:
    return ("start Docker (Docker Desktop on macOS/Windows, `sudo systemctl start docker` on "
            "Linux), or run the course in replay mode; see README, 'Getting a Docker Engine'.")


@functools.lru_cache(maxsize=1)
def _cached_client(docker_host: str) -> docker.DockerClient:
    client = docker.from_env(timeout=CONNECT_TIMEOUT)
    client.ping()
    return client


def client() -> docker.DockerClient:
    """A connected SDK client (honours DOCKER_HOST), or one readable :class:`EngineUnavailable`."""
    host = os.environ.get("DOCKER_HOST", "")
    try:
        return _cached_client(host)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        _cached_client.cache_clear()
        where = host or "the default socket (/var/run/docker.sock)"
        reason = _reason(str(exc))
        raise EngineUnavailable(f"No Docker Engine answered at {where} ({reason}).",
                                hint=_install_hint()) from None


def _reason(text: str) -> str:
    """The one part of a connection error a learner can act on."""
    lowered = text.lower()
    for needle, reason in (("connection refused", "connection refused"),
                           ("no such file", "no socket there"),
                           ("permission denied", "permission denied: add your user to the "
                                                 "docker group, or use sudo"),
                           ("name or service not known", "unknown host name"),
                           ("timed out", "timed out"),
                           ("connecttimeout", "timed out")):
        if needle in lowered:
            return reason
    return text.split("\n")[0][:120]


def reset() -> None:
    """Forget the cached connection (after the engine restarts or DOCKER_HOST changes)."""
    _cached_client.cache_clear()


def engine_available() -> bool:
    try:
        client()
    except EngineUnavailable:
        return False
    return True


@dataclass(frozen=True)
class ComposeFlavour:
    """Which Compose the machine has: v2 plugin (``docker compose``) or v1 (``docker-compose``)."""

    command: tuple[str, ...]
    version: str

    @property
    def major(self) -> int:
        digits = self.version.lstrip("v").split(".")[0]
        return int(digits) if digits.isdigit() else 0

    @property
    def label(self) -> str:
        return f"{' '.join(self.command)} {self.version}"


@functools.lru_cache(maxsize=1)
def compose_flavour() -> ComposeFlavour | None:
    """Prefer ``docker compose`` (v2); fall back to ``docker-compose`` (v1); None if neither."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(("docker", "compose"))
    if shutil.which("docker-compose"):
        candidates.append(("docker-compose",))
    for command in candidates:
        try:
            done = subprocess.run([*command, "version", "--short"], capture_output=True,
                                  text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
        if done.returncode == 0 and version:
            return ComposeFlavour(command=tuple(command), version=version)
    return None


@dataclass(frozen=True)
class EngineFacts(FactsView):
    """What the engine says about itself, as a learner would read it from ``docker version``."""

    server_version: str
    api_version: str
    os_type: str
    architecture: str
    kernel: str
    operating_system: str
    storage_driver: str
    cgroup_version: str
    cpus: int
    memory_bytes: int
    compose: str
    docker_host: str

    def as_rows(self) -> list[tuple[str, str]]:
        return [
            ("Engine version", self.server_version),
            ("API version", self.api_version),
            ("OS / architecture", f"{self.os_type}/{self.architecture}"),
            ("Kernel", self.kernel),
            ("Host OS", self.operating_system),
            ("Storage driver", self.storage_driver),
            ("cgroup version", self.cgroup_version),
            ("CPUs / memory", f"{self.cpus} / {self.memory_bytes / 2**30:.1f} GiB"),
            ("Compose", self.compose),
            ("Connected to", self.docker_host),
        ]


def engine_facts() -> EngineFacts:
    """``docker version`` + ``docker info`` + which Compose, in one small record."""
    api = client().api
    version = api.version()
    info = api.info()
    flavour = compose_flavour()
    return EngineFacts(
        server_version=str(version.get("Version", "?")),
        api_version=str(version.get("ApiVersion", "?")),
        os_type=str(version.get("Os", info.get("OSType", "?"))),
        architecture=str(version.get("Arch", info.get("Architecture", "?"))),
        kernel=str(info.get("KernelVersion", "?")),
        operating_system=str(info.get("OperatingSystem", "?")),
        storage_driver=str(info.get("Driver", "?")),
        cgroup_version=str(info.get("CgroupVersion", "?")),
        cpus=int(info.get("NCPU", 0)),
        memory_bytes=int(info.get("MemTotal", 0)),
        compose=flavour.label if flavour else "not installed",
        docker_host=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
    )
