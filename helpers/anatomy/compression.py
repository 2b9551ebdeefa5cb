"""Decompress layer blobs as they stream, whatever their media type claims.

containerd-store archives hold gzip- or zstd-compressed layers, and ``docker save | gzip`` is a
common way to ship an archive. The format is told by magic bytes (gzip ``1f 8b``, zstd
``28 b5 2f fd``), never by media type or file name. Output comes in chunks of at most
:data:`~helpers.anatomy.tarstream.CHUNK` bytes, so a small blob that inflates to gigabytes
never sits in memory at once.
"""

from __future__ import annotations

import zlib

import zstandard

from helpers.anatomy.tarstream import CHUNK, ChunkSupplier, TarFormatError, Truncated

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class DecompressError(TarFormatError):
    """A compressed blob is damaged or not in the format its magic bytes claim."""


class _SupplierFile:
    """A minimal file object over a chunk supplier (zstandard's stream reader wants ``read``)."""

    def __init__(self, supplier: ChunkSupplier) -> None:
        self._next = supplier
        self._pending = b""

    def read(self, n: int = -1) -> bytes:
        data = self._pending or self._next()
        if n < 0 or len(data) <= n:
            self._pending = b""
            return data
        self._pending = data[n:]
        return data[:n]


class _GzipChunks:
    """Decompressed chunks (at most :data:`CHUNK` each) of a possibly multi-member gzip stream.

    ``zlib``'s ``max_length`` bounds the output per call, so a small blob of zeros that
    inflates to gigabytes never sits in memory at once. Parallel compressors (pigz) write
    several gzip members back to back; each one ends and the next starts a new decompressor.
    """

    def __init__(self, raw: ChunkSupplier, label: str) -> None:
        self._raw = raw
        self._label = label
        self._inflater = zlib.decompressobj(47)  # 32 + 15: gzip or zlib header, 32 KiB window
        self._pending = b""  # input given to zlib but not consumed yet
        self._member_started = False
        self._done = False

    def __call__(self) -> bytes:
        while not self._done:
            data = self._pending or self._raw()
            if not data:
                if self._member_started and not self._inflater.eof:
                    raise Truncated(f"{self._label} ends in the middle of its gzip stream")
                self._done = True
                break
            try:
                out = self._inflater.decompress(data, CHUNK)
            except zlib.error as exc:
                raise DecompressError(f"{self._label} is not a valid gzip stream ({exc})"
                                      ) from None
            self._member_started = True
            self._pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                self._next_member(self._inflater.unused_data + self._pending)
            if out:
                return out
        return b""

    def _next_member(self, rest: bytes) -> None:
        self._inflater = zlib.decompressobj(47)
        self._member_started = False
        if len(rest) == 1:
            rest += self._raw()
        # Bytes after the last member that do not start another member are padding.
        self._pending = rest if rest[:2] == GZIP_MAGIC else b""


def gzip_supplier(raw: ChunkSupplier, label: str) -> ChunkSupplier:
    return _GzipChunks(raw, label)


def zstd_supplier(raw: ChunkSupplier, label: str) -> ChunkSupplier:
    """Decompressed chunks (bounded to :data:`CHUNK`) of a zstd stream, across frames.

    zstandard's stream reader ends quietly when a frame is cut short; a truncated blob is
    still caught, by the layer tar ending early or by its diff_id not matching the config.
    """
    reader = zstandard.ZstdDecompressor().stream_reader(
        _SupplierFile(raw), read_size=CHUNK, read_across_frames=True)

    def supply() -> bytes:
        try:
            return reader.read(CHUNK)
        except zstandard.ZstdError as exc:
            raise DecompressError(f"{label} is not a valid zstd stream ({exc})") from None

    return supply


def decompressing(src_supplier: ChunkSupplier, magic: bytes, label: str) -> ChunkSupplier | None:
    """Wrap ``src_supplier`` in the decompressor ``magic`` announces; None when uncompressed."""
    if magic.startswith(GZIP_MAGIC):
        return gzip_supplier(src_supplier, label)
    if magic.startswith(ZSTD_MAGIC):
        return zstd_supplier(src_supplier, label)
    return None


def compression_of(magic: bytes) -> str:
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    if magic.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"
