"""The streaming reader on every archive shape ``docker save`` writes, built in the test."""

from __future__ import annotations

import gzip
import io
import platform as host
import tarfile

import pytest
from anatomy_builders import (
    TOOL,
    Image,
    both_platforms_archive,
    chunked,
    compress,
    demo_image,
    demo_layers,
    file,
    layer_tar,
    legacy_archive,
    multi_platform_archive,
    oci_archive,
    sha256,
    step,
)

from helpers.anatomy import read_image
from helpers.anatomy.model import HARDLINK, REGULAR, SYMLINK

SHAPES = {
    "legacy, layers before manifest (Engine 20.10)":
        lambda image: legacy_archive(image, layers_first=True),
    "legacy, manifest first": lambda image: legacy_archive(image, layers_first=False),
    "OCI layout, uncompressed (Engine 25+)": lambda image: oci_archive(image),
    "OCI layout, metadata before blobs": lambda image: oci_archive(image, blobs_first=False),
    "containerd store, gzip": lambda image: oci_archive(image, compression="gzip"),
    "containerd store, zstd, no manifest.json":
        lambda image: oci_archive(image, compression="zstd", docker_manifest=False),
    "containerd store, multi-platform index, other platform missing":
        lambda image: multi_platform_archive(image, _other_platform(), compression="zstd"),
}


def _other_platform() -> Image:
    return Image(layers=[layer_tar(file("arm-only", "x"))], history=[step("ADD arm /")],
                 architecture="arm64")


@pytest.fixture(params=list(SHAPES), ids=list(SHAPES))
def shaped(request: pytest.FixtureRequest) -> tuple[Image, bytes]:
    image = demo_image()
    return image, SHAPES[request.param](image)


def test_every_shape_yields_the_same_ordered_layers(shaped: tuple[Image, bytes]) -> None:
    image, archive_bytes = shaped
    archive = read_image(archive_bytes)

    assert [layer.index for layer in archive.layers] == list(range(len(image.layers)))
    assert [layer.diff_id for layer in archive.layers] == [sha256(t) for t in image.layers]
    built_steps = [h["created_by"] for h in image.history if not h.get("empty_layer")]
    assert [layer.created_by for layer in archive.layers] == built_steps
    assert archive.config["rootfs"]["diff_ids"] == [sha256(t) for t in image.layers]
    assert archive.repo_tags == image.tags
    assert archive.env["DB_PASSWORD"]
    assert archive.cmd == ["python", "app.py"]
    assert archive.platform == "linux/amd64"


def test_layer_sizes_and_counts_match_an_independent_tarfile_listing(
        shaped: tuple[Image, bytes]) -> None:
    image, archive_bytes = shaped
    archive = read_image(archive_bytes)
    for layer, tar_bytes in zip(archive.layers, image.layers, strict=True):
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
            regular = [m for m in tar.getmembers()
                       if m.isreg() and "/.wh." not in f"/{m.name}"]
        assert layer.size_bytes == sum(m.size for m in regular)
        assert layer.file_count == len(regular)


def test_compressed_blobs_get_their_diff_id_from_the_decompressed_stream() -> None:
    image = demo_image()
    for compression in ("gzip", "zstd"):
        archive = read_image(oci_archive(image, compression=compression))
        for layer, tar_bytes in zip(archive.layers, image.layers, strict=True):
            assert layer.content.compression == compression
            assert layer.content.computed_diff_id == sha256(tar_bytes)
            assert layer.content.blob_size == len(compress(tar_bytes, compression))


def test_scanner_contract_files_and_deletions() -> None:
    """The attributes the vulnerability scanner codes against, with normalised paths."""
    archive = read_image(oci_archive(demo_image(prefix="./")),
                         keep=lambda path: path in {"var/lib/dpkg/status", "etc/app.conf"})
    base, app, cleanup, reset = archive.layers

    assert base.files == {"var/lib/dpkg/status": b"Package: demo\nVersion: 1.0\n\n",
                          "etc/app.conf": b"x" * 100}
    assert app.files == {"etc/app.conf": b"y" * 120}  # modified in this layer, so kept again
    assert cleanup.files == {} and reset.files == {}
    assert app.deleted == {"root/.ssh/id_rsa"}
    assert cleanup.deleted == {"data"}
    assert reset.deleted == {"cache/"}  # opaque whiteout: the directory, with a slash
    assert all(not p.startswith(("./", "/")) for layer in archive.layers for p in layer.entries)
    assert isinstance(archive.config, dict) and isinstance(archive.repo_tags, list)


def test_a_hard_link_names_its_targets_content_and_stores_nothing() -> None:
    archive = read_image(legacy_archive(demo_image()))
    base = archive.layers[0]
    tool, link = base.entries["usr/bin/tool"], base.entries["usr/lib/tool-link"]
    assert (tool.kind, tool.size) == (REGULAR, len(TOOL))
    assert (link.kind, link.size, link.digest, link.inode) == (
        HARDLINK, len(TOOL), tool.digest, tool.inode)  # one content, two names
    assert base.entries["usr/bin/tool-alias"].kind == SYMLINK
    assert base.size_bytes == sum(r.size for r in base.entries.values() if r.kind == REGULAR)


@pytest.mark.parametrize("chunk", [1, 7, 511, 513, 4096])
def test_any_chunking_of_the_stream_gives_the_same_result(chunk: int) -> None:
    data = oci_archive(demo_image(), compression="gzip")
    reference = read_image(data)
    archive = read_image(iter(chunked(data, chunk)))
    assert [layer.entries for layer in archive.layers] == \
        [layer.entries for layer in reference.layers]


def test_sources_path_file_object_and_bytes(tmp_path) -> None:
    data = legacy_archive(demo_image())
    path = tmp_path / "image.tar"
    path.write_bytes(data)
    expected = [sha256(t) for t in demo_layers()]
    for source in (str(path), path, io.BytesIO(data), data, bytearray(data), memoryview(data)):
        assert [layer.diff_id for layer in read_image(source).layers] == expected


def test_a_gzipped_archive_is_read_too() -> None:
    data = gzip.compress(legacy_archive(demo_image()))
    assert len(read_image(data).layers) == 4


def test_multi_platform_index_picks_the_platform_whose_blobs_are_present() -> None:
    present = demo_image()
    present.architecture = "arm64"  # not the preferred amd64: chosen because it is complete
    absent = Image(layers=[layer_tar(file("x", "y"))], history=[step("ADD x /")],
                   architecture="amd64")
    archive = read_image(multi_platform_archive(present, absent, keep_absent_manifest=False))
    assert archive.platform == "linux/arm64"
    assert [layer.diff_id for layer in archive.layers] == [sha256(t) for t in present.layers]
    assert archive.repo_tags == present.tags


def test_multi_platform_index_with_every_platform_present_honours_the_request() -> None:
    amd = demo_image()
    arm = Image(layers=[layer_tar(file("arm", "64"))], history=[step("ADD arm /")],
                architecture="arm64")
    data = both_platforms_archive(arm, amd)
    on_arm = host.machine().lower() in {"aarch64", "arm64"}
    assert read_image(data).platform == ("linux/arm64" if on_arm else "linux/amd64")
    chosen = read_image(data, platform="linux/arm64")
    assert chosen.platform == "linux/arm64"
    assert [layer.diff_id for layer in chosen.layers] == [sha256(t) for t in arm.layers]
    amd_chosen = read_image(data, platform="linux/amd64")
    assert len(amd_chosen.layers) == len(amd.layers)


def test_tag_selects_among_several_images_in_one_archive() -> None:
    first = demo_image()
    second = Image(layers=[layer_tar(file("only", "one"))], history=[step("ADD only /")],
                   tags=["course/other:2"])
    data = legacy_archive(first, second)
    assert read_image(data).repo_tags == first.tags
    other = read_image(data, tag="course/other:2")
    assert other.repo_tags == ["course/other:2"]
    assert [layer.diff_id for layer in other.layers] == [sha256(second.layers[0])]


def test_empty_history_entries_are_skipped_when_tying_layers_to_steps() -> None:
    image = demo_image()
    archive = read_image(legacy_archive(image))
    made = [i for i, h in enumerate(image.history) if not h.get("empty_layer")]
    assert [layer.history_index for layer in archive.layers] == made


def test_long_names_in_gnu_and_pax_layer_tars() -> None:
    long_path = "opt/" + "/".join(["deeply-nested-directory"] * 8) + "/file.txt"
    prefixed_path = "a" * 90 + "/" + "b" * 90  # fits ustar only through the prefix field
    for fmt, path in ((tarfile.GNU_FORMAT, long_path), (tarfile.PAX_FORMAT, long_path),
                      (tarfile.USTAR_FORMAT, prefixed_path)):
        image = Image(layers=[layer_tar(file(path, "hello"), fmt=fmt)],
                      history=[step("ADD / /")])
        archive = read_image(legacy_archive(image))
        assert list(archive.layers[0].entries) == [path]
        assert archive.layers[0].size_bytes == 5


def test_secret_scanning_can_be_turned_off() -> None:
    archive = read_image(legacy_archive(demo_image()), scan_secrets=False)
    assert all(not layer.content.secret_hits for layer in archive.layers)


def test_a_repeated_layer_saved_as_a_symlink_is_read_at_both_positions() -> None:
    repeated = layer_tar(file("marker", "same"))
    image = Image(layers=[repeated, layer_tar(file("other", "x")), repeated],
                  history=[step("RUN a"), step("RUN b"), step("RUN a")])
    archive = read_image(legacy_archive(image))
    assert [layer.diff_id for layer in archive.layers] == [sha256(t) for t in image.layers]
    assert archive.layers[0].entries == archive.layers[2].entries
    assert [layer.index for layer in archive.layers] == [0, 1, 2]


def test_empty_chunks_from_a_generator_do_not_end_the_stream() -> None:
    data = legacy_archive(demo_image())
    pieces = [piece for chunk in chunked(data, 1000) for piece in (chunk, b"")]
    assert len(read_image(iter(pieces)).layers) == 4
