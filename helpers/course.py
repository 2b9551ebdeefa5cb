"""What the notebooks call: one helper per cell, each recorded for replay, each showing its CLI.

These functions are thin: they combine the engine modules and return plain data (dataclasses,
DataFrames). The notebook shows the result; the CLI lines appear by themselves.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import build_folders, display, journal, labels, resolver, session, settings
from .catalog import CATALOG
from .display import FactsView
from .engine import build as build_mod
from .engine import cleanup as cleanup_mod
from .engine import client as client_mod
from .engine import containers, images
from .engine.build import BuildResult
from .engine.cleanup import CleanupReport
from .engine.client import EngineFacts
from .engine.containers import ContainerInfo
from .errors import BuildFailed as BuildFailed  # re-exported: notebooks catch it
from .errors import CourseError
from .resolver import ResolvedImage
from .session import action
from .units import human_bytes, human_seconds


@dataclass
class HttpAnswer(FactsView):
    """What an HTTP request to a container returned."""

    url: str
    status: int
    body: object
    seconds: float


@dataclass
class ExecResult(FactsView):
    command: str
    exit_code: int
    output: str


def start(notebook: str) -> EngineFacts:
    """First cell of every notebook: choose live/replay, name the notebook, show the engine."""
    if settings.require_engine() and not session.replay_requested():
        client_mod.client()  # under CI a missing engine fails loudly instead of replaying
    started = session.begin(notebook)
    display.enable_figures()
    display.enable_tables()
    started.show_cli = False  # the banner comes first, then the commands behind it
    try:
        facts = engine_facts()
    finally:
        started.show_cli = True
    if started.mode == "replay":
        engine = "" if session.is_missing(facts) else \
            f"Docker Engine {facts.server_version} ({_store_words(facts)})"
        display.note(session.replay_banner(started, engine, session.why_replay()), kind="warn")
    else:
        display.note(f"Live: Docker Engine {facts.server_version} (API {facts.api_version}, "
                     f"{facts.os_type}/{facts.architecture}, {_store_words(facts)}). "
                     "Everything below runs for real.", kind="ok")
    display.show_cli(["docker version", "docker info"])
    if journal.problem():
        display.note(f"The command journal cannot be written ({journal.problem()}): the "
                     "notebook runs, but notebook 10's command recap will miss its commands.",
                     kind="warn")
    return facts


def _store_words(facts: EngineFacts) -> str:
    store = "containerd image store" if facts.image_store == "containerd" else \
        f"{facts.storage_driver} image store"
    return f"{store}, {facts.compose}"


@action
def engine_facts() -> EngineFacts:
    journal.record("docker version")
    journal.record("docker info")
    facts = client_mod.engine_facts()
    recording = session.session().recording
    if recording is not None and not recording.engine:
        recording.engine = facts.server_version
    return facts


def engine_table(facts: EngineFacts) -> pd.DataFrame:
    return display.key_value_table(facts.as_rows())


@action
def ensure_image(key: str) -> ResolvedImage:
    """Get an image the course needs (present → pull → archive → stand-in) and say from where."""
    return resolver.resolve(key)


def images_catalog() -> pd.DataFrame:
    """The table of images the course needs and their stand-ins."""
    return pd.DataFrame([{"key": i.key, "purpose": i.purpose, "official image": i.official,
                          "stand-in (no registry)": i.standin, "stand-in made from":
                          i.standin_recipe} for i in CATALOG.values()]).set_index("key")


def app_dir(name: str = "flask-app") -> Path:
    return settings.APPS_DIR / name


@action
def build_image(tag: str, *, app: str = "flask-app", context: Path | None = None,
                dockerfile: str | None = None, build_args: dict[str, str] | None = None,
                target: str | None = None, no_cache: bool = False,
                secrets: dict[str, str | Path] | None = None) -> BuildResult:
    """``docker build`` an app folder; the Python base comes from the resolved image.

    ``secrets`` maps a secret id to a file (``--secret id=ID,src=FILE``) for
    ``RUN --mount=type=secret,id=ID`` steps.
    """
    return _build(tag, context=Path(context) if context is not None else app_dir(app),
                  dockerfile=dockerfile, build_args=build_args, target=target,
                  no_cache=no_cache, secrets=secrets)


def _build(tag: str, *, context: Path, dockerfile: str | None = None,
           build_args: dict[str, str] | None = None, target: str | None = None,
           no_cache: bool = False, secrets: dict[str, str | Path] | None = None) -> BuildResult:
    args = dict(build_args or {})
    dockerfile_text = (context / (dockerfile or "Dockerfile"))
    try:
        wants_python = dockerfile_text.is_file() and "PYTHON_IMAGE" in \
            dockerfile_text.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        from .files import os_error_hint, os_error_text

        raise BuildFailed(f"Cannot read the Dockerfile: {os_error_text(exc)}.",
                          hint=os_error_hint(exc)) from None
    if wants_python and "PYTHON_IMAGE" not in args:
        python = resolver.resolve("python")
        if not python.is_official:
            args["PYTHON_IMAGE"] = python.reference
    return build_mod.build(context, tag, dockerfile=dockerfile, build_args=args, target=target,
                           no_cache=no_cache, secrets=secrets)


@action
def build_after_edit(tag: str, *, app: str = "flask-app", file: str = "app.py",
                     dockerfile: str | None = None) -> BuildResult:
    """Edit one file of an app (a comment line with the time) and ``docker build`` the result.

    The app folder itself stays untouched: the build runs on a copy that stays in the course's
    state folder (``build_folders.folder(tag)``), made anew each time by the printed
    ``cp -r`` line, with the edit printed as the ``printf … >> FILE`` line that makes it; a
    learner who types the printed lines gets the same build. The time in the comment makes
    every run a change the build cache has not seen before, so the steps from the edited file
    on really run again. ``dockerfile`` names another Dockerfile of the app folder. Raises
    :class:`CourseError` when the copy or the edit fails (a missing ``file``, a full disk).
    """
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    context = build_folders.fresh_copy(app_dir(app), tag)
    build_folders.append_line(context / file, f"# edited at {stamp} UTC (notebook "
                                              f"{labels.current_notebook()})")
    return _build(tag, context=context, dockerfile=dockerfile)


CACHED = "CACHED"


def build_facts(result: BuildResult) -> pd.DataFrame:
    """A build at a glance: image, size, time, how many steps came from the cache, warnings."""
    return display.key_value_table([
        ("image", result.tag),
        ("image id", result.image_id.removeprefix("sha256:")[:12]),
        ("size (docker image ls)", human_bytes(result.size_bytes)),
        ("build time", human_seconds(result.seconds)),
        ("steps", f"{len(result.steps)}, of which {result.cached_steps} {CACHED}"),
        ("BuildKit warnings", "; ".join(result.warnings) or "none"),
    ])


def build_steps_table(result: BuildResult, *, width: int = 70) -> pd.DataFrame:
    """BuildKit's view of a build: stage, step, instruction, seconds, and CACHED or ran.

    ``stage`` is BuildKit's name for the stage (``stage-0`` when the Dockerfile names none);
    ``step`` the position in that stage, as in BuildKit's ``[stage-0 3/6]``. A CACHED step took
    its layer from the build cache and shows 0 s.
    """
    rows = [{"stage": s.stage or "stage-0", "step": s.number,
             "instruction": _short_instruction(s.instruction, width), "seconds": s.seconds,
             "cache": CACHED if s.cached else "ran"} for s in result.steps]
    frame = pd.DataFrame(rows, columns=["stage", "step", "instruction", "seconds", "cache"])
    return frame.set_index(["stage", "step"])


def _short_instruction(text: str, width: int) -> str:
    text = " ".join(text.split())
    text = re.sub(r"@sha256:([0-9a-f]{12})[0-9a-f]+", r"@sha256:\1…", text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


@action
def run_container(image: str, *, name: str, ports: dict[int, int | None] | None = None,
                  env: dict[str, str] | None = None, command: list[str] | str | None = None,
                  strict_ports: bool = False, **options) -> ContainerInfo:
    """``docker run -d``: ports on 127.0.0.1; a taken port is swapped for a free one."""
    info = containers.run(image, name=name, ports_wanted=ports, env=env, command=command,
                          strict_ports=strict_ports, **options)
    if info.note:
        display.note(info.note, kind="warn")
    return info


@action
def wait_ready(info: ContainerInfo, path: str = "/health", timeout: float = 60) -> float:
    """Poll the app until it answers; the seconds it took."""
    return containers.wait_http(info, path, timeout=timeout)


def _request(method: str, info: ContainerInfo, path: str, payload: object | None) -> HttpAnswer:
    import requests  # here: only a live run talks to the app (replay never imports it)

    url = info.url(path=path)
    started = time.monotonic()
    try:
        answer = requests.request(method, url, json=payload, timeout=10)
    except requests.RequestException as exc:
        raise CourseError(f"{method} {url} failed: {type(exc).__name__}",
                          hint="is the container running? `docker ps` shows it.") from None
    try:
        body: object = answer.json()
    except ValueError:
        body = answer.text[:2000]
    body_flag = ""
    if payload is not None:
        body_flag = f" -H 'Content-Type: application/json' -d '{json.dumps(payload)}'"
    journal.record(f"curl -X {method} {url}{body_flag}" if payload is not None else f"curl {url}")
    return HttpAnswer(url=url, status=answer.status_code, body=body,
                      seconds=round(time.monotonic() - started, 3))


@action
def http_get(info: ContainerInfo, path: str = "/") -> HttpAnswer:
    return _request("GET", info, path, None)


@action
def http_post(info: ContainerInfo, path: str, payload: object) -> HttpAnswer:
    return _request("POST", info, path, payload)


@action
def containers_table(notebook: str | None = None) -> pd.DataFrame:
    """``docker ps -a`` for the course's containers (this notebook's by default)."""
    scope = notebook or labels.current_notebook()
    journal.record(f"docker ps -a --filter label={labels.NOTEBOOK_KEY}={scope}")
    rows = [{"name": c.name, "image": c.image, "status": c.status,
             "ports": ", ".join(f"127.0.0.1:{h}->{i}/tcp" for i, h in c.ports.items()),
             "id": c.short_id} for c in containers.list_course(scope)]
    frame = pd.DataFrame(rows, columns=["name", "image", "status", "ports", "id"])
    return frame.sort_values("name").set_index("name")


@action
def container_logs(name: str, lines: int = 20) -> str:
    return containers.logs(name, lines=lines)


@action
def exec_in(name: str, command: list[str] | str, user: str | None = None) -> ExecResult:
    code, output = containers.exec_in(name, command, user=user)
    shown = command if isinstance(command, str) else shlex.join(command)
    return ExecResult(command=shown, exit_code=code, output=output)


@action
def stop_container(name: str) -> ContainerInfo:
    """``docker stop`` a course container; :class:`CourseError` for a missing container or one
    the course did not create (left untouched)."""
    return containers.stop(name)


@action
def remove_container(name: str) -> None:
    """``docker rm -f`` a course container (nothing when it is gone); :class:`CourseError`,
    touching nothing, for a container the course did not create."""
    containers.remove(name)


@action
def images_table(references: list[str]) -> pd.DataFrame:
    """``docker image ls`` for the given images, sizes readable.

    Printed as one ``--filter reference=…`` per image: ``docker image ls`` takes at most one
    REPOSITORY[:TAG] argument, and several reference filters list any image matching one.
    """
    journal.record(" ".join(["docker image ls", *(f"--filter reference={shlex.quote(r)}"
                                                   for r in references)]))
    rows = []
    for reference in references:
        facts = images.require(reference)
        rows.append({"image": reference, "id": facts.short_id, "size_bytes": facts.size_bytes,
                     "layers": facts.layers, "user": facts.user})
    return pd.DataFrame(rows).set_index("image")


@action
def image_history(reference: str, *, width: int = 60) -> pd.DataFrame:
    """``docker image history``: one row per instruction, newest first, as the CLI prints them.

    Columns: ``created by`` (the instruction, cut to ``width`` characters), ``size`` (the layer
    it added, in decimal units as the CLI prints them: 1 kB = 1000 bytes) and ``layer`` ("yes",
    or "no: settings only" for an instruction that changed only the image's config, 0 B).
    Raises :class:`~helpers.errors.ImageUnavailable` for a missing image.
    """
    rows = [{"created by": _short_instruction(entry.created_by, width) or "(base image)",
             "size": human_bytes(entry.size_bytes),
             "layer": "yes" if entry.size_bytes else "no: settings only"}
            for entry in images.history(reference)]
    return pd.DataFrame(rows, columns=["created by", "size", "layer"])


@action
def cleanup(notebook: str | None = None, *, everything: bool = False) -> CleanupReport:
    """Remove what this notebook created (or, with ``everything``, all the course made)."""
    scope = None if everything else (notebook or labels.current_notebook())
    return cleanup_mod.cleanup(scope)


def cleanup_table(report: CleanupReport) -> pd.DataFrame:
    return pd.DataFrame(report.as_rows(), columns=["kind", "removed", "names"]).set_index("kind")


@dataclass
class RunOnceResult(FactsView):
    """A container run to completion: its exit code and output."""

    command: str
    exit_code: int
    output: str


@action
def run_once(image: str, command: list[str] | str) -> RunOnceResult:
    """``docker run --rm IMAGE COMMAND`` and wait for it."""
    code, output, _ = containers.run_once(image, command)
    shown = command if isinstance(command, str) else shlex.join(command)
    return RunOnceResult(command=shown, exit_code=code, output=output)


@action
def container_diff(name: str) -> pd.DataFrame:
    """``docker diff``: what the container changed compared with its image."""
    kinds = {0: "C (changed)", 1: "A (added)", 2: "D (deleted)"}
    changes = containers.diff(name)
    rows = [{"path": c["Path"], "change": kinds.get(c["Kind"], "?")} for c in changes]
    return pd.DataFrame(rows, columns=["path", "change"])


@action
def leftovers() -> pd.DataFrame:
    """Containers, volumes and networks the course made that still exist (should be none).

    Columns: ``kind`` ("container", "volume", "network") and ``name``.
    """
    from .engine.cleanup import leftovers as course_objects

    journal.record(f"docker ps -a --filter label={labels.COURSE_KEY}")
    rows = [{"kind": kind, "name": name} for kind, name in course_objects()]
    return pd.DataFrame(rows, columns=["kind", "name"])
