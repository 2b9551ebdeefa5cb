"""Containers: run (ports on 127.0.0.1 only), wait until ready, logs, exec, stop, remove."""

from __future__ import annotations

import contextlib
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from .. import journal, labels, ports
from ..display import FactsView
from ..errors import CourseError, NotReady, PortInUse, tail
from . import ownership
from .client import client
from .sdk import docker, requests


@dataclass
class ContainerInfo(FactsView):
    """A container as ``docker ps`` shows it, plus where its published ports landed."""

    name: str
    id: str
    image: str
    status: str
    ports: dict[int, int] = field(default_factory=dict)
    exit_code: int | None = None
    oom_killed: bool = False
    notebook: str = ""
    note: str = ""
    cli: str = ""

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def url(self, container_port: int | None = None, path: str = "/") -> str:
        if not self.ports:
            raise CourseError(f"Container {self.name} publishes no port.",
                              hint="run it with ports={CONTAINER_PORT: HOST_PORT}.")
        port = self.ports[container_port] if container_port else next(iter(self.ports.values()))
        return f"http://{ports.LOOPBACK}:{port}{path}"


def _info(container, cli: str = "", note: str = "") -> ContainerInfo:
    container.reload()
    attrs = container.attrs
    state = attrs.get("State") or {}
    published: dict[int, int] = {}
    # a running container reports where ports landed; a stopped one only what was asked for
    live_ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    asked_ports = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    for key, bindings in (live_ports or asked_ports).items():
        for binding in bindings or []:
            if binding.get("HostPort"):
                published[int(key.split("/")[0])] = int(binding["HostPort"])
    config = attrs.get("Config") or {}
    return ContainerInfo(
        name=container.name, id=container.id, image=str(config.get("Image", "")),
        status=str(state.get("Status", container.status)), ports=published,
        exit_code=state.get("ExitCode") if state.get("Status") == "exited" else None,
        oom_killed=bool(state.get("OOMKilled")),
        notebook=(config.get("Labels") or {}).get(labels.NOTEBOOK_KEY, ""),
        note=note, cli=cli)


def _run_cli(image: str, name: str | None, detach: bool, published: dict[int, int],
             env: dict[str, str], command: list[str] | str | None, extra: list[str]) -> str:
    parts = ["docker run"]
    parts.append("-d" if detach else "--rm")
    if name:
        parts.append(f"--name {name}")
    parts += [f"-p {ports.LOOPBACK}:{host}:{inner}" for inner, host in published.items()]
    parts += [f"-e {key}={'***' if _is_secret(key) else value}" for key, value in env.items()]
    parts += extra
    parts.append(image)
    if command:
        parts.append(command if isinstance(command, str) else shlex.join(command))
    return " ".join(parts)


def _is_secret(key: str) -> bool:
    return any(word in key.upper() for word in ("PASSWORD", "SECRET", "TOKEN"))


def not_ours(name: str) -> CourseError:
    """The error for a container of that name that the course did not make (left untouched)."""
    return CourseError(f"A container named {name!r} already exists and the course did not "
                       "create it, so the course leaves it alone.",
                       hint=f"rename or remove it yourself (`docker rename {name} NEW-NAME` or "
                            f"`docker rm -f {name}`), or choose another name.")


def is_ours(name_or_id: str) -> bool | None:
    """True for a course container, False for anyone else's, None when there is none."""
    try:
        existing = client().containers.get(name_or_id)
    except docker.errors.NotFound:
        return None
    return ownership.owns_container(existing)


def remove_if_ours(name: str) -> None:
    """Make room for a re-run: remove a course container of that name; refuse anyone else's.

    Raises :class:`CourseError` (touching nothing) when the container is not the course's.
    """
    try:
        existing = client().containers.get(name)
    except docker.errors.NotFound:
        return
    if not ownership.owns_container(existing):
        raise not_ours(name)
    with contextlib.suppress(docker.errors.NotFound):
        existing.remove(force=True, v=True)


def run(image: str, *, name: str | None = None, ports_wanted: dict[int, int | None] | None = None,
        env: dict[str, str] | None = None, command: list[str] | str | None = None,
        detach: bool = True, strict_ports: bool = False, user: str | None = None,
        mem_limit: str | None = None, memswap_limit: str | None = None,
        network: str | None = None,
        volumes: dict[str, dict[str, str]] | None = None, tmpfs: dict[str, str] | None = None,
        read_only: bool = False, restart: str | None = None, healthcheck: dict | None = None,
        hostname: str | None = None, extra_cli: list[str] | None = None,
        mounts: list | None = None, journal_it: bool = True) -> ContainerInfo:
    """``docker run``; published ports bind to 127.0.0.1 only.

    A wanted host port that is taken is replaced by a free one (the result's ``note`` says so),
    unless ``strict_ports`` asks for a :class:`PortInUse` error instead. On any failure the
    half-created container is removed. ``journal_it=False`` leaves the journal line of a
    started container to the caller (:func:`run_once` writes it once the exit code is known);
    a failure to start is journaled either way.
    """
    env = dict(env or {})
    published: dict[int, int] = {}
    notes = []
    for inner, wanted in (ports_wanted or {}).items():
        host = ports.free_port(wanted or inner)
        if wanted and host != wanted:
            if strict_ports:
                raise PortInUse(f"Port {wanted} on 127.0.0.1 is already in use.",
                                hint="stop whatever listens there, or choose another port.")
            notes.append(f"port {wanted} was taken, so {host} is used instead")
        published[inner] = host
    if name:
        remove_if_ours(name)
    cli = _run_cli(image, name, detach, published, env, command, list(extra_cli or []))
    kwargs: dict[str, Any] = dict(
        image=image, name=name, command=command, environment=env, detach=True,
        labels=labels.for_new_object(), user=user, mem_limit=mem_limit,
        memswap_limit=memswap_limit, network=network, volumes=volumes, tmpfs=tmpfs,
        read_only=read_only, hostname=hostname, healthcheck=healthcheck, mounts=mounts,
        ports={f"{inner}/tcp": (ports.LOOPBACK, host) for inner, host in published.items()})
    if restart:
        kwargs["restart_policy"] = {"Name": restart}
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    started = time.monotonic()
    container = None
    try:
        container = client().containers.create(**kwargs)
        assert container.id is not None, "the engine answers a create with the container's id"
        ownership.note_container(container.id, name or "")
        container.start()
    except docker.errors.ImageNotFound:
        _discard(container)
        journal.record(cli, ok=False)
        raise CourseError(f"There is no image called {image!r} on this engine.",
                          hint="build or pull it first (`docker image ls` lists what you "
                               "have).") from None
    except docker.errors.APIError as exc:
        _discard(container)
        journal.record(cli, ok=False)
        text = str(exc.explanation or exc)
        if "port is already allocated" in text or "address already in use" in text:
            raise PortInUse(f"A published port is already in use: {text}",
                            hint="stop whatever listens there, or choose another port.") from None
        raise CourseError(f"docker run {image} failed: {text}") from None
    if journal_it:
        journal.record(cli, seconds=time.monotonic() - started)
    return _info(container, cli=cli, note="; ".join(notes))


def _discard(container) -> None:
    if container is not None:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=True)


def run_once(image: str, command: list[str] | str,
             **options) -> tuple[int, str, ContainerInfo]:
    """``docker run --rm IMAGE COMMAND``: wait for it to finish; (exit code, output, final info).

    The journal line is written once the container has exited, marked failed when its exit
    code is not 0 (as the shell sees ``docker run``: it exits with the container's code), and
    with the seconds from start to exit.
    """
    started = time.monotonic()
    info = run(image, command=command, detach=False, journal_it=False, **options)
    container = client().containers.get(info.id)
    code = -1
    try:
        result = container.wait(timeout=300)
        code = int(result.get("StatusCode", -1))
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        final = _info(container, cli=info.cli)
    finally:
        _discard(container)
        journal.record(info.cli, ok=code == 0, seconds=time.monotonic() - started)
    return code, output, final


def wait_http(info: ContainerInfo, path: str = "/health", *, container_port: int | None = None,
              timeout: float = 60, expect_status: int = 200) -> float:
    """Poll the container's published URL until it answers; seconds waited.

    When the container exits or the timeout passes, :class:`NotReady` quotes its log tail.
    """
    url = info.url(container_port, path)
    started = time.monotonic()
    last_problem = "no answer yet"
    while time.monotonic() - started < timeout:
        try:
            answer = requests.get(url, timeout=2)
            if answer.status_code == expect_status:
                return round(time.monotonic() - started, 2)
            last_problem = f"HTTP {answer.status_code}"
        except requests.RequestException as exc:
            last_problem = type(exc).__name__
        state = container_state(info.name or info.id)
        if state in ("exited", "dead"):
            raise NotReady(f"Container {info.name} stopped before {url} answered.",
                           hint="read its logs below; fix the cause and run it again.",
                           log_tail=tail(logs(info.name or info.id, journal_it=False)))
        time.sleep(0.3)
    raise NotReady(f"{url} did not answer within {timeout:.0f} s ({last_problem}).",
                   hint="the app may still be starting, or crashed inside; see its logs.",
                   log_tail=tail(logs(info.name or info.id, journal_it=False)))


def container_state(name_or_id: str) -> str:
    try:
        container = client().containers.get(name_or_id)
    except docker.errors.NotFound:
        return "missing"
    return str((container.attrs.get("State") or {}).get("Status", container.status))


def get(name_or_id: str) -> ContainerInfo:
    try:
        return _info(client().containers.get(name_or_id))
    except docker.errors.NotFound:
        raise CourseError(f"No container called {name_or_id!r}.",
                          hint="`docker ps -a` lists the containers you have.") from None


def logs(name_or_id: str, *, lines: int = 50, journal_it: bool = True) -> str:
    try:
        container = client().containers.get(name_or_id)
    except docker.errors.NotFound:
        return ""
    if journal_it:
        journal.record(f"docker logs --tail {lines} {name_or_id}")
    return container.logs(tail=lines).decode("utf-8", "replace")


def exec_in(name_or_id: str, command: list[str] | str, *, user: str | None = None) -> \
        tuple[int, str]:
    """``docker exec``: (exit code, combined output)."""
    container = client().containers.get(name_or_id)
    shown = command if isinstance(command, str) else shlex.join(command)
    journal.record(f"docker exec {'-u ' + user + ' ' if user else ''}{name_or_id} {shown}")
    result = container.exec_run(command, user=user or "")
    output = result.output if isinstance(result.output, bytes) else b"".join(result.output or ())
    return int(result.exit_code or 0), output.decode("utf-8", "replace")


def _course_container(name_or_id: str):
    """The course's container of that name; :class:`CourseError` when missing or not ours."""
    try:
        container = client().containers.get(name_or_id)
    except docker.errors.NotFound:
        raise CourseError(f"No container called {name_or_id!r}.",
                          hint="`docker ps -a` lists the containers you have.") from None
    if not ownership.owns_container(container):
        raise not_ours(name_or_id)
    return container


def stop(name_or_id: str, timeout: int = 5) -> ContainerInfo:
    """``docker stop`` a course container; :class:`CourseError` for a missing or foreign one."""
    container = _course_container(name_or_id)
    container.stop(timeout=timeout)
    cli = f"docker stop -t {timeout} {name_or_id}"
    journal.record(cli)
    return _info(container, cli=cli)


def remove(name_or_id: str, *, journal_it: bool = True) -> None:
    """``docker rm -f -v`` a course container: anonymous volumes (an image's VOLUME) go with it.

    A missing container is fine (nothing to do); one the course did not make raises
    :class:`CourseError` and is left untouched. ``journal_it=False`` when the caller prints
    its own line for it.
    """
    try:
        container = client().containers.get(name_or_id)
    except docker.errors.NotFound:
        return
    if not ownership.owns_container(container):
        raise not_ours(name_or_id)
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        return
    if journal_it:
        journal.record(f"docker rm -f {name_or_id}")


def create(image: str, *, name: str, command: list[str]) -> ContainerInfo:
    """``docker create --name NAME IMAGE COMMAND``: a labelled container the course owns, not
    started (state "created"). A course container of that name is replaced first; the caller
    prints the line."""
    remove_if_ours(name)
    container = client().containers.create(image, command, name=name,
                                           labels=labels.for_new_object())
    assert container.id is not None, "the engine answers a create with the container's id"
    ownership.note_container(container.id, name)
    return _info(container)


LIFECYCLE_ACTIONS = ("start", "pause", "unpause", "stop", "kill")


def change_state(name_or_id: str, action: str, *, timeout: int = 1) -> str:
    """``docker start|pause|unpause|stop -t TIMEOUT|kill`` on a course container; returns its
    state afterwards as ``docker inspect`` reports it (``.State.Status``: "running", "paused",
    "exited" …). ``kill`` waits (up to 10 s) until the container has exited. The caller prints
    the line. Raises :class:`CourseError` for a missing or foreign container, ValueError for
    an action not in :data:`LIFECYCLE_ACTIONS`.
    """
    if action not in LIFECYCLE_ACTIONS:
        raise ValueError(f"action is one of {', '.join(LIFECYCLE_ACTIONS)}, not {action!r}")
    container = _course_container(name_or_id)
    if action == "stop":
        container.stop(timeout=timeout)
    elif action == "kill":
        container.kill()
        container.wait(timeout=10)
    else:
        getattr(container, action)()
    container.reload()
    return str(container.attrs["State"]["Status"])


def time_runs(image: str, command: list[str], runs: int) -> list[float]:
    """Seconds (wall clock) of each of ``runs`` ``docker run --rm IMAGE COMMAND``: create,
    start, wait for the exit, remove. The caller prints the line."""
    engine = client()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        engine.containers.run(image, command, remove=True, detach=False,
                              labels=labels.for_new_object())
        seconds.append(time.perf_counter() - started)
    return seconds


def host_pid(name_or_id: str) -> int:
    """The host's PID of a container's main process (``docker inspect .State.Pid``; 0 when it
    is not running). Raises :class:`CourseError` for a missing container."""
    try:
        state = client().containers.get(name_or_id).attrs.get("State") or {}
    except docker.errors.NotFound:
        raise CourseError(f"No container called {name_or_id!r}.",
                          hint="`docker ps -a` lists the containers you have.") from None
    return int(state.get("Pid") or 0)


def list_course(notebook: str | None = None, *, all_states: bool = True) -> list[ContainerInfo]:
    """``docker ps -a --filter label=…``: the course's containers."""
    found = client().containers.list(all=all_states, filters=labels.filters(notebook))
    return [_info(c) for c in found]


def diff(name_or_id: str) -> list[dict]:
    """``docker diff``: the changes in the container's writable layer."""
    journal.record(f"docker diff {name_or_id}")
    return list(client().containers.get(name_or_id).diff() or [])
