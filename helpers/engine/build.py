"""``docker build`` through BuildKit, with visible progress, per-step timings and readable failures.

Since Engine 23, ``docker build`` is an alias of ``docker buildx build`` when the buildx plugin is
installed, and BuildKit is the builder (Docker docs, "Build drivers" and "docker buildx build").
The course runs ``docker buildx build --progress=rawjson`` and folds BuildKit's machine-readable
progress (one JSON object a line: ``vertexes``, ``statuses``, ``logs``, ``warnings``) into the
same kind of result the notebooks show: each Dockerfile step with its seconds and whether it came
from cache, the step's output, and BuildKit's warnings. The line shown to the learner is the
``docker build …`` they would type; only the progress format and the metadata file differ.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .. import journal, labels, settings
from ..display import FactsView
from ..errors import BuildFailed, CourseError, EngineUnavailable, tail
from ..progress import Progress
from . import buildnet, failures, ownership
from .client import client, docker_cli_env
from .sdk import docker

# "[builder 2/5] RUN pip install …", "[3/4] COPY app.py .", "[stage-1 1/3] FROM …"
STEP_NAME = re.compile(r"^\[(?:(?P<stage>[^\]\s]+) )?(?P<index>\d+)/(?P<total>\d+)\] (?P<text>.*)$",
                       re.S)
MISSING_SECRET_HINT = ("the Dockerfile mounts a build secret that was not passed: build with "
                       "`--secret id=ID,src=FILE` (secrets={'ID': FILE} here).")
ENGINE_GONE = ("cannot connect to the docker daemon", "error during connect",
               "connection refused", "no such file or directory: unix",
               "is the docker daemon running")


@dataclass
class BuildStep:
    """One Dockerfile instruction as BuildKit ran it.

    ``number`` is the step's position in its stage as BuildKit shows it (``[builder 2/5]`` is
    step 2 of 5 of stage ``builder``); ``stage`` is the stage name (``builder``, ``stage-1``, or
    ``""`` for a single-stage build);
    ``seconds`` is wall time (0 for a step served from cache); ``output`` holds its log lines.
    """

    number: int
    instruction: str
    seconds: float = 0.0
    cached: bool = False
    output: list[str] = field(default_factory=list)
    stage: str = ""


@dataclass
class BuildResult(FactsView):
    """What a build produced: the tagged image, how long each step took, BuildKit's warnings.

    ``size_bytes`` is the engine's image size (bytes); ``seconds`` the whole build's wall time.
    """

    tag: str
    image_id: str
    size_bytes: int
    seconds: float
    steps: list[BuildStep]
    cli: str
    warnings: list[str] = field(default_factory=list)

    @property
    def cached_steps(self) -> int:
        return sum(step.cached for step in self.steps)


def cli_args(context: Path, tag: str, *, dockerfile: str | None = None,
             build_args: Mapping[str, str] | None = None, target: str | None = None,
             network: str | None = None, no_cache: bool = False,
             image_labels: Mapping[str, str] | None = None,
             secrets: Mapping[str, str | Path] | None = None) -> list[str]:
    """The ``docker build`` arguments (after ``docker build``) for one build, paths absolute."""
    args = ["-t", tag]
    if dockerfile and dockerfile != "Dockerfile":
        path = Path(dockerfile)
        args += ["-f", str(path if path.is_absolute() else Path(context).resolve() / path)]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    for key, value in (image_labels or {}).items():
        args += ["--label", f"{key}={value}"]
    for secret_id, source in (secrets or {}).items():
        args += ["--secret", f"id={secret_id},src={Path(source).resolve()}"]
    if target:
        args += ["--target", target]
    if network:
        args += ["--network", network]
    if no_cache:
        args.append("--no-cache")
    args.append(str(Path(context).resolve()))
    return args


def cli_line(args: Iterable[str]) -> str:
    """The command a learner types: ``docker build`` and the same arguments, shell-quoted."""
    import shlex

    return "docker build " + " ".join(shlex.quote(arg) for arg in args)


def build(context: Path, tag: str, *, dockerfile: str | None = None,
          build_args: dict[str, str] | None = None, target: str | None = None,
          no_cache: bool = False, quiet: bool = False,
          owner_notebook: str | None = None,
          secrets: Mapping[str, str | Path] | None = None,
          timeout: float = 1800) -> BuildResult:
    """Build ``context`` into ``tag`` with BuildKit and return the steps it ran.

    ``secrets`` maps a secret id to a file (``--secret id=ID,src=FILE``), readable in a
    ``RUN --mount=type=secret,id=ID`` step and never stored in a layer. ``owner_notebook``
    overrides the notebook label (stand-in bases use "base" so notebook cleanups keep them).

    The image is noted in the course's record (:mod:`.ownership`); the build is noted before
    it starts, so cleanup finds what an interrupted one left. RUN steps get the engine's
    bridge unless :func:`.buildnet.choose` finds the host's network necessary (its reason is
    added to ``warnings``).

    Raises :class:`BuildFailed` (a step failed: its step, command and log tail; the
    Dockerfile could not be parsed; a file of the context cannot be read; the engine's disk
    is full), :class:`CourseError` (missing context, Dockerfile or secret file; buildx
    missing; ``tag`` names an image the course did not build, which is left alone) and
    :class:`EngineUnavailable` (no engine answers, or it went away during the build).
    """
    context = Path(context)
    build_args = dict(build_args or {})
    if not context.is_dir():
        raise CourseError(f"The build context {context} does not exist or is not a folder.",
                          hint="check the path; the course apps live under data/apps/.")
    dockerfile_path = Path(dockerfile) if dockerfile and Path(dockerfile).is_absolute() \
        else context / (dockerfile or "Dockerfile")
    if not dockerfile_path.is_file():
        raise CourseError(f"No Dockerfile at {dockerfile_path}.",
                          hint="create one, or pass dockerfile='name' for another file name.")
    for secret_id, source in (secrets or {}).items():
        if not Path(source).is_file():
            raise CourseError(f"The build secret {secret_id!r} has no file at {source}.",
                              hint="create the file (it is read at build time and stored in no "
                                   "layer), or pass another path.")
    unreadable = unreadable_in_context(context)
    if unreadable:
        # buildx would send such a file as an EMPTY file and build "successfully"
        raise BuildFailed(f"Building {tag} stopped before it started: a file of the build "
                          f"context cannot be read ({unreadable}).",
                          hint="make it readable (`chmod a+r FILE`), or keep it out of the "
                               "build context with a line in .dockerignore.")
    notebook = owner_notebook or labels.current_notebook()
    network = buildnet.choose()  # the bridge, unless the host's network is needed (and why)
    args = cli_args(context, tag, dockerfile=dockerfile, build_args=build_args, target=target,
                    network=network.mode, no_cache=no_cache,
                    image_labels=labels.for_new_image(owner_notebook), secrets=secrets)
    cli = cli_line(args)
    previous = _image_id(tag)
    if previous and _foreign(previous, tag, notebook):
        raise CourseError(
            f"An image named {tag} already exists and the course did not build it: building "
            "would take that name from it (on the containerd image store the image would be "
            "deleted), so the course leaves it alone.",
            hint=f"keep it under a name of your own (`docker tag {tag} mine/NAME:TAG`, then "
                 f"`docker rmi {tag}`), or build under another tag.")
    started = time.monotonic()
    fold = BuildFold()
    # noted before the build starts: if this process dies mid-build, cleanup still knows
    pending = ownership.note(ownership.BUILD, ref=tag, notebook=notebook)
    try:
        with Progress(f"docker build -t {tag}", quiet=quiet) as progress, \
                tempfile.TemporaryDirectory(prefix="course-build-") as scratch:
            metadata = Path(scratch) / "metadata.json"
            argv = ["docker", "buildx", "build", "--progress=rawjson",
                    "--metadata-file", str(metadata), *args]
            returncode, other = _run(argv, fold, progress, timeout)
            seconds = time.monotonic() - started
            if returncode != 0:
                journal.record(cli, ok=False, seconds=seconds)
                raise _failure(tag, fold, other)
            progress.update(f"built: {len(fold.steps)} steps, {fold.cached} from cache")
    finally:  # success, failure or interrupt: note what the tag points at now
        _note_result(tag, previous, notebook, pending)
    journal.record(cli, seconds=seconds)
    image = _inspect(tag)
    if previous and previous != image.id and ownership.is_course_image(previous, tag):
        _remember_replaced(previous, notebook)
    return BuildResult(tag=tag, image_id=image.id, size_bytes=int(image.attrs.get("Size", 0)),
                       seconds=round(seconds, 2), steps=fold.steps, cli=cli,
                       warnings=fold.warnings + ([network.reason] if network.reason else []))


def _run(argv: list[str], fold: BuildFold, progress: Progress,
         timeout: float) -> tuple[int, list[str]]:
    """Run buildx, folding its stderr (rawjson) as it comes; return exit code and plain lines."""
    other: list[str] = []
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=docker_cli_env(),
                                start_new_session=True)
    except FileNotFoundError:
        raise CourseError("The docker CLI is not installed on this machine.",
                          hint="install the docker CLI with the buildx plugin "
                               "(README, 'Getting a Docker Engine').") from None
    deadline = time.monotonic() + timeout
    try:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not fold.feed(line):
                if line.strip():
                    other.append(line)
            elif fold.current:
                progress.update(fold.current[:90])
            if time.monotonic() > deadline:
                raise TimeoutError
        return proc.wait(), other
    except TimeoutError:
        _stop(proc)
        other.append(f"the build took longer than {timeout:.0f} s and was stopped")
        return 124, other
    except BaseException:
        # an interrupt (Jupyter's "Interrupt kernel") or any other error: stop the build, so
        # BuildKit cancels it and leaves no image behind
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    # RFC 3339 with nanoseconds: keep microseconds for fromisoformat
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not match:
        return None
    base, fraction, zone = match.groups()
    text = base + ((fraction or "")[:7]) + ("+00:00" if zone == "Z" else zone)
    return datetime.fromisoformat(text).timestamp()


class BuildFold:
    """Folds BuildKit's rawjson progress, line by line, into steps, logs, errors and warnings.

    Pure: it never touches the engine, so tests feed it saved progress lines.
    """

    def __init__(self) -> None:
        self._by_digest: dict[str, BuildStep] = {}
        self._times: dict[str, tuple[float | None, float | None]] = {}
        self._internal_logs: dict[str, list[str]] = {}
        self._steps: list[BuildStep] = []
        self._first_start: dict[str, float] = {}
        self.warnings: list[str] = []
        self.errors: list[tuple[str, str]] = []   # (vertex name, error)
        self.current = ""

    @property
    def steps(self) -> list[BuildStep]:
        """Steps in Dockerfile order: stages in the order they started, steps by position.

        BuildKit announces vertices in no fixed order and runs independent stages in parallel.
        """
        def stage_rank(step: BuildStep) -> float:
            return self._first_start.get(step.stage, float("inf"))

        return sorted(self._steps, key=lambda s: (stage_rank(s), s.stage, s.number))

    @property
    def cached(self) -> int:
        return sum(step.cached for step in self._steps)

    def feed(self, line: str) -> bool:
        """Take one stderr line; False when it is not a progress object (plain error text)."""
        if not line.startswith("{"):
            return False
        try:
            message = json.loads(line)
        except ValueError:
            return False
        if not isinstance(message, dict):
            return False
        for vertex in message.get("vertexes") or ():
            self._vertex(vertex)
        for entry in message.get("logs") or ():
            self._log(entry)
        for warning in message.get("warnings") or ():
            self._warning(warning)
        return True

    def _vertex(self, vertex: dict) -> None:
        digest = str(vertex.get("digest", ""))
        name = str(vertex.get("name", ""))
        match = STEP_NAME.match(name)
        step = self._by_digest.get(digest)
        if step is None and match:
            step = BuildStep(number=int(match["index"]), instruction=match["text"].strip(),
                             stage=match["stage"] or "")
            self._by_digest[digest] = step
            self._steps.append(step)
        if vertex.get("error"):
            self.errors.append((name, str(vertex["error"])))
        if step is None:
            return
        if vertex.get("cached"):
            step.cached = True
        started, completed = self._times.get(digest, (None, None))
        started = _timestamp(vertex.get("started")) or started
        completed = _timestamp(vertex.get("completed")) or completed
        self._times[digest] = (started, completed)
        if started:
            first = self._first_start.get(step.stage)
            self._first_start[step.stage] = started if first is None else min(first, started)
        if started and completed:
            step.seconds = round(max(0.0, completed - started), 2)
        if started and not completed:
            stage = f"{step.stage} " if step.stage else ""
            self.current = f"[{stage}{step.number}] {step.instruction}"

    def _log(self, entry: dict) -> None:
        try:
            text = base64.b64decode(entry.get("data", "")).decode("utf-8", "replace")
        except ValueError:
            return
        lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
        step = self._by_digest.get(str(entry.get("vertex", "")))
        if step is not None:
            step.output.extend(lines)
        else:
            self._internal_logs.setdefault(str(entry.get("vertex", "")), []).extend(lines)

    def _warning(self, warning: dict) -> None:
        short = warning.get("short")
        try:
            text = base64.b64decode(short).decode("utf-8", "replace") if short else ""
        except ValueError:
            text = str(short)
        if text and text not in self.warnings:
            self.warnings.append(text)

    def failed_step(self) -> BuildStep | None:
        """The Dockerfile step whose vertex reported an error (the last one, if several)."""
        for name, _error in reversed(self.errors):
            match = STEP_NAME.match(name)
            if match:
                for step in self._steps:
                    if step.instruction == match["text"].strip() and \
                            step.stage == (match["stage"] or ""):
                        return step
        return None


CONTEXT_CHECK_LIMIT = 20000  # entries; a bigger context is left to buildx unchecked


def _ignore_rules(context: Path) -> list[tuple[bool, str]]:
    """``.dockerignore`` as (exception?, pattern) pairs, patterns relative and fnmatch-style."""
    try:
        lines = (context / ".dockerignore").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    rules = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip().lstrip("/")).replace("**/", "*")
        rules.append((negated, pattern.replace("**", "*")))
    return rules


def _ignored(relative: str, rules: list[tuple[bool, str]]) -> bool:
    import fnmatch

    parts = relative.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negated, pattern in rules:
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            ignored = not negated
    return ignored


def unreadable_in_context(context: Path) -> str:
    """The first file or folder of the build context that cannot be read, or "".

    BuildKit's client sends an unreadable file as an empty file and the build succeeds, so the
    course checks first. Paths excluded by ``.dockerignore`` are skipped; a context of more
    than :data:`CONTEXT_CHECK_LIMIT` entries is not checked.
    """
    rules = _ignore_rules(context)
    seen = 0
    problem = ""

    def fail(error: OSError) -> None:
        nonlocal problem
        if not problem:
            problem = str(error.filename or error)

    for folder, folders, names in os.walk(context, onerror=fail):
        relative_folder = os.path.relpath(folder, context)
        relative_folder = "" if relative_folder == "." else relative_folder + "/"
        if not any(negated for negated, _ in rules):  # an exception may re-include below
            folders[:] = [f for f in folders if not _ignored(relative_folder + f, rules)]
        for name in names:
            seen += 1
            if problem or seen > CONTEXT_CHECK_LIMIT:
                return problem
            if _ignored(relative_folder + name, rules):
                continue
            path = os.path.join(folder, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            try:
                os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
            except OSError:
                return path
    return problem


def _foreign(image_id: str, tag: str, notebook: str) -> bool:
    """True when the image the tag names now is not the course's to replace.

    The course's own record decides; an image from before the record existed still counts as
    the course's when it carries this build's own image labels (the same notebook).
    """
    if ownership.is_course_image(image_id, tag):
        return False
    try:
        found = client().images.get(image_id).labels or {}
    except docker.errors.APIError:
        return False
    return not (found.get(labels.IMAGE_KEY) == labels.COURSE_VALUE
                and found.get(labels.IMAGE_NOTEBOOK_KEY) == notebook)


def _note_result(tag: str, previous: str | None, notebook: str,
                 pending: ownership.Entry) -> None:
    """Note the image the tag points at now if this build moved it; then drop the pending
    entry. When the engine is gone the pending entry stays, for cleanup after a restart."""
    with contextlib.suppress(CourseError):
        current = _image_id(tag)
        if current and current != previous:
            ownership.note_image(tag, current, notebook)
        ownership.forget([pending])


def _failure(tag: str, fold: BuildFold, other: list[str]) -> CourseError:
    plain = "\n".join(other)
    summary = next((line.removeprefix("ERROR: ").strip() for line in reversed(other)
                    if line.startswith("ERROR")), "")
    lowered = plain.lower()
    if any(needle in lowered for needle in ENGINE_GONE) or _engine_gone():
        gone = failures.unavailable(None, plain or "the connection was cut", went_away=True,
                                    during=f"building {tag}")
        gone.log_tail = tail(plain, 5)
        return gone
    unreadable = _unreadable(plain)
    if unreadable:
        return BuildFailed(f"Building {tag} failed: a file of the build context cannot be "
                           f"read ({unreadable}).",
                           hint="make it readable (`chmod a+r FILE`), or keep it out of the "
                                "build context with a line in .dockerignore.",
                           log_tail=tail(plain, 5))
    if "no space left on device" in lowered:
        return BuildFailed(f"Building {tag} failed: the engine's disk is full.",
                           hint="free space: `docker system df` shows what uses it; `docker "
                                "builder prune` and removing unused images free it.",
                           log_tail=tail(plain, 5))
    if "buildx" in lowered and ("unknown command" in lowered or "is not a docker command"
                                in lowered):
        return CourseError("The docker CLI has no buildx plugin, so BuildKit builds cannot run.",
                           hint="install docker-buildx (README, 'Getting a Docker Engine') and "
                                "check with `make preflight`.")
    step = fold.failed_step()
    if step is not None:
        error = next(err for name, err in reversed(fold.errors) if step.instruction in name)
        missing_secret = "secret" in error.lower() and "not found" in error.lower()
        return BuildFailed(
            f"Building {tag} failed at step {step.number} ({step.instruction}): {error}",
            step=str(step.number), command=step.instruction,
            hint=MISSING_SECRET_HINT if missing_secret else
            "fix that Dockerfile instruction and build again; the steps before it come from "
            "cache.",
            log_tail=tail("\n".join(step.output)))
    message = summary or (fold.errors[-1][1] if fold.errors else "the builder returned no image")
    hint = "check the Dockerfile syntax and the base image name."
    if "secret" in lowered and "not found" in lowered:
        hint = MISSING_SECRET_HINT
    # BuildKit prints the Dockerfile lines around a parse error: keep them in the message's log
    return BuildFailed(f"Building {tag} failed before any step ran: {message}", hint=hint,
                       log_tail=tail(plain, 12))


def _unreadable(plain: str) -> str:
    """The path in BuildKit's "open PATH: permission denied" (context or Dockerfile), or ""."""
    match = re.search(r"(?:open|lstat|read) ([^:\n]+): (?:permission denied|operation not "
                      r"permitted)", plain)
    return match.group(1).strip() if match else ""


def _engine_gone() -> bool:
    from .client import reset

    reset()
    try:
        client()
    except EngineUnavailable:
        return True
    return False


def _image_id(tag: str) -> str | None:
    try:
        return str(client().images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError:
        return None


def _inspect(tag: str):
    try:
        return client().images.get(tag)
    except docker.errors.ImageNotFound:
        raise BuildFailed(f"The build of {tag} ended without an image tagged {tag}.",
                          hint="run the build again; if it repeats, check `docker buildx ls` "
                               "(the default builder loads images into the engine).") from None


def intermediates_file(notebook: str) -> Path:
    """Where the ids of images a course build untagged (replaced by a rebuild) are noted."""
    return settings.state_dir() / "build-intermediates" / f"{notebook}.txt"


def _remember_replaced(image_id: str, notebook: str) -> None:
    """A rebuild moves the tag to the new image and leaves the old one untagged ("dangling").

    Cleanup removes exactly the ids noted here (when still untagged), never anyone else's.
    BuildKit itself leaves no intermediate images: builder stages and failed steps live only in
    the build cache.
    """
    path = intermediates_file(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(f"{image_id}\n")
