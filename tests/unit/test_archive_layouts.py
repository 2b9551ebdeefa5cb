"""Every archive layout ``docker load`` accepts, read by following its references.

The archives come from the writers in ``archive_writers`` (podman/skopeo, go-containerregistry,
buildx OCI output, ``docker save`` of several images on Engine 25+, the pre-1.10 layout) and
from ``anatomy_builders`` (docker save of Engine <= 24 and 25+, containerd store). Whatever the
layout, the same image must give the same layers, the same analysis and the same inventory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import platform as host
import tarfile

import pytest
import zstandard
from anatomy_builders import (
    Image,
    file,
    layer_tar,
    legacy_archive,
    oci_archive,
    sha256,
    step,
)
from archive_writers import (
    buildx_oci,
    crane_tarball,
    docker_v1,
    engine25_multi,
    outer,
    podman_archive,
)

from helpers.anatomy import analyse, read_image
from helpers.errors import CourseError
from helpers.scan import scan_archive, wants

SITE = "usr/local/lib/python3.12/site-packages"
METADATA = b"Metadata-Version: 2.1\nName: PyMySQL\nVersion: 1.0.2\n\n"
OS_RELEASE = b'ID=debian\nVERSION_ID="12"\n'
STORED = len(OS_RELEASE) + len(METADATA) + 3000 + 2000 + 50


def _app(tag: str = "course/app:1", architecture: str = "amd64") -> Image:
    return Image(
        layers=[layer_tar(file("etc/os-release", OS_RELEASE),
                          file(f"{SITE}/PyMySQL-1.0.2.dist-info/METADATA", METADATA),
                          file("app/data.bin", b"A" * 3000)),
                layer_tar(file("app/data.bin", b"B" * 2000), file("app/new.txt", b"n" * 50))],
        history=[step("RUN pip install PyMySQL==1.0.2"), step("COPY data /app")],
        tags=[tag], architecture=architecture)


def _other(tag: str = "course/other:2") -> Image:
    return Image(layers=[layer_tar(file("only/file", b"o" * 77))], history=[step("ADD x /")],
                 tags=[tag])


LAYOUTS = {
    "docker save, Engine <= 24": lambda image: legacy_archive(image),
    "docker save, Engine 25+": lambda image: oci_archive(image),
    "containerd store, zstd": lambda image: oci_archive(image, compression="zstd",
                                                        docker_manifest=False),
    "podman save / skopeo docker-archive": lambda image: podman_archive(image),
    "go-containerregistry (crane) tarball": lambda image: crane_tarball(image),
    "buildx --output type=oci": lambda image: buildx_oci([image], name=image.tags[0]),
    "docker save a b, Engine 25+": lambda image: engine25_multi(image, _other()),
    "docker save before Engine 1.10": lambda image: docker_v1(image),
    "docker save | bzip2": lambda image: bz2.compress(legacy_archive(image)),
    "docker save | xz": lambda image: lzma.compress(oci_archive(image)),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_layout_gives_the_same_image(layout: str) -> None:
    image = _app()
    archive = read_image(LAYOUTS[layout](image), keep=wants)
    assert [layer.diff_id for layer in archive.layers] in (
        [sha256(t) for t in image.layers], ["", ""])  # the pre-1.10 layout names no diff_id
    assert [layer.created_by.removeprefix("/bin/sh -c ") for layer in archive.layers] == [
        h["created_by"] for h in image.history]
    assert archive.repo_tags == image.tags
    assert archive.platform == "linux/amd64"
    anatomy = analyse(archive)
    assert (anatomy.total_bytes, anatomy.wasted_bytes) == (STORED, 3000)
    assert [(w.path, w.reason) for w in anatomy.wasted_files] == [("app/data.bin",
                                                                   "overwritten")]
    found = scan_archive(archive)
    assert [(p.name, p.version, p.layer_index) for p in found.packages] == [
        ("PyMySQL", "1.0.2", 0)]
    assert [f.id for f in found.findings] == ["CVE-2024-36039"]


def test_several_images_in_one_archive_say_so_and_can_be_chosen() -> None:
    for data in (engine25_multi(_app(), _other()), podman_archive(_app(), _other()),
                 crane_tarball(_app(), _other()), legacy_archive(_app(), _other())):
        first = read_image(data)
        assert first.repo_tags == ["course/app:1"]
        assert first.images == ["course/app:1", "course/other:2"]
        assert "holds 2 images" in first.notes[0] and "--image" in first.notes[0]
        other = read_image(data, tag="docker.io/course/other:2")
        assert [layer.diff_id for layer in other.layers] == [sha256(_other().layers[0])]
        assert other.notes == []
        with pytest.raises(CourseError, match="no image tagged 'course/nope'"):
            read_image(data, tag="course/nope")


def test_a_name_without_tag_means_latest() -> None:
    data = podman_archive(_app("localhost/app:latest"), _other())
    assert read_image(data, tag="localhost/app").repo_tags == ["localhost/app:latest"]


def test_buildx_oci_with_two_platforms_prefers_the_host_then_honours_the_request() -> None:
    amd, arm = _app(architecture="amd64"), _app(architecture="arm64")
    arm.layers[1] = layer_tar(file("arm/only", b"64"))
    data = buildx_oci([amd, arm], name="course/app:1")
    on_arm = host.machine().lower() in {"aarch64", "arm64"}
    chosen = read_image(data)
    assert chosen.platform == ("linux/arm64" if on_arm else "linux/amd64")
    assert chosen.notes == []  # two platforms of one image are not two images
    assert read_image(data, platform="linux/arm64").layers[1].diff_id == sha256(arm.layers[1])
    assert read_image(data).repo_tags == ["course/app:1"]


def test_untagged_pre_1_10_archive_is_named_by_its_top_id() -> None:
    archive = read_image(docker_v1(_app(), tagged=False))
    assert archive.repo_tags == [] and len(archive.name) == 12
    assert archive.layout == "docker-v1"


@pytest.mark.parametrize("compression", ["bzip2", "xz", "zstd", "gzip"])
def test_layers_in_every_compression_docker_load_accepts(compression: str) -> None:
    image = _app()
    press = {"bzip2": bz2.compress, "xz": lzma.compress, "gzip": gzip.compress,
             "zstd": zstandard.ZstdCompressor().compress}[compression]
    members = [(f"l{i}.tar.x", press(layer)) for i, layer in enumerate(image.layers)]
    config = image.config_bytes()
    manifest = [{"Config": "c.json", "RepoTags": image.tags, "Layers": [n for n, _ in members]}]
    archive = read_image(outer([*members, ("c.json", config),
                                ("manifest.json", json.dumps(manifest).encode())]))
    assert [layer.content.compression for layer in archive.layers] == [compression] * 2
    assert [layer.content.computed_diff_id for layer in archive.layers] == [
        sha256(t) for t in image.layers]


# --- malformed archives: one clear error each -------------------------------------------------

def _error(data: bytes) -> str:
    with pytest.raises(CourseError) as caught:
        read_image(data)
    assert caught.value.hint and caught.value.__cause__ is None
    return caught.value.message


def test_missing_layer_of_a_single_image_does_not_blame_platforms() -> None:
    data = podman_archive(_app())
    kept = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.name.endswith(".tar") and member.isfile():
                continue  # drop the layer blobs, keep the symlinks pointing at them
            body = tar.extractfile(member).read() if member.isfile() else None
            kept.append((member.name, ("symlink", member.linkname) if member.issym() else body))
    message = _error(outer(kept))
    assert "incomplete" in message and "manifest.json names" in message
    assert "platform" not in message


@pytest.mark.parametrize(("members", "fragment"), [
    ([("manifest.json", b'{"Config": "x"}')], "manifest.json is not a list of images"),
    ([("manifest.json", b"[{")], "manifest.json cannot be read"),
    ([("index.json", b'{"schemaVersion": 2, "manifests": null}')], "index.json lists no image"),
    ([("manifest.json", b"[]")], "manifest.json lists no image"),
    ([("repositories", b'{"x": {"1": "abc"}}')], "neither manifest.json nor index.json"),
])
def test_broken_documents(members: list, fragment: str) -> None:
    assert fragment in _error(outer(members))


def test_a_config_that_is_not_json() -> None:
    image = _app()
    data = podman_archive(image).replace(image.config_bytes()[:20], b"\x00" * 20, 1)
    assert "image config" in _error(data)
