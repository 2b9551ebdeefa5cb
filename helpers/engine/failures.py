"""The one place where "the engine did not answer" becomes the course's :class:`EngineUnavailable`.

A connection error can surface anywhere: in the first ``ping``, in any SDK call of a session whose
engine has since stopped (``requests.exceptions.ConnectionError`` deep inside the SDK), while a
stream (``docker save``, events) is being read, or in what a ``docker`` CLI subprocess prints
(buildx, Compose). Every engine module lets this module turn it into one message that names the
endpoint tried, where that address came from (DOCKER_HOST, a Docker context, the default
socket), and the fix that fits the cause:

- nothing listens there (not started, or stopped meanwhile): start it, or check the address;
- the address cannot be right (an unknown host, no socket at a DOCKER_HOST path, a timeout):
  fix DOCKER_HOST or the context;
- the scheme cannot work (``npipe://`` off Windows, ``ssh://`` without an ``ssh`` client, an
  unknown scheme): what to use instead;
- permission denied on the socket.

:func:`guard` installs the translation on an SDK client, at its transport (``send``), so every
request of every module is covered; :func:`translated` covers code that reads a response stream
or catches ``OSError`` broadly; :func:`cli_output_means_engine_gone` reads CLI output.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ..errors import CourseError, EngineUnavailable
from .endpoint import DEFAULT_HOST, Endpoint, endpoint
from .sdk import docker, requests

F = TypeVar("F", bound=Callable[..., Any])

SCHEMES = ("unix", "tcp", "http", "https", "ssh", "npipe", "fd")
REPLAY_HINT = "Or run the course in replay mode (README, 'Getting a Docker Engine')."
# What the docker CLI, buildx and Compose print when no engine answers, or it went away
CLI_ENGINE_GONE = ("cannot connect to the docker daemon", "error during connect",
                   "is the docker daemon running", "connection refused",
                   "no such file or directory: unix", "connect: no such file or directory",
                   "broken pipe", "connection reset by peer", "unexpected eof",
                   "transport is closing", "error reading from server: eof",
                   "the docker daemon went away")


# --- classification (pure) -------------------------------------------------------------------

def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` says the engine did not answer (not: it answered with an error)."""
    if isinstance(exc, EngineUnavailable):
        return False
    if isinstance(exc, docker.errors.APIError):
        return False  # the engine answered, with an HTTP error
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                        requests.exceptions.ChunkedEncodingError)):
        return True
    if isinstance(exc, (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError)):
        return True  # raw socket reads (attach, exec streams); never a local file error
    try:  # urllib3 errors a stream can raise while it is read
        import urllib3.exceptions
    except ImportError:  # pragma: no cover - requests always brings urllib3
        return False
    return isinstance(exc, (urllib3.exceptions.ProtocolError,
                            urllib3.exceptions.NewConnectionError,
                            urllib3.exceptions.ReadTimeoutError))


def scheme_of(host: str) -> str:
    """``tcp`` for ``tcp://host:2375``; ``""`` when the address has no scheme."""
    return host.partition("://")[0].lower() if "://" in host else ""


def reason(text: str) -> str:
    """The part of a connection error a learner can act on, in a few words."""
    lowered = text.lower()
    for needles, said in (
            (("connection refused",), "connection refused"),
            (("no such file", "filenotfounderror"), "no socket there"),
            (("permission denied",), "permission denied"),
            (("name or service not known", "nodename nor servname", "name resolution",
              "getaddrinfo failed", "no address associated"), "unknown host name"),
            (("timed out", "connecttimeout", "readtimeout", "timeout"), "timed out"),
            (("remotedisconnected", "connection aborted", "connection reset", "broken pipe",
              "connection broken", "incompleteread", "protocolerror", "unexpected eof",
              "error reading from server", "transport is closing", ": eof"),
             "the connection was cut"),
            (("install paramiko",), "ssh:// needs an ssh client"),
            (("invalid bind address", "invalid url scheme", "not supported",
              "unsupported", "no connection adapters", "invalid_url"),
             "not an address the course can use")):
        if any(needle in lowered for needle in needles):
            return said
    first = text.split(" | ")[0].split("\n")[0]
    first = re.sub(r"^[A-Za-z_.]+(Error|Exception): ", "", first)  # the type name says little
    return first[:120] or "no answer"


def cause(where: Endpoint, said: str) -> str:
    """``unsupported``, ``permission``, ``wrong address`` or ``not running``."""
    scheme = scheme_of(where.host)
    if scheme not in SCHEMES or said == "not an address the course can use":
        return "unsupported"
    if scheme == "npipe" and not sys.platform.startswith("win"):
        return "unsupported"
    if scheme == "ssh" and (shutil.which("ssh") is None or said == "ssh:// needs an ssh client"):
        return "unsupported"
    if said == "permission denied":
        return "permission"
    if said in ("unknown host name", "timed out"):
        return "wrong address"
    if said == "no socket there" and where.source == "DOCKER_HOST":
        return "wrong address"  # a path nobody serves: most often a typo or a stale variable
    return "not running"


def hint_for(where: Endpoint, kind: str, *, went_away: bool = False) -> str:
    """What to do, for the cause and for where the address came from."""
    from_context = (f"the context {where.context!r}" if where.context else "")
    change = ("fix or unset DOCKER_HOST (unset, the course follows the CLI's context or the "
              "default socket)" if where.source == "DOCKER_HOST" else
              f"switch with `docker context use NAME` (`docker context ls` lists them; "
              f"{from_context} is in use now)" if where.context else
              "set DOCKER_HOST, or pick a context with `docker context use NAME`")
    if kind == "unsupported":
        scheme = scheme_of(where.host) or "(none)"
        if scheme == "ssh":
            needed = ("ssh:// engines need the OpenSSH client (`ssh`) on this machine: install "
                      "it (`sudo apt-get install openssh-client`) and check that `ssh "
                      f"{where.host.removeprefix('ssh://')} docker version` works; or ")
        elif scheme == "npipe":
            needed = "npipe:// addresses exist only on Windows; "
        else:
            needed = (f"the scheme {scheme}:// is not one the Docker SDK speaks (unix://, "
                      "tcp://, ssh://); ")
        return needed + change + ". " + REPLAY_HINT
    if kind == "permission":
        return ("this user may not open the engine's socket: add it to the docker group "
                "(`sudo usermod -aG docker $USER`, then log in again; the group is "
                "root-equivalent) or use rootless Docker. " + REPLAY_HINT)
    if kind == "wrong address":
        return (f"nothing answers at {where.host}: {change}. If the engine should be there, "
                "start it. " + REPLAY_HINT)
    start = ("start Docker (Docker Desktop on macOS/Windows, `sudo systemctl start docker` on "
             "Linux)")
    if where.context:
        start = (f"start the engine behind the context {where.context!r} (Docker Desktop, "
                 "`colima start`, OrbStack…), or switch with `docker context use NAME` "
                 "(`docker context ls` lists them)")
    elif where.source == "DOCKER_HOST":
        start = f"start the engine that should answer there, or {change}"
    if went_away:
        again = ("start Docker again (Docker Desktop on macOS/Windows, `sudo systemctl start "
                 "docker` on Linux)")
        if where.context:
            again = f"start the engine behind the context {where.context!r} again"
        elif where.source == "DOCKER_HOST":
            again = (f"start the engine at {where.host} again (or fix DOCKER_HOST if it "
                     "moved)")
        return (f"{again}, then re-run the cell; `python -m helpers cleanup --notebook NN` "
                "removes what the interrupted step left.")
    tail = ""
    if where.source == "default socket":
        tail = (" If `docker version` works in a terminal, start JupyterLab from that terminal "
                "(it may set DOCKER_HOST), or check `docker context ls`: the course follows "
                "DOCKER_HOST, DOCKER_CONTEXT and the CLI's current context.")
    return f"{start}. {REPLAY_HINT}{tail}"


def unavailable(where: Endpoint | None = None, exc: BaseException | str | None = None, *,
                went_away: bool = False, during: str = "") -> EngineUnavailable:
    """The course's error for "no engine answered at ``where``" (returned, not raised).

    ``went_away`` words it for an engine that answered earlier in the session; ``during`` names
    what was going on (``building docker-course/flask-app:1.0``).
    """
    if where is None:
        where = _endpoint_or_default()
    said = reason(_text(exc)) if exc is not None else "no answer"
    kind = cause(where, said)
    went_away = went_away or where.host in _answered
    if went_away and kind == "wrong address":
        kind = "not running"  # it answered there before: the address was right
    if kind == "unsupported":
        message = (f"The engine address {where.host} (from {where.source}) cannot be used "
                   f"by the course ({said}).")
    elif went_away:
        doing = f" while {during}" if during else ""
        message = (f"The Docker Engine at {where.host} (from {where.source}) stopped "
                   f"answering{doing} ({said}).")
    else:
        message = f"No Docker Engine answered at {where.host} (from {where.source}: {said})."
    error = EngineUnavailable(message, hint=hint_for(where, kind, went_away=went_away))
    error.endpoint = where.host  # type: ignore[attr-defined]
    error.source = where.source  # type: ignore[attr-defined]
    error.cause = kind  # type: ignore[attr-defined]
    return error


def _text(exc: BaseException | str) -> str:
    if isinstance(exc, str):
        return exc
    parts = [f"{type(exc).__name__}: {exc}"]
    inner = exc.__cause__ or exc.__context__
    while inner is not None and len(parts) < 4:
        parts.append(f"{type(inner).__name__}: {inner}")
        inner = inner.__cause__ or inner.__context__
    return " | ".join(parts)


def _endpoint_or_default() -> Endpoint:
    try:
        return endpoint()
    except EngineUnavailable:
        return Endpoint(host=DEFAULT_HOST, source="default socket")


_answered: set[str] = set()  # engine addresses that answered in this process


def cli_output_means_engine_gone(text: str) -> bool:
    """True when a docker/buildx/Compose CLI's output says no engine answered."""
    lowered = text.lower()
    return any(needle in lowered for needle in CLI_ENGINE_GONE)


# --- translation at run time -----------------------------------------------------------------

_forgetters: list[Callable[[], None]] = []  # what drops a cached connection (.client's reset)


def when_connection_lost(forget: Callable[[], None]) -> None:
    """Call ``forget`` whenever a connection failure is translated: :mod:`.client` registers
    the reset of its cached connection, so the next call connects (and pings) afresh."""
    if forget not in _forgetters:
        _forgetters.append(forget)


def _forget_connection() -> None:
    for forget in _forgetters:
        forget()


def translate(exc: BaseException, *, during: str = "") -> EngineUnavailable | None:
    """The course's error for ``exc`` when it is a connection failure, else None.

    The cached connection is dropped, so the next call connects (and pings) afresh.
    """
    if not is_connection_error(exc):
        return None
    _forget_connection()
    return unavailable(None, exc, went_away=True, during=during)


@contextlib.contextmanager
def translated(during: str = "") -> Iterator[None]:
    """Inside the block, a connection failure is raised as :class:`EngineUnavailable`."""
    try:
        yield
    except BaseException as exc:  # re-raised unless it is a connection failure
        mapped = translate(exc, during=during)
        if mapped is None:
            raise
        raise mapped from None


@contextlib.contextmanager
def reported_as(message: str, *, hint: str) -> Iterator[None]:
    """Inside the block, any other error of the SDK or its HTTP transport becomes one error.

    Raises :class:`CourseError` ``"{message}: {the error's first line}"`` with ``hint`` for a
    ``docker.errors.DockerException`` or ``requests.RequestException``; the course's own errors
    (:class:`EngineUnavailable`, ``ImageUnavailable``, ...) pass unchanged.
    """
    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise CourseError(f"{message}: {first}", hint=hint) from None


def engine_call(func: F) -> F:
    """Decorator form of :func:`translated`, for plain functions and generator functions."""
    import inspect

    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with translated():
                yield from func(*args, **kwargs)
        return generator  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with translated():
            return func(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def guard(engine: docker.DockerClient, where: Endpoint) -> docker.DockerClient:
    """Make every request of ``engine`` raise :class:`EngineUnavailable` when nothing answers.

    The SDK's API client is a ``requests.Session``: its ``send`` is wrapped, so a connection
    refused, a vanished socket or a connection cut mid-request becomes the course's error
    (naming ``where``) in whichever module made the call. Idempotent.
    """
    api: Any = engine.api  # a requests.Session: its send is replaced, and two marks are set
    if getattr(api, "_course_guarded", False):
        return engine
    original = api.send

    def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        try:
            return original(request, **kwargs)
        except BaseException as exc:  # re-raised unless a connection failure
            if not is_connection_error(exc):
                raise
            _forget_connection()
            raise unavailable(where, exc,
                              went_away=getattr(api, "_course_answered", False)) from None

    def mark_answered(response: requests.Response, *args: Any,
                      **kwargs: Any) -> requests.Response:
        api._course_answered = True
        _answered.add(where.host)
        return response

    api.send = send
    api.hooks.setdefault("response", []).append(mark_answered)
    api._course_guarded = True
    return engine
