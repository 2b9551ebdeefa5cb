"""Image archives in the layouts other tools write, and layer tars with tar features, made here.

Each writer follows the shape its tool documents or its source writes, so the reader is tested
on every layout ``docker load`` accepts without any of those tools installed:

* :func:`podman_archive`: ``podman save`` / skopeo ``docker-archive:`` (containers/image):
  layers at the root as ``<diff_id hex>.tar``, the config as ``<hex>.json``, the legacy
  ``<id>/layer.tar`` only as symlinks to ``../<hex>.tar``, several images in one
  ``manifest.json`` (``podman save -m``);
* :func:`crane_tarball`: go-containerregistry ``tarball.Write`` / ``crane pull``: gzip layers
  as ``<compressed digest hex>.tar.gz``, the config named ``sha256:<hex>`` (no extension);
* :func:`buildx_oci`: ``docker buildx build --output type=oci``: an OCI layout whose index
  holds an image index per platform plus attestation manifests, gzip layers, no manifest.json;
* :func:`engine25_multi`: ``docker save a b`` on Engine 25+: one index.json entry and one
  manifest.json entry per image, blobs shared;
* :func:`docker_v1`: ``docker save`` before Engine 1.10: ``repositories``, ``<id>/json`` with
  parent ids, ``<id>/layer.tar``, no manifest.json.

The sparse writers craft GNU sparse members byte by byte (Python's tarfile reads them but
cannot write them): the old GNU ``S`` entry with extension blocks, and PAX formats 0.0, 0.1
and 1.0.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from typing import Any

from anatomy_builders import INDEX_MEDIA, LAYER_MEDIA, MANIFEST_MEDIA, Image, compress

BLOCK = 512
MTIME = 1_700_000_000


def hexd(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(data: bytes) -> str:
    return "sha256:" + hexd(data)


def outer(members: list[tuple[str, Any]]) -> bytes:
    """A tar of (name, bytes) files, (name, ("symlink", target)) links, (name, None) dirs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, value in members:
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            if value is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(value, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, value[1]
                tar.addfile(info)
            else:
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
    return buffer.getvalue()


# --- archive layouts --------------------------------------------------------------------------

def podman_archive(*images: Image) -> bytes:
    """containers/image docker-archive: root-level layers, legacy directories as symlinks."""
    blobs: dict[str, bytes] = {}
    legacy: list[tuple[str, Any]] = []
    entries = []
    for image in images:
        config = image.config_bytes()
        blobs[f"{hexd(config)}.json"] = config
        parent = ""
        for layer in image.layers:
            blobs.setdefault(f"{hexd(layer)}.tar", layer)
            legacy_id = hexd(f"{parent}/{hexd(layer)}".encode())
            legacy += [(f"{legacy_id}/", None),
                       (f"{legacy_id}/layer.tar", ("symlink", f"../{hexd(layer)}.tar")),
                       (f"{legacy_id}/VERSION", b"1.0"),
                       (f"{legacy_id}/json", json.dumps({"id": legacy_id}).encode())]
            parent = legacy_id
        entries.append({"Config": f"{hexd(config)}.json", "RepoTags": image.tags,
                        "Layers": [f"{hexd(layer)}.tar" for layer in image.layers],
                        "Parent": "", "LayerSources": None})
    repositories = {tag.rpartition(":")[0]: {tag.rpartition(":")[2]: "x"}
                    for image in images for tag in image.tags}
    return outer([*blobs.items(), *legacy, ("manifest.json", json.dumps(entries).encode()),
                  ("repositories", json.dumps(repositories).encode())])


def crane_tarball(*images: Image) -> bytes:
    """go-containerregistry tarball: ``sha256:<hex>`` config, ``<hex>.tar.gz`` layers."""
    members: dict[str, bytes] = {}
    entries = []
    for image in images:
        config = image.config_bytes()
        members[digest(config)] = config
        names = []
        for layer in image.layers:
            blob = gzip.compress(layer, mtime=0)
            names.append(f"{hexd(blob)}.tar.gz")
            members[names[-1]] = blob
        entries.append({"Config": digest(config), "RepoTags": image.tags, "Layers": names})
    return outer([("manifest.json", json.dumps(entries).encode()), *members.items()])


def _descriptor(media: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media, "digest": digest(data), "size": len(data), **extra}


def _manifest(image: Image, compression: str, blobs: dict[str, bytes]) -> bytes:
    config = image.config_bytes()
    blobs[f"blobs/sha256/{hexd(config)}"] = config
    layers = []
    for layer in image.layers:
        blob = compress(layer, compression)
        blobs[f"blobs/sha256/{hexd(blob)}"] = blob
        layers.append(_descriptor(LAYER_MEDIA.get(compression, LAYER_MEDIA["none"]), blob))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_MEDIA,
        "config": _descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": layers}).encode()
    blobs[f"blobs/sha256/{hexd(manifest)}"] = manifest
    return manifest


def buildx_oci(platforms: list[Image], *, name: str = "") -> bytes:
    """``buildx --output type=oci``: index -> image index (platforms + attestations)."""
    blobs: dict[str, bytes] = {}
    entries = []
    for image in platforms:
        manifest = _manifest(image, "gzip", blobs)
        entries.append(_descriptor(MANIFEST_MEDIA, manifest,
                                   platform={"os": "linux", "architecture": image.architecture}))
        statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1"}).encode()
        blobs[f"blobs/sha256/{hexd(statement)}"] = statement
        attestation = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST_MEDIA,
            "config": _descriptor("application/vnd.oci.image.config.v1+json", b"{}"),
            "layers": [_descriptor("application/vnd.in-toto+json", statement)]}).encode()
        blobs[f"blobs/sha256/{hexd(attestation)}"] = attestation
        blobs[f"blobs/sha256/{hexd(b'{}')}"] = b"{}"
        entries.append(_descriptor(MANIFEST_MEDIA, attestation,
                                   platform={"os": "unknown", "architecture": "unknown"},
                                   annotations={"vnd.docker.reference.type":
                                                "attestation-manifest",
                                                "vnd.docker.reference.digest":
                                                entries[-1]["digest"]}))
    image_index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_MEDIA,
                              "manifests": entries}).encode()
    blobs[f"blobs/sha256/{hexd(image_index)}"] = image_index
    annotations = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
    if name:
        annotations |= {"io.containerd.image.name": f"docker.io/{name}",
                        "org.opencontainers.image.ref.name": name.rpartition(":")[2]}
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA,
             "manifests": [_descriptor(INDEX_MEDIA, image_index, annotations=annotations)]}
    return outer([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                  ("index.json", json.dumps(index).encode()), ("blobs/", None),
                  ("blobs/sha256/", None), *blobs.items()])


def engine25_multi(*images: Image, docker_manifest: bool = True) -> bytes:
    """``docker save a b`` on Engine 25+: uncompressed blobs, one index entry per image."""
    blobs: dict[str, bytes] = {}
    descriptors, entries = [], []
    for image in images:
        manifest = _manifest(image, "none", blobs)
        tag = image.tags[0]
        descriptors.append(_descriptor(MANIFEST_MEDIA, manifest, annotations={
            "io.containerd.image.name": f"docker.io/library/{tag}",
            "org.opencontainers.image.ref.name": tag.rpartition(":")[2]}))
        doc = json.loads(manifest)
        entries.append({"Config": "blobs/sha256/" + doc["config"]["digest"][7:],
                        "RepoTags": image.tags,
                        "Layers": ["blobs/sha256/" + d["digest"][7:] for d in doc["layers"]]})
    members: list[tuple[str, Any]] = [("blobs/", None), ("blobs/sha256/", None),
                                      *blobs.items(),
                                      ("index.json", json.dumps({
                                          "schemaVersion": 2, "mediaType": INDEX_MEDIA,
                                          "manifests": descriptors}).encode()),
                                      ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')]
    if docker_manifest:
        members.append(("manifest.json", json.dumps(entries).encode()))
    return outer(members)


def docker_v1(image: Image, *, tagged: bool = True) -> bytes:
    """``docker save`` before Engine 1.10: v1 image JSON per layer, chained by ``parent``."""
    members: list[tuple[str, Any]] = []
    parent = ""
    steps = [h for h in image.history if not h.get("empty_layer")]
    for number, layer in enumerate(image.layers):
        layer_id = hexd(f"v1:{parent}:{hexd(layer)}".encode())
        v1 = {"id": layer_id, "created": "2015-06-01T00:00:00Z",
              "container_config": {"Cmd": ["/bin/sh", "-c", steps[number]["created_by"]]},
              "config": {"Env": image.env, "Cmd": ["python", "app.py"]},
              "architecture": "amd64", "os": "linux", "Size": len(layer)}
        if parent:
            v1["parent"] = parent
        members += [(f"{layer_id}/", None), (f"{layer_id}/VERSION", b"1.0"),
                    (f"{layer_id}/json", json.dumps(v1).encode()),
                    (f"{layer_id}/layer.tar", layer)]
        parent = layer_id
    if tagged:
        repo, _, tag = image.tags[0].rpartition(":")
        members.append(("repositories", json.dumps({repo: {tag: parent}}).encode()))
    return outer(members)


# --- sparse members, byte by byte ------------------------------------------------------------

def _octal(value: int, width: int) -> bytes:
    return b"%0*o" % (width - 1, value) + b"\0"


def _header(name: str, size: int, typeflag: bytes, *, gnu: bool = False) -> bytearray:
    header = bytearray(BLOCK)
    header[0:len(name)] = name.encode()
    header[100:108] = _octal(0o644, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(MTIME, 12)
    header[156:157] = typeflag
    if gnu:
        header[257:265] = b"ustar  \0"
    else:
        header[257:263], header[263:265] = b"ustar\0", b"00"
    return header


def _seal(header: bytearray) -> bytes:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def _pax(records: list[tuple[str, str]]) -> bytes:
    out = b""
    for key, value in records:
        body = f" {key}={value}\n".encode()
        length = len(body) + 1
        while len(str(length)) + len(body) != length:
            length = len(str(length)) + len(body)
        out += str(length).encode() + body
    return out


def sparse_content(regions: list[tuple[int, bytes]], real_size: int) -> bytes:
    """The file a sparse map describes: data at each offset, zero bytes elsewhere."""
    content = bytearray(real_size)
    for offset, data in regions:
        content[offset:offset + len(data)] = data
    return bytes(content)


def sparse_member(name: str, regions: list[tuple[int, bytes]], real_size: int,
                  form: str, *, sparse_map: list[tuple[object, object]] | None = None) -> bytes:
    """One sparse member (no end marker) in ``form``: gnu-old, pax-0.0, pax-0.1 or pax-1.0.

    ``sparse_map`` replaces the (offset, length) pairs written, to make a broken member.
    """
    stored = b"".join(data for _, data in regions)
    pairs: list = sparse_map if sparse_map is not None else \
        [(offset, len(data)) for offset, data in regions]
    if form == "gnu-old":
        header = _header(name, len(stored), b"S", gnu=True)
        for slot, (offset, length) in enumerate(pairs[:4]):
            header[386 + slot * 24:398 + slot * 24] = _octal(offset, 12)
            header[398 + slot * 24:410 + slot * 24] = _octal(length, 12)
        header[482] = 1 if len(pairs) > 4 else 0
        header[483:495] = _octal(real_size, 12)
        out = [_seal(header)]
        rest = pairs[4:]
        while rest:
            block = bytearray(BLOCK)
            for slot, (offset, length) in enumerate(rest[:21]):
                block[slot * 24:slot * 24 + 12] = _octal(offset, 12)
                block[slot * 24 + 12:slot * 24 + 24] = _octal(length, 12)
            rest = rest[21:]
            block[504] = 1 if rest else 0
            out.append(bytes(block))
        return b"".join(out) + _pad(stored)
    placeholder = f"{name.rpartition('/')[0] or '.'}/GNUSparseFile.0/{name.rpartition('/')[2]}"
    if form == "pax-0.0":
        records = [("GNU.sparse.size", str(real_size)), ("GNU.sparse.numblocks", str(len(pairs)))]
        for offset, length in pairs:
            records += [("GNU.sparse.offset", str(offset)), ("GNU.sparse.numbytes", str(length))]
        body, member_name = stored, name
    elif form == "pax-0.1":
        records = [("GNU.sparse.size", str(real_size)), ("GNU.sparse.numblocks", str(len(pairs))),
                   ("GNU.sparse.map", ",".join(f"{o},{n}" for o, n in pairs)),
                   ("GNU.sparse.name", name)]
        body, member_name = stored, placeholder
    elif form == "pax-1.0":
        records = [("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
                   ("GNU.sparse.name", name), ("GNU.sparse.realsize", str(real_size))]
        sparse_map = "".join(f"{v}\n" for v in [len(pairs), *[x for p in pairs for x in p]])
        body, member_name = _pad(sparse_map.encode()) + stored, placeholder
    else:
        raise ValueError(form)
    extended = _pax(records)
    return (_seal(_header(f"PaxHeaders/{name.rpartition('/')[2]}", len(extended), b"x"))
            + _pad(extended) + _seal(_header(member_name, len(body), b"0")) + _pad(body))


def raw_member(name: str, data: bytes, typeflag: bytes = b"0", linkname: str = "") -> bytes:
    """A plain ustar member built by hand (for entries tarfile refuses to write)."""
    header = _header(name, len(data), typeflag)
    header[157:157 + len(linkname)] = linkname.encode()
    return _seal(header) + _pad(data)


def end_of_archive() -> bytes:
    return bytes(2 * BLOCK)
