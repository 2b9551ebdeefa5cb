"""The hand-written tar reader against :mod:`tarfile` on the header formats images use."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
import zstandard
from anatomy_builders import (
    Image,
    compress,
    file,
    hardlink,
    layer_tar,
    legacy_archive,
    oci_archive,
    step,
)

from helpers.anatomy import read_image
from helpers.anatomy.tarstream import (
    CHUNK,
    REGULAR,
    SYMLINK,
    ByteSource,
    TarFormatError,
    TarReader,
    _octal,
    header_checksum_ok,
)


def _members(data: bytes, chunk: int = CHUNK) -> list[tuple[str, int, int, str, bytes]]:
    pieces = iter([data[i:i + chunk] for i in range(0, len(data), chunk)])
    reader = TarReader(ByteSource(lambda: next(pieces, b"")))
    found = []
    while (member := reader.next()) is not None:
        body = b"".join(bytes(c) for c in reader.data_chunks())
        found.append((member.name, member.kind, member.size, member.linkname, body))
    return found


def _tarfile_members(data: bytes) -> list[tuple[str, int, str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name, m.size if m.isreg() else 0, m.linkname,
                 tar.extractfile(m).read() if m.isreg() else b"") for m in tar.getmembers()]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("chunk", [1, 100, 512, CHUNK])
def test_agrees_with_tarfile(fmt: int, chunk: int) -> None:
    long_name = "x/" * 60 + "end.txt" if fmt != tarfile.USTAR_FORMAT else "short.txt"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, data in [(long_name, b"a" * 1000), ("empty", b""), ("b/c.bin", b"\x00" * 513)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "y/" * 70 + "target"
        if fmt == tarfile.USTAR_FORMAT:
            link.linkname = "target"
        tar.addfile(link)
    data = buffer.getvalue()
    ours = [(name, size, linkname, body) for name, _, size, linkname, body in
            _members(data, chunk)]
    assert ours == _tarfile_members(data)
    kinds = [kind for _, kind, *_ in _members(data, chunk)]
    assert kinds == [REGULAR, REGULAR, REGULAR, SYMLINK]


def test_pax_size_overrides_the_header() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("big")
        info.size = 12
        info.pax_headers = {"size": "12", "path": "renamed/by/pax"}
        tar.addfile(info, io.BytesIO(b"hello world!"))
    assert _members(buffer.getvalue())[0][::4] == ("renamed/by/pax", b"hello world!")


def test_base256_and_octal_numbers() -> None:
    assert _octal(b"00000001750\x00", "size") == 1000
    assert _octal(b"   1750 \x00", "size") == 1000
    assert _octal(b"\x80" + (10 << 30).to_bytes(11, "big"), "size") == 10 << 30  # > 8 GiB
    with pytest.raises(TarFormatError):
        _octal(b"12z4\x00", "size")


def test_checksum_accepts_valid_and_rejects_damaged_headers() -> None:
    header = layer_tar(file("etc/hostname", "box\n"))[:512]
    assert header_checksum_ok(header)
    for offset in (0, 100, 150, 200, 300, 511):
        damaged = bytearray(header)
        damaged[offset] ^= 0x08
        assert not header_checksum_ok(bytes(damaged))


def test_truncated_member_data_is_reported() -> None:
    data = layer_tar(file("f", b"z" * 2000))
    with pytest.raises(TarFormatError, match="ends in the middle"):
        _members(data[:1200])


def test_multi_member_gzip_and_multi_frame_zstd_layers() -> None:
    tar = layer_tar(file("a", b"1" * 5000), file("b", b"2" * 7000))
    half = len(tar) // 2
    pigz_like = gzip.compress(tar[:half], mtime=0) + gzip.compress(tar[half:], mtime=0)
    frames = (zstandard.ZstdCompressor().compress(tar[:half])
              + zstandard.ZstdCompressor().compress(tar[half:]))
    image = Image(layers=[tar], history=[step("COPY . /")])
    for compression, blob in (("gzip", pigz_like), ("zstd", frames)):
        data = oci_archive(image, compression=compression)
        rebuilt = _swap(data, compress(tar, compression), blob)
        archive = read_image(rebuilt)
        assert archive.layers[0].size_bytes == 12000
        assert archive.layers[0].content.computed_diff_id == archive.layers[0].diff_id


def test_kept_hardlink_shares_its_target_content() -> None:
    image = Image(layers=[layer_tar(file("etc/os-release", "ID=debian\n"),
                                    hardlink("usr/lib/os-release", "etc/os-release"))],
                  history=[step("ADD rootfs /")])
    archive = read_image(legacy_archive(image), keep=lambda p: p.endswith("os-release"))
    assert archive.layers[0].files == {"etc/os-release": b"ID=debian\n",
                                       "usr/lib/os-release": b"ID=debian\n"}


def _swap(archive: bytes, old: bytes, new: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive)) as source, \
            tarfile.open(fileobj=out, mode="w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isreg() else None
            if data == old:
                data, member.size = new, len(new)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()
