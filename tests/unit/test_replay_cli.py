"""With no engine, the command lines the notebooks suggest answer from the recordings, or say in
one line why they cannot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from anatomy_builders import demo_image, legacy_archive

from helpers import cli
from helpers.anatomy import analyse_image
from helpers.scan.scanner import scan_source
from helpers.session import codec, recording


@pytest.fixture
def no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No engine answers; the recordings hold one layer analysis and one scan of demo:1."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("COURSE_RECORDINGS_DIR", str(tmp_path / "recordings"))
    monkeypatch.chdir(tmp_path)
    archive = tmp_path / "demo.tar"
    archive.write_bytes(legacy_archive(demo_image()))
    anatomy = analyse_image(archive)
    anatomy.image = "docker-course/demo:1"
    scan = scan_source(archive, target="docker-course/demo:1")
    saved = recording.Recording(notebook="04", recorded_at="2026-12-01")
    saved.add({"helper": "analyse", "key": "k1", "cell": "", "args": {
        "reference": "docker-course/demo:1"}, "result": codec.encode(anatomy)})
    saved.add({"helper": "scan_image", "key": "k2", "cell": "", "args": {
        "reference": "docker-course/demo:1"}, "result": codec.encode(scan)})
    saved.save()
    archive.unlink()
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = cli.main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_layers_of_a_recorded_image_shows_the_recorded_analysis(no_engine, capsys) -> None:
    code, out, err = _run(capsys, "layers", "docker-course/demo:1")
    assert code == 0 and "Image docker-course/demo:1" in out
    assert "recorded in notebook 04 on 2026-12-01" in err
    code, out, _ = _run(capsys, "layers", "docker-course/demo:1", "--json")
    assert code == 0 and json.loads(out)["image"] == "docker-course/demo:1"


def test_scan_of_a_recorded_image_or_its_saved_archive_name(no_engine, capsys) -> None:
    code, out, err = _run(capsys, "scan", "docker-course/demo:1", "--json")
    assert code == 0 and {"findings", "summary"} <= set(json.loads(out))
    code, out, err = _run(capsys, "scan", "demo_1.tar")  # as `docker save … -o demo_1.tar`
    assert code == 0 and "docker-course/demo:1" in out and "no engine ran `docker save`" in err


def test_what_was_not_recorded_says_why_in_one_line(no_engine, capsys) -> None:
    for arguments in (["layers", "docker-course/other:2"], ["layers", "multi.tar"],
                      ["scan", "docker-course/other:2"], ["images-archive", "out"]):
        code, out, err = _run(capsys, *arguments)
        assert code == 2 and out == "", arguments
        assert len(err.strip().splitlines()) == 1, err
        assert "No Docker Engine here" in err and "make lab" in err, err
    code, out, err = _run(capsys, "layers", "docker-course/other:2")
    assert "it has docker-course/demo:1" in err


def test_cleanup_and_leftovers_have_nothing_to_do(no_engine, capsys) -> None:
    assert _run(capsys, "cleanup")[:2] == (0, "Nothing to clean up: no Docker Engine runs here "
                                              "(replay), so the course created nothing.\n")
    assert _run(capsys, "leftovers")[0] == 0
