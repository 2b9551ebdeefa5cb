"""The built-in scanner on real images: the app with its 2021 pins, the same app bumped, what
each scan judged, the command line on images and on saved archives, bad input (exit 2, one
readable line), and the real scanners: run when they can, one line per tool when not."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.engine import images
from helpers.engine.cleanup import cleanup
from helpers.lessons import vulnerabilities
from helpers.scan import compare
from helpers.scan.scanner import scan_source
from helpers.scoping import scoped

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Both app images, built once for the module under a label scope of its own."""
    scope = f"test-{uuid.uuid4().hex[:8]}"
    tags = {"old": f"docker-course/flask-app-09:{scope}-2021",
            "new": f"docker-course/flask-app-09:{scope}-bumped"}
    with scoped(scope, tmp_path_factory.mktemp("state")):
        try:
            vulnerabilities.build_app(tags["old"], requirements="requirements-2021.txt")
            vulnerabilities.build_app(tags["new"], requirements="requirements-bumped.txt")
            yield tags
        finally:
            cleanup(scope)


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True,
                          cwd=ROOT, input=stdin, timeout=300, check=False)


def test_old_pins_report_flask_and_werkzeug_with_fixes(built: dict[str, str]) -> None:
    result = scan_source(images.export_stream(built["old"]), target=built["old"])
    by_key = {(f.id, f.package): f for f in result.findings}
    assert by_key[("CVE-2023-30861", "Flask")].fixed == "2.2.5, 2.3.2"
    assert by_key[("CVE-2023-25577", "Werkzeug")].fixed == "2.2.3"
    flask = by_key[("CVE-2023-30861", "Flask")]
    package = next(p for p in result.packages if p.name == "Flask")
    assert flask.layer == package.layer and flask.layer.startswith("sha256:")
    assert "pip install" in package.step and "REQUIREMENTS=requirements-2021.txt" in package.step


def test_where_each_finding_comes_from(built: dict[str, str], python_image: str) -> None:
    result = vulnerabilities.scan_image(built["old"])
    frame = vulnerabilities.where_from(result, base=python_image)
    flask = frame[frame["id"] == "CVE-2023-30861"].iloc[0]
    assert flask["step"] == "RUN pip install --no-cache-dir -r requirements-2021.txt"
    assert flask["requirement"].startswith("requirements-2021.txt:")
    assert flask["brought in by"] == "direct"
    urllib3 = frame[frame["package"] == "urllib3"]
    assert set(urllib3["brought in by"]) == {"via requests"}


def test_bumped_pins_report_neither_and_nothing_serious_in_your_layers(
        built: dict[str, str], python_image: str) -> None:
    before = vulnerabilities.scan_image(built["old"])
    after = vulnerabilities.scan_image(built["new"])
    assert after.base_image == python_image and after.base_layers > 0  # found by its layers
    ids = {f.id for f in after.findings}
    assert not {"CVE-2023-30861", "CVE-2023-25577"} & ids
    verdict = vulnerabilities.scope_check(after)
    assert verdict.passed, verdict.failure()
    assert all(f.package in ("pip", "setuptools", "wheel") for f in after.findings)  # the base's
    comparison = compare(before, after)
    assert comparison.counts["new"] == 0
    assert comparison.counts["fixed"] + comparison.counts["still open"] == len(before.findings)


def test_every_listed_python_package_is_judged_and_the_os_ones_are_counted(
        built: dict[str, str]) -> None:
    result = scan_source(images.export_stream(built["new"]), target=built["new"])
    python, dpkg = result.coverage.row("python"), result.coverage.row("dpkg")
    assert python.listed == python.judged >= 15
    assert dpkg.listed > 50  # the Debian base: listed, judged only after an online refresh
    assert dpkg.judged in (0, dpkg.listed)
    assert result.coverage.listed == len(result.packages)


def test_cli_scan_of_an_image(built: dict[str, str]) -> None:
    done = _cli("scan", built["old"], "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert list(document) == ["findings", "summary", "coverage"]
    assert any(f["id"] == "CVE-2023-25577" for f in document["findings"])
    python = document["coverage"]["types"]["python"]
    assert python["judged"] == python["listed"] and python["source"] and python["as_of"]
    table = _cli("scan", built["old"], "--fail-on", "HIGH")
    assert table.returncode == 1
    assert b"RUN pip install --no-cache-dir -r requirements-2021.txt" in table.stdout
    assert table.stdout.startswith(f"{built['old']}: 20 findings".encode())
    new = json.loads(_cli("scan", built["new"], "--json").stdout)
    serious = any(f["severity"] in ("HIGH", "CRITICAL") for f in new["findings"])
    # the gate counts the base image's findings too (on the stand-in: its setuptools)
    assert _cli("scan", built["new"], "--fail-on", "HIGH").returncode == int(serious)


def test_cli_scan_of_saved_and_piped_archives(built: dict[str, str], tmp_path: Path) -> None:
    data = b"".join(images.export_stream(built["old"]))
    archive = tmp_path / "app.tar"
    archive.write_bytes(data)
    from_file = _cli("scan", str(archive), "--json")
    from_pipe = _cli("scan", "-", "--json", stdin=data)
    assert from_file.returncode == from_pipe.returncode == 0
    assert json.loads(from_file.stdout) == json.loads(from_pipe.stdout)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 3])
    done = _cli("scan", str(cut))
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: The image archive is truncated")


def test_cli_scan_of_an_image_without_package_database(shell_image: str) -> None:
    done = _cli("scan", shell_image)
    assert done.returncode == 0, done.stderr
    assert b"Nothing to inventory" in done.stdout


def test_cli_scan_of_an_unknown_image() -> None:
    done = _cli("scan", f"docker-course/no-such-image-09:{uuid.uuid4().hex[:6]}")
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: There is no image called")


def test_real_scanners_run_or_say_why_in_one_line(built: dict[str, str]) -> None:
    real = vulnerabilities.real_scans(built["old"])
    assert [run.title for run in real.runs] == ["Trivy", "Grype", "Docker Scout"]
    for run in real.runs:
        if run.ran:
            assert run.result is not None and run.result.findings, run.title
            flask = {f.package.lower() for f in run.result.findings}
            assert "flask" in flask, run.title
        else:
            assert run.reason and "\n" not in run.reason, run.title
    assert ("nothing is compared" in real.describe()) == (not real.ran)
