"""``python -m helpers layers``: the JSON contract, the tables, and one-line errors."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from anatomy_builders import BIG, demo_image, legacy_archive, oci_archive

from helpers import cli
from helpers.anatomy import analyse_image
from helpers.errors import ImageUnavailable

LAYER_KEYS = {"index", "diff_id", "created_by", "size_bytes", "files", "wasted_bytes"}


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "demo.tar"
    path.write_bytes(legacy_archive(demo_image()))
    return path


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    code = cli.main(["layers", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_has_the_documented_keys(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(archive), "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert list(report) == ["image", "total_bytes", "wasted_bytes", "efficiency",
                            "duplicate_bytes", "layers", "wasted_files", "duplicates", "secrets"]
    expected = analyse_image(archive).to_json()
    assert report == json.loads(json.dumps(expected))
    assert report["image"] == "course/demo:1"
    assert all(set(layer) >= LAYER_KEYS for layer in report["layers"])
    assert all({"path", "layer", "size_bytes", "reason"} <= set(item)
               and item["reason"] in ("overwritten", "deleted", "opaque")
               for item in report["wasted_files"])
    assert {"path_or_key", "layer", "kind"} <= set(report["secrets"][0])
    wasted = {item["path"]: item["reason"] for item in report["wasted_files"]}
    assert wasted["data/big.bin"] == "deleted" and wasted["cache/a.tmp"] == "opaque"
    assert report["wasted_bytes"] == sum(item["size_bytes"] for item in report["wasted_files"])
    assert "secret-value" not in out and "npm_" not in out  # values are never printed


def test_tables_by_default(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(archive), "--top", "2")
    assert code == 0
    for heading in ("Image course/demo:1", "Layers", "Wasted files:", "(largest 2 shown)",
                    "Largest files", "Duplicates: 1 groups", "Secrets:"):
        assert heading in out
    assert "efficiency" in out and f"{len(BIG)} B" in out


def test_standard_input(archive: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(archive.read_bytes()))
    monkeypatch.setattr("sys.stdin", stdin)
    code, out, _ = _run(capsys, "-", "--json")
    assert code == 0 and json.loads(out)["total_bytes"] == analyse_image(archive).total_bytes


def test_compressed_oci_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "oci.tar"
    path.write_bytes(oci_archive(demo_image(), compression="zstd"))
    code, out, _ = _run(capsys, str(path), "--json")
    assert code == 0
    assert json.loads(out)["wasted_bytes"] == analyse_image(
        legacy_archive(demo_image())).wasted_bytes


def test_fail_on_secrets(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, str(archive), "--json", "--fail-on-secrets")[0] == 1


def _plain_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        data = b"just notes\n"
        info = tarfile.TarInfo("notes.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(("case", "fragment"), [
    ("truncated", "truncated"),
    ("damaged", "damaged"),
    ("not-an-image", "not a docker image archive"),
    ("not-a-tar", "not a tar archive"),
    ("empty", "empty"),
    ("missing", "no image archive at"),
    ("folder", "is a folder"),
])
def test_bad_input_is_one_error_line(case: str, fragment: str, archive: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = archive.read_bytes()
    target = tmp_path / f"{case}.tar"
    if case == "truncated":
        target.write_bytes(data[: len(data) // 2])
    elif case == "damaged":
        damaged = bytearray(data)
        damaged[600:700] = b"\xff" * 100  # inside the second member's header
        target.write_bytes(bytes(damaged))
    elif case == "not-an-image":
        _plain_tar(target)
    elif case == "not-a-tar":
        target.write_text("hello\n" * 200, encoding="utf-8")
    elif case == "empty":
        target.write_bytes(b"")
    elif case == "folder":
        target.mkdir()
    code, out, err = _run(capsys, str(target), "--json")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment in lines[0].lower()
    assert "What to do:" in lines[0]


def test_unknown_image_is_one_error_line(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_image(reference: str, chunk_size: int = 1 << 20):
        raise ImageUnavailable(f"There is no image called {reference!r} on this engine.",
                               hint="check the name with `docker image ls`, or build it first.",
                               log_tail="a line that would otherwise be printed separately")
        yield b""  # pragma: no cover - makes this a generator like the real one

    monkeypatch.setattr("helpers.engine.images.export_stream", no_such_image)
    code, out, err = _run(capsys, "docker-course/none:404")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: There is no image called")


def test_only_the_wanted_plugin_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    monkeypatch.setattr(cli, "REGISTERED", dict(cli.REGISTERED))
    monkeypatch.setattr("importlib.import_module", lambda name: imported.append(name))
    cli._load_plugins("preflight")
    assert imported == []
