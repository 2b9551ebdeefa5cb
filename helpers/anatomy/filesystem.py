"""The final filesystem of an image: its layers applied in order, as the container sees them.

One model for every reader of an image archive: the layer analysis (which stored bytes are
wasted, which files are visible), the package inventory of the built-in scanner and so the SBOM
all ask :class:`FinalFilesystem` which version of a path the final filesystem shows, so they
can never disagree about an archive. The rules, from the OCI image-spec (layer.md) and overlayfs:

* whiteouts (``.wh.NAME``) and opaque whiteouts (``.wh..wh..opq``) apply to lower layers only,
  before the layer's own entries, in whatever order the tar lists them;
* an entry replaces the lower entry at its path; a file, symlink or other non-directory that
  replaces a directory hides everything under it;
* an entry under a path that a lower layer holds as a file or symlink turns that path into a
  directory (the lower entry is hidden), as overlayfs shows a new upper directory;
* a hard link is another name for stored content: the bytes stay visible while any of their
  names does, and are wasted only when the last one goes.

Stored content is identified by a *content key*: the layer that stores the bytes and the
member's ``inode`` number in that layer (``FileRecord.inode``), or its path when it has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from helpers.anatomy.layerscan import LayerFormatError, normalise
from helpers.anatomy.model import (
    DIRECTORY,
    HARDLINK,
    REGULAR,
    FileRecord,
    LayerContent,
    WastedFile,
)
from helpers.errors import CourseError

ContentKey = tuple[int, int | str]
VisibleFile = tuple[str, int, int, bytes | None]  # path, layer storing the bytes, size, digest
_HAS_DATA = (REGULAR, HARDLINK)


class LayerStats:
    """What one layer changes in the final filesystem (non-directory paths only)."""

    __slots__ = ("added", "deleted", "modified")

    def __init__(self) -> None:
        self.added = self.modified = self.deleted = 0


def layer_changes(layer: Any) -> LayerContent:
    """The :class:`LayerContent` of ``layer``: an archive reader layer, or any object with
    ``files`` (path -> bytes, regular files) and ``deleted`` (whited-out paths; ``"D/"`` for
    an opaque whiteout of directory ``D``), such as the test doubles of the scanner."""
    content = getattr(layer, "content", None)
    if isinstance(content, LayerContent):
        return content
    changes = LayerContent()
    for number, (raw, data) in enumerate((getattr(layer, "files", None) or {}).items(), 1):
        path = normalise(raw)
        if path:
            changes.entries[path] = FileRecord(REGULAR, len(data), None, number)
    for raw in getattr(layer, "deleted", None) or ():
        path = normalise(raw)
        if raw.endswith("/") or not path:
            changes.opaque_dirs.append(path)
        else:
            changes.whiteouts.append(path)
    return changes


class FinalFilesystem:
    """The union of an image's layers, built bottom to top, recording every version it hides.

    ``entries`` maps each visible path to the index of the layer whose entry it shows;
    ``wasted`` lists the stored file versions no visible path shows any more (with the reason
    and the layer that hid them); ``stats[index]`` counts what each layer added, modified and
    deleted. ``children`` maps a directory to the paths directly under it (directories that
    exist only as parents included), so deleting or resetting a directory walks just that
    subtree. Paths in ``watched`` (secret files) also get their :class:`WastedFile` in
    ``hidden`` even when empty, so a report can say how they went.
    """

    def __init__(self, *, watched: Iterable[str] = ()) -> None:
        self.entries: dict[str, int] = {}
        self.children: dict[str, set[str]] = {}
        self.wasted: list[WastedFile] = []
        self.stats: dict[int, LayerStats] = {}
        self.hidden: dict[tuple[int, str], WastedFile] = {}
        self.watched = set(watched)
        self._layers: dict[int, LayerContent] = {}
        self._refs: dict[ContentKey, int] = {}  # visible names of each stored content
        self._stored_at: dict[ContentKey, str] = {}  # the member path that stores it
        self._links: dict[tuple[int, str], tuple[ContentKey, FileRecord]] = {}
        self._visible: list[VisibleFile] | None = None

    @classmethod
    def of(cls, layers: Iterable[Any], *, watched: Iterable[str] = ()) -> FinalFilesystem:
        """The final filesystem of ``layers`` (bottom first), every layer applied."""
        filesystem = cls(watched=watched)
        for layer in layers:
            filesystem.apply(layer)
        return filesystem

    # --- questions --------------------------------------------------------------------------

    def layer_of(self, path: str) -> int | None:
        """The index of the layer whose entry ``path`` shows, None when not visible."""
        return self.entries.get(path)

    def record(self, path: str) -> FileRecord | None:
        """The visible entry at ``path`` (a hard link as the content it names), or None."""
        layer = self.entries.get(path)
        if layer is None:
            return None
        record = self._layers[layer].entries[path]
        if record.kind == HARDLINK:
            return self._content(path, layer, record)[1]
        return record

    def visible_files(self) -> list[VisibleFile]:
        """(path, layer, size, digest) of each stored content the final filesystem shows.

        One row per content: a file with several hard-linked names is listed once, under the
        name that stores it when visible, else under its first remaining name; ``layer`` is
        the layer storing the bytes.
        """
        if self._visible is None:
            best: dict[ContentKey, tuple[str, FileRecord]] = {}
            for path, layer in self.entries.items():
                record = self._layers[layer].entries[path]
                if record.kind not in _HAS_DATA:
                    continue
                key, content = self._content(path, layer, record)
                chosen = best.get(key)
                stored = self._stored_at.get(key)
                if chosen is None or path == stored or (chosen[0] != stored
                                                        and path < chosen[0]):
                    best[key] = (path, content)
            self._visible = [(path, key[0], content.size, content.digest)
                             for key, (path, content) in best.items()]
        return self._visible

    # --- applying a layer -------------------------------------------------------------------

    def apply(self, layer: Any) -> LayerStats:
        """Put ``layer`` (with ``index`` and ``content``, or ``files``/``deleted``) on top.

        Raises :class:`~helpers.errors.CourseError` for a hard link whose target is neither an
        earlier member of its layer nor a file of a lower layer.
        """
        index = int(layer.index)
        content = layer_changes(layer)
        self._layers[index] = content
        self._visible = None
        stats = self.stats[index] = LayerStats()
        # Whiteouts only ever apply to lower layers, so they go first.
        for directory in content.opaque_dirs:
            for child in list(self.children.pop(directory, ())):
                stats.deleted += self._hide_subtree(child, "opaque", index)
        for path in content.whiteouts:
            stats.deleted += self._hide_subtree(path, "deleted", index)
        for path, size in content.superseded:
            self._waste(path, index, size, "overwritten", index)
        for path, target in content.lower_links.items():
            self._resolve_lower_link(index, path, target, content)
        for path, record in content.entries.items():
            self._place(path, record, index, stats)
        return stats

    def _resolve_lower_link(self, index: int, path: str, target: str,
                            content: LayerContent) -> None:
        lower = self.entries.get(target)
        record = self._layers[lower].entries[target] if lower is not None else None
        if lower is None or record is None or record.kind == DIRECTORY:
            where = content.blob or f"layer {index}"
            what = "a directory" if record is not None else "neither an earlier entry of " \
                "that layer nor a file of a lower layer"
            raise CourseError(
                f"The image cannot be read: {where} has a hard link {path!r} to {target!r}, "
                f"which is {what}.", hint=LayerFormatError.hint)
        if record.kind in _HAS_DATA:
            self._links[(index, path)] = self._content(target, lower, record)
        else:  # a hard link to a symlink (or a device) is one more of those
            content.entries[path] = FileRecord(record.kind, 0, None)

    def _place(self, path: str, record: FileRecord, index: int, stats: LayerStats) -> None:
        previous = self.entries.get(path)
        if previous is not None:
            self._release(path, previous, self._layers[previous].entries[path], "overwritten",
                          index)
        if record.kind != DIRECTORY:
            if previous is None:
                stats.added += 1
            else:
                stats.modified += 1
            # A file or link replacing a directory hides everything that was under it.
            for child in list(self.children.pop(path, ())):
                self._hide_subtree(child, "overwritten", index)
        self.entries[path] = index
        if record.kind in _HAS_DATA:
            key = self._content(path, index, record)[0]
            self._refs[key] = self._refs.get(key, 0) + 1
            if record.kind == REGULAR:
                self._stored_at[key] = path
        self._link(path, index)

    def _content(self, path: str, layer: int, record: FileRecord
                 ) -> tuple[ContentKey, FileRecord]:
        """The content key of a data-bearing entry, and the record carrying its size."""
        if record.kind == HARDLINK:
            link = self._links.get((layer, path))
            if link is not None:
                return link
        return ((layer, record.inode) if record.inode else (layer, path)), record

    def _link(self, path: str, index: int) -> None:
        """Register ``path`` under its parent, creating implicit parent directories."""
        while path:
            parent = path.rpartition("/")[0]
            siblings = self.children.get(parent)
            if siblings is not None:
                siblings.add(path)
                return
            lower = self.entries.get(parent) if parent else None
            if lower is not None and lower != index:
                record = self._layers[lower].entries[parent]
                if record.kind != DIRECTORY:  # a lower file or link becomes a directory
                    del self.entries[parent]
                    self._release(parent, lower, record, "overwritten", index)
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
            lower = self.entries.pop(current, None)
            if lower is not None:
                record = self._layers[lower].entries[current]
                if record.kind != DIRECTORY:
                    removed += 1
                self._release(current, lower, record, reason, by)
            stack.extend(self.children.pop(current, ()))
        return removed

    def _release(self, path: str, layer: int, record: FileRecord, reason: str, by: int) -> None:
        """One name of a content went away; the content is wasted when it was the last."""
        if record.kind not in _HAS_DATA:
            return
        key, content = self._content(path, layer, record)
        left = self._refs.get(key, 1) - 1
        if left > 0:
            self._refs[key] = left
            return
        self._refs.pop(key, None)
        self._waste(self._stored_at.get(key, path), key[0], content.size, reason, by)

    def _waste(self, path: str, layer: int, size: int, reason: str, by: int) -> None:
        item = WastedFile(path, layer, size, reason, by)
        if path in self.watched:
            self.hidden[(layer, path)] = item
        if size:
            self.wasted.append(item)
