"""The one findings table every vulnerability source is turned into.

Trivy, Grype, Docker Scout and the built-in scanner each name the same things differently
(``Severity`` / ``severity`` / ``cvssV3_severity``, ``InstalledVersion`` / ``artifact.version`` /
``affected_version`` ...). Notebooks, charts and the before/after comparison should not care which
tool produced a row, so every adapter returns the same :class:`Finding` rows inside a
:class:`ScanResult`, whose JSON form is fixed:
``{"findings": [{id, aliases, severity, package, type, installed, fixed, layer, source}],
"summary": {"CRITICAL": n, "HIGH": n, "MEDIUM": n, "LOW": n, "UNKNOWN": n}}``, plus
``"coverage"`` (what was judged, see :mod:`helpers.scan.coverage`) when the scan knows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .coverage import Coverage

#: Worst first: the order of every table, chart and summary.
SEVERITIES: tuple[str, ...] = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")

#: Each tool's own words for a severity, mapped onto the five we show.
_SEVERITY_SYNONYMS = {
    "MODERATE": "MEDIUM",  # GitHub advisories
    "IMPORTANT": "HIGH",  # Red Hat
    "NEGLIGIBLE": "LOW",  # Grype, Debian: below low, still worth a row
    "UNIMPORTANT": "LOW",  # Debian security tracker
    "INFO": "LOW",
    "INFORMATIONAL": "LOW",
    "UNSPECIFIED": "UNKNOWN",  # Docker Scout
    "UNASSIGNED": "UNKNOWN",
    "NOT YET ASSIGNED": "UNKNOWN",
    "": "UNKNOWN",
}

FINDING_FIELDS: tuple[str, ...] = (
    "id", "aliases", "severity", "package", "type", "installed", "fixed", "layer", "source",
)


def normalize_severity(value: object) -> str:
    """One of :data:`SEVERITIES` for any tool's severity word (case-insensitive).

    Unknown words become ``UNKNOWN`` rather than an error: a report with a severity label we
    have never seen is still worth reading.
    """
    text = str(value or "").strip().upper()
    if text in SEVERITIES:
        return text
    return _SEVERITY_SYNONYMS.get(text, "UNKNOWN")


def severity_from_score(score: float | str | None) -> str:
    """The CVSS v3 qualitative rating of a base score (0.1-3.9 LOW ... 9.0-10 CRITICAL).

    Used where a report gives only a number (SARIF ``security-severity``). A score of 0.0 is
    rated LOW: it was scored, just at the bottom.
    """
    try:
        number = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "UNKNOWN"
    if number >= 9.0:
        return "CRITICAL"
    if number >= 7.0:
        return "HIGH"
    if number >= 4.0:
        return "MEDIUM"
    if number >= 0.0:
        return "LOW"
    return "UNKNOWN"


def severity_rank(severity: str) -> int:
    """0 for CRITICAL ... 4 for UNKNOWN: sorting key, worst first."""
    return SEVERITIES.index(normalize_severity(severity))


@dataclass(kw_only=True)
class Finding:
    """One vulnerability in one installed package, whatever tool found it.

    ``type`` is ``os`` for distribution packages (dpkg, apk, rpm) or the language ecosystem
    (``python``, ``javascript``, ``go`` ...). ``fixed`` is empty when no fixed version exists;
    ``layer`` is the layer diff_id (or build step) that brought the package in, when known.
    """

    id: str
    aliases: list[str] = field(default_factory=list)
    severity: str
    package: str
    type: str = "os"
    installed: str
    fixed: str = ""
    layer: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        self.severity = normalize_severity(self.severity)
        self.aliases = [a for a in dict.fromkeys(self.aliases) if a and a != self.id]

    def to_dict(self) -> dict[str, Any]:
        """The row in the fixed JSON field order."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["aliases"] = list(values.get("aliases") or [])
        for text_field in ("id", "severity", "package", "installed", "type", "fixed", "layer",
                           "source"):
            values[text_field] = "" if values.get(text_field) is None else str(
                values.get(text_field, ""))
        values["type"] = values["type"] or "os"
        return cls(**values)

    def key(self) -> tuple[str, str, str, str]:
        """What makes two rows the same finding: id, package, installed version, type."""
        return (self.id, self.package, self.installed, self.type)

    def ids(self) -> set[str]:
        """The id and every alias: two tools may name one issue by a CVE or a GHSA id."""
        return {self.id, *self.aliases}


@dataclass(frozen=True)
class Package:
    """One installed package found in an image's own files (dpkg, apk, Python metadata).

    ``ecosystem`` is the OSV ecosystem the advisories use (``PyPI``, ``Debian:12``,
    ``Alpine:v3.19``; a bare ``Debian`` when the release is unknown). Debian advisories are
    filed per *source* package, so the source name and version are kept next to the binary ones.
    ``requires`` lists (PEP 503 names) what a Python package says it needs (``Requires-Dist``,
    extras left out): it tells a direct requirement from one pulled in "via" another package.
    """

    name: str
    version: str
    type: str
    ecosystem: str
    purl: str = ""
    location: str = ""
    layer: str = ""
    layer_index: int = -1
    step: str = ""
    source_name: str = ""
    source_version: str = ""
    requires: tuple[str, ...] = ()


def summarize(findings: Iterable[Finding]) -> dict[str, int]:
    """Counts per severity, all five keys always present (a chart needs the zero bars too)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[normalize_severity(finding.severity)] += 1
    return counts


@dataclass
class ScanResult:
    """The findings of one scan (or one saved report) and what was scanned.

    ``target`` names the image or report; ``notes`` carry sentences a notebook should show
    (for example "nothing to inventory"); ``packages`` is the inventory when the built-in
    scanner produced the result (it feeds the SBOM export), else empty. ``coverage`` says what
    was judged against which advisory source (None for a tool's report: its scope is the
    tool's). ``base_image`` and ``base_layers`` name the image's base and how many of its
    first layers came from it, when known (``-1``: unknown).
    """

    target: str
    findings: list[Finding] = field(default_factory=list)
    source: str = ""
    notes: list[str] = field(default_factory=list)
    packages: list[Package] = field(default_factory=list)
    coverage: Coverage | None = None
    base_image: str = ""
    base_layers: int = -1

    @property
    def summary(self) -> dict[str, int]:
        return summarize(self.findings)

    def to_json(self) -> dict[str, Any]:
        """``{"findings": [...], "summary": {...}}``, then ``"coverage": {...}`` when the scan
        knows what it judged: the shape other tools can rely on."""
        document: dict[str, Any] = {"findings": [f.to_dict() for f in self.findings],
                                    "summary": self.summary}
        if self.coverage is not None:
            document["coverage"] = self.coverage.to_json()
        return document

    def sorted_findings(self) -> list[Finding]:
        """Worst first, then by package and id, so tables read the same on every run."""
        return sorted(self.findings,
                      key=lambda f: (severity_rank(f.severity), f.package.lower(), f.id,
                                     f.installed))

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame in the schema's column order, severity as an ordered category."""
        return findings_frame(self.sorted_findings())

    def severity_counts(self) -> pd.Series:
        """Counts per severity in the order of :data:`SEVERITIES` (ready for a bar chart)."""
        import pandas as pd

        summary = self.summary
        return pd.Series([summary[s] for s in SEVERITIES],
                         index=pd.Index(SEVERITIES, name="severity"), name="findings")

    def headline(self) -> str:
        """The count of findings with its scope, in one sentence.

        With a coverage: ``app: 20 findings (…) in 15 python packages judged against …; 118
        dpkg packages listed, not judged: …``, or ``app: no known vulnerabilities in the 15
        python packages judged against …``. A tool's report has no coverage: its count is
        said to be the tool's (``app: 0 findings reported by trivy``).
        """
        counts = ", ".join(f"{n} {s}" for s, n in self.summary.items() if n)
        found = f"{len(self.findings)} finding{'s' if len(self.findings) != 1 else ''}"
        if self.coverage is None:
            by = f" reported by {self.source}" if self.source else " in the report"
            return f"{self.target}: {found}{f' ({counts})' if counts else ''}{by}."
        coverage = self.coverage
        gaps = "; ".join(coverage.gaps())
        tail = f"; {gaps}" if gaps else ""
        if not coverage.judged:
            return (f"{self.target}: nothing judged ({coverage.listed} packages listed)"
                    f"{tail}.")
        if not self.findings:
            return f"{self.target}: no known vulnerabilities in the {coverage.scope()}{tail}."
        return f"{self.target}: {found} ({counts}) in the {coverage.scope()}{tail}."

    def describe(self) -> str:
        """The :meth:`headline` and the notes: what a notebook prints under the table."""
        return " ".join([self.headline(), *self.notes]).strip()


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Rows of the findings table; aliases shown as one comma-separated cell for reading."""
    import pandas as pd

    rows = []
    for finding in findings:
        row = finding.to_dict()
        row["aliases"] = ", ".join(finding.aliases)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(FINDING_FIELDS))
    frame["severity"] = pd.Categorical(frame["severity"], categories=list(SEVERITIES),
                                       ordered=True)
    return frame
