"""Who you are at which registry: the registry endpoints, their credentials, ``docker login``.

Passwords stay in this process: they never appear in a returned value, a journal line, or the
user's ``~/.docker/config.json``. The course keeps two kinds: the password it generated for a
registry it started (also written to a file only you can read, for a terminal's
``docker login --password-stdin``), and the credentials of a successful login, which its pushes
and pulls send (what ``docker login`` would store; ``logout`` forgets them).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .. import journal, references, settings
from ..display import FactsView
from ..errors import LoginFailed, first_line
from .client import client
from .sdk import docker, requests

HUB_ADDRESS = "docker.io"
HUB_API = "https://registry-1.docker.io"
HUB_LOGIN_SERVER = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credentials:
    """A user name and its password; the password is never shown (not even in a repr)."""

    username: str
    password: str = field(repr=False)

    def auth_config(self, server: str) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "serveraddress": server}


def new_credentials(username: str = "student") -> Credentials:
    """A fresh random password (about 190 bits), made at run time, never written in the repo."""
    return Credentials(username=username, password=secrets.token_urlsafe(24))


# address -> credentials the course generated for a registry it started
_GENERATED: dict[str, Credentials] = {}
# address -> credentials of a successful login (what `docker login` would store)
_SESSIONS: dict[str, Credentials] = {}


@dataclass
class Endpoint(FactsView):
    """Where images are pushed: a local registry the course started, or Docker Hub."""

    RECORDED_AS: ClassVar[str] = "RegistryEndpoint"  # its name in recordings
    RECORDED_ALIASES: ClassVar[tuple[str, ...]] = ("Endpoint",)  # recorded before the move

    kind: str  # "local" or "docker-hub"
    address: str  # as it appears in image references: 127.0.0.1:5001, docker.io
    api_url: str  # the HTTP API's base URL
    namespace: str  # first part of the repository name: course, or the Hub user name
    username: str
    container: str = ""
    image: str = ""
    host_port: int = 0
    auth: str = ""
    password_file: str = ""
    name_prefix: str = ""  # Docker Hub: course repositories are named docker-course-*
    note: str = ""

    @property
    def login_server(self) -> str:
        return HUB_LOGIN_SERVER if self.kind == "docker-hub" else self.address

    def repository(self, name: str) -> str:
        """The full reference of ``name`` (``hello:1.0``) in this registry."""
        if self.kind == "docker-hub":
            return f"{self.namespace}/{self.name_prefix}{name}"
        return f"{self.address}/{self.namespace}/{self.name_prefix}{name}"

    def api_name(self, name: str) -> str:
        """The repository name the HTTP API uses (no host, no tag)."""
        return f"{self.namespace}/{self.name_prefix}{references.parse(name).repository}"


def hub_endpoint(username: str, token: str) -> Endpoint:
    """Docker Hub as the target: the user's own namespace; credentials kept in this process."""
    _GENERATED[HUB_ADDRESS] = Credentials(username=username, password=token)
    return Endpoint(kind="docker-hub", address=HUB_ADDRESS, api_url=HUB_API, namespace=username,
                    username=username, auth="Docker Hub account (access token)",
                    name_prefix="docker-course-",
                    note="images pushed here stay on Docker Hub until you delete them there")


def password_file_path(address: str) -> Path:
    """Where the password of the course's registry at ``address`` is kept for a terminal
    ``docker login --password-stdin``: ``STATE_DIR/registry-127.0.0.1-5001.password``."""
    return settings.state_dir() / f"registry-{address.replace(':', '-')}.password"


def write_password_file(address: str, credentials: Credentials) -> Path:
    """The password for a terminal ``docker login --password-stdin``: readable by you only."""
    path = password_file_path(address)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(credentials.password + "\n")
    return path


def generated_credentials(address: str) -> Credentials | None:
    """The credentials the course generated for the registry at ``address``, if it did."""
    return _GENERATED.get(address)


def remember_generated(address: str, credentials: Credentials) -> None:
    """Keep the credentials the course generated (or read from its password file) for a
    registry at ``address``."""
    _GENERATED[address] = credentials


def forget_login(address: str) -> None:
    """Drop the login of ``address`` (a registry started afresh knows nobody)."""
    _SESSIONS.pop(address, None)


def logged_in(address: str) -> bool:
    """Whether this process logged in to the registry at ``address``."""
    return address in _SESSIONS


def login(endpoint: Endpoint, password: str | None = None) -> str:
    """``docker login``: the engine checks the credentials against the registry.

    The check uses a client of its own, discarded afterwards, and nothing is written to
    ``~/.docker/config.json``; the course keeps the credentials in this process for its pushes
    and pulls (what ``docker login`` stores, ``logout`` forgets).
    """
    known = _GENERATED.get(endpoint.address)
    if password is None:
        if known is None:
            raise LoginFailed(f"No credentials known for {endpoint.address}.",
                              hint="start the registry with the course, which generates them.")
        password = known.password
    credentials = Credentials(username=endpoint.username, password=password)
    server = endpoint.login_server
    cli = f"docker login {endpoint.address} -u {credentials.username} --password-stdin"
    started = time.monotonic()
    client()  # a clear EngineUnavailable first, when there is no engine at all
    probe = docker.from_env(timeout=60)
    try:
        answer = probe.login(username=credentials.username, password=credentials.password,
                             registry=server, reauth=True)
    except docker.errors.APIError as exc:
        journal.record(cli, ok=False, seconds=time.monotonic() - started)
        reason = str(exc.explanation or exc).replace(credentials.password, "***")
        _SESSIONS.pop(endpoint.address, None)
        raise LoginFailed(f"The registry at {endpoint.address} refused the login of "
                          f"{credentials.username!r}: {first_line(reason)}",
                          hint="check the user name and password; for the course's registry "
                               "call login(reg) without a password to use the generated one."
                          ) from None
    except (docker.errors.DockerException, requests.RequestException) as exc:
        journal.record(cli, ok=False, seconds=time.monotonic() - started)
        raise LoginFailed(f"Logging in to {endpoint.address} failed: "
                          f"{first_line(str(exc)).replace(credentials.password, '***')}",
                          hint="is the registry running? (`docker ps` should list it)") from None
    finally:
        probe.close()
    journal.record(cli, seconds=time.monotonic() - started)
    _SESSIONS[endpoint.address] = credentials
    return str((answer or {}).get("Status") or "Login Succeeded")


def logout(endpoint: Endpoint) -> bool:
    """``docker logout``: forget the login; True if there was one."""
    journal.record(f"docker logout {endpoint.address}")
    return _SESSIONS.pop(endpoint.address, None) is not None


def forget(endpoint: Endpoint) -> None:
    """Forget everything about a registry's credentials, and delete the password file."""
    _SESSIONS.pop(endpoint.address, None)
    _GENERATED.pop(endpoint.address, None)
    if endpoint.password_file:
        Path(endpoint.password_file).unlink(missing_ok=True)



def auth_config_for(endpoint: Endpoint) -> dict[str, str]:
    """What the engine sends: the logged-in credentials, or none at all (not even config.json)."""
    session = _SESSIONS.get(endpoint.address)
    return session.auth_config(endpoint.login_server) if session else {}


def api_credentials(endpoint: Endpoint, anonymous: bool) -> Credentials | None:
    """What an API call sends: the login's credentials, else the generated ones (None when
    ``anonymous``)."""
    if anonymous:
        return None
    return _SESSIONS.get(endpoint.address) or _GENERATED.get(endpoint.address)
