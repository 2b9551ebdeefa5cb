"""The reader on real archives from dive's test data, checked against an independent reading.

The archives live in the shared folder next to the repository, not in it; the test skips when
that folder is absent. Expected values are derived here with :mod:`tarfile`, :mod:`gzip` and
:mod:`zstandard`, not copied from the reader's output.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard

from helpers.anatomy import analyse_image, read_image

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "dive"
ARCHIVES = sorted(FIXTURES.glob("*.tar")) if FIXTURES.is_dir() else []

pytestmark = pytest.mark.skipif(not ARCHIVES, reason=f"no dive fixtures in {FIXTURES}")


def _independent_reading(path: Path) -> dict:
    """What the archive holds, following index.json -> manifest -> config and layers."""
    with tarfile.open(path) as outer:
        blobs = {m.name: outer.extractfile(m).read() for m in outer.getmembers() if m.isreg()}
    index = json.loads(blobs["index.json"])
    manifest = json.loads(blobs["blobs/" + index["manifests"][0]["digest"].replace(":", "/")])
    config = json.loads(blobs["blobs/" + manifest["config"]["digest"].replace(":", "/")])
    layers = []
    for descriptor in manifest["layers"]:
        blob = blobs["blobs/" + descriptor["digest"].replace(":", "/")]
        if blob[:2] == b"\x1f\x8b":
            blob = gzip.decompress(blob)
        elif blob[:4] == b"\x28\xb5\x2f\xfd":
            blob = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read()
        with tarfile.open(fileobj=io.BytesIO(blob)) as layer:
            files = {m.name.removeprefix("./"): m.size for m in layer.getmembers() if m.isreg()}
        layers.append({"diff_id": "sha256:" + hashlib.sha256(blob).hexdigest(), "files": files})
    return {"config": config, "layers": layers}


@pytest.mark.parametrize("path", ARCHIVES, ids=[p.name for p in ARCHIVES])
def test_real_archive_matches_an_independent_reading(path: Path) -> None:
    expected = _independent_reading(path)
    archive = read_image(path)
    built = [h for h in expected["config"]["history"] if not h.get("empty_layer")]

    assert archive.config == expected["config"]
    assert [layer.diff_id for layer in archive.layers] == \
        [layer["diff_id"] for layer in expected["layers"]] == \
        expected["config"]["rootfs"]["diff_ids"]
    assert [layer.created_by for layer in archive.layers] == [h["created_by"] for h in built]
    for layer, wanted in zip(archive.layers, expected["layers"], strict=True):
        assert {p: r.size for p, r in layer.entries.items()} == wanted["files"]
        assert layer.size_bytes == sum(wanted["files"].values())
        if layer.content.computed_diff_id:  # compressed: digest of the decompressed stream
            assert layer.content.computed_diff_id == wanted["diff_id"]
    expected_platform = f"{expected['config']['os']}/{expected['config']['architecture']}"
    assert archive.platform == expected_platform


@pytest.mark.parametrize("path", ARCHIVES, ids=[p.name for p in ARCHIVES])
def test_real_archive_analysis(path: Path) -> None:
    expected = _independent_reading(path)
    report = analyse_image(path)
    total = sum(sum(layer["files"].values()) for layer in expected["layers"])
    assert report.total_bytes == total
    assert report.wasted_bytes == 0 and report.efficiency == 1.0  # one layer, nothing hidden
    assert report.secrets == []


def test_all_shapes_of_the_same_image_agree() -> None:
    readings = {path.name: read_image(path) for path in ARCHIVES}
    diff_ids = {tuple(layer.diff_id for layer in a.layers) for a in readings.values()}
    assert len(diff_ids) == 1
    compressions = {a.layers[0].content.compression for a in readings.values()}
    assert compressions <= {"none", "gzip", "zstd"}
