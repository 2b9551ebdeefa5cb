"""Connecting to the engine, and the facts a learner should know about it."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.tls
import docker.utils
import requests.exceptions

from ..display import FactsView
from ..errors import EngineUnavailable
from .failures import guard, unavailable

CONNECT_TIMEOUT = 120  # seconds for one API call; exports of big images need long reads


DEFAULT_HOST = "unix:///var/run/docker.sock"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "")


@dataclass(frozen=True)
class Endpoint:
    """Where the course talks to the engine, and why there (the same order as the ``docker`` CLI).

    ``source`` is what a learner would check: ``DOCKER_HOST``, a Docker context (named, and
    whether DOCKER_CONTEXT or the CLI's current context chose it), or the default socket.
    """

    host: str
    source: str
    context: str = ""
    tls_dir: str = ""
    skip_tls_verify: bool = False

    @property
    def remote(self) -> bool:
        """True when the engine runs on another machine (``tcp://``/``ssh://`` to a non-local host).

        Published ports then listen on that machine, not on this one's 127.0.0.1, and bind
        mounts name that machine's folders.
        """
        return is_remote(self.host)

    @property
    def label(self) -> str:
        """``unix:///var/run/docker.sock (default socket)``: the address and where it came from."""
        return f"{self.host} ({self.source})"


def is_remote(host: str) -> bool:
    """A ``tcp://``, ``http(s)://`` or ``ssh://`` address whose host is not this machine."""
    scheme, _, rest = host.partition("://")
    if scheme.lower() in ("unix", "npipe", "fd") or not rest:
        return False
    authority = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    name = authority[1:].split("]", 1)[0] if authority.startswith("[") else \
        authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
    return name.lower() not in LOCAL_NAMES


def docker_config_dir() -> Path:
    """The CLI's configuration folder: ``$DOCKER_CONFIG``, else ``~/.docker``."""
    configured = os.environ.get("DOCKER_CONFIG", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".docker"


def current_context() -> tuple[str, str]:
    """The context the CLI would use when DOCKER_HOST is unset, and what chose it.

    ``DOCKER_CONTEXT`` first, then ``currentContext`` in the CLI's config.json, else
    ``default`` (the default socket).
    """
    named = os.environ.get("DOCKER_CONTEXT", "").strip()
    if named:
        return named, "DOCKER_CONTEXT"
    config = docker_config_dir() / "config.json"
    try:
        current = json.loads(config.read_text(encoding="utf-8")).get("currentContext") or ""
    except (OSError, ValueError, AttributeError):
        current = ""
    if current:
        return str(current), f"current context in {_shown_path(config)}"
    return "default", ""


def _shown_path(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def endpoint() -> Endpoint:
    """Resolve the engine address like the CLI: DOCKER_HOST, then the Docker context
    (DOCKER_CONTEXT or the CLI's current context), then the default socket.

    A context that is named but missing is one readable :class:`EngineUnavailable`, as the CLI
    refuses it too.
    """
    host = os.environ.get("DOCKER_HOST", "").strip()
    if host:
        return Endpoint(host=host, source="DOCKER_HOST")
    name, chosen_by = current_context()
    if name == "default":
        return Endpoint(host=DEFAULT_HOST, source="default socket")
    key = hashlib.sha256(name.encode("utf-8")).hexdigest()
    contexts = docker_config_dir() / "contexts"
    meta_file = contexts / "meta" / key / "meta.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        docker_end = meta["Endpoints"]["docker"]
        context_host = str(docker_end["Host"])
    except (OSError, ValueError, KeyError, TypeError):
        raise EngineUnavailable(
            f"The Docker context {name!r} ({chosen_by}) does not exist in "
            f"{_shown_path(contexts)}.",
            hint="list the contexts with `docker context ls`, then `docker context use NAME` "
                 "(or unset DOCKER_CONTEXT); `docker context use default` picks the default "
                 "socket.") from None
    tls_dir = contexts / "tls" / key / "docker"
    return Endpoint(host=context_host, source=f"Docker context {name!r}, {chosen_by}",
                    context=name, tls_dir=str(tls_dir) if tls_dir.is_dir() else "",
                    skip_tls_verify=bool(docker_end.get("SkipTLSVerify", False)))


def _install_hint(where: Endpoint | None = None) -> str:
    """What to do when no engine answered, worded for where the course looked."""
    general = ("start Docker (Docker Desktop on macOS/Windows, `sudo systemctl start docker` on "
               "Linux), or run the course in replay mode; see README, 'Getting a Docker "
               "Engine'.")
    if where is None or where.source == "default socket":
        return (general + " If `docker version` works in a terminal, start JupyterLab from that "
                "terminal (it may set DOCKER_HOST), or check `docker context ls`: the course "
                "follows DOCKER_HOST, DOCKER_CONTEXT and the CLI's current context.")
    if where.context:
        return (f"start the engine behind the context {where.context!r} (Docker Desktop, "
                "`colima start`, OrbStack…), or switch with `docker context use NAME`; "
                "`docker context ls` lists them. Or run the course in replay mode.")
    return ("check DOCKER_HOST (unset it to use the CLI's context or the default socket), "
            "or " + general)


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
    """Forget the cached connection (after the engine restarts or its address changes)."""
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
        docker_host=endpoint().label,
    )
