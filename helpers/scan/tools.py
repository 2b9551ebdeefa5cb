"""Run Trivy, Grype or Docker Scout when they are installed, and read what they write.

Each tool is optional: the course works without any of them (saved reports and the built-in
scanner cover the same lessons). So every function here first says whether a tool is usable
and, when it is not, why and what would make it usable: Trivy and Grype need the binary and,
on first run, network for their database; Docker Scout is a Docker CLI plugin that also needs a
Docker Hub login and network, because its analysis runs on Docker's service.

A run writes the report into a temporary file in the tool's machine-readable format and parses
it with :func:`helpers.scan.reports.read_report`, so live scans and saved reports give the same
table. The command line is journalled like every other helper action.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CourseError, tail
from .model import ScanResult

SCANNERS: tuple[str, ...] = ("trivy", "grype", "docker scout")

_WHY_MISSING = {
    "trivy": ("Trivy is not installed (no `trivy` on PATH). Install it from "
              "https://trivy.dev (packages for apt, rpm, Homebrew); its first scan downloads "
              "the vulnerability database, so it needs network once."),
    "grype": ("Grype is not installed (no `grype` on PATH). Install it from "
              "https://github.com/anchore/grype; its first scan downloads the vulnerability "
              "database, so it needs network once."),
    "docker scout": ("Docker Scout is not available: it is a Docker CLI plugin that ships with "
                     "Docker Desktop (on Linux install the docker-scout plugin). It also needs "
                     "a Docker Hub login (`docker login`) and network, because the analysis "
                     "runs on Docker's service."),
}
_MEANWHILE = ("Meanwhile, read a saved report with read_report() or use the built-in scanner "
              "(scan_archive), which works offline.")


class ScannerUnavailable(CourseError):
    """The asked-for scanner cannot run here (not installed, no plugin, no login)."""


@dataclass(frozen=True)
class ScannerStatus:
    """Whether one scanner can run here, its version, and what it needs if it cannot."""

    name: str
    available: bool
    version: str = ""
    explanation: str = ""


Runner = Callable[..., subprocess.CompletedProcess[str]]


def _run(command: list[str], runner: Runner, timeout: float) -> subprocess.CompletedProcess[str]:
    return runner(command, capture_output=True, text=True, timeout=timeout, check=False)


_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?(?:[-+.\w]*)?)")


def _first_version(text: str) -> str:
    match = _VERSION.search(text or "")
    return match.group(1) if match else ""


def scanner_status(name: str, *, runner: Runner = subprocess.run,
                   which: Callable[[str], str | None] = shutil.which) -> ScannerStatus:
    """Is ``name`` (``trivy``, ``grype`` or ``docker scout``) usable here? Never raises."""
    if name not in SCANNERS:
        return ScannerStatus(name, False, explanation=f"Unknown scanner {name!r}; "
                                                      f"known: {', '.join(SCANNERS)}.")
    binary = "docker" if name == "docker scout" else name
    if not which(binary):
        return ScannerStatus(name, False, explanation=_WHY_MISSING[name])
    probe = {"trivy": ["trivy", "--version"], "grype": ["grype", "version"],
             "docker scout": ["docker", "scout", "version"]}[name]
    try:
        done = _run(probe, runner, 30)
    except (OSError, subprocess.SubprocessError) as error:
        return ScannerStatus(name, False, explanation=f"{_WHY_MISSING[name]} ({error})")
    output = f"{done.stdout}\n{done.stderr}"
    if done.returncode != 0:
        return ScannerStatus(name, False, explanation=f"{_WHY_MISSING[name]} "
                                                      f"(`{shlex.join(probe)}` failed: "
                                                      f"{tail(output, 2)})")
    return ScannerStatus(name, True, version=_first_version(output))


def available_scanners(**kwargs: Any) -> list[ScannerStatus]:
    """The status of every supported scanner (for a notebook table)."""
    return [scanner_status(name, **kwargs) for name in SCANNERS]


def scanner_command(name: str, output: Path, *, image: str = "",
                    archive: Path | None = None) -> list[str]:
    """The command line that scans ``image`` (or a ``docker save`` ``archive``) into ``output``.

    Trivy and Grype write JSON; Scout writes SARIF, its only machine format with fix versions.
    """
    if not image and archive is None:
        raise CourseError("Nothing to scan: give an image name or a saved archive.")
    if name == "trivy":
        subject = ["--input", str(archive)] if archive else [image]
        return ["trivy", "image", "--format", "json", "--output", str(output), *subject]
    if name == "grype":
        subject = f"docker-archive:{archive}" if archive else image
        return ["grype", subject, "-o", "json", "--file", str(output)]
    if name == "docker scout":
        subject = f"archive://{archive}" if archive else image
        return ["docker", "scout", "cves", "--format", "sarif", "--output", str(output), subject]
    raise CourseError(f"Unknown scanner {name!r}.", hint=f"Use one of: {', '.join(SCANNERS)}.")


def _hint_for_failure(name: str, output: str) -> str:
    lowered = output.lower()
    if name == "docker scout" and any(word in lowered for word in (
            "log in", "login", "unauthorized", "authenticat", "not logged")):
        return "Docker Scout needs a Docker Hub account: run `docker login`, then try again."
    if any(word in lowered for word in ("download", "timeout", "dial tcp", "no such host",
                                        "connection refused", "tls")):
        return (f"{name} could not reach the network (its database or registry). Try again "
                "with network access, or use the built-in scanner, which works offline.")
    if "not found" in lowered or "no such image" in lowered or "manifest unknown" in lowered:
        return "Check the image name (`docker image ls`), or scan a saved archive instead."
    return f"Run the command above in a terminal to see {name}'s full output."


def run_scanner(name: str, *, image: str = "", archive: str | Path | None = None,
                timeout: float = 900, runner: Runner = subprocess.run,
                which: Callable[[str], str | None] = shutil.which) -> ScanResult:
    """Scan with an installed tool and return its findings as the course's table.

    Raises :class:`ScannerUnavailable` (with what the tool needs) when it is not usable, and
    :class:`CourseError` with the tool's last output lines when the scan itself fails.
    """
    status = scanner_status(name, runner=runner, which=which)
    if not status.available:
        raise ScannerUnavailable(f"Cannot scan with {name}.",
                                 hint=f"{status.explanation} {_MEANWHILE}")
    from .. import journal
    from .reports import read_report

    archive_path = Path(archive) if archive else None
    with tempfile.TemporaryDirectory(prefix="course-scan-") as folder:
        suffix = "sarif" if name == "docker scout" else "json"
        output = Path(folder) / f"report.{suffix}"
        command = scanner_command(name, output, image=image, archive=archive_path)
        shown = shlex.join(scanner_command(name, Path(f"report.{suffix}"), image=image,
                                           archive=archive_path))
        started = time.monotonic()
        try:
            done = _run(command, runner, timeout)
        except subprocess.TimeoutExpired:
            journal.record(shown, ok=False, seconds=time.monotonic() - started)
            raise CourseError(f"{name} did not finish within {timeout:.0f} s.",
                              hint="The first run downloads a database; try again with a "
                                   "longer timeout.") from None
        journal.record(shown, ok=done.returncode == 0, seconds=time.monotonic() - started)
        if done.returncode != 0 or not output.exists():
            log = f"{done.stdout}\n{done.stderr}"
            raise CourseError(f"`{shown}` failed (exit code {done.returncode}).",
                              hint=_hint_for_failure(name, log), log_tail=tail(log))
        result = read_report(output)
    result.target = image or (archive_path.name if archive_path else result.target)
    return result
