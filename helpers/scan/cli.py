"""``python -m helpers scan`` and ``python -m helpers report``: the findings table in a terminal.

* ``scan IMAGE_OR_ARCHIVE`` runs the built-in scanner on an engine image (streamed with
  ``docker save``, nothing unpacked to disk), on a saved archive file, or on ``-`` (standard
  input: ``docker save IMAGE | python -m helpers scan -``).
* ``report FILE`` reads a saved Docker Scout, Trivy or Grype report, format told from the
  content.

Both print a readable table, or with ``--json`` ``{"findings": [...], "summary": {...}}`` and,
for ``scan``, ``"coverage": {...}``: per package type, how many packages were listed and judged,
against which advisory source of which date. The first line of the table says the same, so
"no known vulnerabilities" is only ever printed with its scope. Notes (e.g. "nothing to
inventory", packages not judged) go to standard error when the output is JSON, so the JSON
stays clean. Bad input ends in one ``error: …`` line
and exit code 2 (helpers.cli turns a CourseError into that); ``--fail-on HIGH`` makes exit code
1 mean "findings at or above HIGH", for CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..anatomy.cli import emit
from ..commands import command
from ..errors import CourseError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd")
SEVERITY_CHOICES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help='print {"findings": [...], "summary": {...}, "coverage": {...}} '
                             "instead of a table")
    parser.add_argument("--fail-on", choices=SEVERITY_CHOICES, type=str.upper,
                        metavar="SEVERITY",
                        help="exit 1 when a finding is at or above SEVERITY "
                             "(CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)")


def _scan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="IMAGE_OR_ARCHIVE",
                        help="an image on the engine (name:tag or id), a `docker save` archive "
                             "file, or - to read the archive from standard input")
    _common(parser)
    parser.add_argument("--sbom", type=Path, metavar="FILE",
                        help="also write the image's packages as a CycloneDX SBOM (JSON)")
    from ..anatomy.cli import choice_arguments

    choice_arguments(parser)


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE",
                        help="a Scout SARIF, Trivy JSON/SARIF or Grype JSON/SARIF report")
    _common(parser)


def _one_line(error: CourseError) -> CourseError:
    """The same error with its log tail folded into the message: one line on the terminal."""
    if not error.log_tail:
        return error
    detail = error.log_tail.strip().splitlines()[-1].strip()
    return CourseError(f"{error.message} ({detail})", hint=error.hint)


def scan_target(target: str, *, image: str | None = None, platform: str | None = None):
    """Scan what ``target`` names: ``-``, an archive file, or an image on the engine.

    ``image`` and ``platform`` choose within an archive holding several images or platforms.
    Returns a :class:`~helpers.scan.model.ScanResult`; raises :class:`CourseError` for a
    missing, unreadable or malformed archive.
    """
    from .scanner import scan_source

    if target == "-":
        return scan_source(iter(lambda: sys.stdin.buffer.read(1 << 20), b""),
                           target="standard input", tag=image, platform=platform)
    path = Path(target)
    if path.is_dir():
        raise CourseError(f"{target} is a folder, not an image archive.",
                          hint="Pass the archive written by `docker save IMAGE -o image.tar`.")
    if path.is_file():
        result = scan_source(path, tag=image, platform=platform)
        if result.target == "image":
            result.target = path.name
        return result
    if target.lower().endswith(ARCHIVE_SUFFIXES):
        raise CourseError(f"No image archive at {target}.",
                          hint="Check the path, or write one with "
                               "`docker save IMAGE -o image.tar`.")
    from ..engine import images

    return scan_source(images.export_stream(target), target=target)


def render(result) -> str:
    """The terminal form of a result: its scoped headline (:meth:`ScanResult.headline`), the
    findings worst first with the layer step that added each package, the coverage per package
    type, and the notes."""
    from .text import layer_label, table

    result.findings = result.sorted_findings()
    rows = [[f.severity, f.id, f.package, f.installed, f.fixed or "-", layer_label(result, i)]
            for i, f in enumerate(result.findings)]
    head = result.headline()
    if result.source:
        head += f" [source: {result.source}]"
    parts = [head]
    if rows:
        parts.append(table(rows))
    coverage = result.coverage
    if coverage is not None and coverage.rows:
        parts.append("coverage: " + ", ".join(
            f"{r.kind} {r.judged}/{r.listed} judged" for r in coverage.rows)
            + (f" (advisory snapshot {coverage.snapshot}, data as of {coverage.as_of})"
               if coverage.judged and coverage.as_of else ""))
    parts += [f"note: {note}" for note in result.notes]
    return "\n".join(parts)


def _emit(result, args: argparse.Namespace) -> int:
    from .model import severity_rank

    if args.json:
        emit(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        gaps = result.coverage.gaps() if result.coverage is not None else []
        for note in [*gaps, *result.notes]:
            emit(f"note: {note}", stream=sys.stderr)
    else:
        emit(render(result))
    if args.fail_on:
        limit = severity_rank(args.fail_on)
        if any(severity_rank(f.severity) <= limit for f in result.findings):
            return 1
    return 0


@command("scan", "scan an image or a saved archive for known vulnerabilities (built-in, "
                 "offline)", _scan_arguments)
def _scan(args: argparse.Namespace) -> int:
    try:
        result = scan_target(args.target, image=args.image, platform=args.platform)
        if args.sbom:
            from .sbom import write_sbom

            written = write_sbom(result.packages, args.sbom, image=result.target)
            print(f"SBOM: {len(result.packages)} packages written to {written}",
                  file=sys.stderr)
    except CourseError as error:
        raise _one_line(error) from None
    return _emit(result, args)


@command("report", "read a saved Docker Scout, Trivy or Grype report (format told from the "
                   "content)", _report_arguments)
def _report(args: argparse.Namespace) -> int:
    from .reports import read_report

    try:
        result = read_report(args.file)
    except CourseError as error:
        raise _one_line(error) from None
    return _emit(result, args)
