"""``docker build`` with visible progress, per-step timings and readable failures."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from .. import journal, labels, settings
from ..display import FactsView
from ..errors import BuildFailed, CourseError, tail
from ..progress import Progress
from .client import client

STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
NOISE_PREFIXES = ("---> Running in ", "Removing intermediate container ")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class BuildStep:
    """One Dockerfile instruction as the builder ran it."""

    number: int
    instruction: str
    seconds: float = 0.0
    cached: bool = False
    output: list[str] = field(default_factory=list)
    started: float = field(default=0.0, repr=False)
    finished: bool = field(default=False, repr=False)


@dataclass
class BuildResult(FactsView):
    """What a build produced: the tagged image and how long each step took."""

    tag: str
    image_id: str
    size_bytes: int
    seconds: float
    steps: list[BuildStep]
    cli: str

    @property
    def cached_steps(self) -> int:
        return sum(step.cached for step in self.steps)


def cli_line(context: Path, tag: str, dockerfile: str | None, build_args: dict[str, str],
             target: str | None, network: str | None) -> str:
    parts = ["docker build", f"-t {tag}"]
    if dockerfile and dockerfile != "Dockerfile":
        # a Dockerfile outside the context is passed by absolute path: show it from the root
        shown = _display_path(Path(dockerfile)) if Path(dockerfile).is_absolute() else dockerfile
        parts.append(f"-f {shown}")
    parts += [f"--build-arg {k}={v}" for k, v in build_args.items()]
    if target:
        parts.append(f"--target {target}")
    if network:
        parts.append(f"--network {network}")
    parts.append(_display_path(context))
    return " ".join(parts)


def _display_path(path: Path) -> str:
    """Paths as seen from the repository root, where a learner would type the command."""
    try:
        return str(path.resolve().relative_to(settings.PROJECT_ROOT)) or "."
    except ValueError:
        return str(path)


def build(context: Path, tag: str, *, dockerfile: str | None = None,
          build_args: dict[str, str] | None = None, target: str | None = None,
          no_cache: bool = False, quiet: bool = False,
          owner_notebook: str | None = None) -> BuildResult:
    """Build ``context`` into ``tag``; a failed step raises :class:`BuildFailed` with its log.

    ``owner_notebook`` overrides the notebook label (stand-in bases use "base" so that
    notebook cleanups keep them).
    """
    context = Path(context)
    build_args = dict(build_args or {})
    if not context.is_dir():
        raise CourseError(f"The build context {context} does not exist or is not a folder.",
                          hint="check the path; the course apps live under data/apps/.")
    dockerfile_path = context / (dockerfile or "Dockerfile")
    if not dockerfile_path.is_file():
        raise CourseError(f"No Dockerfile at {dockerfile_path}.",
                          hint="create one, or pass dockerfile='name' for another file name.")
    network = settings.build_network()
    cli = cli_line(context, tag, dockerfile, build_args, target, network)
    started = time.monotonic()
    steps: list[BuildStep] = []
    image_id = ""
    errors: list[str] = []
    with Progress(f"docker build -t {tag}", quiet=quiet) as progress:
        try:
            stream = client().api.build(
                path=str(context), dockerfile=dockerfile, tag=tag, buildargs=build_args,
                target=target, network_mode=network,
                labels=labels.for_new_image(owner_notebook),
                rm=True, forcerm=True, nocache=no_cache, decode=True)
            for chunk in stream:
                image_id = _consume(chunk, steps, errors, progress) or image_id
        except docker.errors.APIError as exc:
            errors.append(str(exc.explanation or exc))
        except docker.errors.DockerException as exc:
            errors.append(str(exc))
        _close_last_step(steps)
        _remember_intermediates(steps, owner_notebook or labels.current_notebook())
        if errors or not image_id:
            seconds = time.monotonic() - started
            journal.record(cli, ok=False, seconds=seconds)
            raise _failure(tag, steps, errors)
        progress.update(f"built in {len(steps)} steps")
    seconds = time.monotonic() - started
    journal.record(cli, seconds=seconds)
    image = client().images.get(tag)
    return BuildResult(tag=tag, image_id=image.id, size_bytes=int(image.attrs.get("Size", 0)),
                       seconds=round(seconds, 2), steps=steps, cli=cli)


INTERMEDIATE_ID = re.compile(r"^\s*---> ([0-9a-f]{12})\s*$")


def intermediates_file(notebook: str) -> Path:
    return settings.state_dir() / "build-intermediates" / f"{notebook}.txt"


def _remember_intermediates(steps: list[BuildStep], notebook: str) -> None:
    """Note the image each step produced: an unfinished build or a builder stage leaves them
    untagged ("dangling"), and cleanup removes exactly those, never anyone else's."""
    ids = [match.group(1) for step in steps for line in step.output
           if (match := INTERMEDIATE_ID.match(line))]
    if ids:
        path = intermediates_file(notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write("".join(f"{image_id}\n" for image_id in ids))


def _consume(chunk: dict, steps: list[BuildStep], errors: list[str],
             progress: Progress) -> str | None:
    """Fold one JSON message of the build stream into the step list; return an image id."""
    if "error" in chunk:
        errors.append(str(chunk.get("error", "")).strip())
        return None
    aux = chunk.get("aux")
    if isinstance(aux, dict) and aux.get("ID"):
        return str(aux["ID"])
    text = chunk.get("stream")
    if not isinstance(text, str):
        return None
    for line in ANSI_ESCAPE.sub("", text).splitlines():
        match = STEP_LINE.match(line.strip())
        if match:
            _close_last_step(steps)
            number, total, instruction = match.groups()
            steps.append(BuildStep(number=int(number), instruction=instruction,
                                   started=time.monotonic()))
            progress.update(f"step {number}/{total} {instruction[:70]}")
        elif steps:
            stripped = line.rstrip()
            if stripped.strip() == "---> Using cache":
                steps[-1].cached = True
            if stripped and not stripped.lstrip().startswith(NOISE_PREFIXES):
                steps[-1].output.append(stripped)
            if stripped.startswith("Successfully built "):
                return None
    return None


def _close_last_step(steps: list[BuildStep]) -> None:
    """A step's duration is known only when the next one begins (or the build ends)."""
    if steps and not steps[-1].finished:
        steps[-1].seconds = round(time.monotonic() - steps[-1].started, 2)
        steps[-1].finished = True


def _failure(tag: str, steps: list[BuildStep], errors: list[str]) -> BuildFailed:
    message = errors[-1] if errors else "the builder returned no image"
    if not steps:
        return BuildFailed(f"Building {tag} failed before the first step: {message}",
                           hint="check the Dockerfile syntax and the base image name.")
    step = steps[-1]
    log = "\n".join(step.output)
    return BuildFailed(
        f"Building {tag} failed at step {step.number} ({step.instruction}): {message}",
        step=f"{step.number}", command=step.instruction,
        hint="fix that Dockerfile instruction and build again; earlier steps come from cache.",
        log_tail=tail(log))
