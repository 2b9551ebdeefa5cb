"""Where an image's bytes go: wasted bytes, duplicates, efficiency and secrets left in layers.

The layers are replayed bottom to top on the model of the final filesystem that the package
inventory uses too (:mod:`helpers.anatomy.filesystem`), the way overlayfs would mount them. A
file version is **wasted** when it is stored in a layer but not visible in the final filesystem:
overwritten by a later layer (or later in the same tar), removed by a whiteout (a file, or a
directory and everything under it), or hidden by an opaque whiteout. The visible copy is never
waste, nor are bytes still reachable through a hard link. This fixes what dive gets wrong: it
counts the kept copy as waste, ignores deleted directories and opaque whiteouts, and does not
look at content.

**Duplicates** are visible regular files with identical content at different paths. Content
hashes were taken while the stream passed; here they are only compared for files whose sizes
are equal, so unrelated files are never compared by hash alone.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator

from helpers.anatomy.archive import ArchiveSource, read_image
from helpers.anatomy.filesystem import FinalFilesystem, LayerStats
from helpers.anatomy.layerscan import KeepPredicate
from helpers.anatomy.model import (
    DuplicateGroup,
    ImageAnatomy,
    ImageArchive,
    Layer,
    LayerSummary,
    SecretFinding,
    VisibleFile,
    WastedFile,
)
from helpers.anatomy.secrets import instruction_of, redact, scan_env, scan_history

DEFAULT_TOP = 20


def analyse_image(source: ArchiveSource, *, top: int = DEFAULT_TOP, platform: str | None = None,
                  tag: str | None = None, keep: KeepPredicate | None = None) -> ImageAnatomy:
    """Read a ``docker save`` stream and analyse it, in one pass over the bytes."""
    return analyse(read_image(source, keep=keep, platform=platform, tag=tag), top=top)


def analyse(archive: ImageArchive, *, top: int = DEFAULT_TOP) -> ImageAnatomy:
    """Analyse an archive read by :func:`read_image` (``top`` bounds the largest-files list)."""
    watched = {hit.path for layer in archive.layers for hit in layer.content.secret_hits}
    replay = FinalFilesystem.of(archive.layers, watched=watched)
    visible = replay.visible_files()
    total = sum(layer.size_bytes for layer in archive.layers)
    wasted = sum(item.size_bytes for item in replay.wasted)
    duplicates = find_duplicates(lambda: visible)
    waste_by_layer: dict[int, int] = defaultdict(int)
    for item in replay.wasted:
        waste_by_layer[item.layer] += item.size_bytes
    return ImageAnatomy(
        image=archive.name,
        image_id=archive.image_id,
        platform=archive.platform,
        total_bytes=total,
        visible_bytes=sum(size for _, _, size, _ in visible),
        wasted_bytes=wasted,
        efficiency=efficiency(total, wasted),
        duplicate_bytes=sum(group.wasted_bytes for group in duplicates),
        layers=[_summary(layer, replay.stats[layer.index], waste_by_layer[layer.index])
                for layer in archive.layers],
        wasted_files=sorted(replay.wasted, key=lambda w: (-w.size_bytes, w.path, w.layer)),
        duplicates=duplicates,
        secrets=find_secrets(archive, replay),
        largest_files=[VisibleFile(path, layer, size) for path, layer, size, _ in
                       heapq.nlargest(top, visible, key=lambda v: (v[2], v[0]))],
        user=archive.user,
        notes=list(archive.notes),
    )


def efficiency(total_bytes: int, wasted_bytes: int) -> float:
    """1 - wasted/total: the share of stored bytes that the final filesystem shows."""
    return 1.0 if total_bytes == 0 else 1.0 - wasted_bytes / total_bytes


# --- duplicates ------------------------------------------------------------------------------

def find_duplicates(visible_files: Callable[[], Iterable[tuple[str, int, int, bytes | None]]]
                    ) -> list[DuplicateGroup]:
    """Groups of visible files with the same content; hashes compared only within a size.

    ``visible_files`` is called twice (count sizes, then collect the colliding ones) so that
    only files that could be duplicates are ever held in a list.
    """
    sizes = Counter(size for _, _, size, _ in visible_files() if size)
    candidates: dict[tuple[int, bytes | None], list[tuple[str, int]]] = defaultdict(list)
    for path, layer, size, digest in visible_files():
        if size and sizes[size] > 1 and digest is not None:
            candidates[(size, digest)].append((path, layer))
    groups = []
    for (size, _digest), members in candidates.items():
        if len(members) < 2:
            continue
        members.sort()
        groups.append(DuplicateGroup(
            paths=tuple(p for p, _ in members), layers=tuple(la for _, la in members),
            size_bytes=size, wasted_bytes=(len(members) - 1) * size))
    groups.sort(key=lambda g: (-g.wasted_bytes, g.paths))
    return groups


# --- secrets ----------------------------------------------------------------------------------

def find_secrets(archive: ImageArchive, replay: FinalFilesystem) -> list[SecretFinding]:
    """Secrets in files (visible or not), in the config's Env and in the build history."""
    findings = [*_file_findings(archive, replay), *_metadata_findings(archive)]
    findings.sort(key=lambda f: (f.layer if f.layer is not None else -1, f.source,
                                 f.path_or_key, f.kind))
    return findings


def _file_findings(archive: ImageArchive, replay: FinalFilesystem
                   ) -> Iterator[SecretFinding]:
    for layer in archive.layers:
        for hit in layer.content.secret_hits:
            visible = replay.entries.get(hit.path) == layer.index
            note = "" if visible else _gone_note(replay.hidden.get((layer.index, hit.path)),
                                                 layer.index)
            yield SecretFinding(path_or_key=hit.path, layer=layer.index, kind=hit.kind,
                                visible=visible, source="file", detail=hit.detail, note=note)


def _gone_note(hidden: WastedFile | None, layer: int) -> str:
    how = {"deleted": "deleted", "overwritten": "overwritten",
           "opaque": "hidden by an opaque whiteout"}
    when = f"{how[hidden.reason]} in layer {hidden.hidden_by}" if hidden else "not visible"
    return (f"{when}, but still in the image: anyone who pulls it can read layer {layer}; "
            "rebuild without it (use a build secret mount)")


def _metadata_findings(archive: ImageArchive) -> Iterator[SecretFinding]:
    history = archive.history
    layer_of_step = _step_layers(archive.layers, len(history))
    env_hits = scan_env(f"{k}={v}" for k, v in archive.env.items())
    env_keys = {hit.key for hit in env_hits}
    for hit in env_hits:
        step = _step_setting(history, hit.key)
        yield SecretFinding(
            path_or_key=hit.key, layer=layer_of_step[step] if step is not None else None,
            kind=hit.kind, visible=True, source="env", detail=hit.detail,
            note="in the image config: every container gets it and `docker inspect` shows it")
    for hit in scan_history(history, skip_env_keys=env_keys.__contains__):
        yield SecretFinding(
            path_or_key=hit.key, layer=layer_of_step[hit.step] if hit.step is not None else None,
            kind=hit.kind, visible=True, source="history", detail=hit.detail,
            note=f"in build step {hit.step} ({instruction_of(_created_by(history, hit.step))}):"
                 " `docker history --no-trunc` shows it")


def _created_by(history: list[dict], step: int | None) -> str:
    return str(history[step].get("created_by") or "") if step is not None else ""


def _step_layers(layers: list[Layer], steps: int) -> list[int | None]:
    """For each history step, the layer it made, or the layer it sits on (ENV, ARG…)."""
    made = {layer.history_index: layer.index for layer in layers if layer.history_index is not None}
    result: list[int | None] = []
    current: int | None = None
    for step in range(steps):
        current = made.get(step, current)
        result.append(current)
    return result


def _step_setting(history: list[dict], key: str) -> int | None:
    """The last history step whose ENV line assigns ``key``."""
    pattern = re.compile(rf"(?<![\w$]){re.escape(key)}=")
    for step in range(len(history) - 1, -1, -1):
        text = str(history[step].get("created_by") or "")
        if instruction_of(text) == "ENV" and pattern.search(text):
            return step
    return None


# --- presentation helpers ---------------------------------------------------------------------

_BUILD_ARGS = re.compile(r"^\|\d+\s+(?:\S+=\S*\s+)*")
_WHITESPACE = re.compile(r"\s+")


def short_step(created_by: str, width: int = 72) -> str:
    """A history line as the Dockerfile step a learner wrote: ``RUN pip install …``."""
    text = redact(created_by).strip()
    text = text.removesuffix("# buildkit").strip()
    if text.startswith("/bin/sh -c #(nop)"):
        text = text.removeprefix("/bin/sh -c #(nop)").strip()
    else:
        body = text.removeprefix("RUN ").lstrip()
        if body.startswith("|") or body.startswith("/bin/sh -c"):
            body = _BUILD_ARGS.sub("", body)
            text = "RUN " + body.removeprefix("/bin/sh -c").strip()
    text = _WHITESPACE.sub(" ", text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _summary(layer: Layer, stats: LayerStats, wasted: int) -> LayerSummary:
    content = layer.content
    return LayerSummary(
        index=layer.index, diff_id=layer.diff_id, created_by=redact(layer.created_by),
        step=short_step(layer.created_by), size_bytes=content.size_bytes,
        files=content.file_count, added=stats.added, modified=stats.modified,
        deleted=stats.deleted, wasted_bytes=wasted, compression=content.compression,
        blob_size=content.blob_size)
