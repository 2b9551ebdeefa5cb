"""Read one layer tar as it streams past and keep only what the analysis needs.

Per path: its kind, size and a content hash; per layer: whiteouts, opaque directories and the
few file contents a caller asked to keep. Contents are hashed chunk by chunk and dropped, so a
multi-gigabyte layer costs memory in proportion to its number of paths, not its bytes.
"""

from __future__ import annotations

import hashlib
import posixpath
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from helpers.anatomy.model import FileRecord, LayerContent, SecretHit
from helpers.anatomy.tarstream import (
    DIRECTORY,
    HARDLINK,
    KIND_NAMES,
    REGULAR,
    ByteSource,
    TarFormatError,
    TarReader,
)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
SMALL_FILE = 256 << 10  # hashed in one piece; larger files are hashed chunk by chunk
KeepPredicate = Callable[[str], bool]


class ContentProbe(Protocol):
    """Looks at the content of a few files while they stream (the secrets scanner)."""

    def wants(self, path: str, size: int) -> bool: ...

    def scan(self, path: str, data: bytes) -> list[SecretHit]: ...


def normalise(name: str) -> str:
    """A tar member name as a path relative to the image root: no ``./``, no leading ``/``."""
    if name.startswith(("./", "/")) or name.endswith("/") or name == ".":
        name = name.strip("/")
        while name.startswith("./"):
            name = name[2:].lstrip("/")
        if name == ".":
            name = ""
    return name


class HashPipeline:
    """SHA-1 of large files in a second thread, while this one goes on parsing the tar.

    ``hashlib`` releases the GIL while it hashes a buffer, so on a multi-core machine the
    hashing of big files (most of an image's bytes) runs beside the tar parsing and the reading
    of the engine's stream, instead of after them. Chunks are handed over as read-only views
    of immutable buffers, so nothing is copied. Digests are filled into the layers' entries by
    :meth:`finish`; use the pipeline as a context manager so the thread always ends.
    """

    _STOP = object()

    def __init__(self, depth: int = 16) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._thread: threading.Thread | None = None
        self._pending: list[tuple[dict[str, FileRecord], str, FileRecord, Any]] = []
        self._aliases: list[tuple[dict[str, FileRecord], str, FileRecord, FileRecord]] = []

    def __enter__(self) -> HashPipeline:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop()

    def _worker(self) -> None:
        while (job := self._queue.get()) is not self._STOP:
            job[0](job[1])

    def hash_later(self, entries: dict[str, FileRecord], path: str, record: FileRecord,
                   chunks: Iterable[memoryview]) -> None:
        """Queue ``chunks`` (a file's data) for hashing; ``record`` gets the digest later."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._worker, name="layer-hashing",
                                            daemon=True)
            self._thread.start()
        hasher = hashlib.sha1()
        update, put = hasher.update, self._queue.put
        for chunk in chunks:
            put((update, chunk))
        self._pending.append((entries, path, record, hasher))

    def alias(self, entries: dict[str, FileRecord], path: str, record: FileRecord,
              target: FileRecord) -> None:
        """``record`` (a hard link at ``path``) gets ``target``'s digest once it is known."""
        self._aliases.append((entries, path, record, target))

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(self._STOP)
            self._thread.join()
            self._thread = None

    def finish(self) -> None:
        """Wait for the queued hashing and put each digest into its layer's entries."""
        self._stop()
        digests = {}
        for entries, path, record, hasher in self._pending:
            digests[id(record)] = digest = hasher.digest()
            if entries.get(path) is record:  # not replaced by a later copy in the same tar
                entries[path] = record._replace(digest=digest)
        for entries, path, record, target in self._aliases:
            if entries.get(path) is record and id(target) in digests:
                entries[path] = record._replace(digest=digests[id(target)])
        self._pending.clear()
        self._aliases.clear()


class LayerFormatError(TarFormatError):
    """A layer tar that is a valid tar but breaks the layer rules (OCI image-spec, layer.md).

    The message names the layer and the entry; ``hint`` says what to do about it.
    """

    hint = ("The layer breaks the OCI image-spec layer rules, so `docker load` or a runtime "
            "would reject it or apply it differently: rebuild the image with a current builder "
            "(docker build, buildah) or report it to the tool that wrote the layer.")


def scan_layer(src: ByteSource, *, keep: KeepPredicate | None = None,
               probe: ContentProbe | None = None,
               hashes: HashPipeline | None = None) -> LayerContent:
    """Read a layer tar from ``src`` up to its end-of-archive marker.

    Returns the layer's entries by normalised path (no ``./``, no leading ``/``), its
    whiteouts and opaque whiteouts, and the content of the files ``keep(path)`` selects. Every
    regular file gets its own ``inode`` number; a hard link gets its target's size, digest and
    inode when the target is an earlier member of this tar, or is listed in ``lower_links``
    when the target lies in a lower layer (resolved by
    :class:`~helpers.anatomy.filesystem.FinalFilesystem`).

    With ``hashes``, large files are hashed in its thread and their digests arrive when the
    pipeline finishes; without it, every digest is computed here.

    Raises :class:`LayerFormatError` (naming the entry) for an entry that escapes the image
    root, a regular file without a name, an invalid whiteout name (a bare ``.wh.``, ``.wh..``)
    or a hard link to a directory; :class:`TarFormatError` when the tar itself is damaged.
    """
    reader = TarReader(src)
    layer = LayerContent()
    entries = layer.entries
    sha1 = hashlib.sha1
    inode = 0
    linked: set[int] = set()  # inodes a hard link of this layer refers to
    while (member := reader.next()) is not None:
        path = normalise(member.name)
        if ".." in path:
            path = _inside_root(path, member.name, src)
        if not path:
            if member.kind != DIRECTORY:
                raise LayerFormatError(f"{src.label} has a {KIND_NAMES[member.kind]} entry "
                                       f"without a name ({member.name!r})", src)
            continue  # the root directory itself
        parent, _, base = path.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            _record_whiteout(layer, parent, base, src)
            continue
        kind = member.kind
        if kind == REGULAR:
            size = member.size
            inode += 1
            want_keep = keep is not None and keep(path)
            want_scan = probe is not None and probe.wants(path, size)
            digest = None
            if want_keep or want_scan:
                data = reader.read_data()
                if size:
                    digest = sha1(data).digest()
                if want_keep:
                    layer.files[path] = data
                if want_scan and size and probe is not None:
                    layer.secret_hits.extend(probe.scan(path, data))
            elif size <= SMALL_FILE:
                if size:
                    digest = sha1(reader.read_data()).digest()
            elif hashes is not None:
                layer.size_bytes += size
                layer.file_count += 1
                record = FileRecord(REGULAR, size, None, inode)
                hashes.hash_later(entries, path, record, reader.data_chunks())
                _place(layer, entries, path, record, linked)
                continue
            else:
                hasher = sha1()
                for chunk in reader.data_chunks():
                    hasher.update(chunk)
                digest = hasher.digest()
            layer.size_bytes += size
            layer.file_count += 1
            record = FileRecord(REGULAR, size, digest, inode)
        elif kind == HARDLINK:
            record = _hard_link(layer, path, member.linkname, src, hashes, keep, linked)
        else:
            record = FileRecord(kind, 0, None)
        _place(layer, entries, path, record, linked)
    return layer


def _inside_root(path: str, raw: str, src: ByteSource) -> str:
    """``a/../b`` as ``b``; an entry that climbs out of the image root is an error."""
    if ".." not in path.split("/"):
        return path  # ".." inside a name ("a..b") is an ordinary character sequence
    resolved = posixpath.normpath(path)
    if resolved == ".." or resolved.startswith("../"):
        raise LayerFormatError(f"{src.label} has an entry {raw!r} that points outside the "
                               "image root", src)
    return "" if resolved == "." else resolved


def _hard_link(layer: LayerContent, path: str, linkname: str, src: ByteSource,
               hashes: HashPipeline | None, keep: KeepPredicate | None,
               linked: set[int]) -> FileRecord:
    """The record of a hard link: another name for the content of an earlier member."""
    target = normalise(linkname)
    if ".." in target:
        target = _inside_root(target, linkname, src)
    found = layer.entries.get(target)
    if found is None:  # not in this tar: a name for a file of a lower layer (checked later)
        layer.lower_links[path] = target
        return FileRecord(HARDLINK, 0, None)
    if found.kind == DIRECTORY:
        raise LayerFormatError(f"{src.label} has a hard link {path!r} to the directory "
                               f"{linkname!r}; tar and Linux allow hard links to files only",
                               src)
    if found.kind not in (REGULAR, HARDLINK):
        return FileRecord(found.kind, 0, None)  # a hard link to a symlink is a symlink
    if keep is not None and target in layer.files and keep(path):
        layer.files[path] = layer.files[target]  # a hard link shares its target's content
    if found.inode:
        linked.add(found.inode)
    record = FileRecord(HARDLINK, found.size, found.digest, found.inode)
    if found.digest is None and found.size and hashes is not None:
        hashes.alias(layer.entries, path, record, found)
    return record


def _place(layer: LayerContent, entries: dict[str, FileRecord], path: str,
           record: FileRecord, linked: set[int]) -> None:
    previous = entries.get(path)
    if previous is not None:
        layer.lower_links.pop(path, None)
        if previous.kind == REGULAR and previous.size and previous.inode not in linked:
            layer.superseded.append((path, previous.size))  # the tar holds this path twice
    entries[path] = record


def _record_whiteout(layer: LayerContent, parent: str, base: str, src: ByteSource) -> None:
    if base == OPAQUE_MARKER:
        layer.opaque_dirs.append(parent)
        return
    if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
        return  # .wh..wh.plnk, .wh..wh.aufs: aufs bookkeeping, not a deletion
    target = base[len(WHITEOUT_PREFIX):]
    if target in ("", ".", ".."):
        entry = f"{parent}/{base}" if parent else base
        what = f"{target!r} is not an entry name" if target else "nothing follows it"
        raise LayerFormatError(
            f"{src.label} has an invalid whiteout entry {entry!r}: a whiteout must name the "
            f"entry it deletes after the {WHITEOUT_PREFIX} prefix and {what}; the OCI "
            "image-spec requires rejecting such a layer", src)
    layer.whiteouts.append(f"{parent}/{target}" if parent else target)
