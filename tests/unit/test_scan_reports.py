"""Saved reports of every format: real tool output, our own writers, and bad files."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from helpers.errors import CourseError
from helpers.scan.model import SEVERITIES, Finding, ScanResult, normalize_severity
from helpers.scan.reports import ReportError, detect_format, read_report, write_report

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
SAMPLES = REPO / "data" / "reports"


def _fixture(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.is_file():
        pytest.skip(f"shared fixture {relative} not present")
    return path


def _counts(severities: list[str]) -> dict[str, int]:
    counted = Counter(normalize_severity(s) for s in severities)
    return {s: counted.get(s, 0) for s in SEVERITIES}


# --- real reports: counts computed here from the raw JSON, not from the parser ------------

@pytest.mark.parametrize("name", ["debian-buster.json.golden",
                                  "distroless-python27.json.golden", "pip.json.golden"])
def test_trivy_json_counts(name: str) -> None:
    path = _fixture(f"trivy/{name}")
    raw = json.loads(path.read_text())
    vulns = [v for r in raw["Results"] for v in r.get("Vulnerabilities") or []]
    result = read_report(path)
    assert result.source == "trivy"
    assert result.summary == _counts([v["Severity"] for v in vulns])
    assert len(result.findings) == len(vulns)
    assert {(f.id, f.package) for f in result.findings} == {
        (v["VulnerabilityID"], v["PkgName"]) for v in vulns}


def test_trivy_json_fields() -> None:
    path = _fixture("trivy/distroless-python27.json.golden")
    raw = json.loads(path.read_text())
    vuln = next(v for r in raw["Results"] for v in r["Vulnerabilities"] if v.get("FixedVersion"))
    result = read_report(path)
    finding = next(f for f in result.findings
                   if (f.id, f.package) == (vuln["VulnerabilityID"], vuln["PkgName"]))
    assert finding.fixed == vuln["FixedVersion"]
    assert finding.layer == vuln["Layer"]["DiffID"]
    assert finding.type == "os"
    assert finding.aliases == vuln.get("VendorIDs", [])


def test_trivy_lang_results_are_typed_by_ecosystem() -> None:
    result = read_report(_fixture("trivy/pip.json.golden"))
    assert {f.type for f in result.findings} == {"python"}


def test_trivy_sarif_counts() -> None:
    path = _fixture("trivy/alpine-310.sarif.golden")
    raw = json.loads(path.read_text())
    run = raw["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    severities = [rules[r["ruleIndex"]]["properties"]["tags"][-1] for r in run["results"]]
    result = read_report(path)
    assert result.summary == _counts(severities)
    assert len(result.findings) == len(run["results"])
    assert all(f.package and f.installed and f.type == "os" for f in result.findings)


def test_grype_json_counts() -> None:
    path = _fixture("grype/keycloak-test.json")
    raw = json.loads(path.read_text())
    result = read_report(path)
    assert result.source == "grype"
    assert result.summary == _counts([m["vulnerability"]["severity"] for m in raw["matches"]])
    first = raw["matches"][0]
    finding = result.findings[0]
    assert (finding.package, finding.installed) == (first["artifact"]["name"],
                                                    first["artifact"]["version"])
    assert finding.layer == first["artifact"]["locations"][0]["layerID"]
    assert finding.fixed == ", ".join(first["vulnerability"]["fix"]["versions"])


def test_grype_sarif_counts() -> None:
    path = _fixture("grype/TestSarifPresenter_image.golden")
    raw = json.loads(path.read_text())
    run = raw["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    # the rule's short description reads "<id> <severity> vulnerability for <package> package"
    severities = [rules[r["ruleId"]]["shortDescription"]["text"].split()[1]
                  for r in run["results"]]
    result = read_report(path)
    assert result.summary == _counts(severities)
    assert {f.id for f in result.findings} == {
        rules[r["ruleId"]]["shortDescription"]["text"].split()[0] for r in run["results"]}


# --- Scout SARIF, in both property spellings ---------------------------------------------

def _scout_document(purl_key: str, purl_value: object) -> dict[str, object]:
    return {"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "docker scout", "rules": [
            {"id": "CVE-2023-30861", "properties": {
                "affected_version": "2.0.1", "cvssV3_severity": "HIGH",
                "fixed_version": "2.2.5", purl_key: purl_value}},
            {"id": "CVE-2023-38545", "properties": {
                "affected_version": "7.88.1-10+deb12u3", "cvssV3_severity": "CRITICAL",
                "fixed_version": "not fixed", "security-severity": "9.8"}},
        ]}},
        "results": [{"ruleId": "CVE-2023-30861", "ruleIndex": 0},
                    {"ruleId": "CVE-2023-38545", "ruleIndex": 1}],
    }]}


@pytest.mark.parametrize(("key", "value"), [
    ("purl", "pkg:pypi/flask@2.0.1"), ("purls", ["pkg:pypi/flask@2.0.1"])])
def test_scout_sarif_old_and_new_purl_properties(tmp_path: Path, key: str,
                                                 value: object) -> None:
    path = tmp_path / "scout.sarif"
    path.write_text(json.dumps(_scout_document(key, value)))
    result = read_report(path)
    assert result.source == "docker scout"
    flask, curl = result.findings
    assert (flask.package, flask.type, flask.installed, flask.fixed, flask.severity) == (
        "flask", "python", "2.0.1", "2.2.5", "HIGH")
    assert (curl.installed, curl.fixed, curl.severity) == ("7.88.1-10+deb12u3", "", "CRITICAL")


def test_scout_rule_with_several_purls_gives_a_row_each(tmp_path: Path) -> None:
    document = _scout_document("purls", [
        "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u3?os_distro=bookworm",
        "pkg:deb/debian/libcurl4@7.88.1-10%2Bdeb12u3?os_distro=bookworm"])
    path = tmp_path / "scout.sarif"
    path.write_text(json.dumps(document))
    rows = [f for f in read_report(path).findings if f.id == "CVE-2023-30861"]
    assert [(f.package, f.type, f.installed) for f in rows] == [
        ("curl", "os", "7.88.1-10+deb12u3"), ("libcurl4", "os", "7.88.1-10+deb12u3")]


# --- our own writers: write, read back, same rows ------------------------------------------

def _our_result() -> ScanResult:
    findings = [
        Finding(id="CVE-2023-30861", aliases=["PYSEC-2023-62", "GHSA-m2qf-hxjv-5gpq"],
                severity="HIGH", package="Flask", type="python", installed="2.0.1",
                fixed="2.2.5, 2.3.2", layer="sha256:" + "a" * 64, source="built-in"),
        Finding(id="CVE-2024-0001", severity="CRITICAL", package="libssl3", type="os",
                installed="3.0.11-1~deb12u2", fixed="3.0.15-1~deb12u1",
                layer="sha256:" + "b" * 64, source="built-in"),
        Finding(id="CVE-2024-0002", severity="MEDIUM", package="zlib1g", type="os",
                installed="1:1.2.13.dfsg-1", source="built-in"),
        Finding(id="GHSA-aaaa-bbbb-cccc", severity="LOW", package="requests", type="python",
                installed="2.26.0", fixed="2.32.0", source="built-in"),
        Finding(id="CVE-2024-0003", severity="UNKNOWN", package="pip", type="python",
                installed="23.0.1", source="built-in"),
    ]
    return ScanResult(target="course-app:test", findings=findings, source="built-in")


def _comparable(finding: Finding, *, keep_aliases: bool = True,
                keep_layer: bool = True) -> tuple[object, ...]:
    name = canonicalize_name(finding.package) if finding.type == "python" else finding.package
    return (finding.id, tuple(finding.aliases) if keep_aliases else (), finding.severity,
            name, finding.type, finding.installed, finding.fixed,
            finding.layer if keep_layer else "")


@pytest.mark.parametrize(("fmt", "expected_format", "full"), [
    ("trivy-json", "trivy-json", True),
    ("grype-json", "grype-json", True),
    ("findings-json", "findings-json", True),
    # Scout SARIF carries no aliases and no layer; its package URLs lower-case PyPI names
    ("scout-sarif", "scout-sarif", False),
])
def test_round_trip(tmp_path: Path, fmt: str, expected_format: str, full: bool) -> None:
    original = _our_result()
    path = write_report(original, tmp_path / f"report.{fmt}", fmt)
    assert detect_format(json.loads(path.read_text())) == expected_format
    back = read_report(path)
    assert back.summary == original.summary
    assert sorted(_comparable(f, keep_aliases=full, keep_layer=full) for f in back.findings) \
        == sorted(_comparable(f, keep_aliases=full, keep_layer=full) for f in original.findings)


def test_shipped_samples_read_back_alike() -> None:
    stems = sorted({p.name.split(".")[0] for p in SAMPLES.glob("course-app-*.trivy.json")})
    assert stems, "data/reports has no sample reports; run scripts/make_sample_reports.py"
    for stem in stems:
        results = [read_report(SAMPLES / f"{stem}.{suffix}")
                   for suffix in ("trivy.json", "grype.json", "scout.sarif")]
        assert results[0].summary == results[1].summary == results[2].summary
        ids = [sorted((f.id, canonicalize_name(f.package)) for f in r.findings)
               for r in results]
        assert ids[0] == ids[1] == ids[2]


def test_write_report_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="Unknown report format"):
        write_report(_our_result(), tmp_path / "x", "table")


# --- bad input: one clear CourseError each -------------------------------------------------

@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b'{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [', "not valid JSON"),
    (b"Total: 3 (HIGH: 1)\n", "not valid JSON"),
    (b'{"bomFormat": "CycloneDX", "components": []}', "SBOM"),
    (b'{"name": "my-app", "version": "1.0.0"}', "not a vulnerability report"),
    (b'[{"Target": "x"}]', "JSON list"),
    (b'"just a string"', "bare JSON value"),
    (b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "eslint"}}}]}',
     "not from Trivy"),
    (b'{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"PkgName": "x"}]}]}',
     "not as expected"),
    (b'{"matches": [{"vulnerability": {}}], "source": {}}', "not as expected"),
    (b"\xff\xfe\x00garbage", "not text"),
])
def test_bad_files_give_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    with pytest.raises(ReportError, match=message) as caught:
        read_report(path)
    assert isinstance(caught.value, CourseError)
    assert caught.value.hint


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="No report at"):
        read_report(tmp_path / "nope.json")
    with pytest.raises(ReportError, match="is a folder"):
        read_report(tmp_path)


def test_shipped_samples_are_what_the_script_writes(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_sample_reports", REPO / "scripts" / "make_sample_reports.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    assert module.main(["--output", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in SAMPLES.glob("course-app-*"))
    for name in written:
        assert (tmp_path / name).read_text() == (SAMPLES / name).read_text(), (
            f"{name} is stale: run scripts/make_sample_reports.py")


def test_trivy_sarif_language_rows_are_typed_from_the_location(tmp_path: Path) -> None:
    document = {"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "Trivy", "rules": [
            {"id": "CVE-2023-30861", "name": "LanguageSpecificPackageVulnerability",
             "properties": {"tags": ["vulnerability", "security", "HIGH"]}}]}},
        "results": [{"ruleId": "CVE-2023-30861", "ruleIndex": 0, "message": {"text": (
            "Package: Flask\nInstalled Version: 2.0.1\nVulnerability CVE-2023-30861\n"
            "Severity: HIGH\nFixed Version: 2.3.2, 2.2.5\nLink: x")},
            "locations": [{"physicalLocation": {"artifactLocation": {
                "uri": "usr/local/lib/python3.12/site-packages/Flask-2.0.1.dist-info/METADATA"}}}],
        }]}]}
    path = tmp_path / "trivy.sarif"
    path.write_text(json.dumps(document))
    [finding] = read_report(path).findings
    assert (finding.package, finding.type, finding.installed, finding.fixed, finding.severity) \
        == ("Flask", "python", "2.0.1", "2.3.2, 2.2.5", "HIGH")
