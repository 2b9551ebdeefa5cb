"""Docker Scout SARIF (``docker scout cves --format sarif``) in and out of the findings table.

Scout puts the facts on each *rule*'s ``properties``: ``cvssV3_severity``, ``affected_version``,
``fixed_version`` and the affected package as a package URL, ``purl`` (older releases, one
string) or ``purls`` (newer releases, a list: one rule may cover several binary packages of one
source package). Results only say which rules fired. So a row is made per fired rule and
package URL; the package URL also tells the type (``pkg:pypi`` -> python, ``pkg:deb`` -> os).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files import write_json
from . import ecosystems, sarif
from .model import Finding, ScanResult, normalize_severity, severity_from_score

SOURCE = "docker scout"

#: Scout writes these instead of an empty fixed version.
_NO_FIX = {"", "not fixed", "<nil>", "none", "n/a"}


def looks_like_scout(run: dict[str, Any]) -> bool:
    """True for a SARIF run made by Docker Scout (by name, or by its rule property names)."""
    driver = run.get("tool", {}).get("driver", {})
    label = f"{driver.get('name', '')} {driver.get('fullName', '')}".lower()
    if "scout" in label:
        return True
    for rule in driver.get("rules") or []:
        properties = rule.get("properties") or {}
        if "cvssV3_severity" in properties or "affected_version" in properties:
            return True
    return False


def _purls(properties: dict[str, Any]) -> list[str]:
    value = properties.get("purls")
    if value is None:
        value = properties.get("purl")
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or []]


def _severity(properties: dict[str, Any]) -> str:
    """Scout's own rating when it gives one, UNSPECIFIED (-> UNKNOWN) included.

    Scout's summary counts an UNSPECIFIED vulnerability as unspecified even when the rule also
    carries a numeric ``security-severity``, so the number is only used when no rating word
    is there at all (neither ``cvssV3_severity`` nor a severity tag).
    """
    stated = str(properties.get("cvssV3_severity") or "").strip()
    if stated:
        return normalize_severity(stated)
    for tag in properties.get("tags") or []:
        if str(tag).strip().upper() in _SEVERITY_WORDS:
            return normalize_severity(tag)
    return severity_from_score(properties.get("security-severity"))


_SEVERITY_WORDS = frozenset({"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED", "UNKNOWN"})


def parse_scout_sarif(data: dict[str, Any], *, name: str = "") -> ScanResult:
    """Rows from a Scout SARIF report: one per fired rule and affected package URL."""
    findings: list[Finding] = []
    seen: set[tuple[str, ...]] = set()
    for run in data.get("runs") or []:
        rules = run.get("tool", {}).get("driver", {}).get("rules") or []
        for result in run.get("results") or []:
            if not sarif.is_problem(result):
                continue
            rule = sarif.rule_for(result, rules)
            properties = dict(rule.get("properties") or {})
            properties.update(result.get("properties") or {})
            vuln_id = str(rule.get("id") or result.get("ruleId", ""))
            fixed = str(properties.get("fixed_version") or "").strip()
            fixed = "" if fixed.lower() in _NO_FIX else fixed
            for text in _purls(properties) or [""]:
                purl = ecosystems.parse_purl(text) if text else None
                installed = (purl.version if purl and purl.version else
                             str(properties.get("affected_version") or ""))
                package = purl.name if purl else ""
                kind = ecosystems.type_from_purl_type(purl.type) if purl else "unknown"
                key = (vuln_id, package, installed, kind)
                if key in seen:
                    continue
                seen.add(key)
                findings.append(Finding(
                    id=vuln_id,
                    severity=_severity(properties),
                    package=package,
                    type=kind,
                    installed=installed,
                    fixed=fixed,
                    source=SOURCE,
                ))
    return ScanResult(target=name, findings=findings, source=SOURCE)


_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note",
          "UNKNOWN": "note"}


def to_scout_sarif(result: ScanResult, *, os_namespace: str = "debian") -> dict[str, Any]:
    """A SARIF document in Scout's shape (newer ``purls`` list), one rule per row.

    One rule per row (not per CVE) because a rule carries one installed and one fixed version.
    The driver names this package, so nobody mistakes the file for a real Scout run.
    """
    rules = []
    results = []
    for index, finding in enumerate(result.findings):
        purl = ecosystems.purl_for(finding.type, finding.package, finding.installed,
                                   os_namespace=os_namespace)
        rules.append({
            "id": finding.id,
            "name": ("OsPackageVulnerability" if finding.type == "os"
                     else "LanguageSpecificPackageVulnerability"),
            "shortDescription": {"text": f"{finding.id} in {finding.package}"},
            "properties": {
                "affected_version": finding.installed,
                "cvssV3_severity": ("UNSPECIFIED" if finding.severity == "UNKNOWN"
                                    else finding.severity),
                "fixed_version": finding.fixed or "not fixed",
                "purls": [purl],
                "tags": [finding.severity],
            },
        })
        results.append({
            "ruleId": finding.id,
            "ruleIndex": index,
            "kind": "fail",
            "level": _LEVEL[finding.severity],
            "message": {"text": (f"Vulnerability: {finding.id}\nSeverity: {finding.severity}\n"
                                 f"Package: {purl}\n"
                                 f"Fixed version: {finding.fixed or 'not fixed'}")},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": result.target}}}],
        })
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "docker-course-helpers",
                "fullName": "docker-course-helpers, in the Docker Scout SARIF shape",
                "rules": rules,
            }},
            "results": results,
        }],
    }


def write_scout_sarif(result: ScanResult, path: str | Path, *,
                      os_namespace: str = "debian") -> Path:
    return write_json(to_scout_sarif(result, os_namespace=os_namespace), path)
