"""The inputs from public bug reports in ../shared/cases, run through the command line.

Each case folder holds a ``gen.py`` that writes its input next to itself; the folder is copied
to a temporary directory first (shared/ is read-only). The expected answers are those the
formats' own rules give (each case's README). Skipped when the folder is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli

REPO = Path(__file__).resolve().parents[2]
CASES = REPO.parent / "shared" / "cases"

pytestmark = pytest.mark.skipif(not CASES.is_dir(), reason=f"no shared cases at {CASES}")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every case generated once, in a copy of the cases folder."""
    root = tmp_path_factory.mktemp("cases")
    for entry in CASES.iterdir():
        if entry.is_dir() and (entry / "gen.py").is_file():
            shutil.copytree(entry, root / entry.name)
        elif entry.suffix == ".py":
            shutil.copy2(entry, root / entry.name)
    for gen in sorted(root.glob("*/gen.py")):
        subprocess.run([sys.executable, str(gen)], check=True, cwd=gen.parent, timeout=120)
    return root


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = cli.main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _layers(capsys: pytest.CaptureFixture[str], path: Path) -> dict:
    code, out, err = _run(capsys, "layers", str(path), "--json")
    assert code == 0, err
    return json.loads(out)


def _scan(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> tuple[dict, str]:
    code, out, err = _run(capsys, "scan", str(path), "--json", *extra)
    assert code == 0, err
    return json.loads(out), err


def _report(capsys: pytest.CaptureFixture[str], path: Path) -> dict:
    code, out, err = _run(capsys, "report", str(path), "--json")
    assert code == 0, err
    return json.loads(out)


def _rows(document: dict) -> list[tuple[str, str, str, str, str]]:
    return sorted((f["severity"], f["id"], f["package"], f["installed"], f["fixed"])
                  for f in document["findings"])


def _one_error_line(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    code, out, err = _run(capsys, *arguments)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


# --- archive layouts ---------------------------------------------------------------------------

def test_podman_docker_archive(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _layers(capsys, generated / "podman-docker-archive" / "podman-save.tar")
    assert len(report["layers"]) == 2
    assert (report["total_bytes"], report["wasted_bytes"]) == (5150, 3000)
    assert report["efficiency"] == pytest.approx(1 - 3000 / 5150)
    assert [(w["path"], w["layer"], w["reason"]) for w in report["wasted_files"]] == [
        ("app/data.bin", 0, "overwritten")]
    assert report["image"] == "localhost/case-podman:latest"


def test_docker25_index_with_null_manifests(generated: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    report = _layers(capsys, generated / "docker25-index-manifests-null" /
                     "docker25-digest-save.tar")
    assert (len(report["layers"]), report["total_bytes"], report["wasted_bytes"]) == (2, 5150,
                                                                                     3000)
    assert round(report["efficiency"], 4) == 0.4175
    assert len(report["image"]) == 12 and int(report["image"], 16) >= 0  # untagged: short id
    assert [layer["created_by"] for layer in report["layers"]] == ["COPY data /app",
                                                                   "RUN rewrite data"]


# --- tar features --------------------------------------------------------------------------------

def test_hard_link_survives_whiteout(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _layers(capsys, generated / "hardlink-survives-whiteout" / "hardlink-whiteout.tar")
    assert (report["total_bytes"], report["wasted_bytes"], report["efficiency"]) == (4000, 0,
                                                                                     1.0)
    assert report["wasted_files"] == []
    code, out, _ = _run(capsys, "layers", str(generated / "hardlink-survives-whiteout" /
                                              "hardlink-whiteout.tar"))
    assert code == 0
    largest = out.split("Largest files of the final filesystem")[1].split("Duplicates")[0]
    assert "opt/tool/bin/alias" in largest and "4.0 kB" in largest


@pytest.mark.parametrize("name", ["image-gnu-old.tar", "image-pax-1.0.tar"])
def test_gnu_sparse_layer(generated: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    from helpers.anatomy import read_image

    path = generated / "gnu-sparse-layer" / name
    report = _layers(capsys, path)
    assert report["total_bytes"] == 6_299_648 and report["wasted_bytes"] == 0
    (layer,) = read_image(path).layers
    assert {p: (r.size, r.kind) for p, r in layer.entries.items()} == {
        "data": (0, 1), "data/sparse.img": (6_299_648, 0)}


# --- whiteout rules ------------------------------------------------------------------------------

def test_bare_wh_entry_is_rejected_by_layers_and_scan(generated: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = generated / "bare-wh-whiteout" / "bare-wh.tar"
    lines = [_one_error_line(capsys, command, str(path)) for command in ("layers", "scan")]
    for line in lines:
        assert "invalid whiteout entry" in line
        assert "usr/local/lib/python3.12/site-packages/.wh.'" in line
    assert lines[0] == lines[1]
    control, _ = _scan(capsys, generated / "bare-wh-whiteout" / "control.tar")
    assert _rows(control) == [("CRITICAL", "CVE-2024-36039", "PyMySQL", "1.0.2", "1.1.1")]


def test_opaque_dir_recreated(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _layers(capsys, generated / "opaque-dir-recreated" / "opaque-recreated.tar")
    assert (report["total_bytes"], report["wasted_bytes"], report["efficiency"]) == (2000, 1200,
                                                                                     0.4)
    assert sorted((w["path"], w["size_bytes"], w["reason"], w["hidden_by"])
                  for w in report["wasted_files"]) == [
        ("a/b/c/bar", 1000, "opaque", 1), ("a/keep.txt", 200, "opaque", 1)]
    assert report["layers"][1]["deleted"] == 2


# --- package metadata ----------------------------------------------------------------------------

def test_egg_info_metadata(generated: Path, capsys: pytest.CaptureFixture[str],
                           tmp_path: Path) -> None:
    document, _ = _scan(capsys, generated / "egg-info-metadata" / "egg-info-metadata.tar",
                        "--sbom", str(tmp_path / "sbom.json"))
    assert _rows(document) == [("HIGH", "CVE-2023-49083", "cryptography", "3.3.2", "41.0.6"),
                               ("UNKNOWN", "CVE-2023-23931", "cryptography", "3.3.2",
                                "39.0.1")]
    sbom = json.loads((tmp_path / "sbom.json").read_text())
    assert [(c["name"], c["version"]) for c in sbom["components"]] == [("cryptography",
                                                                        "3.3.2")]


def test_dpkg_status_states(generated: Path, capsys: pytest.CaptureFixture[str],
                            tmp_path: Path) -> None:
    document, err = _scan(capsys, generated / "dpkg-status-states" / "dpkg-states.tar",
                          "--sbom", str(tmp_path / "sbom.json"))
    assert document["findings"] == [] and "Debian:12" in err
    sbom = json.loads((tmp_path / "sbom.json").read_text())
    assert sorted((c["name"], c["version"]) for c in sbom["components"]) == [
        ("case-alpha", "1.0-1"), ("case-delta", "1:4.2-3"), ("case-foxtrot", "6.0-1+deb12u1")]


def test_osv_pep440_edges(generated: Path, capsys: pytest.CaptureFixture[str],
                          tmp_path: Path) -> None:
    document, _ = _scan(capsys, generated / "osv-pep440-edges" / "pep440-edges.tar",
                        "--sbom", str(tmp_path / "sbom.json"))
    assert [(s, i, p) for s, i, p, _, _ in _rows(document)] == [
        ("MEDIUM", "CVE-2023-45803", "urllib3"), ("MEDIUM", "CVE-2024-35195", "requests"),
        ("MEDIUM", "CVE-2024-37891", "urllib3")]
    assert document["summary"]["MEDIUM"] == 3
    assert len(json.loads((tmp_path / "sbom.json").read_text())["components"]) == 4


# --- report quirks -------------------------------------------------------------------------------

def test_scout_sarif_unspecified(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = _report(capsys, generated / "scout-sarif-unspecified" / "scout-unspecified.sarif")
    assert document["summary"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "LOW": 0,
                                   "UNKNOWN": 1}
    assert ("UNKNOWN", "GMS-2099-0001") in {(f["severity"], f["id"])
                                            for f in document["findings"]}


def test_report_utf16_powershell(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = _report(capsys, generated / "report-utf16-powershell" / "grype-powershell.json")
    assert _rows(document) == [("HIGH", "CVE-2099-2001", "case-libfoo", "1.2-3", "1.2-4")]


def test_grype_ignored_and_negligible(generated: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    document = _report(capsys, generated / "grype-ignored-negligible" / "grype-only-fixed.json")
    assert document["summary"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "LOW": 1,
                                   "UNKNOWN": 0}
    assert [(s, i) for s, i, *_ in _rows(document)] == [("HIGH", "CVE-2099-1001"),
                                                        ("LOW", "CVE-2099-1002")]


def test_trivy_json_null_vulnerabilities(generated: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder = generated / "trivy-json-null-vulns"
    mixed = _report(capsys, folder / "trivy-mixed-null.json")
    assert mixed["summary"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "LOW": 1, "UNKNOWN": 0}
    assert any(f["id"].startswith("GHSA-") and any(a.startswith("CVE-") for a in f["aliases"])
               for f in mixed["findings"])
    clean = _report(capsys, folder / "trivy-clean-no-results.json")
    assert clean["findings"] == [] and set(clean["summary"].values()) == {0}


# --- every case, through the real command: exit 0 or exit 2 with one line ---------------------

def test_no_case_gives_a_traceback(generated: Path) -> None:
    inputs = sorted(p for p in generated.glob("*/*") if p.suffix in (".tar", ".json", ".sarif"))
    assert len(inputs) >= 17  # a bare layer tar is not an image: exit 2 too
    for path in inputs:
        commands = [["report"]] if path.suffix != ".tar" else [["layers"], ["scan"]]
        for command in commands:
            done = subprocess.run([sys.executable, "-m", "helpers", *command, str(path)],
                                  capture_output=True, text=True, cwd=REPO, timeout=120,
                                  check=False)
            assert done.returncode in (0, 2), (path, done.stderr)
            assert "Traceback" not in done.stderr, (path, done.stderr)
            if done.returncode == 2:
                assert len(done.stderr.strip().splitlines()) == 1, done.stderr
