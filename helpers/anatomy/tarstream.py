"""A lean, forward-only tar reader for byte streams that are read exactly once.

Why not :mod:`tarfile`? ``tarfile.open(mode="r|")`` works, but it builds a ``TarInfo`` object
with a dozen decoded fields per member and copies data through several layers of buffering; on
an image with tens of thousands of small files that caps parsing well below the speed at which
the engine exports. Image analysis needs four facts per member (name, type, size, link target)
and the file data as chunks to hash, so this module parses the 512-byte headers itself and hands
data out as ``memoryview`` slices of its read buffer: nothing is extracted and memory stays
bounded by the chunk size.

Features read, each checked against :mod:`tarfile` and GNU tar in the tests: ustar (with the
prefix field), GNU long names and long link targets (``L``/``K``), PAX extended headers (path,
linkpath, size), base-256 numbers, hard links, GNU dump directories (``D``) and sparse files in
all four GNU encodings: the old GNU ``S`` entry (map in the header plus extension blocks) and
PAX sparse formats 0.0, 0.1 and 1.0. A sparse member is reported with its real name and size
and its data comes out expanded (holes as zero bytes), as ``tar -x`` would write it.

Everything here raises :class:`TarFormatError` (or its subclass :class:`Truncated`); callers
turn those into a :class:`helpers.errors.CourseError` that names the archive member involved.
Decompression lives in :mod:`helpers.anatomy.compression`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import IO, NamedTuple

CHUNK = 1 << 20
BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)

# Member kinds: small ints so hot loops compare cheaply (REGULAR is 0: falsy on purpose).
REGULAR, DIRECTORY, SYMLINK, HARDLINK, OTHER = range(5)
KIND_NAMES = {REGULAR: "file", DIRECTORY: "dir", SYMLINK: "symlink", HARDLINK: "hardlink",
              OTHER: "other"}

_TYPEFLAG_KIND = {
    b"0": REGULAR, b"\x00": REGULAR, b"7": REGULAR, b"S": REGULAR,  # S = GNU sparse data
    b"5": DIRECTORY, b"D": DIRECTORY,  # D = GNU dump directory: a directory with a listing
    b"2": SYMLINK, b"1": HARDLINK,
    b"3": OTHER, b"4": OTHER, b"6": OTHER,
}
_META_TYPEFLAGS = frozenset(b"xgLKVMXN")  # PAX, GNU long name/link, volume and friends
_HEADER_ONLY_TYPEFLAGS = frozenset({b"1", b"2", b"3", b"4", b"5", b"6"})

ChunkSupplier = Callable[[], bytes]


class TarFormatError(Exception):
    """The bytes are not a well-formed tar stream (bad header, impossible field).

    ``stream`` is the :class:`ByteSource` whose data was at fault, so a reader of nested
    streams can tell a damaged layer (skip it, report it if used) from a damaged archive.
    """

    def __init__(self, message: str, stream: ByteSource | None = None) -> None:
        super().__init__(message)
        self.stream = stream


class Truncated(TarFormatError):
    """The stream ended before the data its headers announced."""


class Member(NamedTuple):
    """The four facts image analysis needs about one tar member.

    ``size`` is the file's size in bytes as extraction would write it (for a sparse file its
    real size, holes included); ``linkname`` is the target of a symbolic or hard link.
    """

    name: str
    kind: int
    size: int
    linkname: str


class ByteSource:
    """Buffered, pull-based reader over a supplier of byte chunks.

    One class serves the outer ``docker save`` stream, a layer tar inside it and a decompressed
    blob, so a layer is parsed straight from the archive without an intermediate copy on disk.
    ``label`` names the stream in error messages ("the archive", "layer blobs/sha256/…").
    """

    __slots__ = ("_buf", "_eof", "_next", "_pos", "consumed", "label")

    def __init__(self, supplier: ChunkSupplier, label: str = "the archive") -> None:
        self._next = supplier
        self._buf = b""
        self._pos = 0
        self._eof = False
        self.consumed = 0  # bytes handed out so far: the offset used in error messages
        self.label = label

    def _pull(self) -> bytes:
        try:
            return self._next()
        except TarFormatError as exc:
            if exc.stream is None:
                exc.stream = self  # a decompressor below this source failed
            raise

    def truncated(self, what: str, missing: int) -> Truncated:
        return Truncated(f"{self.label} ends in the middle of {what} "
                         f"(offset {self.consumed}, {missing} bytes missing)", self)

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available after the read position; False if the stream ends."""
        while len(self._buf) - self._pos < need:
            if self._eof:
                return False
            chunk = self._pull()
            if not chunk:
                self._eof = True
                return False
            rest = self._buf[self._pos:]
            self._buf = rest + chunk if rest else bytes(chunk)
            self._pos = 0
        return True

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes ahead, without consuming them (sniffing magic numbers)."""
        self._fill(n)
        return self._buf[self._pos:self._pos + n]

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the stream."""
        pos = self._pos
        if len(self._buf) - pos < n:
            self._fill(n)
            pos = self._pos
        data = self._buf[pos:pos + n]
        self._pos = pos + len(data)
        self.consumed += len(data)
        return data

    def read_exact(self, n: int, what: str) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise self.truncated(what, n - len(data))
        return data

    def read_some(self, limit: int) -> bytes:
        """Whatever is buffered (refilling once if empty), at most ``limit`` bytes.

        This is the supplier for a nested source: a layer tar reads its archive member through
        it without a second full-size buffer.
        """
        if self._pos >= len(self._buf):
            if self._eof:
                return b""
            chunk = self._pull()
            if not chunk:
                self._eof = True
                return b""
            self._buf = chunk if isinstance(chunk, bytes) else bytes(chunk)
            self._pos = 0
        pos = self._pos
        data = self._buf[pos:pos + limit]
        self._pos = pos + len(data)
        self.consumed += len(data)
        return data

    def chunks(self, n: int, what: str) -> Iterator[memoryview]:
        """Exactly ``n`` bytes as views into the buffer, each valid until the next call."""
        while n > 0:
            if self._pos >= len(self._buf) and not self._fill(1):
                raise self.truncated(what, n)
            pos = self._pos
            take = min(n, len(self._buf) - pos)
            self._pos = pos + take
            self.consumed += take
            n -= take
            yield memoryview(self._buf)[pos:pos + take]

    def skip(self, n: int, what: str) -> None:
        pos = self._pos
        if len(self._buf) - pos >= n:  # the common case: padding or data already buffered
            self._pos = pos + n
            self.consumed += n
            return
        for _ in self.chunks(n, what):
            pass

    def drain(self) -> int:
        """Consume the rest of the stream (so digests cover all of it); return bytes skipped."""
        skipped = len(self._buf) - self._pos
        self._buf, self._pos = b"", 0
        while not self._eof:
            chunk = self._pull()
            if not chunk:
                self._eof = True
            skipped += len(chunk)
        self.consumed += skipped
        return skipped


def _octal(field: bytes, what: str) -> int:
    """A numeric header field: octal text, or GNU base-256 when the top bit is set."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * len(field) - 8)) if field[0] & 0x40 else value
    text = field.split(b"\x00", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarFormatError(f"a tar header has an unreadable {what} field {field!r}") from None


def header_checksum_ok(header: bytes) -> bool:
    """True when the header's stored checksum matches (unsigned, or the old signed variant)."""
    try:
        stored = int(header[148:154], 8)  # the usual "0012345\0 " layout, parsed fast
    except ValueError:
        try:
            stored = _octal(header[148:156], "checksum")
        except TarFormatError:
            return False
    # The checksum is the byte sum with its own field read as eight spaces (8 * 32 = 256).
    # Adler-32's low half is 1 + that byte sum modulo 65521, computed in C: a 512-byte header
    # sums to at most 130560, so a match modulo 65521 means a match, bar a corruption that
    # shifts the sum by exactly 65521, which no handful of damaged bytes can do.
    byte_sum = (zlib.adler32(header) & 0xFFFF) - 1
    if (byte_sum - sum(header[148:156]) + 256 - stored) % 65521 == 0:
        return True
    signed = sum(b - 256 if b > 127 else b for b in header) - sum(
        b - 256 if b > 127 else b for b in header[148:156]) + 256
    return stored == signed


def looks_like_tar(head: bytes) -> bool:
    """Sniff the first block of a blob: a valid header or an empty archive (zero blocks)."""
    if len(head) < BLOCK:
        return False
    block = head[:BLOCK]
    return block == ZERO_BLOCK or header_checksum_ok(block)


def _cstr(raw: bytes) -> str:
    nul = raw.find(0)
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode("utf-8", "surrogateescape")


_SPARSE_00_KEYS = ("GNU.sparse.offset", "GNU.sparse.numbytes")


def _pax_records(data: bytes) -> dict[str, str]:
    """Parse PAX extended-header records ``"<len> key=value\\n"``.

    A key given twice keeps its last value, except the repeated offset/numbytes pairs of GNU
    sparse format 0.0, which are joined with commas (the shape of format 0.1's map).
    """
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarFormatError("a PAX extended header is malformed") from None
        if length <= 0:
            break
        record = data[space + 1:pos + length - 1]  # drop the trailing newline
        key_bytes, _, value_bytes = record.partition(b"=")
        key = key_bytes.decode("utf-8", "replace")
        value = value_bytes.decode("utf-8", "surrogateescape")
        if key in _SPARSE_00_KEYS and key in records:
            value = f"{records[key]},{value}"
        records[key] = value
        pos += length
    return records


def _number(text: str, what: str, where: str) -> int:
    """A decimal number from a PAX record or a sparse map, or a TarFormatError."""
    try:
        value = int(text)
    except ValueError:
        raise TarFormatError(f"{where} has an unreadable {what} {text[:40]!r}") from None
    if value < 0:
        raise TarFormatError(f"{where} has a negative {what} ({value})")
    return value


class TarReader:
    """Iterate the members of a tar stream, handing out each member's data at most once.

    Call :meth:`next` for the next header; read the member's data with :meth:`data_chunks`,
    :meth:`read_data` or leave it (``next`` skips whatever was not read). This mirrors
    ``tarfile``'s streaming mode without per-member objects.
    """

    __slots__ = ("_name", "_pad", "_remaining", "_sparse", "src")

    def __init__(self, src: ByteSource) -> None:
        self.src = src
        self._remaining = 0  # data bytes of the current member not yet handed out
        self._pad = 0
        self._name = ""
        self._sparse: _SparseMap | None = None  # the current member's sparse map, if any

    @property
    def _where(self) -> str:
        return f"the data of {self._name!r}"

    def next(self) -> Member | None:
        """The next real member (metadata headers are folded in), or None at the end.

        Raises :class:`TarFormatError` for a damaged header or an impossible field, and
        :class:`Truncated` when the stream ends inside a header or an extended header.
        """
        # This runs once per member: the skip of the previous member's data and the read of
        # the next header are inlined for their common case (already buffered).
        src = self.src
        n = self._remaining + self._pad
        if n:
            if len(src._buf) - src._pos >= n:
                src._pos += n
                src.consumed += n
            else:
                src.skip(n, self._where)
            self._remaining = self._pad = 0
        if self._sparse is not None:
            self._sparse = None
        pax: dict[str, str] | None = None
        long_name = long_link = None
        while True:
            buf, pos = src._buf, src._pos
            if len(buf) - pos >= BLOCK:
                header = buf[pos:pos + BLOCK]
                src._pos = pos + BLOCK
                src.consumed += BLOCK
            else:
                header = src.read(BLOCK)
            if not header or header == ZERO_BLOCK:
                return None  # end-of-archive marker, or a writer that left it out
            if len(header) < BLOCK:
                raise src.truncated("a tar header", BLOCK - len(header))
            if not header_checksum_ok(header):
                raise TarFormatError(f"{src.label} has a damaged tar header at offset "
                                     f"{src.consumed - BLOCK} (checksum mismatch)", src)
            typeflag = header[156:157]
            try:
                size = int(header[124:135], 8)  # the usual 11 octal digits, parsed fast
            except ValueError:
                try:
                    size = _octal(header[124:136], "size")
                except TarFormatError as exc:
                    exc.stream = src
                    raise
            if size < 0:
                raise TarFormatError(f"{src.label} has a negative member size", src)
            if typeflag[0] in _META_TYPEFLAGS:
                data = src.read_exact(size, "a tar extended header")
                src.skip(-size % BLOCK, "a tar extended header")
                if typeflag == b"x":
                    try:
                        records = _pax_records(data)
                    except TarFormatError as exc:
                        exc.stream = src
                        raise
                    pax = records if pax is None else {**pax, **records}
                elif typeflag == b"L":
                    long_name = _cstr(data)
                elif typeflag == b"K":
                    long_link = _cstr(data)
                continue  # g (global PAX), V, M, … carry nothing image analysis needs
            if long_name is not None:
                name = long_name
            else:
                nul = header.find(0, 0, 100)
                name = header[:nul if nul >= 0 else 100].decode("utf-8", "surrogateescape")
                # POSIX ustar: a prefix field extends the name (GNU uses those bytes otherwise)
                if header[345] and header[257:263] == b"ustar\x00":
                    name = f"{_cstr(header[345:500])}/{name}"
            if long_link is not None:
                linkname = long_link
            elif header[157]:
                linkname = _cstr(header[157:257])
            else:
                linkname = ""
            if pax:
                name = pax.get("path", name)
                linkname = pax.get("linkpath", linkname)
                if "size" in pax:
                    size = self._pax_number(pax["size"], "size", name)
            kind = _TYPEFLAG_KIND.get(typeflag, OTHER)
            if kind:  # not a regular file (REGULAR is 0)
                if typeflag in _HEADER_ONLY_TYPEFLAGS:
                    size = 0  # like tarfile and Go's archive/tar: these types carry no data
            elif typeflag == b"S" or (pax and not _SPARSE_KEYS.isdisjoint(pax)):
                self._remaining = size
                self._pad = -size % BLOCK
                self._name = name
                return self._sparse_member(header, typeflag, pax or {}, name, linkname, size)
            self._remaining = size
            self._pad = -size % BLOCK
            self._name = name
            return Member(name, kind, size, linkname)

    def _pax_number(self, text: str, what: str, name: str) -> int:
        try:
            return _number(text, what, f"{self.src.label}: the PAX header of {name!r}")
        except TarFormatError as exc:
            exc.stream = self.src
            raise

    # --- sparse files ---------------------------------------------------------------------

    def _sparse_member(self, header: bytes, typeflag: bytes, pax: dict[str, str], name: str,
                       linkname: str, stored: int) -> Member:
        """A GNU sparse file: read its map, return it under its real name and size.

        ``stored`` is the member's data size (the data regions, plus the map for PAX 1.0).
        """
        name = pax.get("GNU.sparse.name", name)  # PAX 0.1 and 1.0 carry a placeholder name
        where = f"{self.src.label}: the sparse file {name!r}"
        try:
            if typeflag == b"S":
                regions, real_size = self._old_gnu_map(header, where)
            elif "GNU.sparse.map" in pax:  # format 0.1
                regions = _pairs(pax["GNU.sparse.map"], where)
                real_size = _number(pax.get("GNU.sparse.size", ""), "real size", where)
            elif "GNU.sparse.size" in pax:  # format 0.0: offset/numbytes records, repeated
                offsets = pax.get("GNU.sparse.offset", "").split(",")
                lengths = pax.get("GNU.sparse.numbytes", "").split(",")
                if len(offsets) != len(lengths):
                    raise TarFormatError(f"{where} has a sparse map with unpaired entries")
                regions = _pairs(",".join(v for pair in zip(offsets, lengths, strict=True)
                                          for v in pair), where) if offsets != [""] else []
                real_size = _number(pax["GNU.sparse.size"], "real size", where)
            elif pax.get("GNU.sparse.major") == "1" and pax.get("GNU.sparse.minor") == "0":
                regions, map_bytes = self._pax_1_0_map(where)
                stored -= map_bytes
                real_size = _number(pax.get("GNU.sparse.realsize", ""), "real size", where)
            else:
                version = f"{pax.get('GNU.sparse.major', '?')}.{pax.get('GNU.sparse.minor', '?')}"
                raise TarFormatError(f"{where} uses GNU sparse format {version}, which no tar "
                                     "implementation defines")
            sparse = _SparseMap(regions, real_size, where, stored)
        except TarFormatError as exc:
            exc.stream = self.src
            raise
        self._sparse = sparse
        self._name = name
        return Member(name, REGULAR, real_size, linkname)

    def _old_gnu_map(self, header: bytes, where: str) -> tuple[list[tuple[int, int]], int]:
        """The map of an old GNU ``S`` entry: 4 slots in the header, 21 per extension block."""
        regions = _map_slots(header, 386, 4, where)
        extended = header[482]
        real_size = _octal(header[483:495], "real size")
        while extended:
            block = self.src.read_exact(BLOCK, "a sparse map extension block")
            regions += _map_slots(block, 0, 21, where)
            extended = block[504]
        return regions, real_size

    def _pax_1_0_map(self, where: str) -> tuple[list[tuple[int, int]], int]:
        """The map of PAX sparse 1.0: decimal lines at the start of the data, block-padded."""
        text = b""
        numbers: list[int] = []
        wanted = None
        used = 0
        while wanted is None or len(numbers) < wanted:
            if self._remaining - used < BLOCK:
                raise TarFormatError(f"{where} has a sparse map longer than its data")
            text += self.src.read_exact(BLOCK, "a sparse map")
            used += BLOCK
            *lines, text = text.split(b"\n")
            for line in lines:
                value = _number(line.decode("ascii", "replace"), "sparse map entry", where)
                if wanted is None:
                    wanted = 1 + 2 * value
                numbers.append(value)
        numbers = numbers[1:wanted]
        self._remaining -= used
        return list(zip(numbers[::2], numbers[1::2], strict=True)), used

    def _sparse_chunks(self) -> Iterator[memoryview]:
        """The expanded content of the current sparse member: data regions and zero holes."""
        sparse, self._sparse = self._sparse, None
        if sparse is None:
            return
        position = 0
        for offset, length in sparse.regions:
            yield from _zeros(offset - position)
            for chunk in self.src.chunks(length, self._where):
                self._remaining -= len(chunk)  # so next() skips exactly what is left
                yield chunk
            position = offset + length
        yield from _zeros(sparse.real_size - position)

    # --- member data ----------------------------------------------------------------------

    def data_chunks(self) -> Iterator[memoryview]:
        """The current member's data, as views valid until the next chunk is requested.

        For a sparse member, the expanded content (holes come out as zero bytes).
        """
        if self._sparse is not None:
            return self._sparse_chunks()
        size, self._remaining = self._remaining, 0
        return self.src.chunks(size, self._where)

    def read_data(self) -> bytes:
        """The current member's data in one piece (for small members: JSON, kept files)."""
        if self._sparse is not None:
            return b"".join(bytes(chunk) for chunk in self._sparse_chunks())
        size, self._remaining = self._remaining, 0
        return self.src.read_exact(size, self._where)

    def peek_data(self, n: int) -> bytes:
        """The first bytes of the current member's stored data, without consuming them."""
        return self.src.peek(min(n, self._remaining))

    def member_supplier(self) -> ChunkSupplier:
        """The current member's data as a chunk supplier (a layer tar inside the archive).

        Tracks how much was handed out, so :meth:`next` can skip whatever the nested reader
        left unread, even after the nested reader failed half-way.
        """
        if self._sparse is not None:
            expanded = self._sparse_chunks()
            return lambda: bytes(next(expanded, b""))
        outer = self.src
        where = self._where

        def supply() -> bytes:
            remaining = self._remaining
            if remaining <= 0:
                return b""
            chunk = outer.read_some(min(remaining, CHUNK))
            if not chunk:
                raise outer.truncated(where, remaining)
            self._remaining = remaining - len(chunk)
            return chunk

        return supply


_SPARSE_KEYS = frozenset({"GNU.sparse.map", "GNU.sparse.size", "GNU.sparse.major",
                          "GNU.sparse.realsize", "GNU.sparse.name"})
_ZERO_CHUNK = memoryview(bytes(CHUNK))


class _SparseMap:
    """Where the data regions of a sparse file lie: (offset, length) pairs, in order.

    Raises :class:`TarFormatError` when the regions overlap, run past the real size, or do
    not add up to the bytes the member stores.
    """

    __slots__ = ("real_size", "regions")

    def __init__(self, regions: list[tuple[int, int]], real_size: int, where: str,
                 stored: int) -> None:
        regions = [(offset, length) for offset, length in regions if length]
        end = 0
        for offset, length in regions:
            if offset < end:
                raise TarFormatError(f"{where} has a sparse map whose regions overlap or are "
                                     "out of order")
            end = offset + length
        if end > real_size:
            raise TarFormatError(f"{where} has a sparse map reaching past its real size "
                                 f"({end} > {real_size})")
        data = sum(length for _, length in regions)
        if data != stored:
            raise TarFormatError(f"{where} has a sparse map of {data} data bytes but stores "
                                 f"{stored}")
        self.regions = regions
        self.real_size = real_size


def _pairs(text: str, where: str) -> list[tuple[int, int]]:
    values = [_number(v, "sparse map entry", where) for v in text.split(",")] if text else []
    if len(values) % 2:
        raise TarFormatError(f"{where} has a sparse map with an odd number of values")
    return list(zip(values[::2], values[1::2], strict=True))


def _map_slots(block: bytes, start: int, count: int, where: str) -> list[tuple[int, int]]:
    """(offset, length) slots of an old GNU sparse header or extension block; empty ones end."""
    regions = []
    for slot in range(count):
        base = start + slot * 24
        if not block[base]:
            break  # an unused slot: the map goes on in the next extension block, if any
        try:
            regions.append((_octal(block[base:base + 12], "sparse offset"),
                            _octal(block[base + 12:base + 24], "sparse length")))
        except TarFormatError as exc:
            raise TarFormatError(f"{where}: {exc}") from None
    return regions


def _zeros(n: int) -> Iterator[memoryview]:
    while n > 0:
        take = min(n, CHUNK)
        yield _ZERO_CHUNK[:take]
        n -= take


def file_supplier(fileobj: IO[bytes]) -> ChunkSupplier:
    """Chunks from a binary file object (an open archive, an HTTP response body)."""
    return lambda: fileobj.read(CHUNK)
