"""Grype reports (JSON and SARIF) in and out of the findings table.

Grype JSON: ``matches[]``, each with the ``vulnerability`` (id, severity, ``fix.versions``), the
``relatedVulnerabilities`` (the same issue under other ids: a GHSA match lists its CVE there) and
the ``artifact`` (name, version, type, ``locations[].layerID``). Grype SARIF puts those facts in
each rule's help text as ``Key: value`` lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..files import write_json
from . import ecosystems, sarif
from .model import Finding, ScanResult

SOURCE = "grype"


def parse_grype_json(data: dict[str, Any], *, name: str = "") -> ScanResult:
    """One row per match, as Grype lists them."""
    findings: list[Finding] = []
    for match in data.get("matches") or []:
        vulnerability = match["vulnerability"]
        artifact = match["artifact"]
        vuln_id = str(vulnerability["id"])
        related = [str(r.get("id", "")) for r in match.get("relatedVulnerabilities") or []]
        fix = vulnerability.get("fix") or {}
        layers = [loc.get("layerID") for loc in artifact.get("locations") or []
                  if loc.get("layerID")]
        findings.append(Finding(
            id=vuln_id,
            aliases=[r for r in related if r and r != vuln_id],
            severity=vulnerability.get("severity", ""),
            package=str(artifact.get("name", "")),
            type=ecosystems.type_from_grype(artifact.get("type", ""),
                                            artifact.get("language", "")),
            installed=str(artifact.get("version", "")),
            fixed=", ".join(str(v) for v in fix.get("versions") or []),
            layer=str(layers[0]) if layers else "",
            source=SOURCE,
        ))
    target = (data.get("source") or {}).get("target") or {}
    if isinstance(target, dict):
        target_name = target.get("userInput") or name
    else:
        target_name = str(target) or name
    return ScanResult(target=str(target_name), findings=findings, source=SOURCE)


_HELP_LINE = re.compile(r"^\s*([A-Za-z ]+?)\s*:\s*(.*?)\s*$")
_HELP_TITLE = re.compile(r"^\s*Vulnerability\s+(\S+)\s*$")


def parse_grype_sarif(data: dict[str, Any], *, name: str = "") -> ScanResult:
    """Rows from ``grype -o sarif``: one per result, facts from its rule's help text."""
    findings: list[Finding] = []
    target = name
    for run in data.get("runs") or []:
        rules = {rule.get("id"): rule
                 for rule in run.get("tool", {}).get("driver", {}).get("rules") or []}
        for result in run.get("results") or []:
            if not sarif.is_problem(result):
                continue
            rule = rules.get(result.get("ruleId"), {})
            help_text = (rule.get("help") or {}).get("text", "")
            fields: dict[str, str] = {}
            vuln_id = ""
            for line in help_text.splitlines():
                title = _HELP_TITLE.match(line)
                if title and not vuln_id:
                    vuln_id = title.group(1)
                    continue
                match = _HELP_LINE.match(line)
                if match:
                    fields.setdefault(match.group(1).lower(), match.group(2))
            fixes = [v.strip() for v in fields.get("fix version", "").split(",") if v.strip()]
            findings.append(Finding(
                id=vuln_id or str(result.get("ruleId", "")),
                severity=fields.get("severity", ""),
                package=fields.get("package", ""),
                type=ecosystems.type_from_grype(fields.get("type", "")),
                installed=fields.get("version", ""),
                fixed=", ".join(fixes),
                source=SOURCE,
            ))
    return ScanResult(target=target, findings=findings, source=SOURCE)


_GRYPE_SEVERITY = {"CRITICAL": "Critical", "HIGH": "High", "MEDIUM": "Medium", "LOW": "Low",
                   "UNKNOWN": "Unknown"}


def to_grype_json(result: ScanResult, *, os_type: str = "deb") -> dict[str, Any]:
    """A Grype-shaped JSON document holding ``result``'s rows.

    The descriptor names this package, not Grype, so nobody mistakes it for a real Grype run.
    """
    matches = []
    for index, finding in enumerate(result.findings):
        fixes = [v.strip() for v in finding.fixed.split(",") if v.strip()]
        artifact_type = ecosystems.grype_type_for(finding.type, os_type)
        matches.append({
            "vulnerability": {
                "id": finding.id,
                "severity": _GRYPE_SEVERITY[finding.severity],
                "fix": {"versions": fixes, "state": "fixed" if fixes else "not-fixed"},
            },
            "relatedVulnerabilities": [{"id": alias} for alias in finding.aliases],
            "matchDetails": [],
            "artifact": {
                "id": f"{index:016x}",
                "name": finding.package,
                "version": finding.installed,
                "type": artifact_type,
                "language": "" if finding.type == "os" else finding.type,
                "locations": [{"path": "", "layerID": finding.layer}] if finding.layer else [],
                "purl": ecosystems.purl_for(finding.type, finding.package, finding.installed,
                                            os_type=os_type),
            },
        })
    return {
        "matches": matches,
        "source": {"type": "image", "target": {"userInput": result.target}},
        "descriptor": {"name": "docker-course-helpers", "version": "grype-json-shape"},
    }


def write_grype_json(result: ScanResult, path: str | Path, *, os_type: str = "deb") -> Path:
    return write_json(to_grype_json(result, os_type=os_type), path)
