"""Notebook 04: multi-stage builds, and where an image's bytes go.

The actions build the sample app in one stage and in two, analyse any image by streaming
``docker save`` (nothing is unpacked to disk), build the "what not to do" image that deletes a
secret in a later layer and its fix with a build secret mount, and time a dependency rebuild
with and without a pip cache mount. They return plain data: a
:class:`~helpers.engine.build.BuildResult`, an :class:`~helpers.anatomy.ImageAnatomy` or a
:class:`CacheMountTrial` (dataclasses the replay codec records as they are). The table helpers
below are pure: they turn results into readable DataFrames, sizes humanized.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import pandas as pd

from .. import build_folders, course, display, journal, resolver
from ..anatomy import ImageAnatomy, analyse_image
from ..display import FactsView
from ..engine import images
from ..engine.build import BuildResult, BuildStep
from ..errors import CourseError
from ..session import action

APP = "flask-app"
SINGLE = "Dockerfile.single"
MULTISTAGE = "Dockerfile.multistage"
CACHE_MOUNT = "Dockerfile.cachemount"  # Dockerfile.multistage with a pip cache mount
LEAKY_APP = "leaky-secret"
FIXED = "Dockerfile.fixed"  # the leaky job done with build secret mounts
KEEP = 30  # rows of each list kept in a recording: the totals always cover the whole image


def dockerfile(name: str = MULTISTAGE, app: str = APP) -> Path:
    return course.app_dir(app) / name


@action
def analyse(reference: str, *, top: int = KEEP) -> ImageAnatomy:
    """Stream ``docker save REFERENCE`` through the layer analysis, in one pass.

    The same as ``python -m helpers layers REFERENCE``; the lists of wasted files, duplicates
    and largest files keep their ``top`` largest rows, the totals cover everything.
    """
    anatomy = analyse_image(images.export_stream(reference), top=top)
    anatomy.image = reference
    journal.record(f"python -m helpers layers {reference}")
    return anatomy.trimmed(top)


# --- the "what not to do" image ---------------------------------------------------------------

def _shell_args() -> dict[str, str]:
    shell = resolver.resolve("shell")
    return {} if shell.is_official else {"SHELL_IMAGE": shell.reference}


@action
def build_leaky(tag: str = "docker-course/leaky-04:1.0") -> BuildResult:
    """Build ``data/apps/leaky-secret`` from a context with a throwaway key and .env file.

    The context is ``build_folders.folder(tag)`` in the course's state folder, made anew by
    the printed lines (the Dockerfile copied, the key and .env written from ``/dev/urandom``)
    and left there, so the printed ``docker build`` line works when typed. The secrets are
    random and worthless; their values are never printed.
    """
    args = _shell_args()
    context = build_folders.fresh_folder(tag, (course.app_dir(LEAKY_APP) / "Dockerfile",))
    build_folders.write_throwaway_secrets(context)
    return course.build_image(tag, context=context, build_args=args)


@action
def build_fixed(tag: str = "docker-course/leaky-04:fixed") -> BuildResult:
    """Build ``leaky-secret/Dockerfile.fixed``: the key and .env file as build secrets.

    A fresh throwaway key and .env file are written (by printed lines) to
    ``build_folders.folder(TAG-secrets)`` in the course's state folder, outside the build
    context, and passed with ``--secret id=deploy_key,src=…`` and ``--secret id=app_env,src=…``.
    """
    args = _shell_args()
    files = build_folders.write_throwaway_secrets(build_folders.fresh_folder(f"{tag}-secrets"))
    return course.build_image(tag, app=LEAKY_APP, dockerfile=FIXED, build_args=args,
                              secrets=files)


# --- a pip cache mount, timed -----------------------------------------------------------------

# The change the experiment makes to requirements-mysqlclient.txt: one more dependency (requests,
# with its own pins as in requirements-bumped.txt).
ADDED_REQUIREMENTS = ("requests==2.34.2", "urllib3==2.8.0", "idna==3.20",
                      "certifi==2026.10.19.post1", "charset-normalizer==3.5.3")
CHANGED_FILE = "requirements-mysqlclient.txt"
WITHOUT, WITH = "without cache mount", "with cache mount"
FIRST = "first build"

_DOWNLOADING = re.compile(r"^\s*Downloading (\S+)")
_USING_CACHED = re.compile(r"^\s*Using cached (\S+)")
_CREATED_WHEEL = re.compile(r"^\s*Created wheel for ([^:\s]+)")


@dataclass
class PipActivity:
    """What pip's own output says it did: packages downloaded, taken from its cache, built."""

    downloaded: list[str] = field(default_factory=list)
    from_cache: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)


def pip_activity(lines: Iterable[str]) -> PipActivity:
    """Read ``pip install`` output. Metadata-only downloads (``….metadata``) are not counted."""
    activity = PipActivity()
    for line in lines:
        for pattern, found in ((_DOWNLOADING, activity.downloaded),
                               (_USING_CACHED, activity.from_cache),
                               (_CREATED_WHEEL, activity.built)):
            match = pattern.match(line)
            if match and not match.group(1).endswith(".metadata"):
                found.append(match.group(1))
    return activity


@dataclass
class PipStepRun:
    """One build of the cache-mount experiment, as BuildKit and pip's own output report it.

    ``round`` is 0 for the first builds, then 1, 2… for the rebuilds after the change.
    ``build_seconds`` is the whole build's wall time, ``pip_seconds`` the pip step's (both in
    seconds); ``pip_cached`` is true when BuildKit took the pip step's layer from the build cache
    (the step did not run, so pip did nothing).
    """

    variant: str
    round: int
    tag: str
    dockerfile: str
    build_seconds: float
    pip_seconds: float
    pip_cached: bool
    downloaded: int
    from_pip_cache: int
    wheels_built: list[str]
    cli: str

    @property
    def build(self) -> str:
        return FIRST if self.round == 0 else f"round {self.round}"


@dataclass
class CacheMountTrial(FactsView):
    """Two Dockerfiles that differ only in a pip cache mount, each built once, then rebuilt
    after the same change to the requirements in several rounds, in one run on one engine."""

    changed_file: str
    added: list[str]
    rounds: int
    runs: list[PipStepRun]

    def rebuilds(self, variant: str) -> list[PipStepRun]:
        """The rebuilds after the change, round by round."""
        return [r for r in self.runs if r.variant == variant and r.round > 0]

    def frame(self) -> pd.DataFrame:
        """One row per build, in the order they ran (raw numbers, seconds)."""
        rows = [{"build": r.build, "variant": r.variant, "pip_step": "CACHED" if r.pip_cached
                 else "ran", "pip_seconds": r.pip_seconds, "build_seconds": r.build_seconds,
                 "downloaded": r.downloaded, "from_pip_cache": r.from_pip_cache,
                 "wheels_built": ", ".join(r.wheels_built)} for r in self.runs]
        return pd.DataFrame(rows)

    def medians(self) -> pd.DataFrame:
        """Per variant, the median seconds of the rebuilds (pip step and whole build)."""
        rows = []
        for variant in (WITHOUT, WITH):
            runs = self.rebuilds(variant)
            if runs:
                rows.append({"variant": variant, "rebuilds": len(runs),
                             "pip_seconds": median(r.pip_seconds for r in runs),
                             "build_seconds": median(r.build_seconds for r in runs)})
        return pd.DataFrame(rows, columns=["variant", "rebuilds", "pip_seconds",
                                           "build_seconds"])


def _pip_step(result: BuildResult) -> BuildStep:
    for step in result.steps:
        if re.search(r"\bpip\b.*\binstall\b", step.instruction):
            return step
    raise CourseError(f"The build of {result.tag} has no `pip install` step to measure.",
                      hint="keep the pip install RUN step in the Dockerfile.")


def _timed_build(variant: str, number: int, context: Path, dockerfile: str,
                 tag: str) -> PipStepRun:
    result = course.build_image(tag, context=context, dockerfile=dockerfile)
    step = _pip_step(result)
    activity = pip_activity(step.output)
    return PipStepRun(variant=variant, round=number, tag=tag, dockerfile=dockerfile,
                      build_seconds=result.seconds, pip_seconds=step.seconds,
                      pip_cached=step.cached, downloaded=len(activity.downloaded),
                      from_pip_cache=len(activity.from_cache), wheels_built=activity.built,
                      cli=result.cli)


@action
def measure_cache_mount(tag: str = "docker-course/flask-app-04", *,
                        rounds: int = 3) -> CacheMountTrial:
    """Build ``Dockerfile.multistage`` and ``Dockerfile.cachemount`` (``TAG:pip-plain`` and
    ``TAG:pip-cachemount``), then change the requirements and build both again, ``rounds`` times.

    Everything runs on a copy of the app folder in the course's state folder
    (``build_folders.folder(TAG-pip)``, made by a printed ``cp -r`` line and left there), and
    every build's requirements file (rewritten by a printed ``{ cat …; printf …; } >`` line)
    ends with a comment holding the time, so the build cache has never seen it and the
    pip step really runs. The first builds (round 0) install the unchanged requirements; the
    cache-mount one goes first and fills the cache mount (it may already hold wheels from
    earlier runs). Each round then adds ``requests`` with its pins to the original file: the
    same work for pip every round. The two variants take turns going first.
    """
    variants = {WITHOUT: (MULTISTAGE, f"{tag}:pip-plain"),
                WITH: (CACHE_MOUNT, f"{tag}:pip-cachemount")}
    app = course.app_dir(APP)
    context = build_folders.fresh_copy(app, f"{tag}-pip")
    runs: list[PipStepRun] = []
    for number in range(rounds + 1):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        if number == 0:  # the unchanged requirements; the comment makes the step run
            lines = [f"# first build of the cache mount experiment, {stamp} UTC"]
        else:
            lines = [f"# added for round {number} of the cache mount experiment, {stamp} UTC",
                     *ADDED_REQUIREMENTS]
        build_folders.write_joined(context / CHANGED_FILE, app / CHANGED_FILE, lines)
        order = (WITH, WITHOUT) if number % 2 == 0 else (WITHOUT, WITH)
        runs += [_timed_build(variant, number, context, *variants[variant])
                 for variant in order]
    return CacheMountTrial(changed_file=CHANGED_FILE, added=list(ADDED_REQUIREMENTS),
                           rounds=rounds, runs=runs)


# --- tables (pure) ----------------------------------------------------------------------------

def compare(*anatomies: ImageAnatomy) -> pd.DataFrame:
    """Headline numbers of several images, one row each (raw numbers, for checks and charts)."""
    return pd.concat([anatomy.summary_frame() for anatomy in anatomies])


def compare_table(*anatomies: ImageAnatomy) -> pd.DataFrame:
    """:func:`compare` for reading: sizes humanized, efficiency in percent."""
    frame = compare(*anatomies)
    frame["efficiency"] = [f"{value * 100:.2f} %" for value in frame["efficiency"]]
    return display.humanize(frame, byte_columns=("total_bytes", "visible_bytes",
                                                 "wasted_bytes", "duplicate_bytes"))


def layers_table(anatomy: ImageAnatomy) -> pd.DataFrame:
    """One row per layer: the Dockerfile step, its size, files, and the bytes it wastes."""
    frame = anatomy.layers_frame()[["step", "size_bytes", "files", "added", "modified",
                                    "deleted", "wasted_bytes"]].copy()
    frame["step"] = [step or "(base image)" for step in frame["step"]]
    return display.humanize(frame, byte_columns=("size_bytes", "wasted_bytes"))


def wasted_table(anatomy: ImageAnatomy, top: int = 10) -> pd.DataFrame:
    """The largest wasted files: where they are stored, why they are hidden, and by which layer."""
    frame = anatomy.wasted_frame(top)
    return display.humanize(frame, byte_columns=("size_bytes",))


def largest_table(anatomy: ImageAnatomy, top: int = 10) -> pd.DataFrame:
    return display.humanize(anatomy.largest_frame().head(top), byte_columns=("size_bytes",))


def duplicates_table(anatomy: ImageAnatomy, top: int = 10) -> pd.DataFrame:
    frame = anatomy.duplicates_frame().head(top)
    frame["paths"] = [", ".join(paths) for paths in frame["paths"]]
    frame["layers"] = [", ".join(str(layer) for layer in layers) for layers in frame["layers"]]
    return display.humanize(frame[["copies", "size_bytes", "wasted_bytes", "paths", "layers"]],
                            byte_columns=("size_bytes", "wasted_bytes"))


def secrets_table(anatomy: ImageAnatomy) -> pd.DataFrame:
    """Secrets left in the image; the values are never shown, only where and what kind."""
    frame = anatomy.secrets_frame()
    return frame[["path_or_key", "layer", "kind", "visible", "source", "detail", "note"]]



def secret_counts(*anatomies: ImageAnatomy) -> pd.DataFrame:
    """How many secrets the analysis found in each image, and where: layer files (visible or
    not), the image config's Env, the build history."""
    rows = []
    for anatomy in anatomies:
        where = Counter(finding.source for finding in anatomy.secrets)
        rows.append({"image": anatomy.image, "in layer files": where["file"],
                     "in config Env": where["env"], "in history": where["history"],
                     "total": len(anatomy.secrets)})
    return pd.DataFrame(rows).set_index("image")


def cache_mount_table(trial: CacheMountTrial) -> pd.DataFrame:
    """Every build of the cache-mount experiment, in the order they ran: seconds, and what pip
    did (downloaded, took from its cache, compiled)."""
    frame = trial.frame().set_index(["build", "variant"])
    return display.humanize(frame, second_columns=("pip_seconds", "build_seconds"))


# --- the seed's multi-stage Dockerfile (notebook 04, "the write-up's Dockerfile") -----------

SEED_APP = "seed"


@action
def build_seed(tag: str = "docker-course/seed-04:1.0", *, first_line_fixed: bool = False,
               dockerfile: str = "Dockerfile") -> BuildResult:
    """Build ``data/apps/seed`` as the write-up had it, or with only its first line commented.

    The fix is made in a copy of the folder in the course's state folder
    (``build_folders.folder(tag)``, made by a printed ``cp -r`` line and left there), the first
    line commented out by a printed ``sed -i`` line; the seed's own files stay as they are.
    Raises :class:`~helpers.course.BuildFailed` when BuildKit refuses the Dockerfile.
    """
    if not first_line_fixed:
        return course.build_image(tag, app=SEED_APP, dockerfile=dockerfile)
    context = build_folders.fresh_copy(course.app_dir(SEED_APP), tag)
    build_folders.comment_out_first_line(context / dockerfile)
    return course.build_image(tag, context=context, dockerfile=dockerfile)


ARG_DOCKERFILE = "Dockerfile.arg"  # a token passed as a build argument
DEMO_TOKEN_ARG = "API_TOKEN"


@action
def build_with_arg(tag: str = "docker-course/leaky-04:arg") -> BuildResult:
    """Build ``leaky-secret/Dockerfile.arg`` with a throwaway token as a build argument.

    The token is generated here and worthless: it shows in the printed command line, as a
    real one would in your shell history and CI logs.
    """
    args = {**_shell_args(), DEMO_TOKEN_ARG: "course-" + secrets.token_hex(12)}
    return course.build_image(tag, app=LEAKY_APP, dockerfile=ARG_DOCKERFILE, build_args=args)
