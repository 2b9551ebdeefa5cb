"""Read one layer tar as it streams past and keep only what the analysis needs.

Per path: its kind, size and a content hash; per layer: whiteouts, opaque directories and the
few file contents a caller asked to keep. Contents are hashed chunk by chunk and dropped, so a
multi-gigabyte layer costs memory in proportion to its number of paths, not its bytes.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from helpers.anatomy.model import FileRecord, LayerContent, SecretHit
from helpers.anatomy.tarstream import HARDLINK, REGULAR, ByteSource, TarReader

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

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(self._STOP)
            self._thread.join()
            self._thread = None

    def finish(self) -> None:
        """Wait for the queued hashing and put each digest into its layer's entries."""
        self._stop()
        for entries, path, record, hasher in self._pending:
            if entries.get(path) is record:  # not replaced by a later copy in the same tar
                entries[path] = record._replace(digest=hasher.digest())
        self._pending.clear()


def scan_layer(src: ByteSource, *, keep: KeepPredicate | None = None,
               probe: ContentProbe | None = None,
               hashes: HashPipeline | None = None) -> LayerContent:
    """Read a layer tar from ``src`` up to its end-of-archive marker.

    With ``hashes``, large files are hashed in its thread and their digests arrive when the
    pipeline finishes; without it, every digest is computed here.
    """
    reader = TarReader(src)
    layer = LayerContent()
    entries = layer.entries
    sha1 = hashlib.sha1
    while (member := reader.next()) is not None:
        path = normalise(member.name)
        if not path:
            continue  # the root directory itself
        parent, _, base = path.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            _record_whiteout(layer, parent, base)
            continue
        kind = member.kind
        if kind == REGULAR:
            size = member.size
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
                record = FileRecord(REGULAR, size, None)
                hashes.hash_later(entries, path, record, reader.data_chunks())
                _place(layer, entries, path, record)
                continue
            else:
                hasher = sha1()
                for chunk in reader.data_chunks():
                    hasher.update(chunk)
                digest = hasher.digest()
            layer.size_bytes += size
            layer.file_count += 1
            record = FileRecord(REGULAR, size, digest)
        else:
            if kind == HARDLINK and keep is not None and keep(path):
                target = normalise(member.linkname)
                if target in layer.files:  # a hard link shares its target's content
                    layer.files[path] = layer.files[target]
            record = FileRecord(kind, 0, None)
        _place(layer, entries, path, record)
    return layer


def _place(layer: LayerContent, entries: dict[str, FileRecord], path: str,
           record: FileRecord) -> None:
    previous = entries.get(path)
    if previous is not None and previous.kind == REGULAR and previous.size:
        layer.superseded.append((path, previous.size))  # the tar holds this path twice
    entries[path] = record


def _record_whiteout(layer: LayerContent, parent: str, base: str) -> None:
    if base == OPAQUE_MARKER:
        layer.opaque_dirs.append(parent)
    elif not base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):  # .wh..wh.plnk: aufs notes
        target = base[len(WHITEOUT_PREFIX):]
        layer.whiteouts.append(f"{parent}/{target}" if parent else target)
