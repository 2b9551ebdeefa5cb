"""Where an image's bytes go: wasted bytes, duplicates, efficiency and secrets left in layers.

The layers are replayed bottom to top on a model of the union filesystem, the way overlayfs
would mount them. A file version is **wasted** when it is stored in a layer but not visible in
the final filesystem: overwritten by a later layer (or later in the same tar), removed by a
whiteout (a file, or a directory and everything under it), or hidden by an opaque whiteout.
The visible copy is never waste. This fixes what dive gets wrong: it counts the kept copy as
waste, ignores deleted directories and opaque whiteouts, and does not look at content.

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
from helpers.anatomy.layerscan import KeepPredicate
from helpers.anatomy.model import (
    DIRECTORY,
    REGULAR,
    DuplicateGroup,
    FileRecord,
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
    replay = _Replay(archive.layers)
    for layer in archive.layers:
        replay.apply(layer)
    total = sum(layer.size_bytes for layer in archive.layers)
    wasted = sum(item.size_bytes for item in replay.wasted)
    duplicates = find_duplicates(replay.visible_files)
    waste_by_layer: dict[int, int] = defaultdict(int)
    for item in replay.wasted:
        waste_by_layer[item.layer] += item.size_bytes
    return ImageAnatomy(
        image=archive.name,
        image_id=archive.image_id,
        platform=archive.platform,
        total_bytes=total,
        visible_bytes=sum(size for _, _, size, _ in replay.visible_files()),
        wasted_bytes=wasted,
        efficiency=efficiency(total, wasted),
        duplicate_bytes=sum(group.wasted_bytes for group in duplicates),
        layers=[_summary(layer, replay.stats[layer.index], waste_by_layer[layer.index])
                for layer in archive.layers],
        wasted_files=sorted(replay.wasted, key=lambda w: (-w.size_bytes, w.path, w.layer)),
        duplicates=duplicates,
        secrets=find_secrets(archive, replay),
        largest_files=[VisibleFile(path, layer, size) for path, layer, size, _ in
                       heapq.nlargest(top, replay.visible_files(), key=lambda v: (v[2], v[0]))],
        user=archive.user,
    )


def efficiency(total_bytes: int, wasted_bytes: int) -> float:
    """1 - wasted/total: the share of stored bytes that the final filesystem shows."""
    return 1.0 if total_bytes == 0 else 1.0 - wasted_bytes / total_bytes


# --- replaying the layers ---------------------------------------------------------------------

class _LayerStats:
    __slots__ = ("added", "deleted", "modified")

    def __init__(self) -> None:
        self.added = self.modified = self.deleted = 0


class _Replay:
    """The union filesystem built layer by layer, recording every version it hides.

    ``children`` maps a directory to the paths directly under it (including directories that
    only exist implicitly, as parents of files), so deleting a directory or resetting it with
    an opaque whiteout walks just that subtree instead of every path in the image.
    """

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = layers
        self.entries: dict[str, int] = {}  # visible path -> index of the layer it comes from
        self.children: dict[str, set[str]] = {}
        self.wasted: list[WastedFile] = []
        self.stats: dict[int, _LayerStats] = {}
        self.hidden: dict[tuple[int, str], WastedFile] = {}  # (layer, path) -> how it went
        # Only paths holding a secret need "how did it go" later; don't index every waste.
        self.watched = {hit.path for layer in layers for hit in layer.content.secret_hits}

    def apply(self, layer: Layer) -> None:
        index = layer.index
        stats = self.stats[index] = _LayerStats()
        content = layer.content
        # Whiteouts only ever apply to lower layers, so they go first.
        for directory in content.opaque_dirs:
            for child in list(self.children.pop(directory, ())):
                stats.deleted += self._hide_subtree(child, "opaque", index)
        for path in content.whiteouts:
            stats.deleted += self._hide_subtree(path, "deleted", index)
        for path, size in content.superseded:
            self._waste(path, index, size, "overwritten", index)
        for path, record in content.entries.items():
            self._place(path, record, index, stats)

    def _place(self, path: str, record: FileRecord, index: int, stats: _LayerStats) -> None:
        previous = self.entries.get(path)
        if previous is not None:
            lower = self._record(path, previous)
            if lower.kind == REGULAR:
                self._waste(path, previous, lower.size, "overwritten", index)
        if record.kind != DIRECTORY:
            if previous is None:
                stats.added += 1
            else:
                stats.modified += 1
            # A file or link replacing a directory hides everything that was under it.
            for child in list(self.children.pop(path, ())):
                self._hide_subtree(child, "overwritten", index)
        self.entries[path] = index
        self._link(path)

    def _record(self, path: str, layer: int) -> FileRecord:
        return self.layers[layer].content.entries[path]

    def _link(self, path: str) -> None:
        """Register ``path`` under its parent, creating implicit parent directories."""
        while path:
            parent = path.rpartition("/")[0]
            siblings = self.children.get(parent)
            if siblings is not None:
                siblings.add(path)
                return
            self.children[parent] = {path}
            path = parent

    def _hide_subtree(self, path: str, reason: str, by: int) -> int:
        """Remove ``path`` and everything under it; return how many non-directories went."""
        parent = path.rpartition("/")[0]
        siblings = self.children.get(parent)
        if siblings is not None:
            siblings.discard(path)
        removed = 0
        stack = [path]
        while stack:
            current = stack.pop()
            lower_index = self.entries.pop(current, None)
            if lower_index is not None:
                record = self._record(current, lower_index)
                if record.kind != DIRECTORY:
                    removed += 1
                if record.kind == REGULAR:
                    self._waste(current, lower_index, record.size, reason, by)
            stack.extend(self.children.pop(current, ()))
        return removed

    def _waste(self, path: str, layer: int, size: int, reason: str, by: int) -> None:
        item = WastedFile(path, layer, size, reason, by)
        if path in self.watched:
            self.hidden[(layer, path)] = item
        if size:
            self.wasted.append(item)

    def visible_files(self) -> Iterator[tuple[str, int, int, bytes | None]]:
        """(path, layer, size, digest) of every regular file in the final filesystem."""
        layers = [layer.content.entries for layer in self.layers]
        for path, layer in self.entries.items():
            record = layers[layer][path]
            if record.kind == REGULAR:
                yield path, layer, record.size, record.digest


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

def find_secrets(archive: ImageArchive, replay: _Replay) -> list[SecretFinding]:
    """Secrets in files (visible or not), in the config's Env and in the build history."""
    findings = [*_file_findings(archive, replay), *_metadata_findings(archive)]
    findings.sort(key=lambda f: (f.layer if f.layer is not None else -1, f.source,
                                 f.path_or_key, f.kind))
    return findings


def _file_findings(archive: ImageArchive, replay: _Replay) -> Iterator[SecretFinding]:
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


def _summary(layer: Layer, stats: _LayerStats, wasted: int) -> LayerSummary:
    content = layer.content
    return LayerSummary(
        index=layer.index, diff_id=layer.diff_id, created_by=redact(layer.created_by),
        step=short_step(layer.created_by), size_bytes=content.size_bytes,
        files=content.file_count, added=stats.added, modified=stats.modified,
        deleted=stats.deleted, wasted_bytes=wasted, compression=content.compression,
        blob_size=content.blob_size)
