"""Before/after comparison of two scans, like ``docker scout compare``: fixed, still open, new.

After a rebuild (newer base image, upgraded requirements) the question is "what did that
change?". A finding is the same one in both scans when the package is the same (PEP 503 name
for Python, so ``Flask`` and ``flask`` agree) and the ids overlap: one tool may show the CVE and
another the GHSA id of the same issue. The installed version may differ: an upgrade that did not
reach the fixed version leaves the finding "still open" with both versions shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from packaging.utils import canonicalize_name

from .model import SEVERITIES, Finding, ScanResult, severity_rank

STATUSES: tuple[str, ...] = ("fixed", "still open", "new")
COLUMNS = ["status", "severity", "id", "package", "type", "installed_before", "installed_after",
           "fixed", "aliases"]


def _package_key(finding: Finding) -> tuple[str, str]:
    name = canonicalize_name(finding.package) if finding.type == "python" else finding.package
    return (finding.type, name)


def _as_result(value: ScanResult | str | Path) -> ScanResult:
    if isinstance(value, ScanResult):
        return value
    from .reports import read_report

    return read_report(value)


@dataclass
class Comparison:
    """The rows of a comparison plus the counts a notebook charts."""

    before: str
    after: str
    table: pd.DataFrame
    scope: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """Rows per status, every status present."""
        counts = self.table["status"].value_counts()
        return {status: int(counts.get(status, 0)) for status in STATUSES}

    def by_severity(self) -> pd.DataFrame:
        """Status x severity counts (rows fixed / still open / new, columns worst first)."""
        grid = pd.crosstab(self.table["status"], self.table["severity"], dropna=False)
        return grid.reindex(index=list(STATUSES), columns=list(SEVERITIES), fill_value=0)

    def describe(self) -> str:
        """``old -> new: 3 fixed, 17 still open, 1 new.``, then what both scans judged."""
        counts = self.counts
        text = (f"{self.before} -> {self.after}: {counts['fixed']} fixed, "
                f"{counts['still open']} still open, {counts['new']} new.")
        return f"{text} {self.scope}" if self.scope else text


def compare(before: ScanResult | str | Path, after: ScanResult | str | Path) -> Comparison:
    """Compare two scans (results or report paths) of two builds of an image."""
    old, new = _as_result(before), _as_result(after)
    unmatched_old = list(range(len(old.findings)))
    rows = []
    for finding in new.findings:
        partner = None
        for position, index in enumerate(unmatched_old):
            candidate = old.findings[index]
            if (_package_key(candidate) == _package_key(finding)
                    and candidate.ids() & finding.ids()):
                partner = candidate
                del unmatched_old[position]
                break
        rows.append(_row("still open" if partner else "new", finding,
                         before=partner.installed if partner else "",
                         after=finding.installed))
    for index in unmatched_old:
        finding = old.findings[index]
        rows.append(_row("fixed", finding, before=finding.installed, after=""))
    table = pd.DataFrame(rows, columns=COLUMNS)
    if not table.empty:
        table = table.assign(
            _status=table["status"].map(STATUSES.index),
            _severity=table["severity"].map(severity_rank),
        ).sort_values(["_status", "_severity", "package", "id"]).drop(
            columns=["_status", "_severity"]).reset_index(drop=True)
    table["status"] = pd.Categorical(table["status"], categories=list(STATUSES), ordered=True)
    table["severity"] = pd.Categorical(table["severity"], categories=list(SEVERITIES),
                                       ordered=True)
    return Comparison(before=old.target, after=new.target, table=table,
                      scope=_scope(old, new))


def _scope(old: ScanResult, new: ScanResult) -> str:
    """What the comparison can speak for: the judged scope of each scan (built-in scans carry
    a coverage; a tool's report does not, its scope is the tool's)."""
    scopes = []
    for label, result in (("before", old), ("after", new)):
        if result.coverage is None:
            continue
        gaps = "; ".join(result.coverage.gaps())
        scopes.append(f"{label}: {result.coverage.scope()}" + (f"; {gaps}" if gaps else ""))
    if not scopes:
        return ""
    if len(scopes) == 2 and scopes[0].split(": ", 1)[1] == scopes[1].split(": ", 1)[1]:
        return f"Both scans: {scopes[0].split(': ', 1)[1]}."
    return "Scope " + " | ".join(scopes) + "."


def _row(status: str, finding: Finding, *, before: str, after: str) -> dict[str, str]:
    return {
        "status": status,
        "severity": finding.severity,
        "id": finding.id,
        "package": finding.package,
        "type": finding.type,
        "installed_before": before,
        "installed_after": after,
        "fixed": finding.fixed,
        "aliases": ", ".join(finding.aliases),
    }
