"""Trivy, Grype and Docker Scout runners against a fake ``docker`` on PATH.

The fake records every command line it is given and answers as the real CLI would: an image
present or not, a pull that reaches a registry or not, the scout plugin installed or not,
and the tools' reports (saved responses written here, in each tool's real format). So the
tests check the documented command lines (pinned image, how the image gets in, format flags)
and the one-line reasons when a tool cannot run.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers.engine import scanners as scan_tools
from helpers.engine.scanners import (
    GRYPE_IMAGE,
    TRIVY_IMAGE,
    ScannerUnavailable,
    available_scanners,
    run_scanner,
    run_tool,
    scanner_command,
    scanner_status,
)
from helpers.errors import CourseError
from helpers.lessons import vulnerabilities
from helpers.scan import scan_packages
from helpers.scan.model import Package

FAKE_DOCKER = r'''#!PYTHON
"""A stand-in for the docker CLI: logs argv, answers from the FAKE_* environment."""
import json, os, shutil, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
reports = os.environ.get("FAKE_REPORTS", "")
def out(name):
    with open(os.path.join(reports, name)) as f:
        sys.stdout.write(f.read())
if args[:2] == ["image", "inspect"]:
    if args[-1] in os.environ.get("FAKE_PRESENT", "").split(","):
        print("sha256:0123"); sys.exit(0)
    print(f"Error response from daemon: No such image: {args[-1]}", file=sys.stderr); sys.exit(1)
if args[:1] == ["pull"]:
    if os.environ.get("FAKE_REGISTRY") == "up":
        print("Status: Downloaded newer image"); sys.exit(0)
    print(f'Error response from daemon: failed to resolve reference "docker.io/{args[1]}": '
          'failed to do request: Head "https://registry-1.docker.io/v2/": dial tcp: lookup '
          'registry-1.docker.io on 10.0.0.53:53: no such host', file=sys.stderr)
    sys.exit(1)
if args[:2] == ["volume", "inspect"]:
    sys.exit(1)
if args[:2] == ["volume", "create"]:
    print(args[-1]); sys.exit(0)
if args[:1] == ["save"]:
    with open(args[args.index("-o") + 1], "wb") as f:
        f.write(b"tar")
    sys.exit(0)
if args[:2] == ["scout", "version"]:
    if os.environ.get("FAKE_SCOUT") == "installed":
        print("version: v1.18.3 (go1.24.4 - linux/amd64)"); sys.exit(0)
    print("docker: unknown command: docker scout", file=sys.stderr); sys.exit(1)
if args[:2] == ["scout", "cves"]:
    if os.environ.get("FAKE_SCOUT_FAILS"):
        print(os.environ["FAKE_SCOUT_FAILS"], file=sys.stderr); sys.exit(1)
    shutil.copy(os.path.join(reports, "scout.sarif"), args[args.index("--output") + 1])
    sys.exit(0)
if args[:1] == ["run"]:
    if os.environ.get("FAKE_DB") == "offline":
        print("FATAL Fatal error: init error: DB error: failed to download vulnerability DB: "
              "dial tcp: lookup mirror.gcr.io: no such host", file=sys.stderr)
        sys.exit(1)
    image = next(a for a in args if a.startswith(("aquasec/trivy", "anchore/grype")))
    out("trivy.json" if image.startswith("aquasec/trivy") else "grype.json"); sys.exit(0)
print("unexpected: " + " ".join(args), file=sys.stderr); sys.exit(3)
'''

IMAGE = "docker-course/flask-app-09:2021"


def trivy_report() -> dict[str, Any]:
    """Trivy JSON (schema 2) as ``trivy image --format json`` writes it: OS and Python results."""
    return {"SchemaVersion": 2, "ArtifactName": IMAGE, "ArtifactType": "container_image",
            "Results": [
                {"Target": f"{IMAGE} (debian 12.12)", "Class": "os-pkgs", "Type": "debian",
                 "Vulnerabilities": [
                     {"VulnerabilityID": "CVE-2025-4802", "PkgName": "libc6",
                      "InstalledVersion": "2.36-9+deb12u10", "FixedVersion": "",
                      "Status": "affected", "SeveritySource": "debian", "Severity": "LOW",
                      "Layer": {"DiffID": "sha256:base"}}]},
                {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg",
                 "Vulnerabilities": [
                     {"VulnerabilityID": "CVE-2023-30861", "PkgName": "Flask",
                      "InstalledVersion": "2.0.1", "FixedVersion": "2.3.2, 2.2.5",
                      "Status": "fixed", "SeveritySource": "ghsa", "Severity": "HIGH",
                      "Layer": {"DiffID": "sha256:app"}}]}]}


def grype_report() -> dict[str, Any]:
    """Grype JSON as ``grype docker:IMAGE -o json`` writes it: a GHSA match with its CVE."""
    return {"matches": [
        {"vulnerability": {"id": "GHSA-m2qf-hxjv-5gpq", "severity": "High",
                           "fix": {"versions": ["2.2.5"], "state": "fixed"}},
         "relatedVulnerabilities": [{"id": "CVE-2023-30861"}],
         "artifact": {"name": "flask", "version": "2.0.1", "type": "python",
                      "locations": [{"path": "/usr/local/lib", "layerID": "sha256:app"}]}},
        {"vulnerability": {"id": "CVE-2025-4802", "severity": "Negligible",
                           "fix": {"versions": [], "state": "not-fixed"}},
         "relatedVulnerabilities": [],
         "artifact": {"name": "libc6", "version": "2.36-9+deb12u10", "type": "deb",
                      "locations": [{"path": "/var/lib/dpkg/status", "layerID": "sha256:base"}]}}],
        "source": {"type": "image", "target": {"userInput": IMAGE}},
        "descriptor": {"name": "grype", "version": "0.104.0",
                       "db": {"built": "2026-11-29T04:12:33Z", "schemaVersion": "v6.0.2"}}}


def scout_sarif() -> dict[str, Any]:
    """SARIF as ``docker scout cves --format sarif`` writes it (rule properties, purls)."""
    return {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{"tool": {"driver": {"name": "docker scout", "fullName": "Docker Scout",
                                          "rules": [{
                "id": "CVE-2023-30861", "name": "LanguageSpecificPackageVulnerability",
                "properties": {"affected_version": "2.0.1", "cvssV3_severity": "HIGH",
                               "fixed_version": "2.2.5", "purls": ["pkg:pypi/flask@2.0.1"],
                               "security-severity": "7.5", "tags": ["HIGH"]}}]}},
                "results": [{"ruleId": "CVE-2023-30861", "ruleIndex": 0, "kind": "fail",
                             "level": "error", "message": {"text": "Flask"}}]}]}


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A fake docker on PATH; returns a dict with ``log()`` (the recorded argv lists)."""
    bin_dir, reports = tmp_path / "bin", tmp_path / "reports"
    bin_dir.mkdir()
    reports.mkdir()
    (reports / "trivy.json").write_text(json.dumps(trivy_report()))
    (reports / "grype.json").write_text(json.dumps(grype_report()))
    (reports / "scout.sarif").write_text(json.dumps(scout_sarif()))
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.replace("PYTHON", sys.executable))
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_REPORTS", str(reports))
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    for name in ("FAKE_PRESENT", "FAKE_REGISTRY", "FAKE_SCOUT", "FAKE_DB", "FAKE_SCOUT_FAILS",
                 "COURSE_NO_PULL"):
        monkeypatch.delenv(name, raising=False)

    def lines() -> list[list[str]]:
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return {"log": lines, "config": tmp_path / "docker-config", "monkeypatch": monkeypatch}


def _login(fake: dict[str, Any]) -> None:
    fake["config"].mkdir(exist_ok=True)
    (fake["config"] / "config.json").write_text(json.dumps(
        {"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"}))


def _all_ready(fake: dict[str, Any]) -> None:
    fake["monkeypatch"].setenv("FAKE_PRESENT", f"{TRIVY_IMAGE},{GRYPE_IMAGE}")
    fake["monkeypatch"].setenv("FAKE_SCOUT", "installed")
    _login(fake)


def _labels() -> list[str]:
    from helpers import labels

    return shlex.split(labels.cli_flags())


# --- the documented command lines -----------------------------------------------------------

def test_images_are_pinned_official_images() -> None:
    assert TRIVY_IMAGE.startswith("aquasec/trivy:") and TRIVY_IMAGE.split(":")[1][0].isdigit()
    assert GRYPE_IMAGE.startswith("anchore/grype:v")  # Grype's tags carry the v, Trivy's not
    assert "latest" not in TRIVY_IMAGE + GRYPE_IMAGE


def test_commands_through_the_socket() -> None:
    labels = _labels()
    assert scanner_command("trivy", "app:1") == [
        "docker", "run", "--rm", *labels, "-v", "/var/run/docker.sock:/var/run/docker.sock",
        "-v", f"{scan_tools.cache_volume('trivy')}:/cache", TRIVY_IMAGE,
        "image", "--cache-dir", "/cache", "--scanners", "vuln", "--format", "json", "--quiet",
        "app:1"]
    assert scanner_command("grype", "app:1") == [
        "docker", "run", "--rm", *labels, "-v", "/var/run/docker.sock:/var/run/docker.sock",
        "-v", f"{scan_tools.cache_volume('grype')}:/cache", "-e", "GRYPE_DB_CACHE_DIR=/cache",
        GRYPE_IMAGE, "docker:app:1", "-o", "json"]
    assert scanner_command("docker scout", "app:1", report="app.sarif") == [
        "docker", "scout", "cves", "--format", "sarif", "--output", "app.sarif", "local://app:1"]


def test_commands_for_a_saved_archive() -> None:
    archive = Path("/work/scans/app.tar")
    trivy = scanner_command("trivy", archive=archive)
    assert trivy[trivy.index("-v"):trivy.index("-v") + 2] == ["-v", "/work/scans:/input:ro"]
    assert trivy[-2:] == ["--input", "/input/app.tar"]
    assert "/var/run/docker.sock:/var/run/docker.sock" not in trivy
    assert scanner_command("grype", archive=archive)[-3:] == [
        "docker-archive:/input/app.tar", "-o", "json"]
    assert scanner_command("docker scout", archive=archive)[-1] == "archive:///work/scans/app.tar"


def test_a_rootless_engine_socket_is_mounted_where_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert scan_tools.engine_socket() == "/run/user/1000/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://docker:2376")  # docker-in-docker: its own host
    assert scan_tools.engine_socket() == "/var/run/docker.sock"


def test_unknown_scanner_and_nothing_to_scan() -> None:
    assert not scanner_status("clair").available
    with pytest.raises(CourseError, match="Unknown scanner"):
        scanner_command("clair", "x")
    with pytest.raises(CourseError, match="Nothing to scan"):
        scanner_command("trivy")


# --- runs through the fake docker ----------------------------------------------------------

def test_all_three_run_and_read_into_one_table(fake: dict[str, Any]) -> None:
    _all_ready(fake)
    trivy = run_tool("trivy", IMAGE)
    grype = run_tool("grype", IMAGE)
    scout = run_tool("docker scout", IMAGE)
    assert trivy.ran and grype.ran and scout.ran, (trivy.reason, grype.reason, scout.reason)
    assert [(f.id, f.package, f.type, f.severity) for f in trivy.result.findings] == [
        ("CVE-2025-4802", "libc6", "os", "LOW"), ("CVE-2023-30861", "Flask", "python", "HIGH")]
    assert {(f.id, f.severity, f.fixed) for f in grype.result.findings} == {
        ("GHSA-m2qf-hxjv-5gpq", "HIGH", "2.2.5"), ("CVE-2025-4802", "LOW", "")}
    assert grype.database == "database built 2026-11-29"
    assert [(f.id, f.package, f.type) for f in scout.result.findings] == [
        ("CVE-2023-30861", "flask", "python")]
    assert trivy.result.target == IMAGE and "Trivy: ran, 2 findings" in trivy.line()
    commands = fake["log"]()
    runs = [c for c in commands if c[0] == "run"]
    assert runs[0] == scanner_command("trivy", IMAGE)[1:]
    assert runs[1] == scanner_command("grype", IMAGE)[1:]
    scout_call = next(c for c in commands if c[:2] == ["scout", "cves"])
    assert scout_call[:5] == ["scout", "cves", "--format", "sarif", "--output"]
    assert scout_call[-1] == f"local://{IMAGE}"
    # the tools' database caches are volumes labelled for the notebook, made before the run
    creates = [c for c in commands if c[:2] == ["volume", "create"]]
    assert [c[-1] for c in creates] == [scan_tools.cache_volume("trivy"),
                                        scan_tools.cache_volume("grype")]
    assert all(c[2:-1] == _labels() for c in creates)
    assert not any(c[0] == "pull" for c in commands)  # present: nothing pulled


def test_missing_registry_is_one_line_and_nothing_runs(fake: dict[str, Any]) -> None:
    attempts = [run_tool(name, IMAGE) for name in ("trivy", "grype")]
    assert [a.reason for a in attempts] == [
        f"cannot pull its image {TRIVY_IMAGE} (no registry reachable)",
        f"cannot pull its image {GRYPE_IMAGE} (no registry reachable)"]
    assert all(not a.ran and "\n" not in a.reason for a in attempts)
    commands = fake["log"]()
    assert [c for c in commands if c[0] == "pull"] == [["pull", TRIVY_IMAGE],
                                                       ["pull", GRYPE_IMAGE]]
    assert not any(c[0] in ("run", "volume") for c in commands)
    assert attempts[0].line() == f"Trivy: not run: cannot pull its image {TRIVY_IMAGE} " \
                                 "(no registry reachable)"


def test_a_reachable_registry_pulls_the_pinned_image(fake: dict[str, Any]) -> None:
    fake["monkeypatch"].setenv("FAKE_REGISTRY", "up")
    attempt = run_tool("trivy", IMAGE)
    assert attempt.ran
    commands = fake["log"]()
    assert ["pull", TRIVY_IMAGE] in commands
    assert commands.index(["pull", TRIVY_IMAGE]) < next(
        i for i, c in enumerate(commands) if c[0] == "run")


def test_pulls_switched_off_say_so(fake: dict[str, Any]) -> None:
    fake["monkeypatch"].setenv("COURSE_NO_PULL", "1")
    attempt = run_tool("grype", IMAGE)
    assert attempt.reason == (f"its image {GRYPE_IMAGE} is not on this engine and pulls are "
                              "off (COURSE_NO_PULL)")
    assert not any(c[0] == "pull" for c in fake["log"]())


def test_scout_without_plugin_or_login(fake: dict[str, Any]) -> None:
    attempt = run_tool("docker scout", IMAGE)
    assert not attempt.ran and attempt.reason.startswith(
        "the docker scout CLI plugin is not installed")
    fake["monkeypatch"].setenv("FAKE_SCOUT", "installed")
    attempt = run_tool("docker scout", IMAGE)
    assert attempt.reason == ("not logged in to Docker Hub: Scout's analysis runs on Docker's "
                              "service (`docker login`)")
    assert not any(c[:2] == ["scout", "cves"] for c in fake["log"]())


def test_scout_refusing_at_scan_time_is_one_line(fake: dict[str, Any]) -> None:
    _all_ready(fake)
    fake["monkeypatch"].setenv("FAKE_SCOUT_FAILS", "ERROR Log in with your Docker ID to use "
                                                   "Docker Scout (unauthorized)")
    attempt = run_tool("docker scout", IMAGE)
    assert attempt.reason == "not logged in to Docker Hub (`docker login`)"


def test_no_network_for_the_database(fake: dict[str, Any]) -> None:
    _all_ready(fake)
    fake["monkeypatch"].setenv("FAKE_DB", "offline")
    attempt = run_tool("trivy", IMAGE)
    assert not attempt.ran
    assert attempt.reason.startswith("it could not download its vulnerability database "
                                     "(no network)")
    assert "\n" not in attempt.reason


def test_archive_input_saves_then_mounts_read_only(fake: dict[str, Any]) -> None:
    _all_ready(fake)
    attempt = run_tool("grype", IMAGE, via="archive")
    assert attempt.ran
    commands = fake["log"]()
    save = next(c for c in commands if c[0] == "save")
    archive = Path(save[save.index("-o") + 1])
    assert save[-1] == IMAGE and archive.name == "flask-app-09_2021.tar"
    run = next(c for c in commands if c[0] == "run")
    assert f"{archive.parent}:/input:ro" in run
    assert run[-3:] == ["docker-archive:/input/flask-app-09_2021.tar", "-o", "json"]
    assert "$PWD:/input:ro" in attempt.command  # shown without the temporary folder
    assert not archive.exists()  # the temporary archive is gone


def test_status_table_pulls_nothing(fake: dict[str, Any]) -> None:
    statuses = {s.name: s for s in available_scanners()}
    assert set(statuses) == {"trivy", "grype", "docker scout"}
    assert not any(s.available for s in statuses.values())
    assert "pulled on first use" in statuses["trivy"].explanation
    assert not any(c[0] == "pull" for c in fake["log"]())


def test_run_scanner_raises_with_the_reason(fake: dict[str, Any]) -> None:
    with pytest.raises(ScannerUnavailable, match="no registry reachable") as caught:
        run_scanner("trivy", image=IMAGE)
    assert "built-in scanner" in caught.value.hint


def test_no_docker_cli(fake: dict[str, Any]) -> None:
    attempt = run_tool("trivy", IMAGE, which=lambda _: None)
    assert attempt.reason == "no docker CLI on PATH"


# --- notebook 09's view of them ------------------------------------------------------------

def _built_in() -> Any:
    packages = [Package("Flask", "2.0.1", "python", "PyPI"),
                Package("libc6", "2.36-9+deb12u10", "os", "Debian:12",
                        location="var/lib/dpkg/status", source_name="glibc")]
    return scan_packages(packages, target=IMAGE)


def test_real_scans_table_and_differences(fake: dict[str, Any]) -> None:
    _all_ready(fake)
    real = vulnerabilities.real_scans(IMAGE, built_in=_built_in())
    assert real.ran == ["Trivy", "Grype", "Docker Scout"]
    status = real.status()
    assert list(status.index) == ["Trivy", "Grype", "Docker Scout"]
    assert status.loc["Trivy", "image"] == TRIVY_IMAGE
    assert status.loc["Docker Scout", "image"] == "CLI plugin"
    findings = real.findings()
    assert set(findings["tool"]) == {"built-in", "Trivy", "Grype", "Docker Scout"}
    differences = real.differences().set_index(["id", "package"])
    # the Debian issue: Trivy says LOW (Debian's urgency), Grype LOW too (Negligible), and
    # neither Scout nor the built-in scanner (no Debian advisories offline) report it
    libc = differences.loc[("CVE-2025-4802", "libc6")]
    assert (libc["Trivy"], libc["Grype"], libc["built-in"]) == ("LOW (no fix)", "LOW (no fix)",
                                                                "—")
    # Flask: every tool agrees (Grype's GHSA row is the same CVE): not a difference
    assert ("CVE-2023-30861", "flask") not in differences.index
    assert "Grype: 2 findings" in real.describe() and "database built" in real.describe()


def test_real_scans_when_nothing_can_run(fake: dict[str, Any]) -> None:
    real = vulnerabilities.real_scans(IMAGE, built_in=_built_in())
    assert real.ran == []
    assert list(real.status()["ran"]) == ["no", "no", "no"]
    assert real.findings().empty and real.differences().empty
    assert "nothing was measured, so nothing is compared" in real.describe()
    assert "agree" not in real.describe()


def test_tool_facts_name_database_severity_unfixed_and_vex() -> None:
    facts = vulnerabilities.tool_facts(_built_in())
    assert list(facts.columns) == ["database", "severity from", "no fix yet", "VEX"]
    assert list(facts.index) == ["Trivy", "Grype", "Docker Scout", "built-in (this course)"]
    assert "--ignore-unfixed" in facts.loc["Trivy", "no fix yet"]
    assert "--only-fixed" in facts.loc["Grype", "no fix yet"]
    assert "--only-base" in facts.loc["Docker Scout", "VEX"]
    assert "1 dpkg package (libc6) listed, not judged" in facts.loc["built-in (this course)",
                                                                    "database"]
