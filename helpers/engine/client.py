"""Connecting to the engine, and the facts a learner should know about it."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..display import FactsView
from ..errors import EngineUnavailable
from . import failures
from .endpoint import DEFAULT_HOST as DEFAULT_HOST  # re-exported: where the engine is
from .endpoint import LOCAL_NAMES as LOCAL_NAMES
from .endpoint import Endpoint as Endpoint
from .endpoint import current_context as current_context
from .endpoint import docker_config_dir as docker_config_dir
from .endpoint import endpoint as endpoint
from .endpoint import is_remote as is_remote
from .failures import guard, unavailable
from .sdk import docker, requests

CONNECT_TIMEOUT = 120  # seconds for one API call; exports of big images need long reads


def _tls_config(where: Endpoint) -> docker.tls.TLSConfig | None:
    """The context's TLS material (``contexts/tls/<id>/docker/{ca,cert,key}.pem``), if any."""
    if not where.tls_dir:
        return None
    folder = Path(where.tls_dir)
    ca, cert, key = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    verify = not where.skip_tls_verify
    return docker.tls.TLSConfig(
        client_cert=(str(cert), str(key)) if cert.is_file() and key.is_file() else None,
        ca_cert=str(ca) if verify and ca.is_file() else None, verify=verify)


@functools.lru_cache(maxsize=1)
def _cached_client(where: Endpoint) -> docker.DockerClient:
    ssh = where.host.startswith("ssh://")  # like the CLI: the system's ssh, not paramiko
    if where.source == "DOCKER_HOST":  # with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH
        engine = docker.DockerClient(timeout=CONNECT_TIMEOUT, use_ssh_client=ssh,
                                     **docker.utils.kwargs_from_env())
    else:
        engine = docker.DockerClient(base_url=where.host, tls=_tls_config(where) or False,
                                     timeout=CONNECT_TIMEOUT, use_ssh_client=ssh)
    guard(engine, where)  # any later connection failure: the course's EngineUnavailable
    engine.ping()
    return engine


def client() -> docker.DockerClient:
    """A connected SDK client, or one readable :class:`EngineUnavailable`.

    The address is found like the ``docker`` CLI finds it (see :func:`endpoint`).
    """
    where = endpoint()
    try:
        return _cached_client(where)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        _cached_client.cache_clear()
        raise unavailable(where, exc) from None  # the one wording: engine/failures.py


def docker_cli_env() -> dict[str, str]:
    """The environment for a ``docker`` CLI subprocess: the caller's, with BuildKit forced on.

    ``DOCKER_BUILDKIT=0`` would send ``docker build`` to the legacy builder, which the course
    does not teach (deprecated since Engine 23).
    """
    env = dict(os.environ)
    env.pop("DOCKER_BUILDKIT", None)
    return env


def reset() -> None:
    """Forget the cached connection (after the engine restarts or its address changes)."""
    _cached_client.cache_clear()


failures.when_connection_lost(reset)  # a translated connection failure drops the cached client


def engine_available() -> bool:
    """True when an engine answers (connecting, or the cached connection)."""
    try:
        client()
    except EngineUnavailable:
        return False
    return True


def engine_answers() -> bool:
    """Ping afresh (the cached connection dropped first): does an engine answer now?"""
    reset()
    return engine_available()


def why_no_engine() -> str:
    """``""`` when an engine answers; otherwise the one-line reason (for replay's banner)."""
    try:
        client()
    except EngineUnavailable as exc:
        return exc.message
    return ""


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


def server_version() -> tuple[str, str]:
    """(Engine version, API version) as ``docker version`` reports the server's."""
    version = client().api.version()
    return str(version.get("Version", "?")), str(version.get("ApiVersion", "?"))


def engine_info(key: str, default: str = "") -> str:
    """One field of ``docker info`` (the engine's ``/info``: ``KernelVersion``,
    ``DockerRootDir`` …) as text; ``default`` when the engine does not report it."""
    return str(client().api.info().get(key, default))


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
        docker_host=endpoint().label,
    )
