"""``python -m helpers scan`` and ``report`` without an engine: saved reports, archive files,
standard input, and every kind of bad input (exit 2, one ``error:`` line, no traceback)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import cli
from helpers.scan.model import SEVERITIES

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "reports"
SITE = "usr/local/lib/python3.11/site-packages"
FINDING_KEYS = ["id", "aliases", "severity", "package", "type", "installed", "fixed", "layer",
                "source"]


def _tar(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in entries.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _docker_save(layers: list[tuple[str, dict[str, bytes]]], tag: str) -> bytes:
    """A legacy-layout ``docker save`` archive, made in memory."""
    blobs = {f"layer{i}/layer.tar": _tar(files) for i, (_, files) in enumerate(layers)}
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": [
                  "sha256:" + hashlib.sha256(blob).hexdigest() for blob in blobs.values()]},
              "history": [{"created_by": step} for step, _ in layers]}
    manifest = [{"Config": "config.json", "RepoTags": [tag], "Layers": list(blobs)}]
    return _tar({"manifest.json": json.dumps(manifest).encode(),
                 "config.json": json.dumps(config).encode(), **blobs})


def _metadata(name: str, version: str, *requires: str) -> tuple[str, bytes]:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             *(f"Requires-Dist: {r}" for r in requires)]
    return (f"{SITE}/{name.lower()}-{version}.dist-info/METADATA",
            ("\n".join(lines) + "\n\nA long README.\n").encode())


@pytest.fixture
def app_archive(tmp_path: Path) -> Path:
    path = tmp_path / "app.tar"
    path.write_bytes(_docker_save([
        ("", {"etc/os-release": b"ID=debian\nVERSION_ID=12\n",
              "var/lib/dpkg/status": b"Package: libc6\nStatus: install ok installed\n"
                                     b"Version: 2.36-9\n"}),
        ("|1 REQUIREMENTS=requirements-2021.txt /bin/sh -c pip install -r ${REQUIREMENTS}",
         dict([_metadata("Flask", "2.0.1", "Werkzeug>=2.0"), _metadata("Werkzeug", "2.2.2")])),
    ], tag="course-app:2021"))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- report ---------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["trivy.json", "grype.json", "scout.sarif"])
def test_report_json_has_the_fixed_shape(capsys: pytest.CaptureFixture[str],
                                         suffix: str) -> None:
    code, out, _ = _run(capsys, "report", str(SAMPLES / f"course-app-before.{suffix}"),
                        "--json")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["findings", "summary"]
    assert list(document["summary"]) == list(SEVERITIES)
    assert document["findings"] and all(list(row) == FINDING_KEYS
                                        for row in document["findings"])
    assert sum(document["summary"].values()) == len(document["findings"])


def test_report_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "report", str(SAMPLES / "course-app-before.trivy.json"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("course-app:before: 20 findings (7 HIGH, 11 MEDIUM, 2 LOW)")
    assert lines[1].split() == ["SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED", "LAYER"]
    assert lines[2].split()[0] == "HIGH"  # worst first
    assert any("CVE-2023-30861" in line and "2.2.5, 2.3.2" in line for line in lines)


def test_fail_on_sets_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    before = str(SAMPLES / "course-app-before.grype.json")
    after = str(SAMPLES / "course-app-after.grype.json")
    assert _run(capsys, "report", before, "--fail-on", "high")[0] == 1
    assert _run(capsys, "report", before, "--fail-on", "CRITICAL")[0] == 0
    assert _run(capsys, "report", after, "--fail-on", "LOW")[0] == 0


@pytest.mark.parametrize(("content", "message"), [
    (b'{"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Vulnerabilities": [',
     "not valid JSON"),
    (b'{"name": "my-app", "version": "1.0.0", "dependencies": {}}',
     "not a vulnerability report we know"),
    (b"", "is empty"),
    (b'{"bomFormat": "CycloneDX", "components": []}', "SBOM"),
])
def test_report_bad_input_is_one_error_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            content: bytes, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content)
    code, out, err = _run(capsys, "report", str(path))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_report_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "report", str(tmp_path / "nope.json"))
    assert code == 2 and err.startswith("error: No report at")


# --- scan of archive files and standard input -------------------------------------------------

def test_scan_archive_file_table_shows_layer_steps(capsys: pytest.CaptureFixture[str],
                                                   app_archive: Path) -> None:
    code, out, _ = _run(capsys, "scan", str(app_archive))
    assert code == 0
    assert out.startswith("course-app:2021: ")
    flask_line = next(line for line in out.splitlines() if "CVE-2023-30861" in line)
    assert "1 RUN pip install -r requirements-2021.txt" in flask_line
    head = out.splitlines()[0]
    assert "in the 2 python packages judged against PyPA Advisory Database" in head
    assert "1 dpkg package (libc6) listed, not judged: the advisory snapshot has no Debian:12" \
        in head
    assert "coverage: python 2/2 judged, dpkg 0/1 judged" in out


def test_scan_json_keeps_notes_out_of_the_json(capsys: pytest.CaptureFixture[str],
                                               app_archive: Path) -> None:
    code, out, err = _run(capsys, "scan", str(app_archive), "--json")
    assert code == 0
    document = json.loads(out)
    ids = {(f["id"], f["package"], f["fixed"]) for f in document["findings"]}
    assert ("CVE-2023-30861", "Flask", "2.2.5, 2.3.2") in ids
    assert ("CVE-2023-25577", "Werkzeug", "2.2.3") in ids
    assert all(f["layer"].startswith("sha256:") for f in document["findings"])
    assert list(document) == ["findings", "summary", "coverage"]
    coverage = document["coverage"]
    assert (coverage["listed"], coverage["judged"], coverage["not_judged"]) == (3, 2, 1)
    python, dpkg = coverage["types"]["python"], coverage["types"]["dpkg"]
    assert (python["listed"], python["judged"], python["ecosystem"]) == (2, 2, "PyPI")
    assert "PyPA Advisory Database" in python["source"] and python["as_of"] == coverage["as_of"]
    assert (dpkg["listed"], dpkg["judged"], dpkg["source"]) == (1, 0, "")
    assert "no Debian:12 advisories" in dpkg["why_not_judged"]
    assert err.startswith("note: 1 dpkg package (libc6) listed, not judged")


def test_scan_writes_an_sbom(capsys: pytest.CaptureFixture[str], app_archive: Path,
                             tmp_path: Path) -> None:
    sbom = tmp_path / "out" / "app.cdx.json"
    code, _, err = _run(capsys, "scan", str(app_archive), "--sbom", str(sbom))
    assert code == 0 and "SBOM: 3 packages" in err
    purls = {c.get("purl") for c in json.loads(sbom.read_text())["components"]}
    assert "pkg:pypi/flask@2.0.1" in purls


def test_scan_from_standard_input(app_archive: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "helpers", "scan", "-", "--json"],
                          input=app_archive.read_bytes(), capture_output=True, cwd=REPO,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert any(f["id"] == "CVE-2023-30861" for f in json.loads(done.stdout)["findings"])


def test_archive_without_package_database_says_nothing_to_inventory(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "static.tar"
    path.write_bytes(_docker_save([("COPY busybox /bin/", {"bin/busybox": b"\x7fELF"})],
                                  tag="static:1"))
    code, out, _ = _run(capsys, "scan", str(path))
    assert code == 0
    assert "nothing judged (0 packages listed)" in out and "Nothing to inventory" in out
    assert "no known vulnerabilities" not in out  # never without its scope


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(("content", "message"), [
    ("truncated", "truncated"),
    (b"Total: 3 (HIGH: 1)\n", "not a tar archive"),
    (b"", "empty"),
    ("json-not-tar", "not a tar archive"),
    ("tar-not-image", "not a Docker image archive"),
])
def test_scan_bad_archives_are_one_error_line(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, app_archive: Path,
                                              content: object, message: str) -> None:
    data = {"truncated": _cut(app_archive.read_bytes()),
            "json-not-tar": (SAMPLES / "course-app-before.trivy.json").read_bytes(),
            "tar-not-image": _tar({"hello.txt": b"hi"})}.get(content, content)  # type: ignore[arg-type]
    path = tmp_path / "image.tar"
    path.write_bytes(data)  # type: ignore[arg-type]
    code, out, err = _run(capsys, "scan", str(path))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_scan_missing_archive_and_folder(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    code, _, err = _run(capsys, "scan", str(tmp_path / "missing.tar"))
    assert code == 2 and err.startswith("error: No image archive at")
    code, _, err = _run(capsys, "scan", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('{"matches": [{"vulnerability": ')
    done = subprocess.run([sys.executable, "-m", "helpers", "report", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
