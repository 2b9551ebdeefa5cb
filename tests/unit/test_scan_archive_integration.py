"""The scanner on a real ``docker save`` byte stream, read by the course's archive reader.

The archive is built here (legacy layout, uncompressed layers, a whiteout and an upgrade), so
the test needs no engine; it checks the reader/scanner contract end to end.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from helpers.scan import scan_archive, wants

archive_module = pytest.importorskip("helpers.anatomy.archive")

SITE = "usr/local/lib/python3.12/site-packages"


def _tar(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in entries.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _docker_save(layers: list[tuple[str, dict[str, bytes]]], tag: str) -> bytes:
    blobs = {f"layer{i}/layer.tar": _tar(files) for i, (_, files) in enumerate(layers)}
    config = {
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [
            "sha256:" + hashlib.sha256(blob).hexdigest() for blob in blobs.values()]},
        "history": [{"created_by": step} for step, _ in layers],
    }
    config_bytes = json.dumps(config).encode()
    manifest = [{"Config": "config.json", "RepoTags": [tag], "Layers": list(blobs)}]
    return _tar({"manifest.json": json.dumps(manifest).encode(), "config.json": config_bytes,
                 **blobs})


def _meta(name: str, version: str) -> tuple[str, bytes]:
    return (f"{SITE}/{name.lower()}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode())


def test_scan_of_a_saved_image_stream() -> None:
    flask_old = _meta("Flask", "2.0.1")
    werkzeug = _meta("Werkzeug", "2.2.2")
    flask_new = _meta("Flask", "3.1.0")
    old_folder = flask_old[0].rsplit("/", 1)[0]
    parent, base = old_folder.rsplit("/", 1)
    stream = _docker_save([
        ("ADD rootfs.tar /", {
            "etc/os-release": b"ID=debian\nVERSION_ID=12\n",
            "var/lib/dpkg/status": b"Package: libc6\nStatus: install ok installed\n"
                                   b"Version: 2.36-9\nSource: glibc\n",
            "usr/bin/true": b"\x7fELF"}),
        ("RUN pip install flask==2.0.1 werkzeug==2.2.2", dict([flask_old, werkzeug])),
        ("RUN pip install -U flask", {f"{parent}/.wh.{base}": b"", **dict([flask_new])}),
    ], tag="course-app:saved")
    archive = archive_module.read_image(io.BytesIO(stream), keep=wants)
    result = scan_archive(archive)
    assert result.target == "course-app:saved"
    versions = {(p.name, p.version, p.layer_index) for p in result.packages}
    assert versions == {("libc6", "2.36-9", 0), ("Werkzeug", "2.2.2", 1), ("Flask", "3.1.0", 2)}
    ids = {f.id for f in result.findings}
    assert "CVE-2023-25577" in ids  # werkzeug 2.2.2 stays
    assert "CVE-2023-30861" not in ids  # flask was upgraded in the last layer
    werkzeug_layer = archive.layers[1].diff_id
    assert {f.layer for f in result.findings if f.package == "Werkzeug"} == {werkzeug_layer}
