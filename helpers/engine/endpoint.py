"""Where the engine is: the address the ``docker`` CLI would use, and what chose it.

DOCKER_HOST, then the Docker context (DOCKER_CONTEXT or the CLI's current context in
``config.json``), then the default socket. Reads the environment and the CLI's configuration
folder only: nothing here connects.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import EngineUnavailable

DEFAULT_HOST = "unix:///var/run/docker.sock"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "")


@dataclass(frozen=True)
class Endpoint:
    """Where the course talks to the engine, and why there (the same order as the ``docker`` CLI).

    ``source`` is what a learner would check: ``DOCKER_HOST``, a Docker context (named, and
    whether DOCKER_CONTEXT or the CLI's current context chose it), or the default socket.
    """

    RECORDED_AS: ClassVar[str] = "EngineEndpoint"  # its name in recordings

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
