"""Decompress layer blobs as they stream, whatever their media type claims.

containerd-store archives hold gzip- or zstd-compressed layers, and ``docker save | gzip`` is a
common way to ship an archive. ``docker load`` also accepts bzip2 and xz, for the archive and for
each layer, so they are read too. The format is told by magic bytes (gzip ``1f 8b``, zstd
``28 b5 2f fd``, bzip2 ``BZh``, xz ``fd 37 7a 58 5a 00``), never by media type or file name.
Output comes in chunks of at most :data:`~helpers.anatomy.tarstream.CHUNK` bytes, so a small
blob that inflates to gigabytes never sits in memory at once.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import IO, Any, cast

import zstandard

from helpers.anatomy.tarstream import CHUNK, ChunkSupplier, TarFormatError, Truncated

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
#: After "BZh" and the block-size digit, a bzip2 stream starts a block or ends (empty input).
_BZIP2_NEXT = (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")
MAGIC_BYTES = 10  # enough of a stream's start to tell every format here apart
XZ_MAGIC = b"\xfd7zXZ\x00"


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
    """Decompressed chunks of a (possibly multi-member) gzip stream."""
    return _GzipChunks(raw, label)


def zstd_supplier(raw: ChunkSupplier, label: str) -> ChunkSupplier:
    """Decompressed chunks (bounded to :data:`CHUNK`) of a zstd stream, across frames.

    zstandard's stream reader ends quietly when a frame is cut short; a truncated blob is
    still caught, by the layer tar ending early or by its diff_id not matching the config.
    """
    source = cast("IO[bytes]", _SupplierFile(raw))  # the reader calls read() only
    reader = zstandard.ZstdDecompressor().stream_reader(
        source, read_size=CHUNK, read_across_frames=True)

    def supply() -> bytes:
        try:
            return reader.read(CHUNK)
        except zstandard.ZstdError as exc:
            raise DecompressError(f"{label} is not a valid zstd stream ({exc})") from None

    return supply


class _StreamChunks:
    """Decompressed chunks (at most :data:`CHUNK` each) of a bzip2 or xz stream.

    Both decompressors bound their output per call (``max_length``) and end at the end of one
    stream; parallel compressors (pbzip2, ``xz -T``) write several streams back to back, so a
    new decompressor starts whenever the bytes after one stream begin with the magic again.
    """

    def __init__(self, raw: ChunkSupplier, label: str, name: str, magic: bytes,
                 factory: Callable[[], Any], errors: tuple[type[Exception], ...]) -> None:
        self._raw = raw
        self._label = label
        self._name = name
        self._magic = magic
        self._factory = factory
        self._errors = errors
        self._decoder = factory()
        self._pending = b""  # input read from ``raw`` but not yet given to the decoder
        self._started = False
        self._done = False

    def __call__(self) -> bytes:
        while not self._done:
            if self._decoder.needs_input:
                data = self._pending or self._raw()
                self._pending = b""
                if not data:
                    if self._started:
                        raise Truncated(f"{self._label} ends in the middle of its {self._name} "
                                        "stream")
                    self._done = True
                    break
            else:
                data = b""
            try:
                out = self._decoder.decompress(data, CHUNK)
            except self._errors as exc:
                raise DecompressError(f"{self._label} is not a valid {self._name} stream "
                                      f"({exc})") from None
            self._started = True
            if self._decoder.eof:
                self._next_stream(self._decoder.unused_data)
            if out:
                return out
        return b""

    def _next_stream(self, rest: bytes) -> None:
        while len(rest) < len(self._magic):
            more = self._raw()
            if not more:
                break
            rest += more
        if rest.startswith(self._magic):
            self._decoder = self._factory()
            self._pending = rest
            self._started = False
        else:  # whatever follows the last stream is padding
            self._done = True


def bzip2_supplier(raw: ChunkSupplier, label: str) -> ChunkSupplier:
    """Decompressed chunks of a (possibly multi-stream) bzip2 stream."""
    return _StreamChunks(raw, label, "bzip2", BZIP2_MAGIC, bz2.BZ2Decompressor, (OSError,))


def xz_supplier(raw: ChunkSupplier, label: str) -> ChunkSupplier:
    """Decompressed chunks of a (possibly multi-stream) xz stream."""
    return _StreamChunks(raw, label, "xz", XZ_MAGIC, lambda: lzma.LZMADecompressor(
        lzma.FORMAT_XZ), (lzma.LZMAError,))


def decompressing(src_supplier: ChunkSupplier, magic: bytes, label: str) -> ChunkSupplier | None:
    """Wrap ``src_supplier`` in the decompressor ``magic`` announces; None when uncompressed.

    ``magic`` is the stream's first bytes (6 are enough); ``label`` names the stream in the
    :class:`DecompressError` or :class:`Truncated` a damaged or cut stream raises later.
    """
    if magic.startswith(GZIP_MAGIC):
        return gzip_supplier(src_supplier, label)
    if magic.startswith(ZSTD_MAGIC):
        return zstd_supplier(src_supplier, label)
    if _is_bzip2(magic):
        return bzip2_supplier(src_supplier, label)
    if magic.startswith(XZ_MAGIC):
        return xz_supplier(src_supplier, label)
    return None


def compression_of(magic: bytes) -> str:
    """``gzip``, ``zstd``, ``bzip2``, ``xz`` or ``none``, from a stream's first bytes."""
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    if magic.startswith(ZSTD_MAGIC):
        return "zstd"
    if _is_bzip2(magic):
        return "bzip2"
    if magic.startswith(XZ_MAGIC):
        return "xz"
    return "none"


def _is_bzip2(magic: bytes) -> bool:
    """``BZh`` alone could start a file name; the digit and block magic make it certain."""
    return (magic.startswith(BZIP2_MAGIC) and magic[3:4].isdigit() and magic[3:4] != b"0"
            and magic[4:10] in _BZIP2_NEXT)
