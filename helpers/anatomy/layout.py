"""Turn what one pass over an image archive collected into ordered layers.

Every layout ``docker load`` accepts names its images in a document, and the document's
references (not file-name patterns) say which members are configs and layers:

* ``manifest.json`` (docker save of every Engine, podman save and skopeo ``docker-archive:``,
  go-containerregistry / crane tarballs, ``buildx --output type=docker``): a list of images,
  each with a ``Config`` path, ``Layers`` paths and ``RepoTags``. The paths are whatever the
  writer chose (``<id>/layer.tar``, ``<hex>.tar`` at the root, ``<hex>.tar.gz``,
  ``blobs/sha256/<hex>``, a config named ``sha256:<hex>``), possibly symlinks;
* ``index.json`` (the OCI image layout: Engine 25+, the containerd image store,
  ``buildx --output type=oci``, skopeo ``oci-archive:``): descriptors of image manifests or of
  nested image indexes (one manifest per platform), whose blobs sit at
  ``blobs/<algorithm>/<hex>``; the other platforms' blobs may be absent;
* ``repositories`` with ``<id>/json`` and ``<id>/layer.tar`` (the docker save layout before
  Engine 1.10, which ``docker load`` still accepts): each image a chain of parent ids.

This module picks one image (by name, then by platform: the requested one, else the host's,
else linux/amd64, else the first complete one), checks every blob it needs arrived intact, and
ties each layer to its diff_id and to the Dockerfile step in the config's history.
"""

from __future__ import annotations

import platform as host
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from helpers import references
from helpers.anatomy.layerscan import normalise
from helpers.anatomy.model import ImageArchive, Layer, LayerContent
from helpers.errors import CourseError

SAVE_HINT = "Export the image again with `docker save IMAGE -o image.tar` and read that file."
_ATTESTATION = "attestation-manifest"
_V1_CONFIG_KEYS = ("id", "parent", "Size", "parent_id", "layer_id")


@dataclass
class Collected:
    """Everything worth keeping from one pass over the archive, keyed by member path."""

    documents: dict[str, Any] = field(default_factory=dict)  # parsed JSON members
    layers: dict[str, LayerContent] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # member path -> what was wrong
    hints: dict[str, str] = field(default_factory=dict)  # member path -> what to do about it
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
        """Where the OCI image layout keeps the blob ``digest`` (``blobs/<alg>/<hex>``)."""
        return self.resolve("blobs/" + digest.replace(":", "/", 1))


@dataclass
class _Choice:
    """One image the archive describes: its config, its layer blobs, its names."""

    config_path: str
    layer_paths: list[str]
    repo_tags: list[str]
    layout: str
    source: str  # the document naming these blobs, for error messages
    group: Any  # the platforms of one image share a group
    platform: str = ""
    image_id: str = ""
    multi_platform: bool = False
    config: dict[str, Any] | None = None  # made here for the pre-1.10 layout
    missing: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.repo_tags[0] if self.repo_tags else \
            self.image_id.removeprefix("sha256:")[:12] or "(untagged image)"


def assemble(collected: Collected, *, platform: str | None, tag: str | None) -> ImageArchive:
    """The chosen image, its layers in order; a CourseError saying what is missing if not.

    ``tag`` picks an image by name (``python:3.12``, ``docker.io/library/python:3.12``);
    ``platform`` (``linux/arm64``) a platform of a multi-platform image.
    """
    candidates = _candidates(collected)
    choice = _select(candidates, platform=platform, tag=tag)
    _require_present(collected, choice)
    config = choice.config if choice.config is not None else \
        collected.documents[choice.config_path]
    contents = [collected.layers[path] for path in choice.layer_paths]
    layers = _order_layers(config, contents)
    names = list(dict.fromkeys(_group_name(candidates, group)
                               for group in dict.fromkeys(c.group for c in candidates)))
    notes = []
    if len(names) > 1 and not tag:
        notes.append(f"The archive holds {len(names)} images ({', '.join(names[:5])}"
                     f"{', …' if len(names) > 5 else ''}); this is {choice.name}. Choose "
                     "another by name (`--image NAME` on the command line).")
    return ImageArchive(
        layers=layers, config=config, repo_tags=choice.repo_tags,
        image_id=choice.image_id, layout=choice.layout,
        platform=choice.platform or _platform_of(config), images=names, notes=notes,
    )


# --- the images an archive describes ----------------------------------------------------------

def _candidates(collected: Collected) -> list[_Choice]:
    docs = collected.documents
    for document in ("manifest.json", "index.json"):
        other = "index.json" if document == "manifest.json" else "manifest.json"
        if document in collected.unreadable and other not in docs:
            raise CourseError(f"The archive's {document} cannot be read: "
                              f"{collected.unreadable[document]}.", hint=SAVE_HINT)
    candidates: list[_Choice] = []
    if "manifest.json" in docs:
        candidates = _docker_candidates(collected)
    if "index.json" in docs and (not candidates or all(c.missing for c in candidates)):
        candidates = list(_index_candidates(collected, docs["index.json"], names=[],
                                            depth=0, group=None)) or candidates
    if not candidates and "manifest.json" not in docs and "index.json" not in docs:
        candidates = _v1_candidates(collected)
    if candidates:
        return candidates
    if "manifest.json" in docs or "index.json" in docs:
        which = "manifest.json" if "manifest.json" in docs else "index.json"
        raise CourseError(f"The archive's {which} lists no image: it is empty or null.",
                          hint=SAVE_HINT)
    sample = ", ".join(collected.first_names) or "nothing"
    raise CourseError(
        "This tar is not a Docker image archive: it has neither manifest.json nor index.json "
        f"(it contains {sample}).", hint=SAVE_HINT)


def _docker_candidates(collected: Collected) -> list[_Choice]:
    entries = collected.documents["manifest.json"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CourseError("The archive's manifest.json is not a list of images, so not what "
                          "`docker save` writes.", hint=SAVE_HINT)
    layout = "oci" if "index.json" in collected.documents else "docker"
    candidates = []
    for number, entry in enumerate(entries):
        config_path = collected.resolve(str(entry.get("Config") or ""))
        choice = _Choice(
            config_path=config_path,
            layer_paths=[collected.resolve(str(p)) for p in entry.get("Layers") or []],
            repo_tags=[str(t) for t in entry.get("RepoTags") or []],
            layout=layout, source="manifest.json", group=number,
            image_id="sha256:" + _hex_of(config_path),
        )
        choice.missing = _missing(collected, choice)
        config = collected.documents.get(config_path)
        if isinstance(config, dict):
            choice.platform = _platform_of(config)
        candidates.append(choice)
    return candidates


def _index_candidates(collected: Collected, index: Any, names: list[str], depth: int,
                      group: Any, source: str = "index.json") -> Iterator[_Choice]:
    if not isinstance(index, dict) or depth > 4:
        return
    for number, descriptor in enumerate(index.get("manifests") or []):
        if not isinstance(descriptor, dict):
            continue
        annotations = descriptor.get("annotations") or {}
        if annotations.get("vnd.docker.reference.type") == _ATTESTATION:
            continue
        plat = descriptor.get("platform") or {}
        if plat.get("os") == "unknown":
            continue
        own_names = names or _names_from_annotations(annotations)
        # The platforms of one image form a group; separate images (docker save a b) do not.
        own_group = group if group is not None else \
            (("platforms", *own_names) if plat else number)
        digest = str(descriptor.get("digest", ""))
        path = collected.blob_path(digest)
        doc = collected.documents.get(path)
        if isinstance(doc, dict) and "manifests" in doc:
            yield from _index_candidates(collected, doc, own_names, depth + 1, own_group,
                                         source=f"the image index {path}")
            continue
        choice = _Choice(config_path="", layer_paths=[], repo_tags=own_names, layout="oci",
                         source=source, group=own_group, platform=_platform_string(plat),
                         multi_platform=depth > 0 or bool(plat))
        if not isinstance(doc, dict):
            choice.missing = [path]
        else:
            config_digest = str((doc.get("config") or {}).get("digest"))
            choice.config_path = collected.blob_path(config_digest)
            choice.image_id = config_digest if ":" in config_digest else ""
            choice.layer_paths = [collected.blob_path(str(layer.get("digest")))
                                  for layer in doc.get("layers") or []
                                  if isinstance(layer, dict)]
            choice.source = f"the image manifest {path}"
            choice.missing = _missing(collected, choice)
            if not choice.platform and choice.config_path in collected.documents:
                choice.platform = _platform_of(collected.documents[choice.config_path])
        yield choice


def _v1_candidates(collected: Collected) -> list[_Choice]:
    """Images of the pre-1.10 layout: ``repositories`` names the top ids of parent chains."""
    docs = collected.documents
    v1 = {path.rpartition("/")[0]: doc for path, doc in docs.items()
          if path.endswith("/json") and path.count("/") == 1 and isinstance(doc, dict)
          and isinstance(doc.get("id"), str)}
    if not v1:
        return []
    tops: dict[str, list[str]] = {}
    repositories = docs.get("repositories")
    if isinstance(repositories, dict):
        for repo, tags in repositories.items():
            for tag, image_id in (tags or {}).items() if isinstance(tags, dict) else ():
                tops.setdefault(str(image_id), []).append(f"{references.familiar(repo)}:{tag}")
    if not tops:  # untagged: every id that is nobody's parent
        parents = {doc.get("parent") for doc in v1.values()}
        tops = {image_id: [] for image_id in v1 if image_id not in parents}
    candidates = []
    for number, (top, tags) in enumerate(tops.items()):
        chain: list[str] = []
        current = top
        while current and len(chain) < 1000:
            chain.append(current)
            current = str((v1.get(current) or {}).get("parent") or "")
        chain.reverse()
        choice = _Choice(config_path=f"{top}/json",
                         layer_paths=[collected.resolve(f"{i}/layer.tar") for i in chain],
                         repo_tags=tags, layout="docker-v1", source="repositories",
                         group=number, image_id=top)
        missing_json = [f"{i}/json" for i in chain if i not in v1]
        choice.missing = missing_json + _missing(collected, choice)
        if not missing_json:
            choice.config = _v1_config(v1[top], [v1[i] for i in chain])
            choice.platform = _platform_of(choice.config)
        candidates.append(choice)
    return candidates


def _v1_config(top: dict[str, Any], chain: list[dict[str, Any]]) -> dict[str, Any]:
    """An image config from v1 image JSON, as ``docker load`` makes one (one step a layer)."""
    config = {key: value for key, value in top.items() if key not in _V1_CONFIG_KEYS}
    config["history"] = [{
        "created": str(item.get("created") or ""),
        "created_by": " ".join(str(c) for c in (item.get("container_config") or {})
                               .get("Cmd") or []),
        "author": str(item.get("author") or ""),
        "comment": str(item.get("comment") or ""),
    } for item in chain]
    config["rootfs"] = {"type": "layers", "diff_ids": []}
    return config


def _missing(collected: Collected, choice: _Choice) -> list[str]:
    """Blobs the choice needs that the archive does not hold (in a readable form)."""
    config_ok = choice.config_path in collected.documents or choice.config is not None
    missing = [] if config_ok else [choice.config_path or "(no config named)"]
    return missing + [path for path in choice.layer_paths if path not in collected.layers]


# --- choosing one -----------------------------------------------------------------------------

def _select(candidates: list[_Choice], *, platform: str | None, tag: str | None) -> _Choice:
    if tag:
        named = [c for c in candidates if any(references.same_image(tag, t) for t in c.repo_tags)
                 or _same_id(tag, c.image_id)]
        if not named:
            known = sorted({t for c in candidates for t in c.repo_tags})
            raise CourseError(f"The archive holds no image tagged {tag!r}.",
                              hint=f"It holds: {', '.join(known) or 'untagged images only'}.")
        candidates = named
    complete = [c for c in candidates if not c.missing]
    if not complete:
        return candidates[0]  # _require_present explains what is missing
    if platform:
        for candidate in complete:
            if _platform_matches(candidate.platform, platform):
                return candidate
        available = ", ".join(c.platform or "unknown" for c in complete)
        raise CourseError(f"The archive has no complete image for platform {platform}.",
                          hint=f"Platforms present: {available}.")
    first_group = complete[0].group
    variants = [c for c in complete if c.group == first_group]
    for wanted in (_host_platform(), "linux/amd64"):
        for candidate in variants:
            if _platform_matches(candidate.platform, wanted):
                return candidate
    return variants[0]


def _group_name(candidates: list[_Choice], group: Any) -> str:
    members = [c for c in candidates if c.group == group]
    for member in members:
        if member.repo_tags:
            return member.repo_tags[0]
    return next((m.name for m in members if m.image_id), "(untagged image)")


def _same_id(wanted: str, image_id: str) -> bool:
    hex_id = image_id.removeprefix("sha256:")
    wanted = wanted.removeprefix("sha256:")
    return len(wanted) >= 12 and bool(hex_id) and hex_id.startswith(wanted)


def _names_from_annotations(annotations: dict[str, str]) -> list[str]:
    name = annotations.get("io.containerd.image.name") or ""
    if not name:
        ref = annotations.get("org.opencontainers.image.ref.name") or ""
        name = ref if ":" in ref or "/" in ref else ""
    return [references.familiar(name)] if name else []


def _hex_of(path: str) -> str:
    """The digest hex a config path carries (``<hex>.json``, ``sha256:<hex>``, blobs/…)."""
    return posixpath.basename(path).removesuffix(".json").removeprefix("sha256:")


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


# --- checks -----------------------------------------------------------------------------------

def _require_present(collected: Collected, choice: _Choice) -> None:
    """Explain, in one message, why the chosen image cannot be read completely."""
    broken = [p for p in choice.missing if p in collected.unreadable]
    if broken:
        path = broken[0]
        message = collected.unreadable[path]
        if not message.startswith(("layer ", "the ")):  # say what the member was needed as
            role = "layer" if path in choice.layer_paths else "the image config"
            message = f"{role} {message}"
        raise CourseError(f"The image cannot be read: {message}.",
                          hint=collected.hints.get(path, SAVE_HINT))
    if choice.missing:
        what = ", ".join(choice.missing[:3]) + (" …" if len(choice.missing) > 3 else "")
        if choice.multi_platform:
            where = f" for platform {choice.platform}" if choice.platform else ""
            raise CourseError(f"The archive is incomplete{where}: {what} missing.",
                              hint="A multi-platform image saved from the containerd store "
                                   "only holds the platforms that were pulled. " + SAVE_HINT)
        raise CourseError(f"The archive is incomplete: {what} missing ({choice.source} names "
                          "it, the archive does not hold it).",
                          hint="The archive was probably cut short or edited. " + SAVE_HINT)
    config = choice.config if choice.config is not None else \
        collected.documents.get(choice.config_path)
    if not isinstance(config, dict):
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
