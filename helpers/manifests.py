"""Manifests and image indexes: media types, index entries, platform choice. Pure functions
on the JSON a registry returns (no I/O), after the OCI image spec (media-types.md,
image-index.md) and Docker's "Image Manifest V2, Schema 2".

What a tag points at depends on the engine's image store (Engine 28, checked against the Docker
docs "containerd image store" and BuildKit's "attestation storage"): the classic store
(overlay2) pushes one Docker v2 manifest; the containerd image store (the default of fresh
Engine 29 and Docker Desktop installs) pushes the image as built, an OCI image index whose
entries are the platform manifest and, because BuildKit adds a provenance attestation by
default, an attestation manifest with platform ``unknown/unknown``. These functions handle both.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RegistryError

# Manifest media types (OCI image-spec media-types.md; Docker's "Image Manifest V2, Schema 2").
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# What a client that can read every current image must accept, indexes first (the order is
# only a preference; a registry answers with the one format the stored manifest has).
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MEDIA_TYPE_NAMES = {OCI_INDEX: "OCI image index", OCI_MANIFEST: "OCI image manifest",
                    DOCKER_MANIFEST_LIST: "Docker manifest list",
                    DOCKER_MANIFEST: "Docker v2 manifest (schema 2)"}
# BuildKit's attestation manifests (docs: "Image attestation storage")
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST = "attestation-manifest"
PREDICATE_TYPE = "in-toto.io/predicate-type"


@dataclass
class IndexEntry:
    """One entry (descriptor) of an image index: a manifest, for a platform or an attestation.

    ``platform`` is ``os/architecture[/variant]`` (``unknown/unknown`` for attestations);
    ``kind`` is ``"image"`` (a runnable platform manifest), ``"attestation"`` (BuildKit's
    attestation manifest: annotation ``vnd.docker.reference.type: attestation-manifest``) or
    ``"other"``; ``refers_to`` is the digest an attestation describes; ``size_bytes`` the
    manifest's size in bytes.
    """

    digest: str
    media_type: str
    platform: str
    kind: str
    size_bytes: int = 0
    refers_to: str = ""


def media_type_of(body: object, content_type: str = "") -> str:
    """The document's media type: its ``mediaType`` field, else the HTTP Content-Type."""
    if isinstance(body, dict) and body.get("mediaType"):
        return str(body["mediaType"])
    return content_type.split(";", 1)[0].strip()


def is_index(media_type: str) -> bool:
    """True for an OCI image index or a Docker manifest list (both list manifests)."""
    return media_type in INDEX_TYPES


def platform_text(platform: dict | None) -> str:
    """``{"os": "linux", "architecture": "arm64", "variant": "v8"}`` → ``linux/arm64/v8``."""
    platform = platform or {}
    parts = [str(platform.get("os") or "?"), str(platform.get("architecture") or "?")]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)


def index_entries(index: dict) -> list[IndexEntry]:
    """The entries of an image index (or manifest list), in the order the index lists them.

    An entry is an attestation when its ``vnd.docker.reference.type`` annotation says
    ``attestation-manifest`` (BuildKit sets it, with platform ``unknown/unknown``); an entry
    with platform ``unknown/unknown`` and no such annotation is ``other``, never runnable.
    """
    entries = []
    for item in index.get("manifests") or []:
        annotations = item.get("annotations") or {}
        platform = platform_text(item.get("platform"))
        if annotations.get(REFERENCE_TYPE) == ATTESTATION_MANIFEST:
            kind = "attestation"
        elif platform.startswith("unknown/unknown") or REFERENCE_TYPE in annotations:
            kind = "other"
        else:
            kind = "image"
        entries.append(IndexEntry(digest=str(item.get("digest", "")),
                                  media_type=str(item.get("mediaType", "")), platform=platform,
                                  kind=kind, size_bytes=int(item.get("size") or 0),
                                  refers_to=str(annotations.get(REFERENCE_DIGEST, ""))))
    return entries


def pick_platform(entries: list[IndexEntry], os_name: str, architecture: str,
                  variant: str = "") -> IndexEntry:
    """The platform manifest a pull on ``os_name/architecture[/variant]`` would use.

    Attestations and other non-image entries are never picked. An entry without a variant
    matches any variant. Raises :class:`RegistryError` when no entry fits.
    """
    for entry in entries:
        if entry.kind != "image":
            continue
        parts = entry.platform.split("/")
        if parts[:2] != [os_name, architecture]:
            continue
        if variant and len(parts) > 2 and parts[2] != variant:
            continue
        return entry
    offered = ", ".join(e.platform for e in entries if e.kind == "image") or "none"
    wanted = "/".join(p for p in (os_name, architecture, variant) if p)
    raise RegistryError(f"The image index has no manifest for {wanted} (it offers: {offered}).",
                        hint="build or push the image for this platform (`docker buildx build "
                             "--platform …`).")


def predicate_types(manifest: dict) -> list[str]:
    """What an attestation manifest holds: the in-toto predicate type of each of its layers."""
    return [str((layer.get("annotations") or {}).get(PREDICATE_TYPE) or layer.get("mediaType"))
            for layer in manifest.get("layers") or []]


def accept_headers(accept: tuple[str, ...]) -> list[tuple[str, str]]:
    """One ``("Accept", media type)`` header per accepted type, in order.

    Sent as separate header lines, as the engine's own registry client does and as
    ``curl -H 'Accept: …' -H 'Accept: …'`` does; HTTP treats them as one comma-joined list.
    """
    return [("Accept", media_type) for media_type in accept]


def short_layer_id(digest: str) -> str:
    """How push and pull streams name a layer: 12 hex digits, no algorithm."""
    return digest.split(":")[-1][:12]
