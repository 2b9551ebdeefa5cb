"""Docker Compose v2 (``docker compose``): the one place in the course that runs it.

Every call has the same shape, ``docker compose -p NAME --env-file FILE -f FILE … SUBCOMMAND``,
run from the notebooks folder (where a learner's terminal opens), so a printed line works when
typed there. Compose v1 (``docker-compose``) reached end of life in July 2023
and is not supported. What Compose prints is meant for people; the course reads two things
instead: the project model Compose itself resolves (``config --format json``: files merged,
variables interpolated, short syntax expanded) and, from the engine, the state of what Compose
created (through the labels Compose puts on everything).

Every failure of ``up`` is turned into one readable :class:`~helpers.errors.CourseError`
(bad file, port taken, a health check that never passes, a missing image) that names the
service and port concerned, with the relevant log lines; whatever that ``up`` created is
removed again before the error is raised.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import journal, labels, settings
from ..display import FactsView
from ..errors import ComposeFileInvalid, CourseError, ImageUnavailable, NotReady, PortInUse, tail
from .client import (
    ComposeFlavour,
    client,
    compose_flavour,
    compose_v1_only,
    docker_cli_env,
    engine_answers,
)
from .failures import cli_output_means_engine_gone, unavailable
from .sdk import docker

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
DEPENDS_ON_LABEL = "com.docker.compose.depends_on"

COMMAND = ("docker", "compose")
INSTALL_HINT = ("install the Compose v2 plugin (Docker Desktop has it; with Docker's apt/yum "
                "repository, the `docker-compose-plugin` package; README, 'Getting a Docker "
                "Engine'), then restart the kernel.")


# --- command lines (pure) ---------------------------------------------------------------

def workdir() -> Path:
    """Where the course runs Compose: the notebooks folder, where JupyterLab opens terminals."""
    return settings.PROJECT_ROOT / "notebooks"


def shown_path(path: str | Path) -> str:
    """A path as typed in the notebooks folder: ``../data/…`` inside the course, else absolute.

    Relative paths given here start at the repository root.
    """
    given = Path(path)
    resolved = (given if given.is_absolute() else settings.PROJECT_ROOT / given).resolve()
    try:
        inside = resolved.relative_to(settings.PROJECT_ROOT)
    except ValueError:
        return str(resolved)
    return str(Path("..") / inside)


def on_disk(shown: str) -> Path:
    """The file a :func:`shown_path` string names."""
    return (workdir() / shown).resolve()


def command_line(project: str, files: Sequence[str], env_file: str | None,
                 args: Sequence[str]) -> list[str]:
    """The argv of one Compose call: ``docker compose -p P [--env-file E] -f F … ARGS``.

    Global options (project, env file, files, in that order) come before the subcommand, as
    ``docker compose`` requires; files keep their order (later ones override earlier ones).
    """
    argv = [*COMMAND, "-p", project]
    if env_file:
        argv += ["--env-file", env_file]
    for file in files:
        argv += ["-f", file]
    return argv + list(args)


@dataclass(frozen=True)
class Project:
    """One Compose project: its name, its files and env file (as typed in the notebooks folder),
    and the Compose version."""

    name: str
    files: tuple[str, ...]
    env_file: str | None = None
    version: str = ""

    def argv(self, *args: str) -> list[str]:
        """The argv that runs ``args`` (a subcommand and its options) on this project."""
        return command_line(self.name, self.files, self.env_file, args)

    def cli(self, *args: str) -> str:
        """The same command line as one shell-quoted string, as the notebook shows it."""
        return shlex.join(self.argv(*args))

    @property
    def label(self) -> str:
        """``docker compose 2.40.3``: the command and its version, for tables and notes."""
        return f"{' '.join(COMMAND)} {self.version}".strip()


def installed() -> ComposeFlavour:
    """The ``docker compose`` plugin and its version.

    Raises :class:`CourseError` when it is missing, saying so plainly when only the retired
    ``docker-compose`` (v1) is installed.
    """
    found = compose_flavour()
    if found is not None:
        return found
    if compose_v1_only():
        raise CourseError("Only `docker-compose` (Compose v1) is installed. Compose v1 reached "
                          "end of life in July 2023; the course uses `docker compose` (v2).",
                          hint=INSTALL_HINT)
    raise CourseError("`docker compose` (Compose v2) is not installed.", hint=INSTALL_HINT)


def project(name: str, files: Iterable[str | Path], env_file: str | Path | None = None,
            version: str | None = None) -> Project:
    """A :class:`Project` over existing compose files (relative paths start at the repository).

    ``version`` is the Compose version to show; None asks the installed ``docker compose``
    (:func:`installed`, which raises :class:`CourseError` without it). Raises
    :class:`CourseError` when a file does not exist.
    """
    paths = [Path(f) if Path(f).is_absolute() else settings.PROJECT_ROOT / f for f in files]
    for path in paths:
        if not path.is_file():
            raise CourseError(f"There is no compose file at {shown_path(path)}.",
                              hint="check the path; compose files live in data/apps/.")
    return Project(name=name, files=tuple(shown_path(p) for p in paths),
                   env_file=shown_path(env_file) if env_file else None,
                   version=installed().version if version is None else version)


# --- running Compose ----------------------------------------------------------------------

class _TimedOut(Exception):
    def __init__(self, output: str) -> None:
        super().__init__("timed out")
        self.output = output


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of an env file (comments and blank lines skipped); {} if missing."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


# Variables that would make Compose read other files, another project or print differently.
_COMPOSE_VARIABLES = ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES",
                      "COMPOSE_ENV_FILES", "COMPOSE_DISABLE_ENV_FILE", "COMPOSE_PROGRESS")


def _environment(proj: Project) -> dict[str, str]:
    """The caller's environment, minus what the env file sets (so the file decides).

    For interpolation Compose prefers the shell's variables over ``--env-file``; a learner's
    exported ``APP_PORT`` must not silently override the port the course wrote in the file.
    """
    env = docker_cli_env()
    if proj.env_file:
        for key in read_env_file(on_disk(proj.env_file)):
            env.pop(key, None)
    for key in _COMPOSE_VARIABLES:
        env.pop(key, None)
    return env


def run(proj: Project, *args: str, timeout: float = 120, record: bool = True) -> \
        subprocess.CompletedProcess:
    """Run one Compose subcommand from the notebooks folder and journal its command line.

    ``timeout`` in seconds. Returns the finished process (text stdout and stderr) whatever its
    exit code. Raises :class:`CourseError` when ``docker`` is gone, and the internal
    ``_TimedOut`` (with what was printed so far) when the timeout passes.
    """
    started = time.monotonic()
    try:
        done = subprocess.run(proj.argv(*args), cwd=workdir(),
                              env=_environment(proj), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        compose_flavour.cache_clear()
        raise CourseError("`docker compose` is no longer installed.",
                          hint=INSTALL_HINT) from None
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
    # what Compose asked for (its labels and HostConfig), readable even before a first start:
    depends_on: dict[str, str] = field(default_factory=dict)  # service -> condition
    # (container port, host address, host port) as asked; "" address = every interface
    bindings: tuple[tuple[int, str, str], ...] = ()

    @property
    def ready(self) -> bool:
        """Running, and healthy if it has a health check."""
        return self.state == "running" and self.health in ("", "healthy")

    @property
    def gone_for_good(self) -> bool:
        """Exited, and its restart policy will not bring it back."""
        if self.state not in ("exited", "dead"):
            return False
        return self.restart_policy in ("", "no") or (
            self.restart_policy == "on-failure" and self.exit_code == 0)


def _project_filter(name: str) -> labels.Filters:
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
    bindings = tuple(sorted((int(key.split("/")[0]), str(b.get("HostIp") or ""),
                             str(b.get("HostPort") or ""))
                            for key, found in asked.items() for b in found or []))
    return ServiceState(
        service=labels.get(SERVICE_LABEL, "?"), container=container.name,
        state=str(state.get("Status", container.status)), health=str(health),
        restarts=int(attrs.get("RestartCount", 0) or 0), ports=published,
        started_at=str(state.get("StartedAt", "")), exit_code=int(state.get("ExitCode", 0) or 0),
        image=str((attrs.get("Config") or {}).get("Image", "")),
        has_healthcheck=bool(check) and check != ["NONE"],
        restart_policy=str(((attrs.get("HostConfig") or {}).get("RestartPolicy") or {})
                           .get("Name", "")),
        depends_on=depends_on_label(labels.get(DEPENDS_ON_LABEL, "")), bindings=bindings)


def depends_on_label(text: str) -> dict[str, str]:
    """Compose's ``com.docker.compose.depends_on`` label as {service: condition}.

    Compose v2 writes ``SERVICE:CONDITION:RESTART`` entries joined by commas (2.40.3:
    ``db:service_healthy:false``); an empty label means no dependency.
    """
    found: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        service, _, rest = entry.partition(":")
        found[service] = rest.split(":", 1)[0] or "service_started"
    return found


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
    """The state of one service's container; :class:`CourseError` when it has none."""
    for found in states(proj):
        if found.service == service:
            return found
    raise CourseError(f"Service {service!r} of project {proj.name} has no container.",
                      hint=f"start the project first: `{proj.cli('up', '-d')}`.")


def objects(name: str) -> dict[str, list[str]]:
    """Containers, networks and volumes that carry the project's label."""
    engine = client()
    wanted = _project_filter(name)
    return {"containers": sorted(c.name or c.short_id
                                 for c in engine.containers.list(all=True, filters=wanted)),
            "networks": sorted(n.name or n.short_id for n in engine.networks.list(filters=wanted)),
            "volumes": sorted(v.name or v.short_id for v in engine.volumes.list(filters=wanted))}


def volumes(name: str) -> list[dict]:
    """The project's volumes: name, driver, the containers using it, the notebook label."""
    engine = client()
    rows = []
    for volume in engine.volumes.list(filters=_project_filter(name)):
        attrs = volume.attrs
        users = engine.containers.list(all=True, filters={"volume": volume.name})
        rows.append({"volume": volume.name, "driver": str(attrs.get("Driver", "")),
                     "used by": ", ".join(sorted(c.name or c.short_id for c in users)) or "–",
                     "notebook": (attrs.get("Labels") or {}).get(labels.NOTEBOOK_KEY, "")})
    return sorted(rows, key=lambda row: row["volume"])


def leftovers(prefix: str) -> list[dict[str, str]]:
    """Every object of every Compose project whose name starts with ``prefix``."""
    engine = client()
    wanted: labels.Filters = {"label": [PROJECT_LABEL]}
    found: list[dict[str, str]] = []

    def note(kind: str, name: str, item_labels: dict | None) -> None:
        owner = (item_labels or {}).get(PROJECT_LABEL, "")
        if owner.startswith(prefix):
            found.append({"kind": kind, "name": name, "project": owner})

    for container in engine.containers.list(all=True, filters=wanted):
        note("container", container.name or container.short_id, container.labels)
    for network in engine.networks.list(filters=wanted):
        note("network", network.name or network.short_id, network.attrs.get("Labels"))
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
    """The last ``lines`` non-empty log lines of a container; "" when it is gone."""
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
    # since/until are seconds[.nanoseconds] (docker events reference); the SDK stub says int
    stream = client().events(since=round(since, 3), until=round(until, 3),  # type: ignore[call-overload]
                             decode=True,
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


# --- the project model, as Compose resolves it (pure helpers first) ------------------------

def service_order(model: dict) -> list[str]:
    """The services of a model in dependency order: each after those in its ``depends_on``.

    Services that do not depend on each other keep alphabetical order, so ``db`` comes before
    ``app`` when the app depends on it. ``model`` is what :func:`config` returns.
    """
    services = model.get("services") or {}
    order: list[str] = []

    def visit(name: str, path: frozenset[str]) -> None:
        if name in order or name not in services or name in path:
            return  # placed already, unknown, or a cycle (Compose refuses those)
        for dependency in sorted((services[name] or {}).get("depends_on") or {}):
            visit(dependency, path | {name})
        order.append(name)

    for name in sorted(services):
        visit(name, frozenset())
    return order


@dataclass(frozen=True)
class PublishedPort:
    """One ``ports:`` entry of a service in the model: host address and port, container port."""

    service: str
    host_ip: str       # "" when the file gives none: every address (0.0.0.0 and [::])
    published: str     # the host port, as Compose prints it ("5000", or a range "5000-5002")
    target: int        # the container port
    protocol: str = "tcp"

    @property
    def address(self) -> str:
        """``127.0.0.1:5000``, ``[::1]:5000`` or ``0.0.0.0:5000``."""
        host = self.host_ip or "0.0.0.0"
        return f"[{host}]:{self.published}" if ":" in host else f"{host}:{self.published}"


def published_ports(model: dict, service: str | None = None) -> list[PublishedPort]:
    """The host ports the model publishes (of one service, or of all), in file order."""
    found = []
    for name, spec in (model.get("services") or {}).items():
        if service is not None and name != service:
            continue
        for entry in (spec or {}).get("ports") or []:
            if isinstance(entry, dict) and entry.get("published"):
                found.append(PublishedPort(service=name, host_ip=str(entry.get("host_ip") or ""),
                                           published=str(entry["published"]),
                                           target=int(entry.get("target", 0)),
                                           protocol=str(entry.get("protocol") or "tcp")))
    return found


def service_of_container(project_name: str, container: str) -> str | None:
    """The service of a container Compose v2 named ``PROJECT-SERVICE-N``; None otherwise."""
    match = re.fullmatch(rf"{re.escape(project_name)}-(?P<service>.+)-\d+", container.strip())
    return match["service"] if match else None


def repository_relative(value: Any) -> Any:
    """The model with absolute paths inside the repository made relative to its root.

    Compose resolves relative paths (bind mounts, secret files) to absolute ones; relative
    ones read the same on every machine and in a recording.
    """
    root = f"{settings.PROJECT_ROOT}/"
    if isinstance(value, str):
        return value[len(root):] if value.startswith(root) else value
    if isinstance(value, list):
        return [repository_relative(item) for item in value]
    if isinstance(value, dict):
        return {key: repository_relative(item) for key, item in value.items()}
    return value


def _shorten_paths(text: str) -> str:
    return text.replace(f"{settings.PROJECT_ROOT}/", "")


def _meaningful_lines(output: str) -> list[str]:
    """Compose's output lines without blanks and warnings (``WARN[0000] …``, ``level=warning``)."""
    lines = [_shorten_paths(line.strip()) for line in output.splitlines() if line.strip()]
    return [line for line in lines
            if not line.startswith("WARN[") and "level=warning" not in line
            and not line.lower().startswith("warning")]


# --- the subcommands ------------------------------------------------------------------------

def config(proj: Project, timeout: float = 60) -> dict:
    """``config --format json``: the project model Compose will apply, as a dict.

    Compose merges the ``-f`` files in order, interpolates the variables (env file first, see
    :func:`_environment`), expands short syntax (``"127.0.0.1:5000:5000"`` becomes
    ``{"host_ip": "127.0.0.1", "published": "5000", "target": 5000, …}``) and resolves
    relative paths to absolute ones. Raises :class:`ComposeFileInvalid` when Compose refuses
    the files, :class:`CourseError` when it does not answer within ``timeout`` seconds.
    """
    try:
        done = run(proj, "config", "--format", "json", timeout=timeout)
    except _TimedOut:
        raise CourseError(f"Compose did not answer within {timeout:.0f} s while reading the "
                          "file.", hint="is the Docker Engine busy? Try again.") from None
    if done.returncode != 0:
        raise file_error(proj, _output(done))
    try:
        model = json.loads(done.stdout)
    except ValueError:
        raise CourseError("Compose printed no readable project model.",
                          hint=f"run `{proj.cli('config')}` to see what it says.",
                          log_tail=tail(_output(done), 8)) from None
    if not isinstance(model, dict):
        raise CourseError("Compose printed no project model.", log_tail=tail(done.stdout, 8))
    return model


def yaml_problem(path: Path) -> tuple[int, int, str] | None:
    """Where PyYAML stops reading a file: (line, column, problem), 1-based; None if it reads."""
    import yaml

    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.constructor.ConstructorError:
        return None  # Compose's own tags (`!reset`, `!override`): read, just not by PyYAML
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is None:
            return None
        return mark.line + 1, mark.column + 1, str(exc.problem or exc.context or "")
    except (OSError, yaml.YAMLError):
        return None
    return None


_FILE_SERVICE = re.compile(r"\bservices\.(?P<path>[^.\s:\[]+)|\bservice \"(?P<quoted>[^\"]+)\"")
_FILE_PREFIX = re.compile(r"^(?:ERROR:|Error:)?\s*(?:validating|failed to parse) [^:]+:\s*")


def file_error(proj: Project, output: str) -> ComposeFileInvalid:
    """One :class:`ComposeFileInvalid` from what Compose said about files it refuses.

    A YAML syntax error: Compose 2.40 says ``failed to parse FILE: yaml: line 3: did not find
    expected key`` and names the line where the enclosing block starts, so the exact line
    and column come from reading the file with PyYAML, with an excerpt around it. Any other
    refusal (schema, interpolation, an undefined dependency) quotes Compose's first line
    and names the service it concerns.
    """
    lines = _meaningful_lines(output)
    for file in proj.files:
        problem = yaml_problem(on_disk(file))
        if problem is None:
            continue
        number, column, what = problem
        message = (f"{file} is not valid YAML: the parser stopped at line {number}, "
                   f"column {column} ({what}).")
        hint = (f"fix line {number} of {file} or the line above it. YAML nests by "
                "indentation: the keys of one mapping (e.g. `image:`, `ports:`, `restart:` of "
                f"a service) must start in the same column. `{proj.cli('config')}` checks it "
                "again.")
        excerpt = _excerpt(on_disk(file), number)
        return ComposeFileInvalid(message, hint=hint,
                                  log_tail=tail("\n".join(lines), 5) + "\n" + excerpt)
    first = lines[0] if lines else "Compose rejected the file"
    match = _FILE_SERVICE.search(first)
    service = (match["path"] or match["quoted"]) if match else None
    what = _FILE_PREFIX.sub("", first)
    files = ", ".join(proj.files)
    where = f" (service {service})" if service else ""
    return ComposeFileInvalid(f"Compose cannot use {files}{where}: {what[:200]}",
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
        """From calling ``up`` until every service was ready, in seconds."""
        return round(self.finished - self.started, 2)


def up(proj: Project, model: dict | None = None, *, timeout: float = 180,
       poll: float = 0.5) -> UpReport:
    """``up -d``, then wait until every service is running and, if it has one, healthy.

    ``model`` is the project model from :func:`config` (read, and so checked, here when
    None); it gives the services to wait for and the facts (ports, images) an error names.
    ``timeout`` and ``poll`` in seconds. On any failure the containers and networks are
    removed again (``down``), and so are volumes this call created (volumes that held data
    before are kept); then :class:`PortInUse`, :class:`NotReady`, :class:`ImageUnavailable`,
    :class:`ComposeFileInvalid` or :class:`CourseError` is raised.
    """
    model = model if model is not None else config(proj)
    names = service_order(model)
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
        failure = up_error(proj, _output(done), model)
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


# How the engine words a host port it cannot bind, newest first. Compose only passes it on.
_ADDRESS = r"(?P<address>\[[0-9A-Fa-f:.]*\]|[0-9.]+)"
_PORT_TAKEN = (
    # Engine 28: "failed to bind host port for 127.0.0.1:5000:172.19.0.3:5000/tcp: address
    # already in use" (something outside Docker listens there)
    re.compile(rf"failed to bind host port for {_ADDRESS}:(?P<port>\d+):", re.IGNORECASE),
    # "Bind for 127.0.0.1:5000 failed: port is already allocated" (another container has it)
    re.compile(rf"Bind for {_ADDRESS}:(?P<port>\d+) failed", re.IGNORECASE),
    # older engines and Docker Desktop: "listen tcp4 127.0.0.1:5000: bind: address already …"
    re.compile(rf"listen (?:tcp|udp)[46]? {_ADDRESS}:(?P<port>\d+): ?bind", re.IGNORECASE),
)
_PORT_WORDS = ("port is already allocated", "address already in use", "ports are not available",
               "only one usage of each socket address")
_ENDPOINT = re.compile(r"on endpoint (?P<container>[\w.-]+)")
_UNHEALTHY = re.compile(r"container (?P<container>[\w.-]+) is unhealthy")
_EXITED = re.compile(r"container (?P<container>[\w.-]+) exited \((?P<code>-?\d+)\)")
_IMAGE_WORDS = ("pull access denied", "failed to resolve reference", "manifest unknown",
                "no such image", "repository does not exist", "not found: manifest",
                "no such host", "error pulling image", "failed to authorize")
_PULL_FAILED = re.compile(r"^\s*(?P<service>[\w.-]+) (?:Error|Warning)\b", re.MULTILINE)


def _port_error(proj: Project, output: str, model: dict) -> PortInUse | None:
    lowered = output.lower()
    match = next((m for pattern in _PORT_TAKEN if (m := pattern.search(output))), None)
    if match is None and not any(word in lowered for word in _PORT_WORDS):
        return None
    endpoint = _ENDPOINT.search(output)
    service = service_of_container(proj.name, endpoint["container"]) if endpoint else None
    ports = published_ports(model, service) if service else published_ports(model)
    if match is not None:
        where = f"{match['address']}:{match['port']}"
        if service is None:
            service = next((p.service for p in ports if p.published == match["port"]), None)
    elif ports:  # the engine's text names no port: the model says which ones the service asks
        where = " or ".join(dict.fromkeys(p.address for p in ports))
        service = service or ports[0].service
    else:
        where = "a published port"
    who = f"service {service}, which publishes it" if service else "the service that publishes it"
    return PortInUse(f"Port {where} is already in use, so Compose could not start {who}.",
                     hint="stop whatever listens there (`docker ps` shows containers that "
                          "publish it), or choose another port (APP_PORT in the env file).",
                     log_tail=tail(output, 6))


def _image_present(reference: str) -> bool:
    from . import images

    return images.inspect(reference) is not None


def _image_error(proj: Project, output: str, model: dict) -> ImageUnavailable | None:
    lowered = output.lower()
    if not any(word in lowered for word in _IMAGE_WORDS):
        return None
    services = model.get("services") or {}
    named = [m["service"] for m in _PULL_FAILED.finditer(output) if m["service"] in services]
    missing = [(name, str(spec.get("image", ""))) for name, spec in services.items()
               if (not named or name in named) and spec.get("image")
               and not _image_present(str(spec["image"]))]
    if missing:
        which = ", ".join(f"{image} (service {name})" for name, image in missing)
        message = (f"There is no image {which} on this engine, and Compose could not pull "
                   "it.")
    else:
        message = "Compose could not find an image of the project, and pulling it failed."
    return ImageUnavailable(message, hint="build or load the image first (the notebook's build "
                                          "cell), or check the image name in the env file.",
                            log_tail=tail(output, 6))


def up_error(proj: Project, output: str, model: dict | None = None) -> CourseError:
    """Turn what ``up`` printed when it failed into one readable error.

    ``model`` (from :func:`config`) supplies the facts Compose's text may leave out: which
    port a service publishes, which image it needs. Returns (does not raise)
    :class:`PortInUse`, :class:`NotReady`, :class:`ImageUnavailable`, or a plain
    :class:`CourseError` quoting Compose's first error line.
    """
    model = model or {}
    if cli_output_means_engine_gone(output) and not engine_answers():  # the engine went away
        return unavailable(None, "the connection was cut", went_away=True,
                           during=f"`{' '.join(COMMAND)} up` ran")
    port = _port_error(proj, output, model)
    if port is not None:
        return port
    sick_text = _UNHEALTHY.search(output)
    if sick_text or "unhealthy" in output.lower():
        sick = [s.service for s in states(proj) if s.health == "unhealthy"]
        if not sick and sick_text:
            named = service_of_container(proj.name, sick_text["container"])
            sick = [named or sick_text["container"]]
        if sick:
            message = (f"Service {', '.join(sick)} never became healthy: its health check "
                       "failed every time, so Compose did not start the services that wait "
                       "for it (depends_on: condition: service_healthy).")
        else:
            message = ("A service the others depend on never became healthy, so Compose did "
                       "not start the services waiting for it.")
        return _not_ready(proj, message, output)
    exited = _EXITED.search(output)
    if exited and "dependency failed to start" in output.lower():
        name = service_of_container(proj.name, exited["container"]) or exited["container"]
        return _not_ready(proj, f"Service {name} exited (code {exited['code']}) before the "
                                "services that depend on it could start.", output)
    image = _image_error(proj, output, model)
    if image is not None:
        return image
    lines = _meaningful_lines(output)
    first = next((line for line in lines if re.match(r"(ERROR|Error)\b", line)),
                 next((line for line in lines if "error" in line.lower()),
                      lines[-1] if lines else ""))
    first = re.sub(r"^(ERROR:\s*|Error:\s*|Error response from daemon:\s*)", "", first)
    return CourseError(f"`{' '.join(COMMAND)} up` failed: {first[:200]}",
                       hint="read the lines below; `docker compose logs SERVICE` shows more.",
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


def down(proj: Project, *, volumes: bool = False, timeout: float = 120,
         local_images: bool = False) -> DownReport:
    """``down`` (containers and networks) or ``down -v`` (named volumes as well).

    ``local_images`` adds ``--rmi local``: the images Compose built for the project go too.
    """
    before = objects(proj.name)
    args = ["down", "-v"] if volumes else ["down"]
    args += ["--rmi", "local"] if local_images else []
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


def remove_project(name: str, timeout: float = 120) -> bool:
    """``docker compose -p NAME down -v``: a project's containers, networks and volumes.

    No compose file is needed: Compose finds the objects by their project label (run in the
    notebooks folder, which holds no compose file, so none is read). Returns False when
    nothing carried the label; raises :class:`CourseError` when Compose fails or takes over
    ``timeout`` seconds.
    """
    if not any(objects(name).values()):
        return False
    proj = Project(name=name, files=())
    try:
        done = run(proj, "down", "-v", timeout=timeout)
    except _TimedOut:
        raise CourseError(f"`down` of project {name} did not finish within {timeout:.0f} s.",
                          hint="the engine may be busy; run it again.") from None
    if done.returncode != 0:
        raise CourseError(f"`down` of project {name} failed.", hint="read the lines below.",
                          log_tail=tail(_output(done), 8))
    return True


@dataclass
class WatchReport:
    """One ``watch`` sync: the file as the container had it before and after, and timings.

    ``seconds`` runs from saving the file until the container's copy read the new text (None:
    it never did within the timeout); ``output`` is what ``watch`` printed meanwhile.
    """

    before: str
    after: str
    seconds: float | None
    output: list[str]


def _read_lines(stream, into: list[str]) -> None:
    for line in stream:
        into.append(_ANSI.sub("", line.rstrip()))


def watch_sync(proj: Project, service: str, source: Path, target: str, text: str, *,
               timeout: float = 30) -> WatchReport:
    """Run ``watch --no-up SERVICE`` in the background, save ``text`` into ``source``, and
    read ``target`` in the container until it holds the new text; then stop ``watch``.

    ``watch`` is stopped with SIGINT (what Ctrl+C sends), as in a terminal. The container's
    copy is read with ``exec -T SERVICE cat TARGET``. Printed, in order: ``… watch --no-up
    SERVICE &`` (a background job of the terminal), ``echo TEXT > SOURCE``, ``… exec -T SERVICE
    cat TARGET`` and ``kill -INT $!`` (``$!``: that background job). Raises
    :class:`CourseError` when ``watch`` exits or does not say "Watch enabled" within
    ``timeout`` seconds.
    """
    import signal
    import threading

    argv = proj.argv("watch", "--no-up", service)
    journal.record(proj.cli("watch", "--no-up", service) + " &")
    # its own process group: SIGINT reaches the CLI and the Compose plugin it runs, as Ctrl+C
    # in a terminal does, and nothing of it outlives this call
    process = subprocess.Popen(argv, cwd=workdir(), env=_environment(proj), text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    printed: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(process.stdout, printed), daemon=True)
    reader.start()

    def copy() -> str:
        done = run(proj, "exec", "-T", service, "cat", target, timeout=30, record=False)
        return done.stdout if done.returncode == 0 else ""

    try:
        deadline = time.monotonic() + timeout
        while not any("Watch enabled" in line for line in printed):
            if process.poll() is not None or time.monotonic() > deadline:
                raise CourseError("`docker compose watch` did not start watching.",
                                  hint="read its lines below.", log_tail="\n".join(printed))
            time.sleep(0.1)
        before = copy()
        source.write_text(text, encoding="utf-8")
        saved = time.monotonic()
        journal.record(f"echo {shlex.quote(text.rstrip())} > {shlex.quote(str(source))}")
        after, seconds = before, None
        while time.monotonic() - saved < timeout:
            after = copy()
            if after == text:
                seconds = round(time.monotonic() - saved, 2)
                break
            time.sleep(0.2)
        journal.record(proj.cli("exec", "-T", service, "cat", target))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        journal.record("kill -INT $!")  # the terminal's last background job: watch
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=5)
    return WatchReport(before=before, after=after, seconds=seconds, output=list(printed))


def _simple(proj: Project, *args: str, timeout: float = 60) -> str:
    try:
        done = run(proj, *args, timeout=timeout)
    except _TimedOut:
        raise CourseError(f"`{args[0]}` did not finish within {timeout:.0f} s.") from None
    if done.returncode != 0:
        raise CourseError(f"`{' '.join(args)}` failed.", hint="read the lines below.",
                          log_tail=tail(_output(done), 8))
    return _output(done)


def build(proj: Project, build_args: dict[str, str] | None = None,
          timeout: float = 600) -> None:
    """``build [--build-arg K=V …]``: the images of the services with ``build:``.

    Raises :class:`CourseError` (with Compose's last lines) when a build fails.
    """
    args = ["build"]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    _simple(proj, *args, timeout=timeout)


def stop(proj: Project, service: str) -> None:
    """``stop SERVICE``: a deliberate stop; :class:`CourseError` when Compose fails."""
    _simple(proj, "stop", service)


def start(proj: Project, service: str) -> None:
    """``start SERVICE`` (its container exists); :class:`CourseError` when Compose fails."""
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
