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


def docker_cli_env() -> dict[str, str]:
    """The environment for a ``docker`` CLI subprocess: the caller's, with BuildKit forced on.

    ``DOCKER_BUILDKIT=0`` would send ``docker build`` to the legacy builder, which the course
    does not teach (deprecated since Engine 23).
    """
    env = dict(os.environ)
    env.pop("DOCKER_BUILDKIT", None)
    return env


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
    """The Compose the machine has: the v2 CLI plugin (``docker compose``) and its version.

    Compose v1 (``docker-compose``, Python) reached end of life in July 2023; the course speaks
    ``docker compose`` only.
    """

    command: tuple[str, ...]
    version: str

    @property
    def major(self) -> int:
        digits = self.version.lstrip("v").split(".")[0]
        return int(digits) if digits.isdigit() else 0

    @property
    def label(self) -> str:
        return f"{' '.join(self.command)} {self.version}"


def _cli_version(argv: list[str]) -> str | None:
    """The first line a ``… version`` command prints, or None when it is missing or fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False,
                              env=docker_cli_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


@functools.lru_cache(maxsize=1)
def compose_flavour() -> ComposeFlavour | None:
    """``docker compose`` (v2) with its version, or None when the plugin is not installed."""
    if not shutil.which("docker"):
        return None
    version = _cli_version(["docker", "compose", "version", "--short"])
    return ComposeFlavour(command=("docker", "compose"), version=version) if version else None


@functools.lru_cache(maxsize=1)
def buildx_version() -> str | None:
    """The buildx plugin's version (``docker buildx version``), or None when it is missing."""
    if not shutil.which("docker"):
        return None
    line = _cli_version(["docker", "buildx", "version"])
    if not line:
        return None
    parts = line.split()
    return parts[1] if len(parts) > 1 else line


def compose_v1_only() -> bool:
    """True when only the retired ``docker-compose`` (v1) is installed, to say so in preflight."""
    return compose_flavour() is None and shutil.which("docker-compose") is not None


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
    image_store: str
    cgroup_version: str
    cpus: int
    memory_bytes: int
    compose: str
    buildx: str
    docker_host: str

    def as_rows(self) -> list[tuple[str, str]]:
        return [
            ("Engine version", self.server_version),
            ("API version", self.api_version),
            ("OS / architecture", f"{self.os_type}/{self.architecture}"),
            ("Kernel", self.kernel),
            ("Host OS", self.operating_system),
            ("Storage driver", self.storage_driver),
            ("Image store", self.image_store),
            ("cgroup version", self.cgroup_version),
            ("CPUs / memory", f"{self.cpus} / {self.memory_bytes / 2**30:.1f} GiB"),
            ("Compose", self.compose),
            ("Buildx (BuildKit)", self.buildx),
            ("Connected to", self.docker_host),
        ]


def image_store(info: dict) -> str:
    """``containerd`` when the engine keeps images in containerd (the containerd image store,
    default on fresh Engine 29 and Docker Desktop installs), else ``graphdriver (<driver>)``.

    Source: ``docker info`` reports ``driver-type: io.containerd.snapshotter.v1`` under the
    storage driver's status for the containerd store.
    """
    status = {str(k): str(v) for k, v in (info.get("DriverStatus") or []) if k}
    if status.get("driver-type", "").startswith("io.containerd.snapshotter"):
        return "containerd"
    return f"graphdriver ({info.get('Driver', '?')})"


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
        image_store=image_store(info),
        cgroup_version=str(info.get("CgroupVersion", "?")),
        cpus=int(info.get("NCPU", 0)),
        memory_bytes=int(info.get("MemTotal", 0)),
        compose=flavour.label if flavour else "not installed",
        buildx=buildx_version() or "not installed",
        docker_host=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
    )
