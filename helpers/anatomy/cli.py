"""``python -m helpers layers IMAGE_OR_ARCHIVE [--json]``: where an image's bytes go.

``IMAGE_OR_ARCHIVE`` is an image on the engine (streamed with ``docker save``, nothing written
to disk), a ``docker save`` archive file (plain or gzip/zstd-compressed), or ``-`` for standard
input (``docker save IMAGE | python -m helpers layers -``). The output is a set of readable
tables, or with ``--json`` one document::

    {"image", "total_bytes", "wasted_bytes", "efficiency", "duplicate_bytes",
     "layers": [{"index", "diff_id", "created_by", "size_bytes", "files", "wasted_bytes", …}],
     "wasted_files": [{"path", "layer", "size_bytes", "reason", …}],
     "duplicates": [{"paths", "size_bytes", "wasted_bytes", "layers"}],
     "secrets": [{"path_or_key", "layer", "kind", …}]}

Bad input (an unknown image, a missing, truncated or damaged archive, a tar that is not an
image) ends in one ``error: …`` line and exit code 2; :mod:`helpers.cli` renders the
:class:`~helpers.errors.CourseError` that way. ``--fail-on-secrets`` makes exit code 1 mean
"a secret was found", for CI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..commands import command
from ..errors import CourseError
from ..units import human_bytes

if TYPE_CHECKING:
    from .model import ImageAnatomy

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd")
SAVE_HINT = "Write one with `docker save IMAGE -o image.tar`, or name an image on the engine."
DEFAULT_TOP = 10


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="IMAGE_OR_ARCHIVE",
                        help="an image on the engine (name:tag or id), a `docker save` archive "
                             "file, or - to read the archive from standard input")
    parser.add_argument("--json", action="store_true",
                        help="print the analysis as JSON instead of tables")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, metavar="N",
                        help=f"rows in the wasted, largest and duplicate tables "
                             f"(default {DEFAULT_TOP}; --json always lists every wasted file)")
    parser.add_argument("--fail-on-secrets", action="store_true",
                        help="exit 1 when a secret is found in a layer, the Env or the history")
    choice_arguments(parser)


def choice_arguments(parser: argparse.ArgumentParser) -> None:
    """``--image`` and ``--platform``: which image of an archive holding several to read."""
    parser.add_argument("--image", metavar="NAME",
                        help="in an archive of several images (docker save a b), the one to "
                             "read, by name (python:3.12) or image id (default: the first)")
    parser.add_argument("--platform", metavar="OS/ARCH",
                        help="in a multi-platform archive, the platform to read (linux/arm64; "
                             "default: this machine's, else linux/amd64)")


def emit(text: str, *, stream: TextIO | None = None) -> None:
    """Print ``text`` without a traceback: a closed pipe (``| head``) ends quietly, and
    names that are not valid UTF-8 (kept as surrogate escapes) come out backslash-escaped."""
    stream = stream or sys.stdout
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    try:
        print(text, file=stream)
        stream.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # Python flushes stdout at exit: let that succeed


def _one_line(error: CourseError) -> CourseError:
    """The same error with its log tail folded into the message: one line on the terminal."""
    if not error.log_tail:
        return error
    detail = error.log_tail.strip().splitlines()[-1].strip()
    return CourseError(f"{error.message} ({detail})", hint=error.hint)


def analyse_target(target: str, *, top: int = DEFAULT_TOP, image: str | None = None,
                   platform: str | None = None) -> ImageAnatomy:
    """Analyse what ``target`` names: ``-``, an archive file, or an image on the engine.

    ``image`` and ``platform`` choose within an archive holding several images or platforms.
    Raises :class:`CourseError` for a missing, unreadable or malformed archive.
    """
    from .analysis import analyse_image

    if target == "-":
        return analyse_image(sys.stdin.buffer, top=top, tag=image, platform=platform)
    path = Path(target)
    if path.is_dir():
        raise CourseError(f"{target} is a folder, not an image archive.", hint=SAVE_HINT)
    if path.is_file():
        return analyse_image(path, top=top, tag=image, platform=platform)
    if target.lower().endswith(ARCHIVE_SUFFIXES):
        raise CourseError(f"No image archive at {target}.", hint=SAVE_HINT)
    return _analyse_engine_image(target, top)


def _analyse_engine_image(reference: str, top: int) -> ImageAnatomy:
    from ..engine import failures, images
    from .analysis import analyse_image

    with failures.reported_as(f"Reading {reference} from the engine failed",
                              hint="check that the engine is running (`docker info`) and try "
                                   "again."):
        anatomy = analyse_image(images.export_stream(reference), top=top)
    anatomy.image = reference
    return anatomy


@command("layers", "show where an image's bytes go: layers, wasted bytes, duplicates, secrets",
         _arguments)
def _layers(args: argparse.Namespace) -> int:
    try:
        anatomy = analyse_target(args.target, top=max(args.top, 1), image=args.image,
                                 platform=args.platform)
    except CourseError as error:
        raise _one_line(error) from None
    for note in anatomy.notes:
        emit(f"note: {note}", stream=sys.stderr)
    if args.json:
        emit(json.dumps(anatomy.to_json(), indent=2, ensure_ascii=False))
    else:
        emit(render(anatomy, top=max(args.top, 1)))
    return 1 if args.fail_on_secrets and anatomy.secrets else 0


# --- text tables ------------------------------------------------------------------------------

def _table(rows: list[tuple[object, ...]], header: tuple[str, ...],
           right: tuple[int, ...] = ()) -> str:
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for number, row in enumerate(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  " + "  ".join(parts).rstrip())
        if number == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def render(anatomy: ImageAnatomy, *, top: int = DEFAULT_TOP) -> str:
    """The analysis as plain-text tables for a terminal."""
    out = [f"Image {anatomy.image}"
           + (f" ({anatomy.platform})" if anatomy.platform else "")
           + f": {len(anatomy.layers)} layer{'' if len(anatomy.layers) == 1 else 's'}",
           f"  total {human_bytes(anatomy.total_bytes)} ({anatomy.total_bytes:,} bytes), "
           f"wasted {human_bytes(anatomy.wasted_bytes)}, "
           f"efficiency {anatomy.efficiency * 100:.2f} %, "
           f"duplicates {human_bytes(anatomy.duplicate_bytes)}, "
           f"user {anatomy.user or 'root'}",
           "", "Layers (size = bytes of the files stored in the layer)"]
    out.append(_table([(layer.index, human_bytes(layer.size_bytes), layer.files,
                        human_bytes(layer.wasted_bytes) if layer.wasted_bytes else "-",
                        layer.step or "(base image)") for layer in anatomy.layers],
                      ("#", "size", "files", "wasted", "Dockerfile step"), right=(0, 1, 2, 3)))
    out += ["", f"Wasted files: {len(anatomy.wasted_files)}"
                + (f" (largest {top} shown)" if len(anatomy.wasted_files) > top else "")]
    if anatomy.wasted_files:
        out.append(_table([(human_bytes(w.size_bytes), w.reason, w.layer, w.hidden_by,
                            _short(w.path)) for w in anatomy.wasted_files[:top]],
                          ("size", "reason", "in layer", "hidden by", "path"),
                          right=(0, 2, 3)))
    out += ["", f"Largest files of the final filesystem (top {top})"]
    out.append(_table([(human_bytes(f.size_bytes), f.layer, _short(f.path))
                       for f in anatomy.largest_files[:top]],
                      ("size", "layer", "path"), right=(0, 1)))
    out += ["", f"Duplicates: {len(anatomy.duplicates)} groups of identical files, "
                f"{human_bytes(anatomy.duplicate_bytes)} in the extra copies"]
    if anatomy.duplicates:
        out.append(_table([(len(g.paths), human_bytes(g.size_bytes), human_bytes(g.wasted_bytes),
                            _short(", ".join(g.paths), 70)) for g in anatomy.duplicates[:top]],
                          ("copies", "size", "extra", "paths"), right=(0, 1, 2)))
    out += ["", f"Secrets: {len(anatomy.secrets)}"]
    if anatomy.secrets:
        out.append(_table([(s.kind, "-" if s.layer is None else s.layer,
                            "yes" if s.visible else "no (still in its layer)",
                            _short(s.path_or_key, 40), s.detail)
                           for s in anatomy.secrets],
                          ("kind", "layer", "visible", "path or key", "detail"), right=(1,)))
    return "\n".join(out)
