"""``layers`` and ``scan`` give the same numbers whichever image store the engine uses.

The test writes a small image archive of its own (legacy ``docker save`` layout, uncompressed
layers: an overwritten file, a deleted file, an opaque whiteout, one content at two paths and
a vulnerable Flask's metadata), loads it into the engine, and reads it back twice: from the
engine (``docker save`` of the loaded image: overlay2 hands back the layers as loaded, the
containerd store its own blobs) and from the file itself. CI runs this on both stores, so both
agree with the file and therefore with each other. Compression is not compared: the containerd
store may keep layers compressed.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import uuid

import docker
import pytest

from helpers import settings

SITE = "usr/local/lib/python3.12/site-packages"
DUP = bytes(range(256)) * 200


def _layer(entries: list[tuple[str, bytes | None]]) -> bytes:
    """A layer tar: (path, data) files; data None makes a directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in entries:
            info = tarfile.TarInfo(path)
            info.mtime = 1_700_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _archive(tag: str) -> bytes:
    layers = [
        _layer([("etc", None), ("etc/a.conf", b"a" * 1000), ("etc/b.conf", b"b" * 2000),
                ("cache", None), ("cache/x", b"x" * 3000), ("cache/y", b"y" * 4000),
                (f"{SITE}", None), (f"{SITE}/flask-2.0.1.dist-info", None),
                (f"{SITE}/flask-2.0.1.dist-info/METADATA",
                 b"Metadata-Version: 2.1\nName: Flask\nVersion: 2.0.1\n"),
                ("data", None), ("data/one", DUP)]),
        _layer([("etc", None), ("etc/a.conf", b"A" * 1500)]),
        _layer([("etc", None), ("etc/.wh.b.conf", b""), ("cache", None),
                ("cache/.wh..wh..opq", b""), ("cache/z", b"z" * 10)]),
        _layer([("data", None), ("data/two", DUP)]),
    ]
    steps = ["ADD rootfs.tar /", "RUN edit /etc/a.conf", "RUN rm /etc/b.conf && reset /cache",
             "RUN cp /data/one /data/two"]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in layers]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": s} for s in steps],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{hashlib.sha256(t).hexdigest()}/layer.tar" for t in layers]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": names}]).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in [*zip(names, layers, strict=True), (config_name, config),
                           ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _cli(*arguments: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "helpers", *arguments, "--json"],
                          cwd=settings.PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _comparable_layers(report: dict) -> dict:
    keep = ("index", "diff_id", "created_by", "size_bytes", "files", "added", "modified",
            "deleted", "wasted_bytes")
    return {
        "totals": [report[k] for k in ("total_bytes", "wasted_bytes", "efficiency",
                                        "duplicate_bytes")],
        "layers": [{k: layer.get(k) for k in keep} for layer in report["layers"]],
        "wasted": sorted(json.dumps(w, sort_keys=True) for w in report["wasted_files"]),
        "duplicates": sorted(json.dumps(d, sort_keys=True) for d in report["duplicates"]),
    }


def _comparable_findings(report: dict) -> list[tuple]:
    return sorted((f["id"], f["package"], f["installed"], f.get("fixed") or "",
                   f["severity"], f.get("layer")) for f in report["findings"])


def test_layers_and_scan_read_the_same_numbers_from_the_engine_and_the_file(tmp_path) -> None:
    tag = f"docker-course/stores-{uuid.uuid4().hex[:8]}:1"
    archive = tmp_path / "image.tar"
    archive.write_bytes(_archive(tag))
    engine = docker.from_env()
    engine.images.load(archive.read_bytes())
    try:
        from_engine, from_file = _cli("layers", tag), _cli("layers", str(archive))
        assert _comparable_layers(from_engine) == _comparable_layers(from_file)
        assert from_file["wasted_bytes"] == 1000 + 2000 + 3000 + 4000
        assert from_file["duplicate_bytes"] == len(DUP)
        found_engine, found_file = _cli("scan", tag), _cli("scan", str(archive))
        assert _comparable_findings(found_engine) == _comparable_findings(found_file)
        assert any(f[1].lower() == "flask" for f in _comparable_findings(found_file))
    finally:
        try:
            engine.images.remove(tag, force=False)
        except docker.errors.ImageNotFound:
            pytest.fail("the loaded image vanished during the test")
