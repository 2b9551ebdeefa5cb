"""Notebook 09: scan the app image, say where each finding came from, fix, rescan, compare.

Each function returns plain data (a :class:`~helpers.scan.ScanResult`, a DataFrame, a small
dataclass), records the commands a person would type, and replays from a recording when there
is no engine. The scanning itself is the built-in offline scanner of :mod:`helpers.scan`;
Docker Scout, Trivy and Grype are run only when installed, and their commands are shown either
way, marked as what that tool would do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import course, journal, settings
from ..display import FactsView
from ..engine import images
from ..engine.build import BuildResult
from ..replay import action
from ..scan import (
    SAMPLE_REPORTS,
    Comparison,
    ScanResult,
    available_scanners,
    compare,
    read_report,
    scanner_status,
    write_sbom,
)
from ..scan.origins import origins_frame, parse_requirements
from ..scan.scanner import scan_source
from ..scan.tools import scanner_command

APP = "flask-app"
DOCKERFILE = settings.APPS_DIR / "flask-app" / "Dockerfile"
OLD_PINS = "requirements-2021.txt"
BUMPED_PINS = "requirements-bumped.txt"
#: Saved reports, one per tool, of the same (synthetic) image: data/reports/<stem>.<suffix>.
REPORT_SUFFIXES = {"Docker Scout": "scout.sarif", "Trivy": "trivy.json", "Grype": "grype.json"}


def requirements_path(name: str = OLD_PINS) -> Path:
    return course.app_dir(APP) / name


def _stem(reference: str) -> str:
    """The file stem ``docker save`` examples use for an image: ``flask-app-09_2021``."""
    return reference.split("/")[-1].replace(":", "_")


def _not_run(tool: str) -> str:
    """The comment that marks a command shown for comparison, not run by the course."""
    status = scanner_status(tool)
    state = "installed here, not run by this cell" if status.available else "not installed here"
    return f"  # {tool.title() if tool != 'docker scout' else 'Docker Scout'}: {state}"


@action
def build_app(tag: str, requirements: str = OLD_PINS) -> BuildResult:
    """Build the message board with a chosen requirements file of the flask-app folder.

    It is the app's own Dockerfile with the ``REQUIREMENTS`` build argument, so the code is the
    same as everywhere else in the course; only the pinned versions differ.
    """
    return course.build_image(tag, context=course.app_dir(APP),
                              build_args={"REQUIREMENTS": requirements})


@action
def scan_image(reference: str) -> ScanResult:
    """The built-in scanner on an image of the engine: ``docker save`` streamed, never unpacked.

    Shows the command of the course's scanner and, marked as not run, Docker Scout's.
    """
    result = scan_source(images.export_stream(reference), target=reference)
    stem = _stem(reference)
    journal.record(f"python -m helpers scan {stem}.tar")
    journal.record(f"docker scout cves --format sarif --output {stem}.sarif {reference}"
                   + _not_run("docker scout"))
    return result


@action
def where_from(result: ScanResult, *, base: str, requirements: str = OLD_PINS
               ) -> pd.DataFrame:
    """One row per finding: the layer and Dockerfile step that added the package, the line of
    the requirements file that names it, and whether it is there directly, via another package
    (its ``Requires-Dist``), or from the base image ``base``."""
    base_layers = images.require(base).layers
    journal.record(f"docker history --no-trunc {result.target}")
    journal.record(f"docker image inspect --format '{{{{len .RootFS.Layers}}}}' {base}")
    text = requirements_path(requirements).read_text(encoding="utf-8")
    return origins_frame(result, requirements={requirements: text}, base_layers=base_layers)


FINDING_VIEW = ["severity", "id", "package", "type", "installed", "fixed", "aliases"]


def findings_table(result: ScanResult) -> pd.DataFrame:
    """The findings worst first, in the columns a reader needs (the layer comes later)."""
    return result.to_frame()[FINDING_VIEW]


class StyledTable:
    """A DataFrame shown as HTML with coloured severity cells, and as plain text elsewhere.

    Not a pandas ``Styler`` itself: a Styler's text form names its memory address, which
    changes on every run, and replayed outputs must be identical to the committed ones.
    """

    def __init__(self, frame: pd.DataFrame, html: str) -> None:
        self.frame = frame
        self._html = html

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self.frame.to_string()


def styled(frame: pd.DataFrame, *, caption: str = "") -> StyledTable:
    """A table with its severity cells coloured (the chart's colours), for reading."""
    from ..scan.charts import SEVERITY_COLOURS

    def colour(value: object) -> str:
        background = SEVERITY_COLOURS.get(str(value))
        if not background:
            return ""
        text = "white" if str(value) in ("CRITICAL", "HIGH", "LOW") else "black"
        return f"background-color: {background}; color: {text}; font-weight: bold"

    style = frame.style.set_uuid("course-09")
    if "severity" in frame.columns:
        style = style.map(colour, subset=["severity"])
    if caption:
        style = style.set_caption(caption)
    return StyledTable(frame, style.to_html())


def python_findings(result: ScanResult, *, severities: tuple[str, ...] = ("CRITICAL", "HIGH")
                    ) -> pd.DataFrame:
    """The findings in Python packages at the given severities (what the checks look at)."""
    frame = result.to_frame()
    return frame[(frame["type"] == "python") & frame["severity"].isin(severities)]


def _pins(name: str) -> dict[str, tuple[str, str]]:
    """PEP 503 name -> (name as written, pinned version) of a requirements file."""
    pins = {}
    for key, line in parse_requirements(requirements_path(name).read_text(encoding="utf-8"),
                                        file=name).items():
        written, _, version = line.text.partition("==")
        pins[key] = (written.strip(), version.strip())
    return pins


def _highest(fixes: list[str]) -> str:
    versions = []
    for text in fixes:
        try:
            versions.append((Version(text), text))
        except InvalidVersion:
            continue
    return max(versions)[1] if versions else ""


def pins_table(result: ScanResult, *, old: str = OLD_PINS, new: str = BUMPED_PINS
               ) -> pd.DataFrame:
    """Each package of either requirements file: its old pin, its bumped pin, how many findings
    the scan of the old image had for it, the highest fixed version those name, and whether
    the bumped pin reaches it."""
    before, after = _pins(old), _pins(new)
    fixes: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for finding in result.findings:
        if finding.type != "python":
            continue
        key = canonicalize_name(finding.package)
        counts[key] = counts.get(key, 0) + 1
        fixes.setdefault(key, []).extend(v.strip() for v in finding.fixed.split(",") if v.strip())
    rows = []
    for key in list(dict.fromkeys([*before, *after])):
        name = (after.get(key) or before.get(key))[0]
        highest = _highest(fixes.get(key, []))
        bumped = after.get(key, ("", ""))[1]
        try:
            reaches = bool(highest) and bool(bumped) and Version(bumped) >= Version(highest)
        except InvalidVersion:
            reaches = False
        rows.append({"package": name, old: before.get(key, ("", "—"))[1],
                     new: bumped or "—", "findings before": counts.get(key, 0),
                     "highest fix named": highest or "—",
                     "bumped pin reaches it": ("yes" if reaches else "NO") if highest else "—"})
    return pd.DataFrame(rows).set_index("package")


@action
def compare_scans(before: ScanResult, after: ScanResult) -> Comparison:
    """Fixed, still open and new findings between two scans, like ``docker scout compare``."""
    journal.record(f"docker scout compare --to {before.target} {after.target}"
                   + _not_run("docker scout"))
    return compare(before, after)


def counts_frame(**results: ScanResult) -> pd.DataFrame:
    """Findings per severity, one column per named result (for the before/after chart)."""
    return pd.DataFrame({name: result.severity_counts() for name, result in results.items()})


@action
def scanner_table(image: str) -> pd.DataFrame:
    """Is Docker Scout, Trivy or Grype installed here? Its version, the command that would
    scan ``image`` into a report the course reads, and what the tool needs."""
    journal.record("docker scout version")
    journal.record("trivy --version")
    journal.record("grype version")
    rows = []
    for status in available_scanners():
        suffix = "sarif" if status.name == "docker scout" else "json"
        command = scanner_command(status.name, Path(f"report.{suffix}"), image=image)
        rows.append({"tool": status.name, "installed": status.available,
                     "version": status.version or "—", "command": " ".join(command),
                     "what it needs": status.explanation or "ready"})
    return pd.DataFrame(rows).set_index("tool")


@dataclass
class SavedReports:
    """Three tools' reports of one image, read into the one findings table."""

    stem: str
    findings: pd.DataFrame  # the findings table plus a "tool" column
    summary: pd.DataFrame  # tool x severity counts

    def of(self, package: str) -> pd.DataFrame:
        """What each tool says about one package (any spelling of its name)."""
        wanted = canonicalize_name(package)
        rows = self.findings[self.findings["package"].map(canonicalize_name) == wanted]
        return rows[["tool", "severity", "id", "package", "installed", "fixed"]].reset_index(
            drop=True)


@action
def read_saved_reports(stem: str = "course-app-before") -> SavedReports:
    """Read ``data/reports/<stem>.*`` (Docker Scout SARIF, Trivy JSON, Grype JSON): the same
    table whichever tool wrote the file."""
    frames, summary = [], {}
    for tool, suffix in REPORT_SUFFIXES.items():
        path = SAMPLE_REPORTS / f"{stem}.{suffix}"
        journal.record(f"python -m helpers report {path.relative_to(settings.PROJECT_ROOT)}")
        result = read_report(path)
        frames.append(result.to_frame().assign(tool=tool))
        summary[tool] = result.summary
    findings = pd.concat(frames, ignore_index=True)
    return SavedReports(stem=stem, findings=findings,
                        summary=pd.DataFrame(summary).T.rename_axis("tool"))


@action
def compare_saved(before: str = "course-app-before", after: str = "course-app-partial",
                  suffix: str = "trivy.json") -> Comparison:
    """A comparison of two saved reports (any tools, even two different ones)."""
    paths = [SAMPLE_REPORTS / f"{name}.{suffix}" for name in (before, after)]
    for path in paths:
        journal.record(f"python -m helpers report {path.relative_to(settings.PROJECT_ROOT)}")
    return compare(*paths)


@dataclass
class TerminalRun(FactsView):
    """A command run in a terminal: its exit code, how long it took, what it printed."""

    command: str
    exit_code: int
    seconds: float
    output: str


@action
def terminal_scan(target: str, *options: str) -> TerminalRun:
    """Run ``python -m helpers scan TARGET [OPTIONS]`` as a separate process, as from a terminal
    (the same scanner as :func:`scan_image`, with its start-up time included)."""
    import subprocess
    import sys
    import time

    arguments = ["scan", target, *options]
    shown = "python -m helpers " + " ".join(arguments)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "helpers", *arguments], capture_output=True,
                          text=True, cwd=settings.PROJECT_ROOT, timeout=300, check=False)
    seconds = round(time.perf_counter() - started, 2)
    journal.record(shown, ok=done.returncode == 0, seconds=seconds)
    return TerminalRun(command=shown, exit_code=done.returncode, seconds=seconds,
                       output=(done.stdout + done.stderr).rstrip())


@dataclass
class SbomExport(FactsView):
    """Where the SBOM was written and what it holds."""

    file: str
    format: str
    components: int
    python_packages: int
    os_packages: int
    valid: bool
    problem: str = ""


def sbom_path(reference: str) -> Path:
    """SBOMs go to the course's state folder, not into the repository."""
    return settings.state_dir() / "sbom" / f"{_stem(reference)}.cdx.json"


@action
def export_sbom(result: ScanResult) -> SbomExport:
    """Write the scanned image's packages as a CycloneDX 1.6 JSON SBOM and validate it."""
    from ..scan.sbom import validation_errors

    path = sbom_path(result.target)
    write_sbom(result.packages, path, image=result.target,
               timestamp=dt.datetime.now(dt.UTC).replace(microsecond=0))
    journal.record(f"python -m helpers scan {result.target} --sbom {path.name}")
    journal.record(f"trivy image --format cyclonedx --output {path.name} {result.target}"
                   + _not_run("trivy"))
    problem = validation_errors(path.read_text(encoding="utf-8"))
    kinds = [p.type for p in result.packages]
    return SbomExport(file=path.name, format="CycloneDX 1.6 (JSON)", components=len(kinds),
                      python_packages=kinds.count("python"),
                      os_packages=kinds.count("os"), valid=problem is None,
                      problem=problem or "")


@action
def sbom_components(export: SbomExport, *, kind: str = "python") -> pd.DataFrame:
    """Name, version and package URL of the SBOM's components of one type (read back from
    the file, so what is shown is what was written)."""
    import json

    document = json.loads((settings.state_dir() / "sbom" / export.file).read_text())
    rows = []
    for component in document.get("components", []):
        properties = {p["name"]: p["value"] for p in component.get("properties", [])}
        if properties.get("docker-course:type") == kind:
            rows.append({"name": component["name"], "version": component.get("version", ""),
                         "purl": component.get("purl", "")})
    return pd.DataFrame(rows, columns=["name", "version", "purl"]).sort_values(
        "name", key=lambda s: s.str.lower()).reset_index(drop=True)
