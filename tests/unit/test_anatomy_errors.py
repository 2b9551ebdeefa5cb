"""Every way an archive can be wrong ends in one readable CourseError, never a raw traceback."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from anatomy_builders import (
    Image,
    compress,
    demo_image,
    file,
    layer_tar,
    legacy_archive,
    multi_platform_archive,
    oci_archive,
    step,
)

from helpers.anatomy import read_image
from helpers.errors import CourseError


def _raises(source: object, *fragments: str) -> CourseError:
    with pytest.raises(CourseError) as caught:
        read_image(source)  # type: ignore[arg-type]
    error = caught.value
    message = str(error).lower()
    for fragment in fragments:
        assert fragment.lower() in message, message
    assert error.__cause__ is None  # no chained traceback
    assert error.__context__ is None or error.__suppress_context__
    assert error.hint  # always says what to do
    return error


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _replace_blob(archive: bytes, old: bytes, new: bytes | None) -> bytes:
    """Rebuild an archive with one blob's content swapped (its name kept), or dropped."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive)) as source, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isreg() else None
            if data == old:
                if new is None:
                    continue
                data = new
                member.size = len(new)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _content_end(archive: bytes) -> int:
    """Where the last member's data ends (tarfile pads archives with zero blocks after it)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return max(m.offset_data + m.size for m in tar.getmembers())


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95, 0.999])
@pytest.mark.parametrize("shape", ["legacy", "gzip"])
def test_truncated_archive(cut: float, shape: str) -> None:
    data = legacy_archive(demo_image()) if shape == "legacy" else \
        oci_archive(demo_image(), compression="gzip")
    _raises(data[: int(_content_end(data) * cut)], "truncated")


def test_truncated_compressed_archive() -> None:
    data = gzip.compress(legacy_archive(demo_image()))
    _raises(data[: len(data) // 2], "truncated")


@pytest.mark.parametrize("member", [1, 3, -1])
def test_damaged_header(member: int) -> None:
    data = bytearray(legacy_archive(demo_image()))
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as tar:
        offset = tar.getmembers()[member].offset
    data[offset + 3] ^= 0x55  # inside the name field
    _raises(bytes(data), "damaged")


def test_damaged_header_inside_an_uncompressed_layer() -> None:
    image = demo_image()
    layer = bytearray(image.layers[0])
    layer[512 * 3 + 5] ^= 0x21  # a header block of the layer tar (all entries are tiny)
    broken = _replace_blob(legacy_archive(image), image.layers[0], bytes(layer))
    _raises(broken, "layer", "damaged")


def test_empty_input() -> None:
    _raises(b"", "empty")


def test_not_a_tar_at_all() -> None:
    _raises(b"PK\x03\x04 this is a zip file, not an image" * 40, "not a tar")


def test_a_tar_that_is_not_an_image() -> None:
    _raises(_tar({"hello.txt": b"hi", "notes/readme.md": b"# notes"}),
            "not a docker image archive", "hello.txt")


@pytest.mark.parametrize("compression, garbage", [
    ("gzip", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 8),
    ("zstd", b"\x28\xb5\x2f\xfd" + bytes(range(256)) * 8),
])
def test_corrupt_compressed_layer_blob(compression: str, garbage: bytes) -> None:
    image = demo_image()
    data = oci_archive(image, compression=compression)
    broken = _replace_blob(data, compress(image.layers[2], compression), garbage)
    error = _raises(broken, "layer", compression)
    assert "blobs/sha256/" in error.message


def test_truncated_gzip_layer_blob() -> None:
    image = demo_image()
    blob = gzip.compress(image.layers[0], mtime=0)
    broken = _replace_blob(oci_archive(image, compression="gzip"), blob, blob[: len(blob) // 2])
    _raises(broken, "layer")


def test_truncated_zstd_layer_blob_is_caught_by_the_tar_or_the_diff_id() -> None:
    image = demo_image()
    blob = compress(image.layers[0], "zstd")
    broken = _replace_blob(oci_archive(image, compression="zstd"), blob, blob[: len(blob) // 2])
    _raises(broken, "layer")


def test_layer_whose_content_does_not_match_its_diff_id() -> None:
    image = demo_image()
    data = oci_archive(image, compression="gzip")
    impostor = gzip.compress(layer_tar(file("other", "content")), mtime=0)
    broken = _replace_blob(data, gzip.compress(image.layers[1], mtime=0), impostor)
    _raises(broken, "does not match the diff_id")


def test_uncompressed_layer_that_is_not_a_tar() -> None:
    image = demo_image()
    broken = _replace_blob(oci_archive(image), image.layers[3], b"\x00\x01 not a tar " * 100)
    _raises(broken, "layer", "neither a tar")


def test_missing_layer_blob() -> None:
    image = demo_image()
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(legacy_archive(image))) as source, \
            tarfile.open(fileobj=out, mode="w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isreg() else None
            if data == image.layers[1]:
                continue
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    _raises(out.getvalue(), "incomplete", "missing")


def test_multi_platform_index_with_no_complete_platform() -> None:
    present = demo_image()
    absent = Image(layers=[layer_tar(file("x", "y"))], history=[step("ADD x /")],
                   architecture="arm64")
    data = multi_platform_archive(present, absent)
    broken = _replace_blob(data, present.config_bytes(), None)
    _raises(broken, "incomplete", "missing")


def test_unknown_platform_requested() -> None:
    with pytest.raises(CourseError, match="platform linux/s390x"):
        read_image(multi_platform_archive(demo_image(), Image(
            layers=[layer_tar(file("x", "y"))], history=[step("ADD x /")],
            architecture="arm64")), platform="linux/s390x")


def test_unknown_tag_requested() -> None:
    with pytest.raises(CourseError, match="no image tagged"):
        read_image(legacy_archive(demo_image()), tag="nope:1")


def test_config_and_manifest_disagree_on_the_layer_count() -> None:
    image = demo_image()
    config = json.loads(image.config_bytes())
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:2]
    broken = _replace_blob(legacy_archive(image), image.config_bytes(),
                           json.dumps(config).encode())
    _raises(broken, "inconsistent")


def test_unreadable_file_raises_course_error(tmp_path) -> None:
    _raises(tmp_path / "does-not-exist.tar", "cannot open")
