"""Read an image archive as one forward-only stream, in any layout ``docker load`` accepts.

* **legacy** (Engine 24 and older): ``manifest.json``, ``<id>/layer.tar`` and ``<config>.json``.
  Engine 20.10 writes the layer tars *before* ``manifest.json`` and the config;
* **OCI layout** (Engine 25+): ``oci-layout``, ``index.json``, ``blobs/sha256/…`` with
  uncompressed layers named by their diff_id, plus a ``manifest.json``;
* **containerd image store**, ``buildx --output type=oci``: gzip- or zstd-compressed blobs
  named by their compressed digest, ``index.json`` possibly pointing at a multi-platform index
  whose other platforms' blobs are absent;
* **podman save / skopeo docker-archive**: layers at the root as ``<hex>.tar``, the legacy
  ``<id>/layer.tar`` only as symlinks; **go-containerregistry** (crane) tarballs: layers as
  ``<hex>.tar.gz``, the config named ``sha256:<hex>``; **before Engine 1.10**: ``repositories``
  and ``<id>/json`` parent chains. The whole archive may be gzip, zstd, bzip2 or xz-compressed.

Because the stream is read once and members come in whatever order the writer chose, every
member is identified by sniffing its first bytes (compression magic, JSON, tar header) and
analysed as it passes, keyed by its path. Only when everything has been read are the layers
put in order (:mod:`helpers.anatomy.layout`), by following the references of ``manifest.json``
or ``index.json`` (never file-name patterns), and tied to the config's ``rootfs.diff_ids`` and
``history``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from helpers.anatomy.compression import MAGIC_BYTES, compression_of, decompressing
from helpers.anatomy.layerscan import HashPipeline, KeepPredicate, normalise, scan_layer
from helpers.anatomy.layout import SAVE_HINT, Collected, assemble
from helpers.anatomy.model import ImageArchive
from helpers.anatomy.secrets import ContentScanner
from helpers.anatomy.tarstream import (
    CHUNK,
    DIRECTORY,
    HARDLINK,
    REGULAR,
    SYMLINK,
    ByteSource,
    ChunkSupplier,
    Member,
    TarFormatError,
    TarReader,
    Truncated,
    file_supplier,
    looks_like_tar,
)
from helpers.errors import CourseError

ArchiveSource = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]

READ_AHEAD = 8  # chunks (of about 1 MB from the engine) fetched ahead of the parser
STOP_WAIT = 2.0  # seconds to wait for the read-ahead thread when reading stops early
JSON_LIMIT = 16 << 20  # configs and manifests are kilobytes; SBOM attestations a few megabytes


def read_image(source: ArchiveSource, *, keep: KeepPredicate | None = None,
               scan_secrets: bool = True, platform: str | None = None,
               tag: str | None = None) -> ImageArchive:
    """Read an image archive once, sequentially, and return one image's layers in order.

    ``source`` is a path, the archive's bytes, a binary file object, or an iterable of byte
    chunks (what ``docker.models.images.Image.save()`` yields), in any layout ``docker load``
    accepts (see the module docstring), optionally gzip/zstd/bzip2/xz-compressed as a whole.
    ``keep(path)`` selects files whose content each layer should keep in ``layer.files`` (say,
    ``var/lib/dpkg/status``); keep it to a few small files, since kept content is held in
    memory. ``tag`` (an image name or id) and ``platform`` ("linux/arm64") choose among
    several images or platforms in one archive; without them the first image is read, and
    ``ImageArchive.notes`` says when there were others.

    Raises :class:`CourseError`, in one message naming the member or entry at fault, for a
    truncated or damaged archive, a tar that is not an image, a layer that cannot be
    decompressed, or a layer that breaks the OCI layer rules (an invalid whiteout name, an
    entry outside the root, a hard link to a directory).
    """
    probe = ContentScanner() if scan_secrets else None
    with _chunks(source) as supplier:
        collected = _collect(supplier, keep, probe)
    return assemble(collected, platform=platform, tag=tag)


# --- opening the source -----------------------------------------------------------------------

@contextlib.contextmanager
def _chunks(source: ArchiveSource) -> Iterator[ChunkSupplier]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise CourseError(f"Cannot open the image archive {path}: {exc.strerror}.",
                              hint=SAVE_HINT) from None
        with handle:
            yield file_supplier(handle)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        offsets = iter(range(0, len(view), CHUNK))
        yield lambda: bytes(view[next(offsets, len(view)):][:CHUNK])
    elif hasattr(source, "read"):
        yield file_supplier(source)  # type: ignore[arg-type]
    else:
        with _ReadAhead(iter(source)) as ahead:
            yield ahead.supply


class _ReadAhead:
    """Pull chunks from an iterator in a thread, so parsing overlaps the engine's export.

    ``docker save`` through the API is mostly waiting: with the next chunks already in the
    queue, the reader parses one chunk while the socket delivers the next. The queue is
    bounded (``depth`` chunks), so memory stays bounded too. An exception in the iterator is
    raised in the reader's thread; leaving early stops the thread and closes the iterator.
    """

    _END = object()

    def __init__(self, iterator: Iterator[bytes], depth: int = READ_AHEAD) -> None:
        self._iterator = iterator
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._pump, name="image-read-ahead",
                                        daemon=True)

    def __enter__(self) -> _ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        # Unblock a producer waiting on a full queue. One still waiting for the engine's next
        # chunk (say, Ctrl-C before the export began) is not waited for long: the thread is a
        # daemon, and stops by itself when that chunk comes.
        deadline = time.monotonic() + STOP_WAIT
        while self._thread.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self) -> None:
        pieces: list[bytes] = []
        size = 0
        try:
            for chunk in self._iterator:
                # The engine's HTTP stream comes in 32 kB pieces: hand them on joined in about
                # 1 MB chunks, or the queue and the parser pay a toll 32 times per megabyte.
                pieces.append(chunk)
                size += len(chunk)
                if size >= CHUNK:
                    joined = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                    pieces, size = [], 0
                    if not self._put(joined):
                        break
            else:
                if (size and not self._put(b"".join(pieces))) or not self._put(self._END):
                    return
        except BaseException as exc:  # handed to the reading thread, raised there
            if size and not self._put(b"".join(pieces)):
                return
            self._put(_Failure(exc))
        finally:
            close = getattr(self._iterator, "close", None)
            if close is not None and self._stop.is_set():
                with contextlib.suppress(Exception):
                    close()

    def supply(self) -> bytes:
        """The next non-empty chunk; ``b""`` at the end (an empty chunk is never the end)."""
        if self._done:
            return b""
        item = self._queue.get()
        if item is self._END:
            self._done = True
            return b""
        if isinstance(item, _Failure):
            self._done = True
            raise item.error.with_traceback(None)
        return item


class _Failure(NamedTuple):
    error: BaseException


# --- one pass over the archive ----------------------------------------------------------------

def _collect(supplier: ChunkSupplier, keep: KeepPredicate | None,
             probe: ContentScanner | None) -> Collected:
    outer = ByteSource(_guarded(supplier), "the image archive")
    try:
        outer = _maybe_decompress(outer)
        head = outer.peek(512)
        if not head:
            raise CourseError("The image archive is empty (0 bytes).", hint=SAVE_HINT)
        if not looks_like_tar(head):
            raise CourseError("This is not a tar archive, so not the output of `docker save`.",
                              hint=SAVE_HINT)
        collected = Collected()
        reader = TarReader(outer)
        with HashPipeline() as hashes:
            while (member := reader.next()) is not None:
                _take_member(reader, member, collected, keep, probe, hashes)
            hashes.finish()
        return collected
    except Truncated as exc:
        raise CourseError(f"The image archive is truncated: {exc}.",
                          hint="The export or copy was probably interrupted. " + SAVE_HINT
                          ) from None
    except TarFormatError as exc:
        raise CourseError(f"The image archive is damaged: {exc}.", hint=SAVE_HINT) from None


def _guarded(supplier: ChunkSupplier) -> ChunkSupplier:
    """Turn read failures of the underlying file or HTTP stream into a readable error."""
    def supply() -> bytes:
        try:
            return supplier()
        except OSError as exc:
            raise CourseError(f"Reading the image archive failed: {exc}.",
                              hint=SAVE_HINT) from None
    return supply


def _maybe_decompress(outer: ByteSource) -> ByteSource:
    """``docker save IMAGE | gzip`` is a common way to ship an archive: accept it too."""
    magic = outer.peek(MAGIC_BYTES)
    supplier = decompressing(lambda: outer.read_some(CHUNK), magic, "the image archive")
    return outer if supplier is None else ByteSource(supplier, "the image archive")


def _take_member(reader: TarReader, member: Member, collected: Collected,
                 keep: KeepPredicate | None, probe: ContentScanner | None,
                 hashes: HashPipeline | None = None) -> None:
    """Keep what a member may be: a link to another member, a JSON document or a layer.

    Nothing is decided by file name: which members are configs and layers is only known from
    the documents that reference them (:mod:`helpers.anatomy.layout`), and those may come last.
    """
    name = normalise(member.name)
    if len(collected.first_names) < 5:
        collected.first_names.append(name)
    if member.kind == DIRECTORY or not name:
        return
    if member.kind in (SYMLINK, HARDLINK):
        target = member.linkname
        if member.kind == SYMLINK:  # relative to the link's directory; hard links to the root
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        collected.links[name] = normalise(target)
        return
    if member.kind != REGULAR:
        return
    if name in _DOCUMENTS or name.endswith(".json"):
        _take_json(reader, member.size, name, collected)
    else:
        _take_blob(reader, member.size, name, collected, keep, probe, hashes)


_DOCUMENTS = frozenset({"repositories", "oci-layout"})


def _take_json(reader: TarReader, size: int, name: str, collected: Collected) -> None:
    if size > JSON_LIMIT:
        collected.unreadable[name] = f"{name} is a JSON document too large to be metadata"
        return
    try:
        collected.documents[name] = json.loads(reader.read_data())
    except ValueError as exc:
        collected.unreadable[name] = f"{name} is not valid JSON ({exc})"


def _take_blob(reader: TarReader, size: int, name: str, collected: Collected,
               keep: KeepPredicate | None, probe: ContentScanner | None,
               hashes: HashPipeline | None = None) -> None:
    """Sniff a member and read it as JSON or as a layer, whatever its bytes say it is."""
    head = reader.peek_data(512)
    compression = compression_of(head)
    if compression == "none" and head.lstrip()[:1] in (b"{", b"["):
        _take_json(reader, size, name, collected)
        return
    if compression == "none" and size and not looks_like_tar(head):
        collected.unreadable.setdefault(
            name, f"{name} is neither a tar (nor a gzip, zstd, bzip2 or xz stream) nor JSON")
        return
    _take_layer(reader, size, name, head, compression, collected, keep, probe, hashes)


def _take_layer(reader: TarReader, size: int, name: str, head: bytes, compression: str,
                collected: Collected, keep: KeepPredicate | None,
                probe: ContentScanner | None, hashes: HashPipeline | None = None) -> None:
    label = f"layer {name}"
    supplier = reader.member_supplier()
    diff_hash = None
    if compression != "none":
        supplier = decompressing(supplier, head, label) or supplier
        diff_hash = hashlib.sha256()
        supplier = _hashing(supplier, diff_hash)
    src = ByteSource(supplier, label)
    try:
        content = scan_layer(src, keep=keep, probe=probe, hashes=hashes)
        src.drain()
    except TarFormatError as exc:
        if exc.stream is reader.src:
            raise  # the archive itself ended: not this layer's fault
        collected.unreadable[name] = str(exc)  # starts with "layer <name>"
        hint = getattr(exc, "hint", "")
        if hint:
            collected.hints[name] = hint
        return
    content.blob = name
    content.blob_size = size
    content.compression = compression
    if diff_hash is not None:
        content.computed_diff_id = "sha256:" + diff_hash.hexdigest()
    collected.layers[name] = content


def _hashing(supplier: ChunkSupplier, hasher: Any) -> ChunkSupplier:
    """Hash a decompressed stream as it flows: its sha256 is the layer's diff_id."""
    def supply() -> bytes:
        chunk = supplier()
        hasher.update(chunk)
        return chunk
    return supply
