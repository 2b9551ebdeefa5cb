"""Run Trivy, Grype and Docker Scout when they can run here, and read what they write.

Trivy and Grype run from their official images at pinned tags (:data:`TRIVY_IMAGE`,
:data:`GRYPE_IMAGE`), so nothing is installed on the machine: the image to scan reaches them
through the engine's socket (``-v /var/run/docker.sock:/var/run/docker.sock``) or as a
``docker save`` archive in a read-only bind mount, and their vulnerability database is kept in
a labelled volume of the notebook (``course-09-trivy-cache``), so the notebook's cleanup
removes it. They write JSON to standard output. Docker Scout is a Docker CLI plugin
(``docker scout cves``) whose analysis runs on Docker's service: it needs the plugin and a
Docker Hub login; it writes SARIF to a file.

Each runner first says whether its tool can run, and when it cannot, why, in one line (no
registry to pull the image from, no plugin, no login, no network for the database). A run
that happens goes through :func:`helpers.scan.reports.parse_report`, the same reader as a
saved report, so every tool's rows land in the one findings table. Every ``docker`` command
is journalled like any other helper action. All subprocesses go through an injectable
``runner`` (``subprocess.run`` by default), and the tests put a fake ``docker`` on PATH.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import journal, labels, references, settings
from ..errors import CourseError
from ..scan.model import ScanResult

#: Official images, pinned: a tag that moves would change the findings under the notebook.
TRIVY_IMAGE = "aquasec/trivy:0.68.2"
GRYPE_IMAGE = "anchore/grype:v0.104.0"
#: Where the engine listens on its own host, as the tools' containers must mount it.
ENGINE_SOCKET = "/var/run/docker.sock"
DOCKER_HUB = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
              "registry-1.docker.io")

SCANNERS: tuple[str, ...] = ("trivy", "grype", "docker scout")


@dataclass(frozen=True)
class Tool:
    """What one scanner is, where its data comes from and how it treats severity, unfixed
    issues and VEX: the reasons two tools disagree on one image (from each tool's docs)."""

    name: str
    title: str
    image: str
    database: str
    severity: str
    unfixed: str
    vex: str
    docs: str


TOOLS: dict[str, Tool] = {tool.name: tool for tool in (
    Tool("trivy", "Trivy", TRIVY_IMAGE,
         database="Trivy DB, downloaded on the first scan: the distribution's own advisories "
                  "for OS packages (Debian Security Tracker, Alpine secdb), GitHub's advisory "
                  "database and OSV for pip packages",
         severity="Debian packages: Debian's urgency, else NVD's rating; language packages: "
                  "the advisory database's rating (GitHub's for pip), else NVD's",
         unfixed="listed by default (no fixed version, status affected or will_not_fix); "
                 "--ignore-unfixed leaves them out",
         vex="--vex FILE applies VEX statements (OpenVEX, CycloneDX, CSAF)",
         docs="https://trivy.dev/latest/docs/scanner/vulnerability/"),
    Tool("grype", "Grype", GRYPE_IMAGE,
         database="Grype DB from Anchore, downloaded on the first scan: distribution trackers "
                  "(Debian, Alpine ...), GitHub's advisory database, NVD",
         severity="the matched record's own rating: Debian's tracker for Debian packages "
                  "(Negligible is shown as LOW here), GitHub's for pip packages",
         unfixed="listed with fix state not-fixed or wont-fix; --only-fixed leaves them out",
         vex="--vex FILE applies OpenVEX statements",
         docs="https://github.com/anchore/grype#readme"),
    Tool("docker scout", "Docker Scout", "",
         database="Docker's advisory database on Docker's service (distribution trackers, "
                  "GitHub, NVD and more); needs network and a Docker Hub login",
         severity="the CVSS rating Scout picks per advisory; UNSPECIFIED (UNKNOWN here) when "
                  "it has none",
         unfixed="listed; --only-fixed or --only-unfixed filter them",
         vex="--vex-location PATH applies OpenVEX documents; --only-base / --ignore-base split "
             "the base image's findings from yours",
         docs="https://docs.docker.com/reference/cli/docker/scout/cves/"),
)}

BUILT_IN_FACTS = {
    "database": "the advisory snapshot shipped in data/advisories (see the coverage table: "
                "which package types, which sources, the date of their data)",
    "severity": "GitHub's reviewed rating, else the CVSS v3 base score's rating",
    "unfixed": "listed, with an empty fixed column",
    "vex": "none",
}


class ScannerUnavailable(CourseError):
    """The asked-for scanner cannot run here (no image, no plugin, no login, no network)."""


Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass
class ToolRun:
    """One scanner's attempt on one image: did it run, why not, what it found.

    ``reason`` is one line when it did not run; ``command`` the scan's command line as shown;
    ``seconds`` the scan's wall time; ``database`` what the report says about the tool's
    database (its build date, when the report names it); ``result`` the findings table.
    """

    tool: str
    title: str
    image: str
    ran: bool = False
    reason: str = ""
    command: str = ""
    seconds: float = 0.0
    database: str = ""
    result: ScanResult | None = None

    def line(self) -> str:
        """``Trivy: ran, 42 findings in 12.3 s`` or ``Grype: not run: cannot pull …``."""
        if self.ran and self.result is not None:
            return (f"{self.title}: ran, {len(self.result.findings)} findings in "
                    f"{self.seconds:.1f} s")
        return f"{self.title}: not run: {self.reason}"


@dataclass
class ScannerStatus:
    """Whether one scanner can run here, and if not, the one-line reason."""

    name: str
    available: bool
    version: str = ""
    explanation: str = ""
    steps: list[str] = field(default_factory=list)


def _run(command: list[str], runner: Runner, timeout: float) -> subprocess.CompletedProcess[str]:
    return runner(command, capture_output=True, text=True, timeout=timeout, check=False)


def _first_line(text: str, width: int = 160) -> str:
    """The most telling line of a tool's error output, cut to ``width``."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if any(word in lowered for word in ("error", "fatal", "failed", "denied", "no such",
                                            "not found", "unauthorized")):
            return line[:width]
    return (lines[-1] if lines else "no output")[:width]


def cache_volume(name: str, notebook: str | None = None) -> str:
    """The labelled volume keeping a tool's database between scans: ``course-09-trivy-cache``."""
    return f"course-{notebook or labels.current_notebook()}-{name}-cache"


def engine_socket() -> str:
    """The socket path to mount into a tool's container: the engine's own, on its host.

    For a local ``unix://`` engine that is its path (rootless engines listen elsewhere than
    ``/var/run/docker.sock``); for a remote or docker-in-docker engine, the standard path on
    that engine's host.
    """
    try:
        from .client import endpoint

        where = endpoint()
    except CourseError:
        return ENGINE_SOCKET
    if where.host.startswith("unix://") and not where.remote:
        return where.host.removeprefix("unix://")
    return ENGINE_SOCKET


def scanner_command(name: str, image: str = "", *, archive: str | Path | None = None,
                    socket: str = ENGINE_SOCKET, report: str = "report.sarif",
                    notebook: str | None = None) -> list[str]:
    """The documented command line that scans ``image`` (or a ``docker save`` ``archive``).

    * Trivy: ``docker run --rm … -v SOCKET:/var/run/docker.sock -v CACHE:/cache
      aquasec/trivy:TAG image --cache-dir /cache --scanners vuln --format json --quiet IMAGE``
      (an archive: ``-v DIR:/input:ro`` and ``--input /input/FILE``);
    * Grype: ``docker run --rm … -e GRYPE_DB_CACHE_DIR=/cache anchore/grype:TAG
      docker:IMAGE -o json`` (an archive: ``docker-archive:/input/FILE``);
    * Docker Scout: ``docker scout cves --format sarif --output REPORT local://IMAGE`` (an
      archive: ``archive://FILE``).

    Trivy and Grype write JSON to standard output; Scout writes ``report``. Raises
    :class:`CourseError` for an unknown tool or nothing to scan.
    """
    if not image and archive is None:
        raise CourseError("Nothing to scan: give an image name or a saved archive.")
    if name not in TOOLS:
        raise CourseError(f"Unknown scanner {name!r}.", hint=f"Use one of: {', '.join(SCANNERS)}.")
    if name == "docker scout":
        subject = f"archive://{archive}" if archive is not None else f"local://{image}"
        return ["docker", "scout", "cves", "--format", "sarif", "--output", report, subject]
    run = ["docker", "run", "--rm", *shlex.split(labels.cli_flags(notebook))]
    if archive is not None:
        archive = Path(archive)
        run += ["-v", f"{archive.parent}:/input:ro"]
    else:
        run += ["-v", f"{socket}:/var/run/docker.sock"]
    run += ["-v", f"{cache_volume(name, notebook)}:/cache"]
    if name == "trivy":
        inputs = ["--input", f"/input/{archive.name}"] if archive is not None else [image]
        return [*run, TRIVY_IMAGE, "image", "--cache-dir", "/cache", "--scanners", "vuln",
                "--format", "json", "--quiet", *inputs]
    source = f"docker-archive:/input/{archive.name}" if archive is not None \
        else f"docker:{image}"
    return [*run, "-e", "GRYPE_DB_CACHE_DIR=/cache", GRYPE_IMAGE, source, "-o", "json"]


def _logged_in_to_docker_hub() -> bool:
    """Does the CLI's config.json hold a Docker Hub login (``docker login`` writes one)?"""
    from .client import docker_config_dir

    try:
        config = json.loads((docker_config_dir() / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    auths = config.get("auths") or {}
    helpers = config.get("credHelpers") or {}
    return any(key in auths or key in helpers for key in DOCKER_HUB)


def _tool_image_ready(tool: Tool, runner: Runner, steps: list[str]) -> str:
    """"" when the tool's image is on the engine (pulled now if needed), else the reason."""
    inspect = ["docker", "image", "inspect", "--format", "{{.Id}}", tool.image]
    done = _run(inspect, runner, 60)
    if done.returncode == 0:
        return ""
    if not settings.allow_pull():
        return f"its image {tool.image} is not on this engine and pulls are off (COURSE_NO_PULL)"
    pull = ["docker", "pull", tool.image]
    started = time.monotonic()
    done = _run(pull, runner, 600)
    journal.record(shlex.join(pull), ok=done.returncode == 0, seconds=time.monotonic() - started)
    steps.append(shlex.join(pull))
    if done.returncode != 0:
        output = f"{done.stdout}\n{done.stderr}"
        lowered = output.lower()
        if any(word in lowered for word in ("no such host", "dial tcp", "timeout", "i/o timeout",
                                            "connection refused", "network is unreachable",
                                            "tls", "proxyconnect")):
            why = "no registry reachable"
        elif "toomanyrequests" in lowered or "rate limit" in lowered:
            why = "Docker Hub's pull rate limit"
        elif "unauthorized" in lowered or "denied" in lowered:
            why = "the registry refused the pull"
        else:
            why = _first_line(output, 100)
        return f"cannot pull its image {tool.image} ({why})"
    return ""


def scanner_status(name: str, *, runner: Runner = subprocess.run,
                   which: Callable[[str], str | None] = shutil.which,
                   prepare: bool = False) -> ScannerStatus:
    """Can ``name`` (``trivy``, ``grype`` or ``docker scout``) run here? Never raises.

    Trivy and Grype need the ``docker`` CLI and their pinned image on the engine; with
    ``prepare`` the image is pulled when missing (the one-line reason says why that failed).
    Docker Scout needs the CLI plugin (``docker scout version``) and a Docker Hub login.
    """
    if name not in TOOLS:
        return ScannerStatus(name, False, explanation=f"unknown scanner {name!r} (known: "
                                                      f"{', '.join(SCANNERS)})")
    tool = TOOLS[name]
    if not which("docker"):
        return ScannerStatus(name, False, explanation="no docker CLI on PATH")
    steps: list[str] = []
    try:
        if name == "docker scout":
            done = _run(["docker", "scout", "version"], runner, 60)
            if done.returncode != 0:
                return ScannerStatus(name, False, explanation=(
                    "the docker scout CLI plugin is not installed (it ships with Docker "
                    "Desktop; on Linux install the docker-scout plugin)"))
            version = _version_of(f"{done.stdout}\n{done.stderr}")
            if not _logged_in_to_docker_hub():
                return ScannerStatus(name, False, version=version, explanation=(
                    "not logged in to Docker Hub: Scout's analysis runs on Docker's service "
                    "(`docker login`)"))
            return ScannerStatus(name, True, version=version)
        if prepare:
            why = _tool_image_ready(tool, runner, steps)
        else:
            done = _run(["docker", "image", "inspect", "--format", "{{.Id}}", tool.image],
                        runner, 60)
            why = "" if done.returncode == 0 else (
                f"its image {tool.image} is not on this engine (it is pulled on first use)")
    except (OSError, subprocess.SubprocessError) as error:
        return ScannerStatus(name, False, explanation=f"the docker CLI failed ({error})")
    tag = references.parse(tool.image).tag
    return ScannerStatus(name, not why, version=tag, explanation=why, steps=steps)


def _version_of(text: str) -> str:
    import re

    match = re.search(r"v?(\d+\.\d+(?:\.\d+)?)", text or "")
    return match.group(1) if match else ""


def available_scanners(**kwargs: Any) -> list[ScannerStatus]:
    """The status of every supported scanner (for a notebook table); pulls nothing."""
    return [scanner_status(name, **kwargs) for name in SCANNERS]


def _why_scan_failed(tool: Tool, output: str) -> str:
    lowered = output.lower()
    if tool.name == "docker scout" and any(word in lowered for word in (
            "log in", "login", "unauthorized", "authenticat", "not logged")):
        return "not logged in to Docker Hub (`docker login`)"
    if any(word in lowered for word in ("download", "dial tcp", "no such host", "timeout",
                                        "connection refused", "tls", "db update")):
        return (f"it could not download its vulnerability database (no network): "
                f"{_first_line(output, 100)}")
    if "no such image" in lowered or "not found" in lowered or "manifest unknown" in lowered:
        return f"it could not find the image: {_first_line(output, 100)}"
    return f"the scan failed: {_first_line(output, 120)}"


def _ensure_cache(name: str, runner: Runner) -> None:
    volume = cache_volume(name)
    if _run(["docker", "volume", "inspect", volume], runner, 60).returncode == 0:
        return
    create = ["docker", "volume", "create", *shlex.split(labels.cli_flags()), volume]
    done = _run(create, runner, 60)
    journal.record(shlex.join(create), ok=done.returncode == 0)


def _database_of(data: dict[str, Any]) -> str:
    """What a report says about the tool's database: Grype names its build date."""
    descriptor = data.get("descriptor") or {}
    db = descriptor.get("db") or {}
    built = db.get("built") or (db.get("status") or {}).get("built") or ""
    if built:
        return f"database built {str(built)[:10]}"
    return ""


def run_tool(name: str, image: str = "", *, archive: str | Path | None = None,
             via: str = "socket", timeout: float = 900,
             runner: Runner = subprocess.run,
             which: Callable[[str], str | None] = shutil.which) -> ToolRun:
    """Scan ``image`` with one tool when it can run here; never raises for "cannot run".

    ``via`` is ``socket`` (the tool reads the image through the engine's socket) or
    ``archive`` (``docker save`` into a temporary folder, mounted read-only; Scout reads it
    with ``archive://``); ``archive`` names a saved archive to scan instead of ``image``.
    Returns a :class:`ToolRun`: ``ran`` with the findings table, or the one-line ``reason``.
    """
    tool = TOOLS.get(name)
    if tool is None:
        raise CourseError(f"Unknown scanner {name!r}.", hint=f"Use one of: {', '.join(SCANNERS)}.")
    attempt = ToolRun(tool=name, title=tool.title, image=tool.image)
    status = scanner_status(name, runner=runner, which=which, prepare=True)
    if not status.available:
        attempt.reason = status.explanation
        return attempt
    if name != "docker scout":
        _ensure_cache(name, runner)
    with tempfile.TemporaryDirectory(prefix="course-scan-", dir=_scratch()) as folder:
        subject = Path(archive) if archive else None
        if subject is None and via == "archive":
            subject = Path(folder) / f"{image.split('/')[-1].replace(':', '_')}.tar"
            save = ["docker", "save", "-o", str(subject), image]
            done = _run(save, runner, timeout)
            journal.record(f"docker save -o {subject.name} {image}", ok=done.returncode == 0)
            if done.returncode != 0:
                attempt.reason = f"`docker save` failed: {_first_line(done.stderr or done.stdout)}"
                return attempt
        report = Path(folder) / "report.sarif"
        command = scanner_command(name, image, archive=subject, socket=engine_socket(),
                                  report=str(report))
        attempt.command = shlex.join(command).replace(folder, "$PWD")
        started = time.monotonic()
        try:
            done = _run(command, runner, timeout)
        except subprocess.TimeoutExpired:
            attempt.reason = f"the scan did not finish within {timeout:.0f} s"
            journal.record(attempt.command, ok=False, seconds=time.monotonic() - started)
            return attempt
        attempt.seconds = round(time.monotonic() - started, 1)
        journal.record(attempt.command, ok=done.returncode == 0, seconds=attempt.seconds)
        output = f"{done.stdout}\n{done.stderr}"
        if done.returncode != 0:
            attempt.reason = _why_scan_failed(tool, output)
            return attempt
        try:
            if name == "docker scout":
                from ..scan.reports import read_report

                attempt.result = read_report(report)
            else:
                from ..scan.reports import parse_report

                data = json.loads(done.stdout)
                attempt.database = _database_of(data)
                attempt.result = parse_report(data, name=f"{tool.title} report")
        except (CourseError, ValueError) as error:
            attempt.reason = f"its report could not be read: {str(error).splitlines()[0][:120]}"
            return attempt
    attempt.result.target = image or (Path(archive).name if archive else attempt.result.target)
    attempt.ran = True
    return attempt


def _scratch() -> str | None:
    """A folder for temporary archives and reports (the state folder: big archives do not
    belong in a small /tmp); None falls back to the system's."""
    try:
        folder = settings.state_dir() / "scans"
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)
    except OSError:
        return None


def run_scanner(name: str, *, image: str = "", archive: str | Path | None = None,
                timeout: float = 900, runner: Runner = subprocess.run,
                which: Callable[[str], str | None] = shutil.which) -> ScanResult:
    """Like :func:`run_tool`, but the findings table or :class:`ScannerUnavailable` with the
    one-line reason (for scripts that want an exception)."""
    attempt = run_tool(name, image, archive=archive, timeout=timeout, runner=runner,
                       which=which)
    if not attempt.ran or attempt.result is None:
        raise ScannerUnavailable(f"Cannot scan with {name}: {attempt.reason}.",
                                 hint="Read a saved report with read_report(), or use the "
                                      "built-in scanner (scan_source), which works offline.")
    return attempt.result
