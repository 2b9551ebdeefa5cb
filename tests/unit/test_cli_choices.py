"""``layers`` and ``scan`` on archives of several images or platforms, and awkward output.

``--image`` and ``--platform`` choose; without them the first image is read and a note on
standard error says which and how to choose (the JSON on standard output stays clean).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from anatomy_builders import Image, file, layer_tar, legacy_archive, step
from archive_writers import _seal, buildx_oci, end_of_archive, engine25_multi, raw_member

from helpers import cli

REPO = Path(__file__).resolve().parents[2]


def _image(tag: str, payload: bytes, architecture: str = "amd64") -> Image:
    return Image(layers=[layer_tar(file("app/blob", payload))], history=[step("COPY blob")],
                 tags=[tag], architecture=architecture)


@pytest.fixture
def two_images(tmp_path: Path) -> Path:
    path = tmp_path / "two.tar"
    path.write_bytes(engine25_multi(_image("course/one:1", b"1" * 10),
                                    _image("course/two:2", b"2" * 20)))
    return path


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = cli.main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", ["layers", "scan"])
def test_the_first_image_and_a_note_saying_how_to_choose(two_images: Path, command: str,
                                                         capsys) -> None:
    code, out, err = _run(capsys, command, str(two_images), "--json")
    assert code == 0
    json.loads(out)
    assert "holds 2 images (course/one:1, course/two:2)" in err and "--image NAME" in err


def test_image_option_chooses(two_images: Path, capsys) -> None:
    code, out, err = _run(capsys, "layers", str(two_images), "--json", "--image", "course/two:2")
    assert code == 0 and err == ""
    assert json.loads(out)["total_bytes"] == 20
    code, out, err = _run(capsys, "scan", str(two_images), "--image", "course/nope")
    assert code == 2 and "no image tagged 'course/nope'" in err and "course/one:1" in err


def test_platform_option_chooses(tmp_path: Path, capsys) -> None:
    path = tmp_path / "oci.tar"
    path.write_bytes(buildx_oci([_image("course/x:1", b"a" * 5, "amd64"),
                                 _image("course/x:1", b"b" * 7, "arm64")], name="course/x:1"))
    code, out, _ = _run(capsys, "layers", str(path), "--json", "--platform", "linux/arm64")
    assert code == 0 and json.loads(out)["total_bytes"] == 7
    code, _, err = _run(capsys, "layers", str(path), "--platform", "linux/s390x")
    assert code == 2 and "linux/amd64, linux/arm64" in err


def test_names_that_are_not_utf8_are_printed_escaped(tmp_path: Path) -> None:
    member = raw_member("srv/cafX", b"x" * 10)
    header = bytearray(member[:512].replace(b"srv/cafX", b"srv/caf\xe9"))  # a Latin-1 name
    layer = _seal(header) + member[512:] + end_of_archive()
    path = tmp_path / "latin1.tar"
    path.write_bytes(legacy_archive(Image(layers=[layer], history=[step("ADD")])))
    done = subprocess.run([sys.executable, "-m", "helpers", "layers", str(path)],
                          capture_output=True, cwd=REPO, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert b"srv/caf\\xe9" in done.stdout  # the raw byte, escaped


def test_a_closed_pipe_ends_quietly(two_images: Path) -> None:
    command = f"{sys.executable} -m helpers layers {two_images} --image course/one:1 | head -1"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=REPO,
                          timeout=60, check=False)
    assert done.stdout.startswith("Image course/one:1")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
