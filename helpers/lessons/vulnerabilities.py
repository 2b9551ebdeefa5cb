"""Notebook 09: scan the app image, say what was judged and where each finding came from, fix,
rescan, compare, and run the real scanners when they can run.

Each function returns plain data (a :class:`~helpers.scan.ScanResult`, a DataFrame, a small
dataclass), records the commands a person would type, and replays from a recording when there
is no engine. The course's own scanning is the built-in offline scanner of
:mod:`helpers.scan`, whose results carry their coverage (per package type: listed, judged,
against which advisory source of which date); every sentence, chart title and check here
quotes it. Trivy and Grype run from their official images and Docker Scout from its CLI
plugin when they can (:func:`real_scans`); where they cannot, one line per tool says why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import catalog, charts, course, journal, settings
from ..charts.style import SEVERITY_COLOURS
from ..display import FactsView
from ..engine import images
from ..engine import scanners as scan_tools
from ..engine.build import BuildResult
from ..scan import (
    SAMPLE_REPORTS,
    Comparison,
    ScanResult,
    compare,
    read_report,
    write_sbom,
)
from ..scan.model import SEVERITIES
from ..scan.origins import base_split, origins_frame, package_of, parse_requirements
from ..scan.scanner import scan_source
from ..session import action

APP = "flask-app"
DOCKERFILE = settings.APPS_DIR / "flask-app" / "Dockerfile"
OLD_PINS = "requirements-2021.txt"
BUMPED_PINS = "requirements-bumped.txt"
#: Format examples, one per tool's format, written by the course (scripts/make_sample_reports.py)
#: from one synthetic scan: data/reports/<stem>.<suffix>. No tool produced them.
REPORT_SUFFIXES = {"Docker Scout": "scout.sarif", "Trivy": "trivy.json", "Grype": "grype.json"}
SERIOUS = ("CRITICAL", "HIGH")


def requirements_path(name: str = OLD_PINS) -> Path:
    return course.app_dir(APP) / name


def _stem(reference: str) -> str:
    """The file stem ``docker save`` examples use for an image: ``flask-app-09_2021``."""
    return reference.split("/")[-1].replace(":", "_")


def _not_run(tool: str) -> str:
    """The comment that marks a command shown for comparison, not run by this cell."""
    status = scan_tools.scanner_status(tool)
    title = scan_tools.TOOLS[tool].title
    if status.available:
        return f"  # {title}: not run by this cell"
    return f"  # {title}: not run here, {_short(status.explanation)}"


def _short(reason: str) -> str:
    """The head of a one-line reason, for a comment after a command."""
    for mark in (" (", ": "):
        reason = reason.split(mark, 1)[0]
    return reason


def _diff_ids(reference: str) -> list[str]:
    from ..engine.registry import diff_ids

    return diff_ids(reference) if images.inspect(reference) is not None else []


def find_base(reference: str, candidates: list[str] | None = None) -> tuple[str, int]:
    """(base image, its layer count) for an image built on one of ``candidates`` (default: the
    course's Python image, official or stand-in), told by its layers being the image's first
    ones; ("", -1) when none is. The same idea as Docker Scout's base image detection, without
    provenance: layers are content digests, so a prefix match is exact."""
    wanted = candidates or [catalog.get("python").official, catalog.get("python").standin]
    layers = _diff_ids(reference)
    for candidate in wanted:
        base_layers = _diff_ids(candidate)
        if base_layers and layers[:len(base_layers)] == base_layers and \
                len(base_layers) < len(layers):
            journal.record(f"docker image inspect --format '{{{{json .RootFS.Layers}}}}' "
                           f"{candidate}")
            return candidate, len(base_layers)
    return "", -1


@action
def build_app(tag: str, requirements: str = OLD_PINS) -> BuildResult:
    """Build the message board with a chosen requirements file of the flask-app folder.

    It is the app's own Dockerfile with the ``REQUIREMENTS`` build argument, so the code is the
    same as everywhere else in the course; only the pinned versions differ.
    """
    return course.build_image(tag, context=course.app_dir(APP),
                              build_args={"REQUIREMENTS": requirements})


@action
def scan_image(reference: str, *, base: str | None = None) -> ScanResult:
    """The built-in scanner on an image of the engine: ``docker save`` streamed, never unpacked.

    The result carries its coverage (per package type: listed, judged, advisory source and
    date) and the image's base (``base``, else found by :func:`find_base`) with its layer
    count, so base-image findings can be told from the app's. Shows the command of the
    course's scanner and, marked as not run, Docker Scout's.
    """
    result = scan_source(images.export_stream(reference), target=reference)
    result.base_image, result.base_layers = find_base(reference, [base] if base else None)
    stem = _stem(reference)
    journal.record(f"python -m helpers scan {stem}.tar --json")
    journal.record(f"docker scout cves --format sarif --output {stem}.sarif local://{reference}"
                   + _not_run("docker scout"))
    return result


def coverage_table(result: ScanResult) -> pd.DataFrame:
    """What the scan judged, one row per package type: ecosystem, packages listed, judged and
    not judged (counts), the advisory source, the date of its data, and why the rest was not
    judged. Empty for a result without coverage (a tool's report)."""
    if result.coverage is None:
        from ..scan.coverage import COLUMNS

        return pd.DataFrame(columns=COLUMNS)
    return result.coverage.to_frame()


def scope_line(*results: ScanResult, labels: tuple[str, ...] = ()) -> str:
    """The short scope a chart title carries: ``judged: 15 python (PyPA + GitHub advisories of
    2024-09-13) · not judged: 118 dpkg``; for several scans the counts side by side
    (``15 | 17 python``), named by ``labels`` (``judged (before | after): …``)."""
    kinds = list(dict.fromkeys(r.kind for res in results if res.coverage is not None
                               for r in res.coverage.rows))
    if not kinds:
        return "as reported by " + " | ".join(r.source or "the tool" for r in results)

    def counts(kind: str, attribute: str) -> str:
        values = []
        for result in results:
            row = result.coverage.row(kind) if result.coverage is not None else None
            values.append(str(getattr(row, attribute) if row else 0))
        return " | ".join(values)

    def any_of(kind: str, attribute: str) -> bool:
        rows = [res.coverage.row(kind) for res in results if res.coverage is not None]
        return any(getattr(row, attribute) for row in rows if row is not None)

    judged = [f"{counts(k, 'judged')} {k}" for k in kinds if any_of(k, "judged")]
    unjudged = [f"{counts(k, 'not_judged')} {k}" for k in kinds if any_of(k, "not_judged")]
    sources = dict.fromkeys(r.source.replace(" Advisory Database", "") for res in results
                            if res.coverage is not None for r in res.coverage.rows if r.judged)
    dates = dict.fromkeys(res.coverage.as_of for res in results if res.coverage is not None)
    named = f" ({' | '.join(labels)})" if labels else ""
    text = f"judged{named}: " + (", ".join(judged) or "nothing")
    if sources:
        text += f" ({'; '.join(sources)} advisories of {', '.join(dates)})"
    return text + (f" · not judged{named}: " + ", ".join(unjudged) if unjudged else "")


def severity_chart(result: ScanResult, *, label: str = ""):
    """Findings per severity (count) of one scan, its scope in the title."""
    name = label or result.target
    return charts.severity_chart(result.severity_counts(),
                 title=f"Findings per severity (count): {name}\n{_lines(scope_line(result))}")


def before_after_chart(before: ScanResult, after: ScanResult, *, title: str = ""):
    """Findings per severity (count), before and after, the two scans' scope in the title
    (counts as ``before | after``)."""
    heading = title or "Findings per severity (count), before and after"
    return charts.before_after_chart(counts_frame(before=before, after=after),
                 title=heading + "\n" + _lines(scope_line(before, after,
                                                           labels=("before", "after"))))


def status_chart(comparison: Comparison, *, title: str = "What the change did"):
    """Fixed, still open and new findings (count) of a comparison, split by severity; the
    comparison's scope, when it has one, under the title."""
    heading = title + (f"\n{_wrap(comparison.scope)}" if comparison.scope else "")
    return charts.status_chart(comparison.by_severity(), title=heading)


def _lines(scope: str) -> str:
    """A scope line as title lines: what was judged, then what was not."""
    return "\n".join(_wrap(part) for part in scope.split(" · "))


def _wrap(text: str, width: int = 84) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


@action
def where_from(result: ScanResult, *, base: str | None = None, requirements: str = OLD_PINS
               ) -> pd.DataFrame:
    """One row per finding: the layer and Dockerfile step that added the package, the line of
    the requirements file that names it, and whether it is there directly, via another package
    (its ``Requires-Dist``), or from the base image (``base``, else the one the scan found)."""
    base = base or result.base_image
    base_layers = images.require(base).layers if base else max(result.base_layers, 0)
    journal.record(f"docker history --no-trunc {result.target}")
    if base:
        journal.record(f"docker image inspect --format '{{{{len .RootFS.Layers}}}}' {base}")
    text = requirements_path(requirements).read_text(encoding="utf-8")
    return origins_frame(result, requirements={requirements: text}, base_layers=base_layers,
                         base=base)


@action
def base_and_yours(result: ScanResult) -> pd.DataFrame:
    """Findings per severity in the base image's layers and in the image's own: the course's
    layer attribution doing what ``docker scout cves --only-base`` / ``--ignore-base`` do.
    The Scout commands are shown, marked as not run by this cell."""
    journal.record(f"docker scout cves --only-base local://{result.target}"
                   + _not_run("docker scout"))
    journal.record(f"docker scout cves --ignore-base local://{result.target}"
                   + _not_run("docker scout"))
    return base_split(result)


@dataclass
class ScopeCheck(FactsView):
    """The rebuilt image's verdict, within what was judged.

    ``passed`` is True only when something was judged and no finding at ``severities`` sits
    in the image's own layers (what its requirements installed). ``in_base`` lists the serious
    findings of the base image's layers: a newer base fixes those, not the pins.
    """

    image: str
    judged: int
    scope: str
    not_judged: str
    severities: str
    in_your_layers: list[str]
    in_base: list[str]
    passed: bool

    def success(self) -> str:
        base = (f" The base image still brings {len(self.in_base)}: "
                f"{', '.join(self.in_base)} (a newer base fixes those, not your pins)."
                if self.in_base else "")
        return (f"No {self.severities} finding in your layers of {self.image}, within the "
                f"{self.scope}.{base} Not judged, so not covered by this check: "
                f"{self.not_judged or 'nothing'}.")

    def failure(self) -> str:
        if not self.judged:
            return f"Nothing was judged in {self.image}: this check cannot say anything."
        return (f"{self.image} still has {self.severities} findings in your layers: "
                f"{', '.join(self.in_your_layers)}.")


def scope_check(result: ScanResult, *, severities: tuple[str, ...] = SERIOUS) -> ScopeCheck:
    """Check a scan on what it judged: no finding at ``severities`` in the image's own layers.

    Findings only exist for judged packages, so the check is exactly as wide as the coverage,
    and it says so; base-image findings are listed, not hidden.
    """
    coverage = result.coverage
    base_layers = max(result.base_layers, 0)
    mine: list[str] = []  # labels of the findings in the image's own layers
    base: list[str] = []
    for finding in result.sorted_findings():
        if finding.severity not in severities:
            continue
        package = package_of(finding, result.packages)
        label = f"{finding.package} {finding.installed} {finding.id} ({finding.severity})"
        (base if package is not None and package.layer_index < base_layers else mine
         ).append(label)
    judged = coverage.judged if coverage is not None else 0
    return ScopeCheck(
        image=result.target, judged=judged,
        scope=coverage.scope() if coverage is not None else "report of " + result.source,
        not_judged="; ".join(coverage.gaps()) if coverage is not None else "unknown",
        severities=" or ".join(severities), in_your_layers=mine, in_base=base,
        passed=judged > 0 and not mine)


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


def python_findings(result: ScanResult, *, severities: tuple[str, ...] = SERIOUS
                    ) -> pd.DataFrame:
    """The findings in Python packages at the given severities (rows of the findings table)."""
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
        key = str(canonicalize_name(finding.package))
        counts[key] = counts.get(key, 0) + 1
        fixes.setdefault(key, []).extend(v.strip() for v in finding.fixed.split(",") if v.strip())
    rows = []
    for key in list(dict.fromkeys([*before, *after])):
        name = (after.get(key) or before[key])[0]
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
    """Fixed, still open and new findings between two scans, like ``docker scout compare``;
    its ``scope`` says what both scans judged."""
    journal.record(f"docker scout compare --to local://{before.target} local://{after.target}"
                   + _not_run("docker scout"))
    return compare(before, after)


def counts_frame(**results: ScanResult) -> pd.DataFrame:
    """Findings per severity, one column per named result (for the before/after chart)."""
    return pd.DataFrame({name: result.severity_counts() for name, result in results.items()})


@dataclass
class RealScans:
    """Trivy, Grype and Docker Scout on one image, next to the built-in scanner.

    ``runs`` holds one :class:`~helpers.engine.scanners.ToolRun` per tool (ran, or the one-line
    reason it did not); ``built_in`` the course's own scan of the same image.
    """

    image: str
    runs: list[scan_tools.ToolRun]
    built_in: ScanResult | None = None

    @property
    def ran(self) -> list[str]:
        """Titles of the tools that ran."""
        return [run.title for run in self.runs if run.ran]

    def status(self) -> pd.DataFrame:
        """One row per tool: ran or not, the image or plugin, findings, seconds, and the
        one-line reason when it did not run."""
        rows = [{"tool": run.title, "ran": "yes" if run.ran else "no",
                 "image": run.image or "CLI plugin",
                 "findings": len(run.result.findings) if run.result else "—",
                 "seconds": run.seconds if run.ran else "—",
                 "why not": run.reason} for run in self.runs]
        return pd.DataFrame(rows).set_index("tool")

    def lines(self) -> str:
        """One line per tool, for printing."""
        return "\n".join(run.line() for run in self.runs)

    def describe(self) -> str:
        """What ran and how the tools compare, in a few sentences; says plainly when nothing
        ran, so nothing was measured and nothing is compared."""
        ran = [run for run in self.runs if run.ran and run.result is not None]
        if not ran:
            return ("No scanner ran here (the table above says why, one line per tool): "
                    "nothing was measured, so nothing is compared. This notebook's verdict is "
                    "the built-in scan's, within its coverage.")
        parts = []
        for run in ran:
            assert run.result is not None
            counts = ", ".join(f"{n} {s}" for s, n in run.result.summary.items() if n)
            parts.append(f"{run.title}: {len(run.result.findings)} findings"
                         + (f" ({counts})" if counts else "")
                         + (f", {run.database}" if run.database else ""))
        differ = len(self.differences())
        return ("; ".join(parts) + f". {differ} (advisory, package) pairs are reported "
                "differently by the tools that ran (table below).")

    def _results(self) -> dict[str, ScanResult]:
        found = {run.title: run.result for run in self.runs if run.ran and run.result}
        if self.built_in is not None and found:
            found = {"built-in": self.built_in, **found}
        return found

    def findings(self) -> pd.DataFrame:
        """Every tool's rows in the one findings table, with a ``tool`` column (empty when no
        tool ran)."""
        frames = [result.to_frame().assign(tool=tool)
                  for tool, result in self._results().items()]
        if not frames:
            return pd.DataFrame(columns=["tool", *FINDING_VIEW])
        return pd.concat(frames, ignore_index=True)[["tool", *FINDING_VIEW]]

    def summary(self) -> pd.DataFrame:
        """Findings per severity (count), one row per tool that ran (and the built-in)."""
        results = self._results()
        return pd.DataFrame({tool: r.summary for tool, r in results.items()},
                            index=list(SEVERITIES)).T.rename_axis("tool")

    def differences(self) -> pd.DataFrame:
        """Where the tools differ: one row per (advisory, package), the severity each tool
        gave it (``—``: that tool did not report it) and whether a fix is named. Rows that
        every tool reports with one severity are left out. Empty when fewer than two ran."""
        results = self._results()
        if len(results) < 2:
            return pd.DataFrame(columns=["id", "package"])
        table: dict[tuple[str, str], dict[str, str]] = {}
        for tool, result in results.items():
            for finding in result.findings:
                key = (_issue_id(finding, results), canonicalize_name(finding.package))
                table.setdefault(key, {})[tool] = finding.severity + (
                    "" if finding.fixed else " (no fix)")
        rows = []
        for (issue, package), seen in sorted(table.items()):
            values = [seen.get(tool, "—") for tool in results]
            if len(set(values)) > 1:
                rows.append({"id": issue, "package": package,
                             **dict(zip(results, values, strict=True))})
        return pd.DataFrame(rows, columns=["id", "package", *results])


def _issue_id(finding, results: dict[str, ScanResult]) -> str:
    """The CVE id of a finding when it or an alias has one: tools name one issue differently."""
    for candidate in [finding.id, *finding.aliases]:
        if candidate.startswith("CVE-"):
            return candidate
    return finding.id


@action
def real_scans(reference: str, *, built_in: ScanResult | None = None,
               via: str = "socket") -> RealScans:
    """Run Trivy and Grype (official images, pinned tags) and Docker Scout (CLI plugin) on an
    image of the engine, each only when it can run here: its image can be pulled (or is
    present), its plugin is installed and logged in. ``via`` is ``socket`` (the engine's
    socket mounted into the tool) or ``archive`` (a ``docker save`` file). Never raises for a
    tool that cannot run: its row says why, in one line."""
    runs = [scan_tools.run_tool(name, reference, via=via) for name in scan_tools.SCANNERS]
    for run in runs:
        if not run.ran:
            shown = scan_tools.scanner_command(run.tool, reference,
                                               socket=scan_tools.engine_socket(),
                                               report=f"{_stem(reference)}.sarif")
            journal.record(" ".join(shown) + f"  # {run.title}: not run, {_short(run.reason)}")
    return RealScans(image=reference, runs=runs, built_in=built_in)


def tool_facts(result: ScanResult | None = None) -> pd.DataFrame:
    """Why tools disagree, from their documentation: each tool's database, where its severity
    comes from, what it does with issues that have no fix yet, and its VEX support; the
    built-in scanner's row quotes ``result``'s coverage."""
    rows = [{"tool": tool.title, "database": tool.database, "severity from": tool.severity,
             "no fix yet": tool.unfixed, "VEX": tool.vex} for tool in scan_tools.TOOLS.values()]
    built_in = dict(scan_tools.BUILT_IN_FACTS)
    if result is not None and result.coverage is not None:
        built_in["database"] = (f"{result.coverage.snapshot}: {result.coverage.scope()}; "
                                + "; ".join(result.coverage.gaps()))
    rows.append({"tool": "built-in (this course)", "database": built_in["database"],
                 "severity from": built_in["severity"], "no fix yet": built_in["unfixed"],
                 "VEX": built_in["vex"]})
    return pd.DataFrame(rows).set_index("tool")


@dataclass
class SavedReports:
    """Format examples in three tools' formats, read into the one findings table.

    The course wrote them (``scripts/make_sample_reports.py``) from one synthetic scan: they
    show how each format reads, and equal rows show the readers work, not that tools agree.
    """

    stem: str
    findings: pd.DataFrame  # the findings table plus a "format" column
    summary: pd.DataFrame  # format x severity counts
    origin: str = ("format examples made by the course (scripts/make_sample_reports.py) from "
                   "one synthetic scan: no tool ran")

    def of(self, package: str) -> pd.DataFrame:
        """How each format's file names one package (any spelling of its name)."""
        wanted = canonicalize_name(package)
        rows = self.findings[self.findings["package"].map(canonicalize_name) == wanted]
        return rows[["format", "severity", "id", "package", "installed", "fixed"]].reset_index(
            drop=True)


@action
def read_saved_reports(stem: str = "course-app-before") -> SavedReports:
    """Read the format examples ``data/reports/<stem>.*`` (Docker Scout SARIF, Trivy JSON,
    Grype JSON, all written by the course): the same table whichever format the file is in."""
    frames, summary = [], {}
    for tool, suffix in REPORT_SUFFIXES.items():
        path = SAMPLE_REPORTS / f"{stem}.{suffix}"
        journal.record(f"python -m helpers report {path.relative_to(settings.PROJECT_ROOT)}")
        result = read_report(path)
        label = f"{tool} format (example)"
        frames.append(result.to_frame().assign(format=label))
        summary[label] = result.summary
    findings = pd.concat(frames, ignore_index=True)
    return SavedReports(stem=stem, findings=findings,
                        summary=pd.DataFrame(summary).T.rename_axis("format"))


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
    """A command run in a terminal: its exit code, how long it took, what it printed, and with
    ``--json`` the ``coverage`` object of its JSON (per package type: listed, judged, source,
    date)."""

    command: str
    exit_code: int
    seconds: float
    output: str
    coverage: dict = field(default_factory=dict)


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
    coverage: dict = {}
    if "--json" in options:
        import json

        try:
            coverage = dict(json.loads(done.stdout).get("coverage") or {})
        except (ValueError, AttributeError):
            coverage = {}
    return TerminalRun(command=shown, exit_code=done.returncode, seconds=seconds,
                       output=(done.stdout + done.stderr).rstrip(), coverage=coverage)


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
    journal.record(f"docker run --rm -v /var/run/docker.sock:/var/run/docker.sock "
                   f"{scan_tools.TRIVY_IMAGE} image --format cyclonedx {result.target} "
                   f"> {path.name}" + _not_run("trivy"))
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
