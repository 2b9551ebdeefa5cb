"""Which network a build's ``RUN`` steps get: the engine's bridge, unless the host's is needed.

``docker build --network host`` lets a ``RUN`` step reach everything the host reaches, including
services bound to the host's 127.0.0.1 (a database, a dashboard, the Docker API of a
rootless engine…). The course therefore builds on the default bridge, and uses the host's
network only where it is needed, saying so:

- ``COURSE_BUILD_NETWORK=host`` (or ``none``, or ``default``) decides explicitly;
- otherwise (``auto``, the default) host networking is chosen when a proxy the builds must use
  listens on this machine's loopback (HTTP(S)_PROXY, or the docker CLI's ``proxies``), which a
  bridge build cannot reach; or when a probe container on the default bridge cannot open a TCP
  connection to the package index (PyPI, or PIP_INDEX_URL's host) while this machine can.

The decision is made once per engine address and process; :func:`choose` returns it with the
sentence that explains it (shown with the build's warnings).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from .. import catalog, labels
from .client import client, docker_config_dir, endpoint
from .sdk import docker

DEFAULT_INDEX = ("pypi.org", 443)
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
PROBE_SECONDS = 4


@dataclass(frozen=True)
class BuildNetwork:
    """``mode`` for ``docker build --network`` (None: the engine's default bridge) and why."""

    mode: str | None
    reason: str = ""


def setting() -> str:
    """``COURSE_BUILD_NETWORK`` normalised: ``auto`` (default), ``default``, ``host``, ``none``."""
    value = os.environ.get("COURSE_BUILD_NETWORK", "auto").strip().lower()
    if value in ("", "auto"):
        return "auto"
    if value in ("default", "bridge"):
        return "default"
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def loopback_proxy(environ: dict[str, str] | None = None,
                   cli_config: dict | None = None) -> str:
    """The first proxy URL a build would use that listens on this machine's loopback, or ""."""
    environ = dict(os.environ) if environ is None else environ
    candidates = [environ.get(name, "") for name in PROXY_VARIABLES]
    if cli_config is None:
        try:
            cli_config = json.loads((docker_config_dir() / "config.json").read_text("utf-8"))
        except (OSError, ValueError):
            cli_config = {}
    for settings_ in ((cli_config or {}).get("proxies") or {}).values():
        if isinstance(settings_, dict):
            candidates += [str(settings_.get(k, "")) for k in ("httpsProxy", "httpProxy")]
    for url in candidates:
        if url and _is_loopback(urlsplit(url if "://" in url else f"http://{url}").hostname
                                or ""):
            return url
    return ""


def package_index(environ: dict[str, str] | None = None) -> tuple[str, int]:
    """The (host, port) a ``pip install`` step would contact: PIP_INDEX_URL's, else PyPI's."""
    environ = dict(os.environ) if environ is None else environ
    url = environ.get("PIP_INDEX_URL", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.hostname:
            return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    return DEFAULT_INDEX


def _host_reaches(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=PROBE_SECONDS):
            return True
    except OSError:
        return False


def _probe_image() -> str | None:
    """A local image with busybox ``nc`` (the course's shell image), or None: never pulls."""
    wanted = catalog.get("shell")
    engine = client()
    for reference in (wanted.official, wanted.standin):
        try:
            engine.images.get(reference)
            return reference
        except docker.errors.APIError:
            continue
    return None


def _bridge_reaches(image: str, host: str, port: int) -> bool | None:
    """Can a container on the default bridge open TCP to host:port? None: could not tell."""
    engine = client()
    container = None
    try:
        container = engine.containers.create(
            image, ["sh", "-c", f"nc -w {PROBE_SECONDS} {host} {port} </dev/null"],
            labels=labels.for_new_object())
        container.start()
        status = container.wait(timeout=PROBE_SECONDS + 10)
        return int(status.get("StatusCode", 1)) == 0
    except (docker.errors.APIError, OSError, ValueError):
        return None
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


@functools.lru_cache(maxsize=4)
def _detected(engine_label: str, proxy: str, index: tuple[str, int]) -> BuildNetwork:
    if proxy:
        return BuildNetwork("host", f"RUN steps use the host's network (--network host): the "
                                    f"proxy {proxy} listens on this machine's loopback, which "
                                    "a bridge build cannot reach. COURSE_BUILD_NETWORK=default "
                                    "turns this off.")
    image = _probe_image()
    if image is None:
        return BuildNetwork(None)
    host, port = index
    bridge = _bridge_reaches(image, host, port)
    if bridge is False and _host_reaches(host, port):
        return BuildNetwork("host", f"RUN steps use the host's network (--network host): "
                                    f"containers on the default bridge cannot reach {host}:"
                                    f"{port}, this machine can. COURSE_BUILD_NETWORK=default "
                                    "turns this off.")
    return BuildNetwork(None)


def choose() -> BuildNetwork:
    """The network for this build's RUN steps, and the sentence saying why (empty: bridge)."""
    wanted = setting()
    if wanted == "default":
        return BuildNetwork(None)
    if wanted != "auto":
        note = ("RUN steps use the host's network (COURSE_BUILD_NETWORK=host): they can reach "
                "services bound to this machine's 127.0.0.1." if wanted == "host" else "")
        return BuildNetwork(wanted, note)
    return _detected(endpoint().label, loopback_proxy(), package_index())


def forget() -> None:
    """Decide again at the next build (after the network or the proxy settings changed)."""
    _detected.cache_clear()
