"""Notebook 04: multi-stage builds, and where an image's bytes go.

The actions build the sample app in one stage and in two, analyse any image by streaming
``docker save`` (nothing is unpacked to disk), and build the "what not to do" image that
deletes a secret in a later layer. They return plain data: a
:class:`~helpers.engine.build.BuildResult` or an :class:`~helpers.anatomy.ImageAnatomy` (a
dataclass the replay codec records as it is). The table helpers below are pure: they turn an
anatomy into readable DataFrames, sizes humanized.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import tempfile
import textwrap
from pathlib import Path

import pandas as pd

from .. import course, display, journal, resolver
from ..anatomy import ImageAnatomy, analyse_image
from ..engine import images
from ..engine.build import BuildResult
from ..replay import action

APP = "flask-app"
SINGLE = "Dockerfile.single"
MULTISTAGE = "Dockerfile.multistage"
LEAKY_APP = "leaky-secret"
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

def throwaway_key() -> str:
    """A private key file that looks real to a scanner and unlocks nothing (random body)."""
    body = base64.b64encode(b"openssh-key-v1\0" + secrets.token_bytes(380)).decode()
    lines = textwrap.wrap(body, 70)
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) \
        + "\n-----END OPENSSH PRIVATE KEY-----\n"


def throwaway_env() -> str:
    return f"DB_USER=deploy\nDB_PASSWORD={secrets.token_urlsafe(18)}\n"


@action
def build_leaky(tag: str = "docker-course/leaky-04:1.0") -> BuildResult:
    """Build ``data/apps/leaky-secret`` from a temporary context with a throwaway key and .env.

    The generated files exist only in that context, for the length of the build.
    """
    shell = resolver.resolve("shell")
    with tempfile.TemporaryDirectory(prefix="course-leaky-secret-") as folder:
        context = Path(folder)
        shutil.copy(course.app_dir(LEAKY_APP) / "Dockerfile", context / "Dockerfile")
        (context / "id_rsa").write_text(throwaway_key(), encoding="utf-8")
        (context / "id_rsa").chmod(0o600)
        (context / ".env").write_text(throwaway_env(), encoding="utf-8")
        args = {} if shell.is_official else {"SHELL_IMAGE": shell.reference}
        return course.build_image(tag, context=context, build_args=args)


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

