"""Plain data for image anatomy: what the archive reader finds, and what the analysis concludes.

Everything here is a dataclass or a named tuple of built-in values, so results can be recorded
for replay, compared in tests and turned into DataFrames, and no reader state leaks out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from helpers.anatomy.tarstream import DIRECTORY, HARDLINK, KIND_NAMES, OTHER, REGULAR, SYMLINK

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DIRECTORY", "HARDLINK", "KIND_NAMES", "OTHER", "REGULAR", "SYMLINK", "WASTE_REASONS",
    "DuplicateGroup", "FileRecord", "ImageAnatomy", "ImageArchive", "Layer", "LayerContent",
    "LayerSummary", "SecretFinding", "SecretHit", "VisibleFile", "WastedFile",
]


class FileRecord(NamedTuple):
    """One path in one layer: enough to compute waste and duplicates, never the content.

    ``size`` is in bytes (a sparse file's real size). ``digest`` is a SHA-1 of the content of
    non-empty regular files, used only to group files whose sizes are equal (content identity,
    not security). ``inode`` numbers the stored contents of one layer (1, 2, …): a hard link
    (kind ``HARDLINK``) carries the size, digest and inode of the file it links to, so two names
    of one content are told apart from two copies. 0 means "no stored content of its own".
    """

    kind: int
    size: int
    digest: bytes | None
    inode: int = 0


class SecretHit(NamedTuple):
    """A secret-looking file seen while a layer streamed past (the value itself is not kept)."""

    path: str
    kind: str
    detail: str


@dataclass(slots=True)
class LayerContent:
    """What one layer blob contains, as read from the stream.

    Kept apart from :class:`Layer` because a blob can arrive before anyone knows its position
    in the image (Engine 20.10 writes layers before ``manifest.json``), and because the same
    blob may sit at two positions.
    """

    entries: dict[str, FileRecord] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)  # paths removed from lower layers
    opaque_dirs: list[str] = field(default_factory=list)  # directories reset by .wh..wh..opq
    superseded: list[tuple[str, int]] = field(default_factory=list)  # same path twice in one tar
    lower_links: dict[str, str] = field(default_factory=dict)  # hard link -> lower-layer target
    files: dict[str, bytes] = field(default_factory=dict)  # contents the caller asked to keep
    secret_hits: list[SecretHit] = field(default_factory=list)
    size_bytes: int = 0
    file_count: int = 0
    blob: str = ""  # member path inside the archive
    blob_size: int = 0
    compression: str = "none"
    computed_diff_id: str | None = None  # sha256 of the decompressed stream, when decompressed

    @property
    def deleted(self) -> set[str]:
        """Whiteout targets, plus ``D/`` for each directory ``D`` an opaque whiteout resets."""
        return set(self.whiteouts) | {f"{d}/" for d in self.opaque_dirs}


@dataclass(slots=True)
class Layer:
    """One layer at its position in the image, tied to the Dockerfile step that made it.

    ``index``, ``diff_id``, ``created_by``, ``files`` and ``deleted`` are the stable contract
    other modules (the package inventory of the vulnerability scanner) code against.
    """

    index: int
    diff_id: str
    created_by: str
    content: LayerContent
    history_index: int | None = None  # position in config["history"], None if unmatched
    comment: str = ""
    created: str = ""

    @property
    def files(self) -> dict[str, bytes]:
        """Contents of the kept files added or modified in this layer, by normalised path."""
        return self.content.files

    @property
    def deleted(self) -> set[str]:
        return self.content.deleted

    @property
    def entries(self) -> dict[str, FileRecord]:
        return self.content.entries

    @property
    def size_bytes(self) -> int:
        return self.content.size_bytes

    @property
    def file_count(self) -> int:
        return self.content.file_count


@dataclass(slots=True)
class ImageArchive:
    """A ``docker save`` archive, read once: ordered layers, the image config and its names."""

    layers: list[Layer]
    config: dict[str, Any]
    repo_tags: list[str] = field(default_factory=list)
    image_id: str = ""  # sha256:<digest of the config blob>
    layout: str = ""  # "docker" (manifest.json), "oci" (index.json) or "docker-v1"
    platform: str = ""  # os/architecture[/variant]
    images: list[str] = field(default_factory=list)  # every image the archive holds, by name
    notes: list[str] = field(default_factory=list)  # sentences worth showing with the result

    @property
    def name(self) -> str:
        """What to call the image in a title: its first tag, else its short id."""
        if self.repo_tags:
            return self.repo_tags[0]
        return self.image_id.removeprefix("sha256:")[:12] or "(untagged image)"

    @property
    def _runtime(self) -> dict[str, Any]:
        return self.config.get("config") or {}

    @property
    def env(self) -> dict[str, str]:
        pairs = (item.partition("=") for item in self._runtime.get("Env") or [])
        return {key: value for key, _, value in pairs}

    @property
    def user(self) -> str:
        """The user containers run as; empty means root."""
        return self._runtime.get("User") or ""

    @property
    def cmd(self) -> list[str]:
        return list(self._runtime.get("Cmd") or [])

    @property
    def entrypoint(self) -> list[str]:
        return list(self._runtime.get("Entrypoint") or [])

    @property
    def working_dir(self) -> str:
        return self._runtime.get("WorkingDir") or ""

    @property
    def exposed_ports(self) -> list[str]:
        return sorted(self._runtime.get("ExposedPorts") or {})

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.config.get("history") or [])


# --- what the analysis concludes ------------------------------------------------------------

WASTE_REASONS = ("overwritten", "deleted", "opaque")


@dataclass(slots=True)
class LayerSummary:
    """One layer as the course tables show it: the step, its size, and the waste it causes."""

    index: int
    diff_id: str
    created_by: str  # the full Dockerfile step, with secret values masked
    step: str  # the same, shortened for a table cell
    size_bytes: int  # sum of the sizes of the regular files in the layer tar
    files: int  # regular files in the layer tar
    added: int  # non-directory paths new in this layer
    modified: int  # non-directory paths that replace a lower layer's entry
    deleted: int  # non-directory paths of lower layers this layer's whiteouts remove
    wasted_bytes: int  # bytes of this layer's files that later layers hide
    compression: str = "none"
    blob_size: int = 0


@dataclass(slots=True)
class WastedFile:
    """A file version stored in a layer but not visible in the final filesystem."""

    path: str
    layer: int  # the layer that stores the bytes
    size_bytes: int
    reason: str  # overwritten | deleted | opaque
    hidden_by: int  # the layer that hides it


@dataclass(slots=True)
class VisibleFile:
    """A regular file of the final filesystem and the layer its bytes come from."""

    path: str
    layer: int
    size_bytes: int


@dataclass(slots=True)
class DuplicateGroup:
    """Visible files with identical content at different paths: all but one copy is waste."""

    paths: tuple[str, ...]
    layers: tuple[int, ...]
    size_bytes: int  # size of one copy
    wasted_bytes: int  # (copies - 1) * size


@dataclass(slots=True)
class SecretFinding:
    """A secret left in the image. Never carries the value: ``detail`` is masked."""

    path_or_key: str
    layer: int | None  # the layer holding the file, or the layer the build step sits on
    kind: str  # private-key, env-file, credentials-file, token, secret-variable, build-arg…
    visible: bool  # False: deleted or overwritten later, yet still readable in its layer
    source: str  # file | env | history
    detail: str
    note: str = ""


@dataclass(slots=True)
class ImageAnatomy:
    """Where an image's bytes go, layer by layer: plain data for tables, charts and replay."""

    image: str
    image_id: str
    platform: str
    total_bytes: int
    visible_bytes: int
    wasted_bytes: int
    efficiency: float
    duplicate_bytes: int
    layers: list[LayerSummary]
    wasted_files: list[WastedFile]  # largest first
    duplicates: list[DuplicateGroup]  # most wasted bytes first
    secrets: list[SecretFinding]
    largest_files: list[VisibleFile]  # the top-N visible files, largest first
    user: str = ""
    wasted_files_total: int = -1  # how many wasted files there are (-1: the list is complete)
    duplicate_groups_total: int = -1  # how many duplicate groups there are (same convention)
    notes: list[str] = field(default_factory=list)  # e.g. "the archive holds 3 images"

    @property
    def wasted_file_count(self) -> int:
        """Wasted files in the image, even when the list holds only the largest ones."""
        return len(self.wasted_files) if self.wasted_files_total < 0 else self.wasted_files_total

    @property
    def duplicate_group_count(self) -> int:
        return len(self.duplicates) if self.duplicate_groups_total < 0 \
            else self.duplicate_groups_total

    def trimmed(self, top: int) -> ImageAnatomy:
        """A copy listing only the ``top`` largest wasted files and duplicate groups.

        The totals (wasted and duplicate bytes, efficiency, counts) still describe the whole
        image; a notebook keeps its recording small this way.
        """
        return replace(self, wasted_files=self.wasted_files[:top],
                       duplicates=self.duplicates[:top],
                       largest_files=self.largest_files[:top],
                       wasted_files_total=self.wasted_file_count,
                       duplicate_groups_total=self.duplicate_group_count)

    def to_json(self) -> dict[str, Any]:
        """The summary the CLI prints and tests assert on; secret values are never in it."""
        return {
            "image": self.image,
            "total_bytes": self.total_bytes,
            "wasted_bytes": self.wasted_bytes,
            "efficiency": self.efficiency,
            "duplicate_bytes": self.duplicate_bytes,
            "layers": [_as_dict(layer) for layer in self.layers],
            "wasted_files": [_as_dict(item) for item in self.wasted_files],
            "duplicates": [{"paths": list(group.paths), "size_bytes": group.size_bytes,
                            "wasted_bytes": group.wasted_bytes, "layers": list(group.layers)}
                           for group in self.duplicates],
            "secrets": [_as_dict(finding) for finding in self.secrets],
        }

    def to_record(self) -> dict[str, Any]:
        """Every field as JSON-ready data: what replay stores and :meth:`from_record` reads."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ImageAnatomy:
        fields = dict(record)
        fields["layers"] = [LayerSummary(**item) for item in record["layers"]]
        fields["wasted_files"] = [WastedFile(**item) for item in record["wasted_files"]]
        fields["duplicates"] = [
            DuplicateGroup(**{**item, "paths": tuple(item["paths"]),
                              "layers": tuple(item["layers"])})
            for item in record["duplicates"]]
        fields["secrets"] = [SecretFinding(**item) for item in record["secrets"]]
        fields["largest_files"] = [VisibleFile(**item) for item in record["largest_files"]]
        return cls(**fields)

    # DataFrame views for notebooks; pandas is imported only when a table is asked for.

    def layers_frame(self) -> pd.DataFrame:
        return _frame(self.layers, LayerSummary, index="index")

    def wasted_frame(self, top: int | None = None) -> pd.DataFrame:
        rows = self.wasted_files if top is None else self.wasted_files[:top]
        return _frame(rows, WastedFile)

    def largest_frame(self) -> pd.DataFrame:
        return _frame(self.largest_files, VisibleFile)

    def duplicates_frame(self) -> pd.DataFrame:
        frame = _frame(self.duplicates, DuplicateGroup)
        frame["copies"] = [len(group.paths) for group in self.duplicates]
        return frame

    def secrets_frame(self) -> pd.DataFrame:
        return _frame(self.secrets, SecretFinding)

    def summary_frame(self) -> pd.DataFrame:
        """One row of headline numbers, for comparing images side by side."""
        import pandas as pd

        return pd.DataFrame([{
            "image": self.image, "layers": len(self.layers), "total_bytes": self.total_bytes,
            "visible_bytes": self.visible_bytes, "wasted_bytes": self.wasted_bytes,
            "efficiency": self.efficiency, "duplicate_bytes": self.duplicate_bytes,
            "secrets": len(self.secrets),
        }]).set_index("image")


def _as_dict(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


def _frame(rows: list[Any], kind: type, index: str | None = None) -> pd.DataFrame:
    import pandas as pd

    columns = list(kind.__dataclass_fields__)  # type: ignore[attr-defined]
    frame = pd.DataFrame([_as_dict(row) for row in rows], columns=columns)
    return frame.set_index(index) if index else frame
