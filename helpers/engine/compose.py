"""Docker Compose: the one place in the course that runs ``docker compose`` or ``docker-compose``.

Both flavours get the same command lines (``-p NAME --env-file FILE -f FILE … SUBCOMMAND``), so
a laptop with Compose v2 and a classroom machine with v1 behave alike. What Compose prints is
meant for people; what the course needs to know (state, health, restarts, ports, events) is
read from the engine through the labels Compose puts on everything it creates.

Every failure of ``up`` is turned into one readable :class:`~helpers.errors.CourseError`
(bad file, port taken, a health check that never passes, a missing image) with the relevant
log lines, and whatever that ``up`` created is removed again before the error is raised.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from .. import journal, settings
from ..display import FactsView
from ..errors import ComposeFileInvalid, CourseError, ImageUnavailable, NotReady, PortInUse, tail
from .client import ComposeFlavour, client, compose_flavour

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"

V2_COMMAND = ("docker", "compose")
V1_COMMAND = ("docker-compose",)


# --- command lines (pure) ---------------------------------------------------------------

def shown_path(path: str | Path) -> str:
    """A path as typed from the repository root (where the course runs Compose), else absolute."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(settings.PROJECT_ROOT)) or "."
    except ValueError:
        return str(resolved)


def command_line(command: Sequence[str], project: str, files: Sequence[str],
                 env_file: str | None, args: Sequence[str]) -> list[str]:
    """The argv for one Compose call; identical for v1 and v2 apart from the command itself."""
    argv = [*command, "-p", project]
    if env_file:
        argv += ["--env-file", env_file]
    for file in files:
        argv += ["-f", file]
    return argv + list(args)


@dataclass(frozen=True)
class Project:
    """One Compose project: its name, its files and the Compose command that drives it."""

    name: str
    files: tuple[str, ...]
    env_file: str | None = None
    command: tuple[str, ...] = V2_COMMAND
    version: str = ""

    def argv(self, *args: str) -> list[str]:
        return command_line(self.command, self.name, self.files, self.env_file, args)

    def cli(self, *args: str) -> str:
        return shlex.join(self.argv(*args))

    @property
    def flavour(self) -> str:
        return f"{' '.join(self.command)} {self.version}".strip()


def flavour() -> ComposeFlavour:
    """The Compose to use: v2 when installed, else v1; ``COURSE_COMPOSE=v1`` or ``v2`` forces one.

    Forcing helps on machines with both (to try the file with each), and in tests.
    """
    wanted = os.environ.get("COURSE_COMPOSE", "").strip().lower()
    if wanted in ("v1", "v2"):
        command = V1_COMMAND if wanted == "v1" else V2_COMMAND
        version = _version(command)
        if version is None:
            raise CourseError(f"COURSE_COMPOSE={wanted} asks for `{' '.join(command)}`, which "
                              "is not installed here.", hint="unset COURSE_COMPOSE.")
        return ComposeFlavour(command=command, version=version)
    found = compose_flavour()
    if found is None:
        raise CourseError("Neither `docker compose` (v2) nor `docker-compose` (v1) is installed.",
                          hint="install the Compose plugin (Docker Desktop has it; on Debian or "
                               "Ubuntu `sudo apt-get install docker-compose-plugin` or "
                               "`docker-compose`), then restart the kernel.")
    return found


def _version(command: Sequence[str]) -> str | None:
    try:
        done = subprocess.run([*command, "version", "--short"], capture_output=True, text=True,
                              timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def project(name: str, files: Iterable[str | Path], env_file: str | Path | None = None,
            using: ComposeFlavour | None = None) -> Project:
    """A :class:`Project` for the Compose this machine has (v2 preferred, v1 otherwise)."""
    paths = [Path(f) if Path(f).is_absolute() else settings.PROJECT_ROOT / f for f in files]
    for path in paths:
        if not path.is_file():
            raise CourseError(f"There is no compose file at {shown_path(path)}.",
                              hint="check the path; compose files live in data/apps/.")
    chosen = using or flavour()
    return Project(name=name, files=tuple(shown_path(p) for p in paths),
                   env_file=shown_path(env_file) if env_file else None,
                   command=tuple(chosen.command), version=chosen.version)


# --- running Compose ----------------------------------------------------------------------

class _TimedOut(Exception):
    def __init__(self, output: str) -> None:
        super().__init__("timed out")
        self.output = output


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _environment(proj: Project) -> dict[str, str]:
    """The caller's environment, minus what the env file sets (so the file decides)."""
    env = dict(os.environ)
    if proj.env_file:
        for key in read_env_file(settings.PROJECT_ROOT / proj.env_file):
            env.pop(key, None)
    for key in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
        env.pop(key, None)
    return env


def run(proj: Project, *args: str, timeout: float = 120, record: bool = True) -> \
        subprocess.CompletedProcess:
    """Run one Compose subcommand from the repository root; journal its command line."""
    started = time.monotonic()
    try:
        done = subprocess.run(proj.argv(*args), cwd=settings.PROJECT_ROOT,
                              env=_environment(proj), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        compose_flavour.cache_clear()
        raise CourseError(f"`{' '.join(proj.command)}` is no longer installed.",
                          hint="install Docker Compose, then restart the kernel.") from None
    except subprocess.TimeoutExpired as exc:
        if record:
            journal.record(proj.cli(*args), ok=False, seconds=time.monotonic() - started)
        output = _ANSI.sub("", "".join(_text(part) for part in (exc.stdout, exc.stderr)))
        raise _TimedOut(output) from None
    if record:
        journal.record(proj.cli(*args), ok=done.returncode == 0,
                       seconds=time.monotonic() - started)
    return done


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _output(done: subprocess.CompletedProcess) -> str:
    """Everything Compose printed, without terminal control codes (v2 prints some anyway)."""
    return _ANSI.sub("", (done.stdout or "") + (done.stderr or ""))


# --- reading the project from the engine --------------------------------------------------

@dataclass
class ServiceState(FactsView):
    """One service container as ``compose ps`` and ``docker inspect`` describe it."""

    service: str
    container: str
    state: str            # created, running, restarting, exited …
    health: str           # starting, healthy, unhealthy, or "" without a health check
    restarts: int
    ports: dict[int, int] = field(default_factory=dict)
    started_at: str = ""
    exit_code: int = 0
    image: str = ""
    has_healthcheck: bool = False
    restart_policy: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "running" and self.health in ("", "healthy")

    @property
    def gone_for_good(self) -> bool:
        """Exited, and its restart policy will not bring it back."""
        if self.state not in ("exited", "dead"):
            return False
        return self.restart_policy in ("", "no") or (
            self.restart_policy == "on-failure" and self.exit_code == 0)


def _project_filter(name: str) -> dict[str, list[str]]:
    return {"label": [f"{PROJECT_LABEL}={name}"]}


def _state_of(container) -> ServiceState:
    attrs = container.attrs
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    state = attrs.get("State") or {}
    health = (state.get("Health") or {}).get("Status", "")
    check = ((attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    published: dict[int, int] = {}
    live = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    asked = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    for key, bindings in (live or asked).items():
        for binding in bindings or []:
            if binding.get("HostPort"):
                published[int(key.split("/")[0])] = int(binding["HostPort"])
    return ServiceState(
        service=labels.get(SERVICE_LABEL, "?"), container=container.name,
        state=str(state.get("Status", container.status)), health=str(health),
        restarts=int(attrs.get("RestartCount", 0) or 0), ports=published,
        started_at=str(state.get("StartedAt", "")), exit_code=int(state.get("ExitCode", 0) or 0),
        image=str((attrs.get("Config") or {}).get("Image", "")),
        has_healthcheck=bool(check) and check != ["NONE"],
        restart_policy=str(((attrs.get("HostConfig") or {}).get("RestartPolicy") or {})
                           .get("Name", "")))


def _containers(name: str) -> list:
    found = client().containers.list(all=True, filters=_project_filter(name),
                                     ignore_removed=True)
    return [c for c in found if (c.labels or {}).get(ONEOFF_LABEL, "False") != "True"]


def states(proj: Project | str) -> list[ServiceState]:
    """The project's service containers (not one-off ``run`` containers), by service name."""
    name = proj if isinstance(proj, str) else proj.name
    return sorted((_state_of(c) for c in _containers(name)),
                  key=lambda s: (s.service, s.container))


def state(proj: Project, service: str) -> ServiceState:
    for found in states(proj):
        if found.service == service:
            return found
    raise CourseError(f"Service {service!r} of project {proj.name} has no container.",
                      hint=f"start the project first: `{proj.cli('up', '-d')}`.")


def objects(name: str) -> dict[str, list[str]]:
    """Containers, networks and volumes that carry the project's label."""
    engine = client()
    wanted = _project_filter(name)
    return {"containers": sorted(c.name for c in engine.containers.list(all=True,
                                                                          filters=wanted)),
            "networks": sorted(n.name for n in engine.networks.list(filters=wanted)),
            "volumes": sorted(v.name for v in engine.volumes.list(filters=wanted))}


def volumes(name: str) -> list[dict]:
    """The project's volumes: name, driver, the containers using it, the notebook label."""
    from .. import labels

    engine = client()
    rows = []
    for volume in engine.volumes.list(filters=_project_filter(name)):
        attrs = volume.attrs
        users = engine.containers.list(all=True, filters={"volume": volume.name})
        rows.append({"volume": volume.name, "driver": str(attrs.get("Driver", "")),
                     "used by": ", ".join(sorted(c.name for c in users)) or "–",
                     "notebook": (attrs.get("Labels") or {}).get(labels.NOTEBOOK_KEY, "")})
    return sorted(rows, key=lambda row: row["volume"])


def leftovers(prefix: str) -> list[dict[str, str]]:
    """Every object of every Compose project whose name starts with ``prefix``."""
    engine = client()
    wanted = {"label": [PROJECT_LABEL]}
    found: list[dict[str, str]] = []

    def note(kind: str, name: str, item_labels: dict | None) -> None:
        owner = (item_labels or {}).get(PROJECT_LABEL, "")
        if owner.startswith(prefix):
            found.append({"kind": kind, "name": name, "project": owner})

    for container in engine.containers.list(all=True, filters=wanted):
        note("container", container.name, container.labels)
    for network in engine.networks.list(filters=wanted):
        note("network", network.name, network.attrs.get("Labels"))
    for volume in engine.volumes.list(filters=wanted):
        note("volume", volume.name, volume.attrs.get("Labels"))
    return found


def health_log(container_name: str, entries: int = 3) -> str:
    """The last results of a container's health check: exit code and output of each probe."""
    try:
        attrs = client().containers.get(container_name).attrs
    except docker.errors.NotFound:
        return ""
    log = ((attrs.get("State") or {}).get("Health") or {}).get("Log") or []
    lines = []
    for probe in log[-entries:]:
        output = " ".join(str(probe.get("Output", "")).split())[:300]
        lines.append(f"  probe exit {probe.get('ExitCode')}: {output or '(no output)'}")
    return "\n".join(lines)


def container_logs(container_name: str, lines: int = 8) -> str:
    try:
        container = client().containers.get(container_name)
    except docker.errors.NotFound:
        return ""
    return tail(container.logs(tail=lines * 3).decode("utf-8", "replace"), lines)


def events(name: str, since: float, until: float | None = None) -> list[dict]:
    """The engine's container events for the project between two times (epoch seconds).

    Each event: ``time`` (epoch seconds, nanosecond precision), ``service``, ``container``,
    ``action`` (create, start, health_status: healthy, die …) and ``exit_code`` for ``die``.
    Health probe executions (``exec_*``) are left out.
    """
    until = time.time() if until is None else until
    stream = client().events(since=round(since, 3), until=round(until, 3), decode=True,
                             filters={"type": "container", "label": f"{PROJECT_LABEL}={name}"})
    found = []
    try:
        for event in stream:
            action = str(event.get("Action") or event.get("status") or "")
            if action.startswith("exec_"):
                continue
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            stamp = event.get("timeNano") or int(event.get("time", 0)) * 1_000_000_000
            found.append({"time": int(stamp) / 1e9, "service": attributes.get(SERVICE_LABEL, "?"),
                          "container": attributes.get("name", ""), "action": action.strip(),
                          "exit_code": attributes.get("exitCode")})
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    return found


# --- the subcommands ------------------------------------------------------------------------

def services(proj: Project) -> list[str]:
    """``config --services``: validates the files and lists the services they define."""
    try:
        done = run(proj, "config", "--services", timeout=60)
    except _TimedOut:
        raise CourseError("Compose did not answer within 60 s while reading the file.",
                          hint="is the Docker Engine busy? Try again.") from None
    if done.returncode != 0:
        raise file_error(proj, _output(done))
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def yaml_problem(path: Path) -> tuple[int, int, str] | None:
    """Where PyYAML stops reading a file: (line, column, problem), 1-based; None if it reads."""
    import yaml

    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is None:
            return None
        return mark.line + 1, mark.column + 1, str(exc.problem or exc.context or "")
    except (OSError, yaml.YAMLError):
        return None
    return None


def file_error(proj: Project, output: str) -> ComposeFileInvalid:
    """A readable :class:`ComposeFileInvalid` from what either Compose said about a bad file.

    Compose v1 and v2 word YAML errors differently (and v2 may name the line where the
    enclosing block starts), so the exact spot comes from reading the file with PyYAML.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    lines = [line for line in lines if "warning" not in line.lower()]
    for file in proj.files:
        problem = yaml_problem(settings.PROJECT_ROOT / file)
        if problem is None:
            continue
        number, column, what = problem
        message = (f"{file} is not valid YAML: the parser stopped at line {number}, "
                   f"column {column} ({what}).")
        hint = (f"fix line {number} of {file} or the line above it. YAML nests by "
                "indentation: the keys of one mapping (e.g. `image:`, `ports:`, `restart:` of "
                f"a service) must start in the same column. `{proj.cli('config')}` checks it "
                "again.")
        excerpt = _excerpt(settings.PROJECT_ROOT / file, number)
        return ComposeFileInvalid(message, hint=hint,
                                  log_tail=tail("\n".join(lines), 5) + "\n" + excerpt)
    first = lines[0] if lines else "Compose rejected the file"
    first = re.sub(r"^(ERROR:\s*|Error:\s*)", "", first)
    files = ", ".join(proj.files)
    return ComposeFileInvalid(f"Compose cannot use {files}: {first[:200]}",
                              hint="compare the key with the Compose file reference; "
                                   f"`{proj.cli('config')}` shows what Compose understands.",
                              log_tail=tail("\n".join(lines), 8))


def _excerpt(path: Path, number: int, around: int = 2) -> str:
    try:
        text = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    start, stop = max(1, number - around), min(len(text), number + around)
    return "\n".join(f"{'>' if n == number else ' '} {n:3d} | {text[n - 1]}"
                     for n in range(start, stop + 1))


@dataclass
class UpReport:
    """When ``up`` started and ended (epoch seconds), and the services it brought up."""

    started: float
    finished: float
    services: list[str]

    @property
    def seconds(self) -> float:
        return round(self.finished - self.started, 2)


def up(proj: Project, *, timeout: float = 180, poll: float = 0.5,
       names: Sequence[str] | None = None) -> UpReport:
    """``up -d``, then wait until every service is running and, if it has one, healthy.

    On any failure the containers and networks are removed again (``down``), and so are
    volumes this call created; volumes that held data before are kept. ``names`` lists the
    services when ``config`` was read already; otherwise ``up`` reads (and checks) it first.
    """
    names = list(names) if names else services(proj)
    volumes_before = set(objects(proj.name)["volumes"])
    started = time.time()
    deadline = time.monotonic() + timeout
    try:
        done = run(proj, "up", "-d", timeout=timeout)
    except _TimedOut as exc:
        failure: CourseError = _not_ready(proj, f"`up` did not finish within {timeout:.0f} s.",
                                          exc.output)
        undo(proj, volumes_before)
        raise failure from None
    if done.returncode != 0:
        failure = up_error(proj, _output(done))
        undo(proj, volumes_before)
        raise failure
    try:
        wait_ready(proj, names, timeout=max(5.0, deadline - time.monotonic()), poll=poll)
    except CourseError:
        undo(proj, volumes_before)
        raise
    return UpReport(started=started, finished=time.time(), services=names)


def wait_ready(proj: Project, names: Sequence[str], *, timeout: float = 120,
               poll: float = 0.5) -> float:
    """Poll until each service runs and is healthy; seconds waited, or :class:`NotReady`."""
    started = time.monotonic()
    while True:
        found = {s.service: s for s in states(proj)}
        if all(name in found and found[name].ready for name in names):
            return round(time.monotonic() - started, 2)
        for current in (found[name] for name in names if name in found):
            if current.health == "unhealthy":
                raise _not_ready(proj, f"Service {current.service} is unhealthy: its health "
                                       "check failed every time it was tried.", "")
            if current.gone_for_good:
                raise _not_ready(proj, f"Service {current.service} exited (code "
                                       f"{current.exit_code}) and will not be restarted.", "")
        if time.monotonic() - started > timeout:
            waiting = [n for n in names if n not in found or not found[n].ready]
            raise _not_ready(proj, f"Service(s) {', '.join(waiting)} not ready after "
                                   f"{timeout:.0f} s.", "")
        time.sleep(poll)


_PORT_TAKEN = re.compile(
    r"(?:Bind for |listen tcp[46]? )(?P<address>[0-9.]+|\[[0-9a-f:]+\]):(?P<port>\d+)"
    r"(?: failed| ?: ?bind)", re.IGNORECASE)


def up_error(proj: Project, output: str) -> CourseError:
    """Turn what ``up`` printed when it failed into one readable error."""
    lowered = output.lower()
    port = _PORT_TAKEN.search(output)
    if port or "port is already allocated" in lowered or "address already in use" in lowered:
        where = f"{port['address']}:{port['port']}" if port else "a published port"
        return PortInUse(f"Port {where} is already in use, so Compose could not start the "
                         "service that publishes it.",
                         hint="stop whatever listens there (`docker ps` shows containers that "
                              "publish it), or choose another port (APP_PORT in the env file).",
                         log_tail=tail(output, 6))
    if "unhealthy" in lowered:
        current = states(proj)
        sick = [s.service for s in current if s.health == "unhealthy"]
        if sick:
            message = (f"Service {', '.join(sick)} never became healthy: its health check "
                       "failed every time, so Compose did not start the services that wait "
                       "for it (depends_on: condition: service_healthy).")
        else:
            message = ("A service the others depend on never became healthy, so Compose did "
                       "not start the services waiting for it.")
        return _not_ready(proj, message, output)
    if any(word in lowered for word in ("pull access denied", "no such image",
                                        "manifest unknown", "no such host", "not found: manifest",
                                        "repository does not exist")):
        return ImageUnavailable("Compose could not find an image of the project, and pulling it "
                                "failed.", hint="build or load the image first (the notebook's "
                                "build cell), or check the image name in the env file.",
                                log_tail=tail(output, 6))
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    first = next((line for line in lines if re.match(r"(ERROR|Error)\b", line)),
                 next((line for line in lines if "error" in line.lower()), ""))
    first = re.sub(r"^(ERROR:\s*|Error:\s*)", "", first)
    return CourseError(f"`{' '.join(proj.command)} up` failed: {first[:200]}",
                       hint="read the lines below; `compose logs SERVICE` shows more.",
                       log_tail=tail(output, 10))


def _not_ready(proj: Project, message: str, output: str) -> NotReady:
    """:class:`NotReady` quoting the failing health checks and logs of services not ready."""
    parts = []
    for current in states(proj):
        if current.ready:
            continue
        if current.state == "created":
            parts.append(f"{current.service} ({current.container}): created, never started "
                         "(it waits for the services it depends on)")
            continue
        health = health_log(current.container)
        parts.append(f"{current.service} ({current.container}): state {current.state}"
                     + (f", health {current.health}" if current.health else "")
                     + (f", restarted {current.restarts}x" if current.restarts else ""))
        if health:
            parts.append("last health checks:\n" + health)
        logs = container_logs(current.container, 5)
        if logs:
            parts.append("last log lines:\n" + "\n".join("  " + line
                                                         for line in logs.splitlines()))
    if not parts and output:
        parts.append(tail(output, 6))
    hint = ("read the health check output below: it is what the check printed when it failed. "
            "Fix the cause (or the check), then run `up` again.")
    if "access denied" in "\n".join(parts).lower():
        hint = ("the database refuses the password: its volume was initialised with other "
                "passwords. Remove the volume (`down -v`) so it is initialised again.")
    return NotReady(message, hint=hint, log_tail="\n".join(parts))


def undo(proj: Project, volumes_before: Iterable[str] = ()) -> None:
    """After a failed ``up``: ``down``, and remove volumes that ``up`` created."""
    with contextlib.suppress(_TimedOut):
        run(proj, "down", timeout=120)
    engine = client()
    for leftover in _containers(proj.name):  # down failed or timed out: force it
        with contextlib.suppress(docker.errors.APIError):
            leftover.remove(force=True, v=True)
    keep = set(volumes_before)
    for volume in engine.volumes.list(filters=_project_filter(proj.name)):
        if volume.name not in keep:
            try:
                volume.remove(force=True)
                journal.record(f"docker volume rm {volume.name}")
            except docker.errors.APIError:
                pass
    for network in engine.networks.list(filters=_project_filter(proj.name)):
        with contextlib.suppress(docker.errors.APIError):
            network.remove()


@dataclass
class DownReport:
    """What ``down`` removed and which volumes it kept."""

    containers: list[str]
    networks: list[str]
    volumes_removed: list[str]
    volumes_kept: list[str]


def down(proj: Project, *, volumes: bool = False, timeout: float = 120) -> DownReport:
    """``down`` (containers and networks) or ``down -v`` (named volumes as well)."""
    before = objects(proj.name)
    args = ["down", "-v"] if volumes else ["down"]
    try:
        done = run(proj, *args, timeout=timeout)
    except _TimedOut:
        raise CourseError(f"`down` did not finish within {timeout:.0f} s.",
                          hint="the engine may be busy; run it again.") from None
    if done.returncode != 0:
        raise CourseError("`down` failed.", hint="read the lines below.",
                          log_tail=tail(_output(done), 8))
    after = objects(proj.name)
    return DownReport(
        containers=[c for c in before["containers"] if c not in after["containers"]],
        networks=[n for n in before["networks"] if n not in after["networks"]],
        volumes_removed=[v for v in before["volumes"] if v not in after["volumes"]],
        volumes_kept=after["volumes"])


def _simple(proj: Project, *args: str, timeout: float = 60) -> str:
    try:
        done = run(proj, *args, timeout=timeout)
    except _TimedOut:
        raise CourseError(f"`{args[0]}` did not finish within {timeout:.0f} s.") from None
    if done.returncode != 0:
        raise CourseError(f"`{' '.join(args)}` failed.", hint="read the lines below.",
                          log_tail=tail(_output(done), 8))
    return _output(done)


def stop(proj: Project, service: str) -> None:
    _simple(proj, "stop", service)


def start(proj: Project, service: str) -> None:
    _simple(proj, "start", service)


def logs(proj: Project, service: str | None = None, lines: int = 20) -> str:
    """``logs --no-color --tail=N [SERVICE]``: each line prefixed with its container."""
    args = ["logs", "--no-color", f"--tail={lines}"] + ([service] if service else [])
    return _simple(proj, *args)


def exec_in(proj: Project, service: str, command: Sequence[str]) -> tuple[int, str]:
    """``exec -T SERVICE COMMAND`` (no terminal): exit code and output."""
    try:
        done = run(proj, "exec", "-T", service, *command, timeout=60)
    except _TimedOut:
        raise CourseError(f"`exec` in {service} did not finish within 60 s.") from None
    return done.returncode, _output(done)
