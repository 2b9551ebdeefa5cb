"""Build tiny image archives in memory, in each shape ``docker save`` writes.

Tests describe layers as lists of entries; these helpers turn them into layer tars and wrap
those in a legacy (Engine <= 24), OCI (Engine 25+) or containerd-store archive, so every rule
of the analysis can be checked on every shape without an engine or committed binaries.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any

import zstandard

MANIFEST_MEDIA = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA = {"none": "application/vnd.oci.image.layer.v1.tar",
               "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
               "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}


# --- layer entries ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    path: str
    kind: str  # file | dir | symlink | hardlink
    data: bytes = b""
    target: str = ""


def file(path: str, data: bytes | str) -> Entry:
    return Entry(path, "file", data.encode() if isinstance(data, str) else data)


def directory(path: str) -> Entry:
    return Entry(path, "dir")


def symlink(path: str, target: str) -> Entry:
    return Entry(path, "symlink", target=target)


def hardlink(path: str, target: str) -> Entry:
    return Entry(path, "hardlink", target=target)


def whiteout(path: str) -> Entry:
    """Delete ``path`` (a file, or a directory and everything under it) from lower layers."""
    parent, _, name = path.rpartition("/")
    return file(f"{parent}/.wh.{name}" if parent else f".wh.{name}", b"")


def opaque(directory_path: str) -> Entry:
    """Hide every lower-layer entry of ``directory_path``."""
    return file(f"{directory_path}/.wh..wh..opq", b"")


def layer_tar(*entries: Entry, prefix: str = "", fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """An uncompressed layer tar; ``prefix='./'`` mimics writers that prefix member names."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for entry in entries:
            info = tarfile.TarInfo(prefix + entry.path)
            info.mtime = 1_700_000_000
            if entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
                continue
            if entry.kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif entry.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry.target
            else:
                info.type, info.linkname = tarfile.LNKTYPE, prefix + entry.target
            tar.addfile(info)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


# --- images -----------------------------------------------------------------------------------

@dataclass
class Image:
    """Layer tars plus the Dockerfile history that made them."""

    layers: list[bytes]
    history: list[dict[str, Any]]
    env: list[str] = field(default_factory=lambda: ["PATH=/usr/bin:/bin"])
    tags: list[str] = field(default_factory=lambda: ["course/demo:1"])
    architecture: str = "amd64"
    user: str = ""

    def config(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture, "os": "linux",
            "config": {"Env": self.env, "Cmd": ["python", "app.py"], "User": self.user,
                       "WorkingDir": "/app"},
            "history": self.history,
            "rootfs": {"type": "layers", "diff_ids": [sha256(t) for t in self.layers]},
        }

    def config_bytes(self) -> bytes:
        return json.dumps(self.config()).encode()


def step(created_by: str, *, empty: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {"created": "2024-01-01T00:00:00Z", "created_by": created_by}
    if empty:
        entry["empty_layer"] = True
    return entry


def _outer(members: list[tuple[str, bytes | None, str]]) -> bytes:
    """A tar of (name, data, link target): data None makes a directory or a symlink."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, target in members:
            info = tarfile.TarInfo(name)
            if target:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            elif data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def legacy_archive(*images: Image, layers_first: bool = True) -> bytes:
    """Engine <= 24: ``<id>/layer.tar``; 20.10 writes the layers before manifest and config.

    Several images make one archive, as ``docker save a b`` does.
    """
    layer_members: list[tuple[str, bytes | None, str]] = []
    meta: list[tuple[str, bytes | None, str]] = []
    entries = []
    for image in images:
        config = image.config_bytes()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        layer_paths = []
        first_copy: dict[bytes, str] = {}  # a repeated layer is saved once, then symlinked
        for number, tar in enumerate(image.layers):
            layer_id = hashlib.sha256(f"{number}:{sha256(tar)}".encode()).hexdigest()
            layer_members += [(f"{layer_id}/", None, ""), (f"{layer_id}/VERSION", b"1.0", ""),
                              (f"{layer_id}/json", b"{}", "")]
            if tar in first_copy:
                layer_members.append((f"{layer_id}/layer.tar", b"",
                                      f"../{first_copy[tar]}/layer.tar"))
            else:
                first_copy[tar] = layer_id
                layer_members.append((f"{layer_id}/layer.tar", tar, ""))
            layer_paths.append(f"{layer_id}/layer.tar")
        meta.append((config_name, config, ""))
        entries.append({"Config": config_name, "RepoTags": image.tags, "Layers": layer_paths})
    meta += [("manifest.json", json.dumps(entries).encode(), ""), ("repositories", b"{}", "")]
    return _outer(layer_members + meta if layers_first else meta + layer_members)


def _descriptor(media: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media, "digest": sha256(data), "size": len(data), **extra}


def _blob_name(data: bytes) -> str:
    return "blobs/sha256/" + hashlib.sha256(data).hexdigest()


def oci_manifest(image: Image, compression: str) -> tuple[bytes, dict[str, bytes]]:
    """An image manifest and the blobs it references (config and layers)."""
    config = image.config_bytes()
    blobs = {_blob_name(config): config}
    layers = []
    for tar in image.layers:
        blob = compress(tar, compression)
        blobs[_blob_name(blob)] = blob
        layers.append(_descriptor(LAYER_MEDIA[compression], blob))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA,
                           "config": _descriptor(CONFIG_MEDIA, config),
                           "layers": layers}).encode()
    blobs[_blob_name(manifest)] = manifest
    return manifest, blobs


def oci_archive(image: Image, *, compression: str = "none", docker_manifest: bool = True,
                blobs_first: bool = True) -> bytes:
    """Engine 25+ (uncompressed, blobs named by diff_id) or a containerd-store export."""
    manifest, blobs = oci_manifest(image, compression)
    tag = image.tags[0] if image.tags else ""
    annotations = {"io.containerd.image.name": f"docker.io/{tag}",
                   "org.opencontainers.image.ref.name": tag.rpartition(":")[2]} if tag else {}
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA,
             "manifests": [_descriptor(MANIFEST_MEDIA, manifest, annotations=annotations)]}
    return _oci_layout(blobs, index, image, manifest, docker_manifest, blobs_first)


def multi_platform_archive(present: Image, absent: Image, *, compression: str = "gzip",
                           docker_manifest: bool = False, keep_absent_manifest: bool = True,
                           with_attestation: bool = True) -> bytes:
    """A containerd export of a multi-platform index where only one platform was pulled.

    The other platform's manifest may be there (``keep_absent_manifest``) but its config and
    layers are not, as when ``docker save`` runs on an image pulled for one platform.
    """
    manifest, blobs = oci_manifest(present, compression)
    other_manifest, _absent_blobs = oci_manifest(absent, compression)  # left out
    if keep_absent_manifest:
        blobs[_blob_name(other_manifest)] = other_manifest
    attestation = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA,
                              "config": _descriptor(CONFIG_MEDIA, b"{}"),
                              "layers": []}).encode()
    entries = [
        _descriptor(MANIFEST_MEDIA, other_manifest,
                    platform={"os": "linux", "architecture": absent.architecture}),
        _descriptor(MANIFEST_MEDIA, manifest,
                    platform={"os": "linux", "architecture": present.architecture}),
    ]
    if with_attestation:
        entries.append(_descriptor(MANIFEST_MEDIA, attestation,
                                   platform={"os": "unknown", "architecture": "unknown"},
                                   annotations={"vnd.docker.reference.type":
                                                "attestation-manifest"}))
    platform_index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_MEDIA,
                                 "manifests": entries}).encode()
    blobs[_blob_name(platform_index)] = platform_index
    tag = present.tags[0]
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA, "manifests": [
        _descriptor(INDEX_MEDIA, platform_index,
                    annotations={"io.containerd.image.name": f"docker.io/library/{tag}"})]}
    return _oci_layout(blobs, index, present, manifest, docker_manifest, blobs_first=True)


def both_platforms_archive(first: Image, second: Image, compression: str = "gzip") -> bytes:
    """A multi-platform index with every platform's blobs present."""
    manifest_a, blobs = oci_manifest(first, compression)
    manifest_b, blobs_b = oci_manifest(second, compression)
    blobs.update(blobs_b)
    platform_index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_MEDIA, "manifests": [
        _descriptor(MANIFEST_MEDIA, manifest_a,
                    platform={"os": "linux", "architecture": first.architecture}),
        _descriptor(MANIFEST_MEDIA, manifest_b,
                    platform={"os": "linux", "architecture": second.architecture}),
    ]}).encode()
    blobs[_blob_name(platform_index)] = platform_index
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA,
             "manifests": [_descriptor(INDEX_MEDIA, platform_index)]}
    return _oci_layout(blobs, index, first, manifest_a, False, blobs_first=True)


def _oci_layout(blobs: dict[str, bytes], index: dict[str, Any], image: Image, manifest: bytes,
                docker_manifest: bool, blobs_first: bool) -> bytes:
    members: list[tuple[str, bytes | None, str]] = [("blobs/", None, ""),
                                                    ("blobs/sha256/", None, "")]
    members += [(name, data, "") for name, data in blobs.items()]
    meta: list[tuple[str, bytes | None, str]] = [
        ("index.json", json.dumps(index).encode(), ""),
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', "")]
    if docker_manifest:
        doc = json.loads(manifest)
        entry = {"Config": _digest_path(doc["config"]["digest"]), "RepoTags": image.tags,
                 "Layers": [_digest_path(layer["digest"]) for layer in doc["layers"]]}
        meta.append(("manifest.json", json.dumps([entry]).encode(), ""))
    return _outer(members + meta if blobs_first else meta + members)


def _digest_path(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/")


def chunked(data: bytes, size: int) -> list[bytes]:
    """The archive as a docker SDK ``Image.save()`` generator would yield it."""
    return [data[i:i + size] for i in range(0, len(data), size)]


# --- one image that exercises every rule ------------------------------------------------------

PRIVATE_KEY = (b"-----BEGIN OPENSSH PRIVATE KEY-----\n"
               b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
               b"-----END OPENSSH PRIVATE KEY-----\n")
DB_PASSWORD = "s3cr3t-db-password"
NPM_TOKEN = "npm-token-value-42"
ENV_FILE = f"DEBUG=0\nDB_PASSWORD={DB_PASSWORD}\n".encode()
TOOL = bytes(range(256)) * 4  # 1024 bytes, copied to a second path in layer 1
APP_CONF_V1 = b"x" * 100
APP_CONF_V2 = b"y" * 120
BIG = b"b" * 500
INNER = b"i" * 70
CACHE_A = b"a" * 300
CACHE_B = b"c" * 40
NOTES_FIRST = b"n" * 50  # written twice in one layer tar: the first copy is waste
NOTES_SECOND = b"N" * 60
CACHE_NEW = b"z" * 10
SAME_SIZE_1 = b"abcdefg"  # equal sizes, different content: not duplicates
SAME_SIZE_2 = b"gfedcba"


def demo_layers(prefix: str = "") -> list[bytes]:
    base = layer_tar(
        directory("etc"), file("etc/app.conf", APP_CONF_V1),
        file("etc/a", SAME_SIZE_1), file("etc/b", SAME_SIZE_2),
        directory("data"), file("data/big.bin", BIG), directory("data/sub"),
        file("data/sub/inner.txt", INNER),
        directory("cache"), file("cache/a.tmp", CACHE_A), file("cache/b.tmp", CACHE_B),
        file("usr/bin/tool", TOOL), hardlink("usr/lib/tool-link", "usr/bin/tool"),
        symlink("usr/bin/tool-alias", "tool"),
        file("root/.ssh/id_rsa", PRIVATE_KEY),
        file("tmp/empty-1", b""), file("tmp/empty-2", b""),
        file("var/lib/dpkg/status", b"Package: demo\nVersion: 1.0\n\n"),
        prefix=prefix,
    )
    app = layer_tar(
        file("etc/app.conf", APP_CONF_V2), whiteout("root/.ssh/id_rsa"),
        file("opt/copy-of-tool", TOOL), file("app/.env", ENV_FILE),
        prefix=prefix,
    )
    cleanup = layer_tar(
        whiteout("data"), file("notes.txt", NOTES_FIRST), file("notes.txt", NOTES_SECOND),
        prefix=prefix,
    )
    reset = layer_tar(opaque("cache"), file("cache/new.tmp", CACHE_NEW), prefix=prefix)
    return [base, app, cleanup, reset]


def demo_image(prefix: str = "") -> Image:
    return Image(
        layers=demo_layers(prefix),
        history=[
            step("ADD rootfs.tar / # buildkit"),
            step(f"ENV DB_PASSWORD={DB_PASSWORD}", empty=True),
            step(f"RUN |1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c npm install # buildkit"),
            step("RUN /bin/sh -c rm -rf /data # buildkit"),
            step("RUN /bin/sh -c rm -rf /cache && touch /cache/new.tmp # buildkit"),
            step('CMD ["python", "app.py"]', empty=True),
        ],
        env=["PATH=/usr/bin:/bin", f"DB_PASSWORD={DB_PASSWORD}"],
    )
