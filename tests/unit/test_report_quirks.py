"""Saved reports as users bring them: other encodings, other results in the same file, and each
tool's own severity words. Every reader must reproduce the counts per severity the report gives.

Reports are written here: by this package's writers (Trivy JSON, Grype JSON, Scout SARIF
shapes) or as dictionaries shaped like each tool's SARIF writer.
"""

from __future__ import annotations

import codecs
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from helpers import cli
from helpers.scan import Finding, ReportError, ScanResult, read_report, write_report
from helpers.scan.model import SEVERITIES


def _result() -> ScanResult:
    rows = [("CVE-2099-0001", "CRITICAL", "libfoo", "os"), ("CVE-2099-0002", "HIGH", "libbar",
                                                            "os"),
            ("CVE-2099-0003", "MEDIUM", "flask", "python"),
            ("CVE-2099-0004", "LOW", "libbaz", "os"),
            ("CVE-2099-0005", "UNKNOWN", "libqux", "os")]
    return ScanResult(target="example/app:1", findings=[
        Finding(id=i, severity=s, package=p, type=t, installed="1.0", fixed="1.1")
        for i, s, p, t in rows])


FORMATS = ["trivy-json", "grype-json", "scout-sarif"]
ENCODINGS = {
    "UTF-16LE with BOM and CRLF (PowerShell 5.1 >)": lambda text: codecs.BOM_UTF16_LE
    + text.replace("\n", "\r\n").encode("utf-16-le"),
    "UTF-16BE with BOM": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "UTF-16LE without BOM": lambda text: text.encode("utf-16-le"),
    "UTF-8 with BOM (Out-File -Encoding utf8)": lambda text: codecs.BOM_UTF8 + text.encode(),
    "UTF-32LE with BOM": lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_reports_in_other_unicode_encodings_read_alike(tmp_path: Path, fmt: str,
                                                       encoding: str) -> None:
    plain = write_report(_result(), tmp_path / "plain.json", fmt)
    other = tmp_path / "other.json"
    other.write_bytes(ENCODINGS[encoding](plain.read_text(encoding="utf-8")))
    assert read_report(other).to_json() == read_report(plain).to_json()
    assert read_report(other).summary == dict.fromkeys(SEVERITIES, 1)


def test_the_report_command_reads_a_powershell_report(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    plain = write_report(_result(), tmp_path / "grype.json", "grype-json")
    saved = tmp_path / "grype-ps.json"
    saved.write_bytes(ENCODINGS["UTF-16LE with BOM and CRLF (PowerShell 5.1 >)"](
        plain.read_text()))
    assert cli.main(["report", str(saved), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == dict.fromkeys(SEVERITIES, 1)


@pytest.mark.parametrize(("content", "fragments"), [
    (gzip.compress(b'{"matches": []}'), ["not text: it is a gzip file", "gunzip"]),
    ("{\"matches\": [], \"x\": \"caf\u00e9\"}".encode("latin-1"),
     ["not text", "0xe9", "UTF-8"]),
    (b"\xff\xfe\x00garbage", ["not text", "does not start like JSON"]),
    (b"2024-05-01T10:00:00Z INFO Vulnerability scanning...\n"
     b"2024-05-01T10:00:02Z INFO Detected OS\n{\"SchemaVersion\": 2, \"Results\": []}\n",
     ["starts with 2 lines of other text", "INFO Vulnerability scanning", "output-file"]),
])
def test_files_that_are_not_report_text_say_what_they_are(tmp_path: Path, content: bytes,
                                                          fragments: list[str]) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    with pytest.raises(ReportError) as caught:
        read_report(path)
    text = f"{caught.value.message} {caught.value.hint}"
    for fragment in fragments:
        assert fragment in text
    assert "Expected one of" not in text  # never suggest the format the file may already be


# --- Docker Scout: its own rating wins ---------------------------------------------------------

def _scout(rules: list[dict]) -> dict:
    return {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{"tool": {"driver": {"name": "docker scout", "fullName": "Docker Scout",
                                          "rules": rules}},
                      "results": [{"ruleId": r["id"], "ruleIndex": n, "kind": "fail",
                                   "message": {"text": r["id"]}}
                                  for n, r in enumerate(rules)]}]}


def _scout_rule(number: int, properties: dict) -> dict:
    return {"id": f"CVE-2099-{number:04d}", "name": "OsPackageVulnerability",
            "properties": {"purls": [f"pkg:deb/debian/pkg{number}@1.0"],
                           "affected_version": "<1.1", "fixed_version": "1.1", **properties}}


@pytest.mark.parametrize(("properties", "expected"), [
    ({"cvssV3_severity": "UNSPECIFIED", "security-severity": "9.8", "tags": ["UNSPECIFIED"]},
     "UNKNOWN"),
    ({"cvssV3_severity": "LOW", "security-severity": "9.8"}, "LOW"),
    ({"cvssV3_severity": "critical"}, "CRITICAL"),
    ({"tags": ["MEDIUM"], "security-severity": "9.8"}, "MEDIUM"),
    ({"tags": ["UNSPECIFIED"], "security-severity": "9.8"}, "UNKNOWN"),
    ({"security-severity": "7.5"}, "HIGH"),
    ({}, "UNKNOWN"),
])
def test_scout_severity_words_beat_the_numeric_score(tmp_path: Path, properties: dict,
                                                     expected: str) -> None:
    path = tmp_path / "scout.sarif"
    path.write_text(json.dumps(_scout([_scout_rule(1, properties)])))
    (finding,) = read_report(path).findings
    assert finding.severity == expected


def test_scout_counts_are_the_counts_of_its_ratings(tmp_path: Path) -> None:
    words = ["CRITICAL", "HIGH", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED", "UNSPECIFIED"]
    scores = ["9.1", "7.0", "3.3", "9.9", "0.5", "3.1", "8.8"]  # deliberately contradicting
    rules = [_scout_rule(n, {"cvssV3_severity": w, "security-severity": s})
             for n, (w, s) in enumerate(zip(words, scores, strict=True))]
    path = tmp_path / "scout.sarif"
    path.write_text(json.dumps(_scout(rules)))
    own = Counter("UNKNOWN" if w == "UNSPECIFIED" else w for w in words)
    assert read_report(path).summary == {s: own.get(s, 0) for s in SEVERITIES}


# --- Trivy SARIF: vulnerabilities only ---------------------------------------------------------

def _trivy_rule(rule_id: str, name: str, title: str, severity: str) -> dict:
    return {"id": rule_id, "name": name, "shortDescription": {"text": rule_id},
            "properties": {"tags": [title, "security", severity], "precision": "very-high"}}


def _trivy_sarif() -> dict:
    rules = [
        _trivy_rule("CVE-2099-1000", "OsPackageVulnerability", "vulnerability", "HIGH"),
        _trivy_rule("CVE-2099-1001", "LanguageSpecificPackageVulnerability", "vulnerability",
                    "LOW"),
        _trivy_rule("DS002", "Misconfiguration", "misconfiguration", "HIGH"),
        _trivy_rule("aws-secret-access-key", "Secret", "secret", "CRITICAL"),
        _trivy_rule("openssl:GPL-2.0", "License", "license", "MEDIUM"),
    ]
    messages = [
        "Package: libfoo\nInstalled Version: 1.0\nVulnerability CVE-2099-1000\nSeverity: HIGH\n"
        "Fixed Version: 1.1\nLink: [CVE-2099-1000](https://example.test)",
        "Package: flask\nInstalled Version: 2.0.1\nVulnerability CVE-2099-1001\nSeverity: LOW\n"
        "Fixed Version: 2.0.2\nLink: [CVE-2099-1001](https://example.test)",
        "Artifact: Dockerfile\nType: dockerfile\nVulnerability DS002\nSeverity: HIGH\n"
        "Message: Specify at least 1 USER command\nLink: [DS002](https://example.test)",
        "Artifact: /app/.env\nType: \nSecret AWS Secret Access Key\nSeverity: CRITICAL\n"
        "Match: AWS_SECRET_ACCESS_KEY=****",
        "Artifact: example/app:1\nLicense GPL-2.0\nPkgName: openssl\n Classification: "
        "restricted\n Path: ",
    ]
    uris = ["library/debian", "app/requirements.txt", "Dockerfile", "app/.env", "example"]
    results = [{"ruleId": rule["id"], "ruleIndex": n, "level": "error",
                "message": {"text": messages[n]},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uris[n]}}}]}
               for n, rule in enumerate(rules)]
    return {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{"tool": {"driver": {"name": "Trivy", "fullName":
                                          "Trivy Vulnerability Scanner", "rules": rules}},
                      "results": results,
                      "properties": {"imageName": "example/app:1"}}]}


def test_trivy_sarif_counts_vulnerabilities_not_secrets_misconfigurations_or_licenses(
        tmp_path: Path) -> None:
    path = tmp_path / "trivy.sarif"
    path.write_text(json.dumps(_trivy_sarif()))
    result = read_report(path)
    assert sorted((f.id, f.severity, f.package) for f in result.findings) == [
        ("CVE-2099-1000", "HIGH", "libfoo"), ("CVE-2099-1001", "LOW", "flask")]


def test_trivy_json_counts_only_its_vulnerabilities(tmp_path: Path) -> None:
    document = {"SchemaVersion": 2, "ArtifactName": "example/app:1", "Results": [
        {"Target": "example/app:1 (debian 12)", "Class": "os-pkgs", "Type": "debian",
         "Vulnerabilities": [{"VulnerabilityID": "CVE-2099-2000", "PkgName": "libfoo",
                              "InstalledVersion": "1.0", "Severity": "MEDIUM"}]},
        {"Target": "Dockerfile", "Class": "config", "Type": "dockerfile",
         "Misconfigurations": [{"ID": "DS002", "Severity": "HIGH", "Status": "FAIL"}]},
        {"Target": "/app/.env", "Class": "secret",
         "Secrets": [{"RuleID": "aws-secret-access-key", "Severity": "CRITICAL"}]}]}
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(document))
    assert read_report(path).summary == {**dict.fromkeys(SEVERITIES, 0), "MEDIUM": 1}


# --- SARIF rules every reader follows ----------------------------------------------------------

def test_results_that_passed_are_not_findings(tmp_path: Path) -> None:
    document = _trivy_sarif()
    document["runs"][0]["results"][0]["kind"] = "pass"
    scout = _scout([_scout_rule(1, {"cvssV3_severity": "HIGH"}),
                    _scout_rule(2, {"cvssV3_severity": "LOW"})])
    scout["runs"][0]["results"][1]["kind"] = "notApplicable"
    for name, doc, expected in (("t.sarif", document, ["CVE-2099-1001"]),
                                ("s.sarif", scout, ["CVE-2099-0001"])):
        path = tmp_path / name
        path.write_text(json.dumps(doc))
        assert [f.id for f in read_report(path).findings] == expected


def test_grype_sarif_results_with_an_external_suppression_still_count(tmp_path: Path) -> None:
    """Grype marks every SARIF result ``suppressions: [{"kind": "external"}]``."""
    rules, results = [], []
    for number, severity in enumerate(["High", "Negligible", "Critical"]):
        rule_id = f"ANCHOREVULN_CVE-2099-300{number}_deb_pkg{number}_1.0"
        rules.append({"id": rule_id, "help": {"text": (
            f"Vulnerability CVE-2099-300{number}\nSeverity: {severity}\nPackage: pkg{number}\n"
            "Version: 1.0\nFix Version: 1.1\nType: deb\nLocation: /var/lib/dpkg/status\n"
            "Data Namespace: unknown\nLink: CVE")}})
        results.append({"ruleId": rule_id, "ruleIndex": 0, "level": "error",
                        "message": {"text": "x"}, "suppressions": [{"kind": "external"}]})
    document = {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                "runs": [{"tool": {"driver": {"name": "Anchore Container Vulnerability Report "
                                                      "(T0)", "rules": rules}},
                          "results": results}]}
    path = tmp_path / "grype.sarif"
    path.write_text(json.dumps(document))
    assert read_report(path).summary == {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 0, "LOW": 1,
                                         "UNKNOWN": 0}
