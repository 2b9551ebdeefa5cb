"""Image anatomy on the real engine: the CLI's JSON against waste known by construction.

The test image is built FROM the course's shell image with random (so never accidentally
equal) file contents of chosen sizes: a file overwritten, a file and a directory deleted, a
directory reset by ``rm -rf`` + ``mkdir`` in one step (overlay2 stores that as an opaque
whiteout), and one content at three paths. Expected numbers are the base image's own (measured
by the same analysis) plus what the steps below add.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import settings
from helpers.anatomy import analyse_image
from helpers.engine import build, images
from helpers.engine.client import client
from helpers.lessons import anatomy as lesson

DOCKERFILE = """\
ARG SHELL_IMAGE
FROM ${SHELL_IMAGE}
RUN mkdir -p /data/dir/sub /opq \
 && head -c 100000 /dev/urandom > /data/a && head -c 200000 /dev/urandom > /data/b \
 && head -c 30000 /dev/urandom > /data/dir/x && head -c 40000 /dev/urandom > /data/dir/sub/y \
 && head -c 50000 /dev/urandom > /opq/p && head -c 60000 /dev/urandom > /opq/q
RUN head -c 111111 /dev/urandom > /data/a
RUN rm /data/b && rm -rf /data/dir
RUN rm -rf /opq && mkdir /opq && head -c 7000 /dev/urandom > /opq/new
RUN head -c 12345 /dev/urandom > /dup1 && cp /dup1 /dup2 && cp /dup1 /data/dup3
"""
ADDED = [100_000 + 200_000 + 30_000 + 40_000 + 50_000 + 60_000, 111_111, 0, 7_000, 3 * 12_345]
FILES = [6, 1, 0, 1, 3]


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helpers", *arguments], cwd=settings.PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def built(scope: str, shell_image: str, tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    tag = f"docker-course/anatomy-{scope}:1"
    build.build(tmp_path, tag, build_args={"SHELL_IMAGE": shell_image}, quiet=True)
    return tag, shell_image


def test_cli_json_matches_the_waste_built_in(built: tuple[str, str]) -> None:
    tag, base_reference = built
    base = analyse_image(images.export_stream(base_reference))
    answer = _cli("layers", tag, "--json")
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout)
    b = len(base.layers)  # index of the first layer the test's steps made

    overlay = client().info().get("Driver") == "overlay2"
    expected_waste = [
        {"path": "data/b", "layer": b, "size_bytes": 200_000, "reason": "deleted"},
        {"path": "data/a", "layer": b, "size_bytes": 100_000, "reason": "overwritten"},
        {"path": "opq/q", "layer": b, "size_bytes": 60_000,
         "reason": "opaque" if overlay else "deleted"},
        {"path": "opq/p", "layer": b, "size_bytes": 50_000,
         "reason": "opaque" if overlay else "deleted"},
        {"path": "data/dir/sub/y", "layer": b, "size_bytes": 40_000, "reason": "deleted"},
        {"path": "data/dir/x", "layer": b, "size_bytes": 30_000, "reason": "deleted"},
    ]
    base_waste = [{"path": w.path, "layer": w.layer, "size_bytes": w.size_bytes,
                   "reason": w.reason} for w in base.wasted_files]
    got_waste = [{key: item[key] for key in ("path", "layer", "size_bytes", "reason")}
                 for item in report["wasted_files"]]
    assert sorted(got_waste, key=str) == sorted(expected_waste + base_waste, key=str)
    hidden_by = {item["path"]: item["hidden_by"] for item in report["wasted_files"]}
    assert hidden_by["data/a"] == b + 1
    assert hidden_by["data/b"] == hidden_by["data/dir/x"] == b + 2
    assert hidden_by["opq/p"] == b + 3

    wasted = 480_000 + base.wasted_bytes
    total = base.total_bytes + sum(ADDED)
    assert report["image"] == tag
    assert report["wasted_bytes"] == wasted
    assert report["total_bytes"] == total
    assert report["efficiency"] == pytest.approx(1 - wasted / total, abs=1e-12)
    assert report["duplicate_bytes"] == base.duplicate_bytes + 2 * 12_345
    ours = [group for group in report["duplicates"] if "dup1" in group["paths"]]
    assert ours == [{"paths": ["data/dup3", "dup1", "dup2"], "size_bytes": 12_345,
                     "wasted_bytes": 24_690, "layers": [b + 4] * 3}]

    layers = report["layers"]
    assert len(layers) == b + 5
    for offset, (size, files) in enumerate(zip(ADDED, FILES, strict=True)):
        layer = layers[b + offset]
        assert layer["index"] == b + offset
        assert layer["size_bytes"] == size and layer["files"] == files
        assert layer["diff_id"].startswith("sha256:")
    assert "head -c 111111" in layers[b + 1]["created_by"]
    assert layers[b]["wasted_bytes"] == 480_000
    assert [layer["wasted_bytes"] for layer in layers[b + 1:]] == [0, 0, 0, 0]
    assert report["secrets"] == []


def test_cli_tables_without_json(built: tuple[str, str]) -> None:
    answer = _cli("layers", built[0], "--top", "3")
    assert answer.returncode == 0, answer.stderr
    text = answer.stdout
    assert "efficiency" in text and "Wasted files: 6" in text
    assert "RUN rm /data/b && rm -rf /data/dir" in text


def _one_error_line(answer: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert answer.returncode == 2
    assert answer.stdout == ""
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1, answer.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in answer.stderr
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower()
    return lines[0]


def test_bad_inputs_give_one_clear_error(built: tuple[str, str], tmp_path: Path) -> None:
    _one_error_line(_cli("layers", "docker-course/no-such-image:404"), "no image called")

    archive = tmp_path / "image.tar"
    with archive.open("wb") as out:
        for chunk in images.export_stream(built[0]):
            out.write(chunk)
    data = archive.read_bytes()
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[: len(data) // 2])
    _one_error_line(_cli("layers", str(truncated)), "truncated")

    corrupt = tmp_path / "corrupt.tar"
    damaged = bytearray(data)
    damaged[0:512] = b"\x7f" * 512  # the first header: no longer a tar at all
    corrupt.write_bytes(bytes(damaged))
    _one_error_line(_cli("layers", str(corrupt)), "not a tar archive")

    plain = tmp_path / "notes.tar"
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    with tarfile.open(plain, "w") as tar:
        tar.add(tmp_path / "notes.txt", arcname="notes.txt")
    _one_error_line(_cli("layers", str(plain)), "not")

    _one_error_line(_cli("layers", str(tmp_path / "missing.tar")), "no image archive")

    answer = _cli("layers", str(archive), "--json")  # the saved archive itself reads fine
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["wasted_bytes"] >= 480_000


def test_the_leaky_image_keeps_its_deleted_secrets(scope: str) -> None:
    tag = f"docker-course/leaky-{scope}:1"
    lesson.build_leaky(tag)
    anatomy = lesson.analyse(tag)
    found = {(s.path_or_key, s.kind): s for s in anatomy.secrets}
    key = found[("src/id_rsa", "private-key")]
    env_file = found[("src/.env", "env-file")]
    password = found[("DB_PASSWORD", "secret-variable")]
    copy_layer = next(layer.index for layer in anatomy.layers
                      if layer.step.startswith("COPY"))
    rm_layer = next(layer.index for layer in anatomy.layers if "rm -f id_rsa" in layer.step)
    for finding in (key, env_file):
        assert not finding.visible and finding.layer == copy_layer
        assert f"deleted in layer {rm_layer}" in finding.note
    assert password.source == "env" and password.visible
    text = json.dumps(anatomy.to_json())
    assert "PRIVATE KEY-----\n" not in text and "not-a-real-password" not in text
