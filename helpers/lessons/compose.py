"""Notebook 08: the two-tier app under Docker Compose, with health gating that really works.

The notebook calls these functions; each returns plain data (dataclasses, DataFrames, text) and
shows the ``docker compose`` command line it ran. The Compose CLI itself is driven by
:mod:`helpers.engine.compose`; what the notebook shows of the compose file is Compose's own
model of the project (``docker compose config --format json``), never a re-reading of the YAML.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shlex
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import yaml

from .. import catalog, display, journal, labels, ports, resolver, settings
from ..display import FactsView
from ..engine import compose as engine
from ..engine import containers, images
from ..engine.containers import ContainerInfo
from ..errors import CourseError, ImageUnavailable, NotReady, PortInUse
from ..session import action

if TYPE_CHECKING:
    from matplotlib.figure import Figure

APP_FOLDER = settings.APPS_DIR / "two-tier"
COMPOSE_FILE = "compose.yaml"
DEFAULT_APP_IMAGE = "docker-course/flask-app:1.0"
PREFERRED_PORT = 5000
DATABASE = "messages"
DATABASE_USER = "app"


# --- files: secrets, the env file, the course's override (all in the state folder) ----------
# Each file is written here and printed as the shell line that writes the same, so the compose
# lines after it work when a learner types the printed lines in order, on any machine.

def project_folder(project: str) -> Path:
    """The course's files of Compose project ``project``, in the state folder (never in data/).

    It holds the env file (``PROJECT.env``), the course's override file
    (``course.override.yaml``) and the generated passwords (``secrets/``).
    """
    return settings.state_dir() / "compose" / project


def make_folder(path: Path, *, private: bool = False) -> None:
    """Make ``path`` and its parents unless they exist; printed ``mkdir -p [-m 700] PATH``.

    ``private``: a folder this call makes gets mode 0700 (its parents the usual mode); an
    existing folder keeps its mode, as ``mkdir -p -m 700`` leaves it.
    """
    made = not path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    if private and made:
        os.chmod(path, 0o700)
    journal.record(f"mkdir -p {'-m 700 ' if private else ''}{shlex.quote(str(path))}")


HEREDOC_END = "EOF"


def heredoc(path: Path, text: str) -> str:
    """The shell line that writes ``text`` into ``path``: ``cat > PATH <<'EOF'``, the text,
    ``EOF``. The quoted delimiter keeps ``$`` and backquotes as they are.

    Raises :class:`ValueError` when ``text`` does not end with a newline or holds a line
    ``EOF`` (a here-document cannot write either).
    """
    if not text.endswith("\n") or HEREDOC_END in text.splitlines():
        raise ValueError(f"a here-document cannot write this text into {path}")
    return f"cat > {shlex.quote(str(path))} <<'{HEREDOC_END}'\n{text}{HEREDOC_END}"


def write_file(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) into ``path``, printed as :func:`heredoc`'s line."""
    line = heredoc(path, text)
    path.write_text(text, encoding="utf-8")
    journal.record(line)


def secret_files(model: dict) -> list[Path]:
    """The files behind the model's file secrets (``secrets: NAME: file: PATH``).

    ``model`` is Compose's project model (:func:`helpers.engine.compose.config`), where the
    paths are resolved already; relative ones (as :func:`~helpers.engine.compose.
    repository_relative` leaves them) start at the repository root. The course's override
    document (:func:`course_override`) has the same shape.
    """
    found: list[Path] = []
    for entry in (model.get("secrets") or {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            path = Path(entry["file"])
            found.append(path if path.is_absolute() else settings.PROJECT_ROOT / path)
    return found


PASSWORD_BYTES = 24  # random bytes of a password: 32 characters of base64


def password_line(path: Path) -> str:
    """``test -s FILE || openssl rand -base64 24 > FILE``: a random password, unless the file
    has one already."""
    quoted = shlex.quote(str(path))
    return f"test -s {quoted} || openssl rand -base64 {PASSWORD_BYTES} > {quoted}"


def ensure_secrets(model: dict) -> list[Path]:
    """A random password in every secret file of the model that is missing or empty.

    Returns the files written. Files with a password are kept: a database volume remembers
    the passwords it was initialised with. The passwords are never printed; the lines are:
    ``mkdir -p -m 700 FOLDER`` (private to you), one :func:`password_line` per file (what
    ``openssl rand -base64 24`` prints: 24 random bytes in base64 and a newline), and
    ``chmod 644 FILE…``: readable, because Compose bind-mounts them into containers that run
    as non-root users. Nothing is printed for a model without file secrets.
    """
    files = secret_files(model)
    written = []
    for folder in dict.fromkeys(path.parent for path in files):
        make_folder(folder, private=True)
    for path in files:
        if not (path.is_file() and path.stat().st_size > 0):
            path.write_bytes(base64.b64encode(secrets.token_bytes(PASSWORD_BYTES)) + b"\n")
            written.append(path)
        journal.record(password_line(path))
    if files:
        for path in files:
            os.chmod(path, 0o644)
        journal.record("chmod 644 " + " ".join(shlex.quote(str(path)) for path in files))
    return written


def env_file_text(values: dict[str, str], project: str) -> str:
    """The project's env file: a comment header, then one ``KEY=value`` line per setting."""
    header = (f"# Settings of Compose project {project}, none of them secret (the passwords\n"
              "# are files in secrets/). data/apps/two-tier/.env.example explains each line.\n")
    return header + "".join(f"{key}={value}\n" for key, value in values.items())


def write_env_file(path: Path, values: dict[str, str], project: str) -> None:
    """Write :func:`env_file_text` into ``path`` (printed as a here-document)."""
    write_file(path, env_file_text(values, project))


def course_override(model: dict, folder: Path, images: dict[str, str],
                    notebook: str) -> dict:
    """The course's plumbing for a project, as a compose override document (a dict).

    ``model`` is Compose's model of the learner-facing files. Every service, network and volume
    the project creates gets the course's labels (so its cleanup finds them), and so does an
    image Compose builds for a service (``build: labels:``); a service whose
    image is a key of ``images`` runs the image it maps to (a stand-in without a registry, or
    the app under another tag); every file secret is read from ``folder/secrets/NAME.txt``.
    External networks and volumes are not Compose's to label and are left out.
    """
    marks = labels.for_new_object(notebook)

    def unlabelled(spec: dict | None) -> bool:
        # labelled already (the seed's own override does): a second labels mapping for the
        # same volume is refused by Compose 2.40.3 when the first came from a YAML alias
        return not set(marks) <= set((spec or {}).get("labels") or {})

    services = {}
    for name, spec in (model.get("services") or {}).items():
        entry: dict = {"labels": dict(marks)} if unlabelled(spec) else {}
        image = str((spec or {}).get("image", ""))
        if image in images and images[image] != image:
            entry["image"] = images[image]
        if (spec or {}).get("build"):  # what Compose builds carries the course's image labels
            entry["build"] = {"labels": labels.for_new_image(notebook)}
        if entry:
            services[name] = entry
    document: dict = {"services": services} if services else {}
    for section in ("networks", "volumes"):
        owned = {name: {"labels": dict(marks)}
                 for name, spec in (model.get(section) or {}).items()
                 if not (spec or {}).get("external") and unlabelled(spec)}
        if owned:
            document[section] = owned
    secret_files_ = {name: {"file": str(folder / "secrets" / f"{name}.txt")}
                     for name, spec in (model.get("secrets") or {}).items()
                     if isinstance(spec, dict) and spec.get("file")}
    if secret_files_:
        document["secrets"] = secret_files_
    return document


class _OverrideDumper(yaml.SafeDumper):
    """Quotes every string a YAML 1.2 reader (Compose) could take for a number or a boolean,
    and writes a mapping of plain values on one line (``{key: value, …}``)."""


_LOOKS_TYPED = re.compile(r"[-+.0-9][-+.0-9_:eExXoObB]*|true|false|yes|no|on|off|null|~",
                          re.IGNORECASE)


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if _LOOKS_TYPED.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_mapping(dumper: yaml.SafeDumper, value: dict) -> yaml.Node:
    flat = bool(value) and not any(isinstance(item, (dict, list)) for item in value.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=flat)


_OverrideDumper.add_representer(str, _represent_text)
_OverrideDumper.add_representer(dict, _represent_mapping)


def override_text(document: dict, project: str) -> str:
    """:func:`course_override`'s document as YAML, with a header that says what it is.

    Mappings of plain values (labels, a secret's file) are written on one line each
    (``labels: {io.docker-course.managed: "true", …}``), so the file stays short to read.
    """
    header = (f"# The course's plumbing for Compose project {project}: its labels (so its\n"
              "# cleanup finds everything), this engine's images, the passwords' files. Listed\n"
              "# after your files (-f compose.yaml -f course.override.yaml), it adds to them.\n")
    return header + yaml.dump(document, Dumper=_OverrideDumper, sort_keys=False, width=1000)


def write_override(path: Path, document: dict, project: str) -> None:
    """Write :func:`override_text` into ``path`` (printed as a here-document)."""
    write_file(path, override_text(document, project))


# --- the stack ------------------------------------------------------------------------------

@dataclass
class Stack(FactsView):
    """A Compose project of the two-tier app, ready for ``up``: names, files, settings.

    ``model`` is Compose's own model of the project (``config --format json``), with paths
    inside the repository made relative to it; ``services`` are in dependency order.
    """

    project: str
    compose: str
    files: list[str]
    env_file: str
    settings: dict[str, str]
    app_port: int
    services: list[str]
    secrets: list[str] = field(default_factory=list)
    note: str = ""
    model: dict = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        """The app's address on the host (loopback only)."""
        return f"http://{ports.LOOPBACK}:{self.app_port}/"

    @property
    def env_path(self) -> Path:
        """The env file on disk."""
        return engine.on_disk(self.env_file)

    @property
    def override_path(self) -> Path:
        """The course's override file on disk (the last of ``files``)."""
        return engine.on_disk(self.files[-1])

    def cli(self, *args: str) -> str:
        """The ``docker compose …`` command line that runs ``args`` on this project."""
        return _project(self).cli(*args)


def _project(stack: Stack) -> engine.Project:
    return engine.Project(name=stack.project, files=tuple(stack.files), env_file=stack.env_file)


def _file(name: str | Path) -> Path:
    """A bare file name is in the app folder; other relative paths start at the repository."""
    path = Path(name)
    if path.is_absolute():
        return path
    return APP_FOLDER / path if len(path.parts) == 1 else settings.PROJECT_ROOT / path


@action
def prepare(app_image: str = DEFAULT_APP_IMAGE, *, project: str | None = None,
            port: int | None = None, compose_file: str = COMPOSE_FILE,
            extra_files: Sequence[str] = (), fresh: bool = True) -> Stack:
    """Everything ``up`` needs: images, a port, the env file, the secrets; the files checked.

    The env file, the course's override file (labels, this engine's images, the secrets'
    paths: :func:`course_override`) and the passwords are written to
    :func:`project_folder`, in the state folder; the compose files themselves stay as a
    learner would copy them. Each file is printed as the line that makes it (``mkdir -p``, a
    ``cat > FILE <<'EOF'`` here-document, :func:`ensure_secrets`' lines; never a password),
    in the order they ran, between the two ``config`` lines, so the printed lines work when
    typed in order on another machine.

    ``port=None`` prefers 5000 and takes a free one if 5000 is busy (and says so); ``port=0``
    takes any free port; any other number is used as asked (``up`` refuses it if taken).
    With ``fresh``, containers and volumes left by an earlier run of the project are removed
    first (``docker compose -p NAME down -v``), so a port they held is free again; Compose
    then reads the files (``config --format json``) before anything is created.
    Raises :class:`ImageUnavailable` (no app image), :class:`ComposeFileInvalid` (Compose
    refuses a file) or :class:`CourseError`.
    """
    notebook = labels.current_notebook()
    name = project or f"course-{notebook}"
    files = [_file(compose_file), *(_file(extra) for extra in extra_files)]
    if images.inspect(app_image) is None:
        raise ImageUnavailable(f"There is no image {app_image} on this engine.",
                               hint=f"build it first: course.build_image({app_image!r}).")
    database = resolver.resolve("database")
    notes = []
    if fresh and any(engine.objects(name).values()):  # before choosing a port: it may hold one
        engine.remove_project(name)
        notes.append(f"an earlier run of {name} was still there; it was removed (down -v) so "
                     "this one starts from a clean slate")
    if port is None:
        chosen = ports.free_port(PREFERRED_PORT)
        if chosen != PREFERRED_PORT:
            notes.append(f"port {PREFERRED_PORT} was taken, so the app uses {chosen} instead")
    elif port == 0:
        chosen = ports.free_port()
    else:
        chosen = port
    values = {"DB_IMAGE": database.reference, "APP_IMAGE": app_image, "APP_PORT": str(chosen),
              "MYSQL_DATABASE": DATABASE, "MYSQL_USER": DATABASE_USER,
              "COURSE_NOTEBOOK": notebook}
    folder = project_folder(name)
    make_folder(folder)
    env_file = folder / f"{name}.env"
    write_env_file(env_file, values, name)
    learner_model = engine.config(engine.project(name, files, env_file))
    override = folder / "course.override.yaml"
    swaps = {catalog.get("database").official: database.reference, DEFAULT_APP_IMAGE: app_image}
    plumbing = course_override(learner_model, folder, swaps, notebook)
    write_override(override, plumbing, name)
    ensure_secrets(plumbing)  # every file secret of the project is one of the override's
    proj = engine.project(name, [*files, override], env_file)
    model = engine.repository_relative(engine.config(proj))
    note = "; ".join(notes)
    if note:
        display.note(note[0].upper() + note[1:] + ".", kind="warn")
    return Stack(project=name, compose=proj.label, files=list(proj.files),
                 env_file=str(proj.env_file), settings=values, app_port=chosen,
                 services=engine.service_order(model),
                 secrets=[engine.shown_path(p) for p in secret_files(model)], note=note,
                 model=model)


@action
def env_file(stack: Stack) -> str:
    """The project's env file as written (settings only; it is not committed, so recorded)."""
    journal.record(f"cat {stack.env_file}")
    return stack.env_path.read_text(encoding="utf-8")


@action
def override_file(stack: Stack) -> str:
    """The course's override file of the project as written (recorded, like the env file)."""
    journal.record(f"cat {stack.files[-1]}")
    return stack.override_path.read_text(encoding="utf-8")


def _health_check_text(test: list | str | None) -> str:
    """A health check's command as the container runs it (``CMD-SHELL x`` → ``x``)."""
    if not test:
        return "–"
    if isinstance(test, str):
        return test
    kind, *rest = test
    if kind == "NONE":
        return "disabled"
    if kind == "CMD-SHELL":
        return " ".join(rest)
    return shlex.join(rest) if kind == "CMD" else shlex.join(test)


def _mount_text(mount: dict | str) -> str:
    if not isinstance(mount, dict):
        return str(mount)
    text = f"{mount.get('source') or '(anonymous)'} → {mount.get('target', '')}"
    return text + (" (ro)" if mount.get("read_only") else "")


def services_table(stack: Stack) -> pd.DataFrame:
    """One row per service of Compose's own model (files merged, variables filled in).

    Columns: image, depends on (with the condition), restart, health check, ports (host
    address -> container port), volumes (source → target), secrets. Rows in dependency order.
    """
    services = stack.model.get("services") or {}
    rows = []
    for name in [*stack.services, *(s for s in services if s not in stack.services)]:
        spec = services.get(name) or {}
        depends = spec.get("depends_on") or {}
        rows.append({
            "service": name,
            "image": spec.get("image", "–"),
            "depends on": ", ".join(f"{other} ({(how or {}).get('condition', 'service_started')})"
                                    for other, how in depends.items()) or "–",
            "restart": spec.get("restart") or "no",
            "health check": _health_check_text((spec.get("healthcheck") or {}).get("test")),
            "ports": ", ".join(f"{p.address}->{p.target}/{p.protocol}"
                               for p in engine.published_ports(stack.model, name)) or "–",
            "volumes": ", ".join(_mount_text(m) for m in spec.get("volumes") or []) or "–",
            "secrets": ", ".join(str(s.get("source", s)) if isinstance(s, dict) else str(s)
                                 for s in spec.get("secrets") or []) or "–"})
    columns = ["service", "image", "depends on", "restart", "health check", "ports", "volumes",
               "secrets"]
    return pd.DataFrame(rows, columns=columns).set_index("service")


# --- up and the health timeline -------------------------------------------------------------

@dataclass
class UpResult(FactsView):
    """``up`` done: how long until everything was healthy, and the timeline of states."""

    project: str
    compose: str
    seconds: float
    services: list[str]
    started: dict[str, float]
    healthy: dict[str, float]
    timeline: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


def _check_port(stack: Stack, proj: engine.Project) -> None:
    if ports.is_free(stack.app_port):
        return
    if any(stack.app_port in s.ports.values() for s in engine.states(proj)):
        return  # our own app publishes it already: `up` keeps it
    raise PortInUse(f"Port {stack.app_port} on {ports.LOOPBACK} is already in use, so the app of "
                    f"project {stack.project} cannot publish it. Nothing was started.",
                    hint="stop whatever listens there (`docker ps` shows containers that "
                         "publish it), or prepare the stack with another port "
                         "(compose.prepare(..., port=N), or leave `port` out to get a free "
                         "one).")


@action
def up(stack: Stack, timeout: float = 180) -> UpResult:
    """``up -d``, wait until every service is healthy, and read the engine's events.

    ``timeout`` in seconds. A port already taken is refused before anything is created
    (:class:`PortInUse`); any failure of ``up`` itself raises the error of
    :func:`helpers.engine.compose.up` after removing what this ``up`` created.
    """
    proj = _project(stack)
    _check_port(stack, proj)
    report = engine.up(proj, stack.model or None, timeout=timeout)
    until = time.time()
    found = engine.events(proj.name, report.started - 1.0, until)
    journal.record(f"docker events --since {int(report.started)} --until {int(until) + 1} "
                   f"--filter label={engine.PROJECT_LABEL}={proj.name}")
    checked = {s.service: s.has_healthcheck for s in engine.states(proj)}
    timeline = timeline_from_events(found, end=until, healthchecked=checked)
    marks = milestones(timeline)
    return UpResult(project=proj.name, compose=stack.compose, seconds=report.seconds,
                    services=report.services,
                    started={str(k): float(v) for k, v in marks["started_s"].dropna().items()},
                    healthy={str(k): float(v) for k, v in marks["healthy_s"].dropna().items()},
                    timeline=timeline)


def timeline_from_events(events: Sequence[dict], *, end: float,
                         healthchecked: dict[str, bool]) -> pd.DataFrame:
    """Each container's states as intervals, in seconds since the first container was created.

    ``events`` come from the engine (create, start, health_status: …, die, destroy); a started
    container with a health check is *starting* until its first ``health_status`` event.
    """
    ordered = sorted(events, key=lambda e: e["time"])
    first = next((i for i, e in enumerate(ordered) if e["action"] == "create"), None)
    columns = ["service", "container", "state", "from_s", "to_s"]
    if first is None:
        return pd.DataFrame(columns=columns)
    zero = ordered[first]["time"]
    rows: list[dict] = []
    current: dict[str, tuple[str, str, float]] = {}

    def close(container: str, at: float) -> None:
        if container in current:
            service, state, since = current.pop(container)
            rows.append({"service": service, "container": container, "state": state,
                         "from_s": round(since - zero, 3), "to_s": round(at - zero, 3)})

    for event in ordered[first:]:
        action, container, at = event["action"], event["container"], event["time"]
        service = event["service"]
        if action == "create":
            state = "created"
        elif action == "start":
            state = "starting" if healthchecked.get(service) else "running"
        elif action.startswith("health_status"):
            state = action.split(":", 1)[1].strip() if ":" in action else ""
            if state not in ("healthy", "unhealthy", "starting"):
                continue
        elif action == "die":
            state = "exited"
        elif action == "destroy":
            close(container, at)
            continue
        else:
            continue
        if container in current and current[container][1] == state:
            continue
        close(container, at)
        current[container] = (service, state, at)
    for container in list(current):
        close(container, max(end, current[container][2]))
    return pd.DataFrame(rows, columns=columns)


def milestones(timeline: pd.DataFrame) -> pd.DataFrame:
    """Per service: seconds until it was created, started (running), and first healthy."""
    rows = []
    for service, part in timeline.groupby("service", sort=False):
        def first(states: tuple[str, ...], frame: pd.DataFrame = part) -> float | None:
            hits = frame[frame["state"].isin(states)]["from_s"]
            return float(hits.min()) if len(hits) else None

        rows.append({"service": service, "created_s": first(("created",)),
                     "started_s": first(("starting", "running", "healthy", "unhealthy")),
                     "healthy_s": first(("healthy",))})
    frame = pd.DataFrame(rows, columns=["service", "created_s", "started_s", "healthy_s"])
    return frame.set_index("service")


def health_timeline_chart(timeline: pd.DataFrame, **options: str) -> Figure:
    """The timeline as a chart, a row per service: :func:`helpers.charts.health_timeline_chart`."""
    from .. import charts

    return charts.health_timeline_chart(timeline, **options)


# --- looking at the running stack -----------------------------------------------------------

@action
def ps(stack: Stack) -> pd.DataFrame:
    """``compose ps``: each service's container, state, health, restart count and ports."""
    proj = _project(stack)
    journal.record(proj.cli("ps"))
    rows = [{"service": s.service, "container": s.container, "state": s.state,
             "health": s.health if s.health and s.state in ("running", "restarting") else "–",
             "restarts": s.restarts,
             "ports": ", ".join(f"{ports.LOOPBACK}:{h}->{i}/tcp" for i, h in s.ports.items())
             or "–",
             "started": s.started_at[11:19] if s.state == "running" else "–"}
            for s in engine.states(proj)]
    columns = ["service", "container", "state", "health", "restarts", "ports", "started"]
    return pd.DataFrame(rows, columns=columns).set_index("service")


@action
def service(stack: Stack, name: str = "app") -> ContainerInfo:
    """The service's container, as ``course.http_get`` and friends expect it."""
    current = engine.state(_project(stack), name)
    return containers.get(current.container)


@action
def logs(stack: Stack, service: str | None = None, lines: int = 10) -> str:
    """``logs --no-color --tail=N [SERVICE]``: the last lines, each prefixed with its container."""
    return engine.logs(_project(stack), service, lines)


@action
def volumes(stack: Stack) -> pd.DataFrame:
    """``docker volume ls`` for the project's volumes, and which containers use each."""
    journal.record(f"docker volume ls --filter label={engine.PROJECT_LABEL}={stack.project}")
    rows = engine.volumes(stack.project)
    columns = ["volume", "driver", "used by", "notebook"]
    return pd.DataFrame(rows, columns=columns).set_index("volume")


@dataclass
class Recovery(FactsView):
    """A service's main process ended; how ``restart: always`` brought it back."""

    service: str
    container: str
    how: str
    exit_code: int | None
    restarts_before: int
    restarts_after: int
    seconds_until_running: float
    seconds_until_healthy: float


@action
def kill_main_process(stack: Stack, name: str = "app", timeout: float = 30) -> Recovery:
    """End the service's PID 1 from inside (``kill 1``), then time the restart and health.

    ``docker kill`` or ``docker stop`` would count as "stopped on purpose", which a restart
    policy respects; a process that ends by itself is what ``restart: always`` is for.
    """
    proj = _project(stack)
    before = engine.state(proj, name)
    if not before.ready:
        raise CourseError(f"Service {name} is not running and healthy ({before.state}).",
                          hint="bring the stack up first.")
    wall = time.time()
    started = time.monotonic()
    code, output = engine.exec_in(proj, name, ["sh", "-c", "kill 1"])
    running_at = healthy_at = None
    current = before
    while time.monotonic() - started < timeout:
        current = engine.state(proj, name)
        elapsed = round(time.monotonic() - started, 2)
        if current.restarts > before.restarts and current.state == "running":
            running_at = running_at if running_at is not None else elapsed
            if current.health in ("", "healthy"):
                healthy_at = elapsed
                break
        time.sleep(0.2)
    journal.record(f"docker inspect --format '{{{{.RestartCount}}}} {{{{.State.Health.Status}}}}'"
                   f" {before.container}")
    if healthy_at is None or running_at is None:
        if code != 0 and current.restarts == before.restarts:
            raise CourseError(f"`kill 1` in {name} failed (exit {code}).",
                              hint="does the image have a shell?", log_tail=output)
        raise NotReady(f"Service {name} was not running and healthy again within "
                       f"{timeout:.0f} s (state {current.state}, health {current.health}).",
                       hint="read the service's logs: `compose logs`.",
                       log_tail=engine.health_log(current.container) + "\n"
                       + engine.container_logs(current.container))
    died = [e for e in engine.events(proj.name, wall - 0.5)
            if e["action"] == "die" and e["service"] == name]
    exit_code = int(died[0]["exit_code"]) if died and died[0]["exit_code"] is not None else None
    return Recovery(service=name, container=before.container,
                    how="kill 1 inside the container: SIGTERM to its main process",
                    exit_code=exit_code, restarts_before=before.restarts,
                    restarts_after=current.restarts, seconds_until_running=running_at,
                    seconds_until_healthy=healthy_at)


@action
def stop_service(stack: Stack, name: str) -> pd.DataFrame:
    """``compose stop SERVICE``: a deliberate stop, which restart policies respect."""
    engine.stop(_project(stack), name)
    return ps(stack)


@action
def start_service(stack: Stack, name: str, timeout: float = 60) -> pd.DataFrame:
    """``compose start SERVICE``, then wait until it is healthy again."""
    proj = _project(stack)
    engine.start(proj, name)
    engine.wait_ready(proj, [name], timeout=timeout)
    return ps(stack)


# --- Compose Watch: one sync, live ---------------------------------------------------------

WATCH_FOLDER = settings.APPS_DIR / "watch-demo"


@dataclass
class WatchDemo(FactsView):
    """``docker compose watch`` syncing one saved file into the running container.

    ``before``/``after``: the container's copy of the file before and after the save;
    ``seconds_until_synced``: from the save until the container had the new text (None: not
    within the timeout); ``watch_said``: what ``watch`` printed.
    """

    project: str
    service: str
    edited: str
    target: str
    before: str
    after: str
    seconds_until_synced: float | None
    watch_said: list[str] = field(default_factory=list)


@action
def watch_demo(text: str = "version 2\n", timeout: float = 30) -> WatchDemo:
    """Build and start data/apps/watch-demo, run ``watch`` in the background, edit one file.

    The demo runs on a copy of the folder in the state folder (the repository's file is never
    edited), under the course's override (labels); afterwards ``down -v --rmi local`` removes
    the containers, network and the image Compose built, whether the sync worked or not.
    The copy is printed as ``mkdir -p COPY && cp -r ../data/apps/watch-demo/. COPY`` (the
    folder's files over those of an earlier copy), the override as a here-document.
    Raises :class:`CourseError` when the build, ``up`` or ``watch`` fails.
    """
    notebook = labels.current_notebook()
    name = f"course-{notebook}-watch"
    folder = project_folder(name)
    work = folder / "watch-demo"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(WATCH_FOLDER, work, dirs_exist_ok=True)
    journal.record(f"mkdir -p {shlex.quote(str(work))} && "
                   f"cp -r {shlex.quote(engine.shown_path(WATCH_FOLDER))}/. "
                   f"{shlex.quote(str(work))}")
    model = engine.config(engine.project(name, [work / "compose.yaml"]))
    override = folder / "course.override.yaml"
    write_override(override, course_override(model, folder, {}, notebook), name)
    proj = engine.project(name, [work / "compose.yaml", override])
    shell = resolver.resolve("shell").reference
    try:
        engine.build(proj, {"BASE_IMAGE": shell})
        engine.up(proj, timeout=60)
        report = engine.watch_sync(proj, "web", work / "site" / "index.html", "/www/index.html",
                                   text, timeout=timeout)
    finally:
        engine.down(proj, volumes=True, local_images=True)
    return WatchDemo(project=name, service="web", edited=str(work / "site" / "index.html"),
                     target="/www/index.html", before=report.before.strip(),
                     after=report.after.strip(),
                     seconds_until_synced=report.seconds,
                     watch_said=[line for line in report.output if line.strip()])


# --- down and leftovers ---------------------------------------------------------------------

@dataclass
class DownResult(FactsView):
    """What ``down`` removed, and the volumes it kept."""

    project: str
    with_volumes: bool
    containers: list[str]
    networks: list[str]
    volumes_removed: list[str]
    volumes_kept: list[str]


@action
def down(stack: Stack, volumes: bool = False) -> DownResult:
    """``down`` removes containers and networks; ``down -v`` also the named volumes."""
    report = engine.down(_project(stack), volumes=volumes)
    return DownResult(project=stack.project, with_volumes=volumes, containers=report.containers,
                      networks=report.networks, volumes_removed=report.volumes_removed,
                      volumes_kept=report.volumes_kept)


@action
def leftovers(prefix: str | None = None) -> pd.DataFrame:
    """Containers, networks and volumes of every Compose project named ``course-NN…``."""
    prefix = prefix or f"course-{labels.current_notebook()}"
    key = engine.PROJECT_LABEL
    journal.record(f"docker ps -a --filter label={key} --format "
                   f"'{{{{.Names}}}}  {{{{.Label \"{key}\"}}}}'")
    journal.record(f"docker network ls --filter label={key}")
    journal.record(f"docker volume ls --filter label={key}")
    return pd.DataFrame(engine.leftovers(prefix), columns=["kind", "name", "project"])


# --- the seed's compose file (notebook 08, "the write-up's compose file") ------------------

SEED_FOLDER = settings.APPS_DIR / "seed"


@dataclass
class ScaleResult(FactsView):
    """``up -d --no-deps --scale SERVICE=N SERVICE``: what Compose said, and what it made."""

    service: str
    asked: int
    exit_code: int
    message: str  # Compose's last meaningful line (its warning or error)
    containers: list[str] = field(default_factory=list)  # the service's containers afterwards


@action
def scale(stack: Stack, service: str, replicas: int, timeout: float = 60) -> ScaleResult:
    """Ask Compose for ``replicas`` containers of one service (its dependencies left alone)."""
    proj = _project(stack)
    try:
        done = engine.run(proj, "up", "-d", "--no-deps", "--scale", f"{service}={replicas}",
                          service, timeout=timeout)
        output = (done.stdout or "") + (done.stderr or "")
        code = done.returncode
    except engine._TimedOut as exc:
        output, code = exc.output, -1
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and "obsolete" not in line and "DRY-RUN" not in line]
    message = next((line for line in reversed(lines)
                    if "WARNING" in line or "rror" in line), lines[-1] if lines else "")
    made = sorted(s.container for s in engine.states(proj) if s.service == service)
    return ScaleResult(service=service, asked=replicas, exit_code=code, message=message,
                       containers=made)


def _masked(value: object) -> str:
    text = "" if value is None else str(value)
    return f"**** ({len(text)} characters)" if text else "(empty)"


def plain_passwords(stack: Stack) -> pd.DataFrame:
    """Every environment variable of the project model whose name says PASSWORD, masked.

    Read from Compose's own model (``config --format json``): what the containers would get,
    and what ``docker inspect`` shows to anyone who may use the engine. ``*_FILE`` variables
    name a file (a Compose secret), not a password, and say so.
    """
    rows = []
    for name, svc in (stack.model.get("services") or {}).items():
        for key, value in (svc.get("environment") or {}).items():
            if "PASSWORD" in key.upper():
                rows.append({"service": name, "variable": key,
                             "value": str(value) if key.endswith("_FILE") else _masked(value),
                             "in docker inspect": not key.endswith("_FILE")})
    return pd.DataFrame(rows, columns=["service", "variable", "value", "in docker inspect"])
