"""Running installed scanners: a clean message when absent, the report parsed when present."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from helpers.errors import CourseError
from helpers.scan.tools import (
    ScannerUnavailable,
    available_scanners,
    run_scanner,
    scanner_command,
    scanner_status,
)


def _nowhere(_: str) -> None:
    return None


def test_absent_tools_are_explained() -> None:
    statuses = {s.name: s for s in available_scanners(which=_nowhere)}
    assert set(statuses) == {"trivy", "grype", "docker scout"}
    assert not any(s.available for s in statuses.values())
    assert "not installed" in statuses["trivy"].explanation
    scout = statuses["docker scout"].explanation
    assert "docker login" in scout and "network" in scout


@pytest.mark.parametrize("name", ["trivy", "grype", "docker scout"])
def test_running_an_absent_tool_is_one_clear_error(name: str) -> None:
    with pytest.raises(ScannerUnavailable, match=f"Cannot scan with {name}") as caught:
        run_scanner(name, image="python:3.12-slim", which=_nowhere)
    assert "built-in scanner" in caught.value.hint


def test_unknown_scanner() -> None:
    assert not scanner_status("clair").available
    with pytest.raises(CourseError):
        scanner_command("clair", Path("out.json"), image="x")


def test_commands_for_images_and_archives() -> None:
    out = Path("r.json")
    assert scanner_command("trivy", out, image="app:1") == [
        "trivy", "image", "--format", "json", "--output", "r.json", "app:1"]
    assert scanner_command("grype", out, archive=Path("app.tar"))[1] == "docker-archive:app.tar"
    assert scanner_command("docker scout", out, image="app:1")[:5] == [
        "docker", "scout", "cves", "--format", "sarif"]


FAKE_TRIVY = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "Version: 0.99.0"; exit 0; fi
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--output" ]; then out="$2"; fi
  shift
done
cat > "$out" <<'JSON'
REPORT
JSON
"""


def _install_fake(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_an_installed_tool_runs_and_its_report_is_parsed(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    report = {"SchemaVersion": 2, "ArtifactName": "app:1", "Results": [
        {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-2023-30861", "PkgName": "Flask", "InstalledVersion": "2.0.1",
             "FixedVersion": "2.3.2, 2.2.5", "Severity": "HIGH"}]}]}
    _install_fake(tmp_path, "trivy", FAKE_TRIVY.replace("REPORT", json.dumps(report)))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    status = scanner_status("trivy")
    assert status.available and status.version == "0.99.0"
    result = run_scanner("trivy", image="app:1")
    assert result.target == "app:1"
    assert [(f.id, f.type, f.severity) for f in result.findings] == [
        ("CVE-2023-30861", "python", "HIGH")]
    journal = (tmp_path / "state" / "journal.jsonl").read_text()
    assert "trivy image --format json --output report.json app:1" in journal


def test_a_failing_tool_gives_its_log_tail(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _install_fake(tmp_path, "grype", '#!/bin/sh\nif [ "$1" = "version" ]; then '
                                     'echo "Version: 0.80.0"; exit 0; fi\n'
                                     'echo "failed to download vulnerability DB" >&2; exit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(CourseError, match="failed") as caught:
        run_scanner("grype", image="app:1")
    assert "download vulnerability DB" in caught.value.log_tail
    assert "network" in caught.value.hint
