"""Trivy reports (JSON schema v2 and SARIF) in and out of the findings table.

Trivy JSON: ``Results[]`` per target (the OS packages, each lockfile or Python site-packages),
each with ``Class`` (``os-pkgs`` / ``lang-pkgs``), ``Type`` and ``Vulnerabilities[]`` carrying
``VulnerabilityID``, ``PkgName``, ``InstalledVersion``, ``FixedVersion``, ``Severity`` and the
``Layer.DiffID`` that brought the package in. Trivy SARIF keeps the same facts as text lines in
each result's message (``Package: ...``, ``Installed Version: ...``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..files import write_json
from . import ecosystems, sarif
from .model import Finding, ScanResult

SOURCE = "trivy"


def parse_trivy_json(data: dict[str, Any], *, name: str = "") -> ScanResult:
    """Rows from a Trivy JSON report; ``Results`` without vulnerabilities simply add none."""
    findings: list[Finding] = []
    for result in data.get("Results") or []:
        kind = ecosystems.type_from_trivy(result.get("Class", ""), result.get("Type", ""))
        for vuln in result.get("Vulnerabilities") or []:
            layer = vuln.get("Layer") or {}
            findings.append(Finding(
                id=str(vuln["VulnerabilityID"]),
                aliases=[str(v) for v in vuln.get("VendorIDs") or []],
                severity=vuln.get("Severity", ""),
                package=str(vuln.get("PkgName", "")),
                type=kind,
                installed=str(vuln.get("InstalledVersion", "")),
                fixed=str(vuln.get("FixedVersion") or ""),
                layer=str(layer.get("DiffID") or ""),
                source=SOURCE,
            ))
    target = str(data.get("ArtifactName") or name)
    return ScanResult(target=target, findings=findings, source=SOURCE)


_MESSAGE_LINE = re.compile(r"^\s*([A-Za-z ]+?)\s*:\s*(.*?)\s*$")


def _message_fields(text: str) -> dict[str, str]:
    """``Key: value`` lines of a SARIF message, keys lower-cased."""
    fields: dict[str, str] = {}
    for line in (text or "").splitlines():
        match = _MESSAGE_LINE.match(line)
        if match:
            fields.setdefault(match.group(1).strip().lower(), match.group(2))
    return fields


#: Trivy's SARIF rule names and first tags for results that are not vulnerabilities.
_NOT_VULNERABILITIES = frozenset({"misconfiguration", "secret", "license"})


def _is_vulnerability(rule: dict[str, Any], fields: dict[str, str]) -> bool:
    """Trivy puts misconfigurations, secrets and licenses in the same SARIF run.

    Its rules say which is which: ``name`` (``OsPackageVulnerability``,
    ``LanguageSpecificPackageVulnerability``, ``Misconfiguration``, ``Secret``, ``License``) and
    the first tag (``vulnerability``, ``misconfiguration``, ``secret``, ``license``). A rule
    with neither counts when its result names a package, as only vulnerabilities do.
    """
    tags = sarif.rule_tags(rule)
    kind = str(rule.get("name") or "").lower()
    if kind in _NOT_VULNERABILITIES or (tags and tags[0] in _NOT_VULNERABILITIES):
        return False
    if kind.endswith("vulnerability") or "vulnerability" in tags:
        return True
    return bool(fields.get("package"))


def parse_trivy_sarif(data: dict[str, Any], *, name: str = "") -> ScanResult:
    """Rows from ``trivy image --format sarif``: one per vulnerability result.

    Results for misconfigurations, secrets and licenses (same run, other rules) are left out,
    so the counts per severity are those of Trivy's vulnerability table.
    """
    findings: list[Finding] = []
    target = name
    for run in data.get("runs") or []:
        rules = run.get("tool", {}).get("driver", {}).get("rules") or []
        target = str((run.get("properties") or {}).get("imageName") or target)
        for result in run.get("results") or []:
            if not sarif.is_problem(result):
                continue
            rule = sarif.rule_for(result, rules)
            fields = _message_fields(result.get("message", {}).get("text", ""))
            if not _is_vulnerability(rule, fields):
                continue
            tags = (rule.get("properties") or {}).get("tags") or []
            severity = fields.get("severity") or (tags[-1] if tags else "")
            if rule.get("name") == "OsPackageVulnerability":
                kind = "os"
            else:
                kind = ecosystems.type_from_path_hint(_first_uri(result))
            findings.append(Finding(
                id=str(result.get("ruleId") or rule.get("id", "")),
                severity=severity,
                package=fields.get("package", ""),
                type=kind,
                installed=fields.get("installed version", ""),
                fixed=fields.get("fixed version", ""),
                source=SOURCE,
            ))
    return ScanResult(target=target, findings=findings, source=SOURCE)


def _first_uri(result: dict[str, Any]) -> str:
    for location in result.get("locations") or []:
        uri = location.get("physicalLocation", {}).get("artifactLocation", {}).get("uri")
        if uri:
            return str(uri)
    return ""


def to_trivy_json(result: ScanResult, *, os_family: str = "debian") -> dict[str, Any]:
    """A Trivy schema-v2 document holding ``result``'s rows (one ``Results`` entry per type).

    ``os_family`` names the distribution for OS rows, which the table itself does not record.
    """
    by_type: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_type.setdefault(finding.type, []).append(finding)
    results = []
    for kind in sorted(by_type, key=lambda k: (k != "os", k)):
        is_os = kind == "os"
        results.append({
            "Target": f"{result.target} ({os_family})" if is_os else kind.capitalize(),
            "Class": "os-pkgs" if is_os else "lang-pkgs",
            "Type": os_family if is_os else ecosystems.trivy_type_for(kind),
            "Vulnerabilities": [_trivy_vulnerability(f, os_family) for f in by_type[kind]],
        })
    return {
        "SchemaVersion": 2,
        "ArtifactName": result.target,
        "ArtifactType": "container_image",
        "Results": results,
    }


def _trivy_vulnerability(finding: Finding, os_family: str) -> dict[str, Any]:
    vuln: dict[str, Any] = {
        "VulnerabilityID": finding.id,
        "PkgName": finding.package,
        "PkgIdentifier": {"PURL": ecosystems.purl_for(finding.type, finding.package,
                                                      finding.installed,
                                                      os_namespace=os_family)},
        "InstalledVersion": finding.installed,
        "Status": "fixed" if finding.fixed else "affected",
        "Severity": finding.severity,
    }
    if finding.aliases:
        vuln["VendorIDs"] = list(finding.aliases)
    if finding.fixed:
        vuln["FixedVersion"] = finding.fixed
    if finding.layer:
        vuln["Layer"] = {"DiffID": finding.layer}
    return vuln


def write_trivy_json(result: ScanResult, path: str | Path, *, os_family: str = "debian") -> Path:
    return write_json(to_trivy_json(result, os_family=os_family), path)
