"""Turn what one pass over a ``docker save`` archive collected into ordered layers.

The archive names its images in ``manifest.json`` (docker layout) and/or ``index.json`` (OCI
layout, possibly a multi-platform index whose other platforms' blobs were never pulled). This
module picks one image (by tag, then by platform: the requested one, else the host's, else
linux/amd64, else the first complete one), checks every blob it needs arrived intact, and ties
each layer to its diff_id and to the Dockerfile step in the config's history.
"""

from __future__ import annotations

import platform as host
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from helpers.anatomy.layerscan import normalise
from helpers.anatomy.model import ImageArchive, Layer, LayerContent
from helpers.errors import CourseError

SAVE_HINT = "Export the image again with `docker save IMAGE -o image.tar` and read that file."
_ATTESTATION = "attestation-manifest"


@dataclass
class Collected:
    """Everything worth keeping from one pass over the archive, keyed by member path."""

    documents: dict[str, Any] = field(default_factory=dict)  # parsed JSON members
    layers: dict[str, LayerContent] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # member path -> what was wrong
    links: dict[str, str] = field(default_factory=dict)  # symlinked/hardlinked members
    first_names: list[str] = field(default_factory=list)  # to say what a non-image holds

    def resolve(self, path: str) -> str:
        """Follow member links: a layer repeated in an image is saved once, then linked."""
        path = normalise(path)
        for _ in range(16):
            if path not in self.links:
                break
            path = self.links[path]
        return path

    def blob_path(self, digest: str) -> str:
        return self.resolve("blobs/" + digest.replace(":", "/", 1))


@dataclass
class _Choice:
    """One image the archive describes: its config, its layer blobs, its names."""

    config_path: str
    layer_paths: list[str]
    repo_tags: list[str]
    layout: str
    platform: str = ""
    missing: list[str] = field(default_factory=list)


def assemble(collected: Collected, *, platform: str | None, tag: str | None) -> ImageArchive:
    """The chosen image, its layers in order; a CourseError saying what is missing if not."""
    docs = collected.documents
    if "manifest.json" not in docs and "index.json" not in docs:
        raise _not_an_image(collected)
    choice = None
    if "manifest.json" in docs:
        choice = _choose_from_docker_manifest(collected, tag)
    if (choice is None or choice.missing) and "index.json" in docs:
        choice = _choose_from_index(collected, platform, tag) or choice
    if choice is None:
        raise _not_an_image(collected)
    _require_present(collected, choice)
    config = docs[choice.config_path]
    contents = [collected.layers[path] for path in choice.layer_paths]
    layers = _order_layers(config, contents)
    return ImageArchive(
        layers=layers, config=config, repo_tags=choice.repo_tags,
        image_id="sha256:" + _hex_of(choice.config_path),
        layout=choice.layout, platform=choice.platform or _platform_of(config),
    )


def _not_an_image(collected: Collected) -> CourseError:
    sample = ", ".join(collected.first_names) or "nothing"
    return CourseError(
        "This tar is not a Docker image archive: it has neither manifest.json nor index.json "
        f"(it contains {sample}).", hint=SAVE_HINT)


def _hex_of(path: str) -> str:
    return posixpath.basename(path).removesuffix(".json")


def _choose_from_docker_manifest(collected: Collected, tag: str | None) -> _Choice | None:
    entries = collected.documents["manifest.json"]
    if not isinstance(entries, list) or not entries:
        return None
    entry = _entry_for_tag(entries, tag) if tag else entries[0]
    choice = _Choice(
        config_path=collected.resolve(str(entry.get("Config", ""))),
        layer_paths=[collected.resolve(str(p)) for p in entry.get("Layers") or []],
        repo_tags=list(entry.get("RepoTags") or []),
        layout="oci" if "index.json" in collected.documents else "docker",
    )
    choice.missing = _missing(collected, choice)
    return choice


def _entry_for_tag(entries: list[dict], tag: str) -> dict:
    wanted = {tag, f"{tag}:latest"}
    for entry in entries:
        if wanted & set(entry.get("RepoTags") or []):
            return entry
    known = sorted(t for e in entries for t in e.get("RepoTags") or [])
    raise CourseError(f"The archive holds no image tagged {tag!r}.",
                      hint=f"It holds: {', '.join(known) or 'untagged images only'}.")


def _missing(collected: Collected, choice: _Choice) -> list[str]:
    """Blobs the choice needs that the archive does not hold (in a readable form)."""
    missing = [] if choice.config_path in collected.documents else [choice.config_path]
    return missing + [path for path in choice.layer_paths if path not in collected.layers]


def _choose_from_index(collected: Collected, platform: str | None,
                       tag: str | None) -> _Choice | None:
    index = collected.documents["index.json"]
    candidates = list(_index_candidates(collected, index, names=[], depth=0))
    if tag:
        tagged = [c for c in candidates if tag in c.repo_tags or f"{tag}:latest" in c.repo_tags]
        candidates = tagged or candidates
    if not candidates:
        return None
    complete = [c for c in candidates if not c.missing]
    if not complete:
        return candidates[0]  # _require_present explains what is missing
    preferred = [platform] if platform else [_host_platform(), "linux/amd64"]
    for wanted in preferred:
        for candidate in complete:
            if _platform_matches(candidate.platform, wanted):
                return candidate
    if platform:
        available = ", ".join(c.platform or "unknown" for c in complete)
        raise CourseError(f"The archive has no complete image for platform {platform}.",
                          hint=f"Platforms present: {available}.")
    return complete[0]


def _index_candidates(collected: Collected, index: Any, names: list[str],
                      depth: int) -> Iterator[_Choice]:
    if not isinstance(index, dict) or depth > 4:
        return
    for descriptor in index.get("manifests") or []:
        annotations = descriptor.get("annotations") or {}
        if annotations.get("vnd.docker.reference.type") == _ATTESTATION:
            continue
        plat = descriptor.get("platform") or {}
        if plat.get("os") == "unknown":
            continue
        own_names = names or _names_from_annotations(annotations)
        path = collected.blob_path(str(descriptor.get("digest", "")))
        doc = collected.documents.get(path)
        if isinstance(doc, dict) and "manifests" in doc:
            yield from _index_candidates(collected, doc, own_names, depth + 1)
            continue
        choice = _Choice(config_path="", layer_paths=[], repo_tags=own_names, layout="oci",
                         platform=_platform_string(plat))
        if not isinstance(doc, dict):
            choice.missing = [path]
        else:
            choice.config_path = collected.blob_path(str((doc.get("config") or {}).get("digest")))
            choice.layer_paths = [collected.blob_path(str(layer.get("digest")))
                                  for layer in doc.get("layers") or []]
            choice.missing = _missing(collected, choice)
            if not choice.platform and choice.config_path in collected.documents:
                choice.platform = _platform_of(collected.documents[choice.config_path])
        yield choice


def _names_from_annotations(annotations: dict[str, str]) -> list[str]:
    name = annotations.get("io.containerd.image.name") or ""
    if not name:
        ref = annotations.get("org.opencontainers.image.ref.name") or ""
        name = ref if ":" in ref or "/" in ref else ""
    return [_short_reference(name)] if name else []


def _short_reference(name: str) -> str:
    """``docker.io/library/python:3.12`` as the engine shows it: ``python:3.12``."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _platform_string(plat: dict[str, Any]) -> str:
    parts = [plat.get("os"), plat.get("architecture"), plat.get("variant")]
    return "/".join(str(p) for p in parts if p)


def _platform_of(config: dict[str, Any]) -> str:
    return _platform_string({"os": config.get("os"), "architecture": config.get("architecture"),
                             "variant": config.get("variant")})


def _host_platform() -> str:
    machine = host.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm/v7", "ppc64le": "ppc64le", "s390x": "s390x"}.get(machine, machine)
    return f"linux/{arch}"


def _platform_matches(candidate: str, wanted: str) -> bool:
    return candidate == wanted or candidate.startswith(wanted + "/")


def _require_present(collected: Collected, choice: _Choice) -> None:
    """Explain, in one message, why the chosen image cannot be read completely."""
    broken = [p for p in choice.missing if p in collected.unreadable]
    if broken:
        path = broken[0]
        raise CourseError(f"The image cannot be read: {collected.unreadable[path]}.",
                          hint=SAVE_HINT)
    if choice.missing:
        what = ", ".join(choice.missing[:3]) + (" …" if len(choice.missing) > 3 else "")
        where = f" for platform {choice.platform}" if choice.platform else ""
        raise CourseError(f"The archive is incomplete{where}: {what} missing.",
                          hint="A multi-platform image saved from the containerd store only "
                               "holds the platforms that were pulled. " + SAVE_HINT)
    if not isinstance(collected.documents.get(choice.config_path), dict):
        raise CourseError(f"The image config {choice.config_path} is not a JSON object.",
                          hint=SAVE_HINT)


def _order_layers(config: dict[str, Any], contents: list[LayerContent]) -> list[Layer]:
    """Tie each layer to its diff_id and to the Dockerfile step (history entry) that made it."""
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if diff_ids and len(diff_ids) != len(contents):
        raise CourseError(f"The image config lists {len(diff_ids)} layers but the manifest "
                          f"lists {len(contents)}: the archive is inconsistent.", hint=SAVE_HINT)
    steps = [(i, h) for i, h in enumerate(config.get("history") or [])
             if isinstance(h, dict) and not h.get("empty_layer")]
    layers = []
    for index, content in enumerate(contents):
        diff_id = diff_ids[index] if diff_ids else _fallback_diff_id(content)
        _verify_diff_id(index, diff_id, content)
        step_index, step = steps[index] if index < len(steps) else (None, {})
        layers.append(Layer(index=index, diff_id=diff_id,
                            created_by=str(step.get("created_by") or ""), content=content,
                            history_index=step_index, comment=str(step.get("comment") or ""),
                            created=str(step.get("created") or "")))
    return layers


def _fallback_diff_id(content: LayerContent) -> str:
    if content.computed_diff_id:
        return content.computed_diff_id
    if content.blob.startswith("blobs/sha256/"):
        return "sha256:" + posixpath.basename(content.blob)
    return ""


def _verify_diff_id(index: int, diff_id: str, content: LayerContent) -> None:
    computed = content.computed_diff_id
    if computed and diff_id and computed != diff_id:
        raise CourseError(
            f"Layer {index} ({content.blob}) decompresses to content whose digest {computed} "
            f"does not match the diff_id {diff_id} in the image config: the blob is damaged.",
            hint=SAVE_HINT)

