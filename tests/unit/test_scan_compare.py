"""Before/after comparison: fixed, still open, new."""

from __future__ import annotations

from pathlib import Path

from helpers.scan.compare import STATUSES, compare
from helpers.scan.model import Finding, ScanResult

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "reports"


def row(vuln: str, package: str, installed: str, severity: str = "HIGH",
        aliases: tuple[str, ...] = ()) -> Finding:
    return Finding(id=vuln, aliases=list(aliases), severity=severity, package=package,
                   type="python", installed=installed)


def test_fixed_still_open_new() -> None:
    before = ScanResult(target="v1", findings=[
        row("CVE-1", "Flask", "2.0.1"), row("CVE-2", "requests", "2.26.0", "MEDIUM"),
        row("GHSA-xxxx", "urllib3", "1.26.6", "LOW", aliases=("CVE-9",))])
    after = ScanResult(target="v2", findings=[
        row("CVE-2", "Requests", "2.31.0", "MEDIUM"),  # PEP 503: same project
        row("CVE-9", "urllib3", "1.26.7", "LOW"),  # another tool's id for the same issue
        row("CVE-3", "PyMySQL", "1.0.2", "CRITICAL")])
    comparison = compare(before, after)
    table = comparison.table
    assert comparison.counts == {"fixed": 1, "still open": 2, "new": 1}
    assert list(table["status"].cat.categories) == list(STATUSES)
    still = table[table["id"] == "CVE-2"].iloc[0]
    assert (still["installed_before"], still["installed_after"]) == ("2.26.0", "2.31.0")
    assert table.iloc[0]["id"] == "CVE-1" and table.iloc[0]["status"] == "fixed"
    assert int(comparison.by_severity().loc["new", "CRITICAL"]) == 1
    assert comparison.describe() == "v1 -> v2: 1 fixed, 2 still open, 1 new."


def test_compare_reads_report_paths() -> None:
    comparison = compare(SAMPLES / "course-app-before.trivy.json",
                         SAMPLES / "course-app-after.grype.json")
    assert comparison.counts["new"] == 0 and comparison.counts["still open"] == 0
    assert comparison.counts["fixed"] > 0


def test_compare_two_empty_scans() -> None:
    comparison = compare(ScanResult(target="a"), ScanResult(target="b"))
    assert comparison.table.empty
    assert comparison.counts == {"fixed": 0, "still open": 0, "new": 0}
