"""The hand-written tar reader against Python's tarfile and GNU tar, feature by feature.

For every feature both references support (long names and link targets in GNU and PAX form,
the ustar prefix, non-UTF-8 names, base-256 numbers, hard links, devices, GNU dump directories
and the four GNU sparse encodings) the reader must report the same names, sizes and link
targets, and hand out the same bytes ``tarfile.extractfile`` gives, under any chunking.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from anatomy_builders import Image, legacy_archive, step
from archive_writers import (
    _header,
    _seal,
    end_of_archive,
    raw_member,
    sparse_content,
    sparse_member,
)

from helpers.anatomy import analyse_image
from helpers.anatomy.tarstream import (
    DIRECTORY,
    HARDLINK,
    OTHER,
    REGULAR,
    SYMLINK,
    ByteSource,
    TarFormatError,
    TarReader,
)

KINDS = {REGULAR: "file", DIRECTORY: "dir", SYMLINK: "symlink", HARDLINK: "hardlink",
         OTHER: "other"}


def _ours(data: bytes, chunk: int = 1 << 20) -> list[tuple[str, str, int, str, bytes]]:
    pieces = iter([data[i:i + chunk] for i in range(0, len(data), chunk)])
    reader = TarReader(ByteSource(lambda: next(pieces, b"")))
    found = []
    while (member := reader.next()) is not None:
        body = b"".join(bytes(c) for c in reader.data_chunks()) if member.kind == REGULAR \
            else b""
        found.append((member.name.rstrip("/"), KINDS[member.kind], member.size,
                      member.linkname, body))
    return found


def _tarfile(data: bytes) -> list[tuple[str, str, int, str, bytes]]:
    found = []
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8",
                      errors="surrogateescape") as tar:
        for m in tar.getmembers():
            kind = ("file" if m.isreg() else "dir" if m.isdir() else "symlink" if m.issym()
                    else "hardlink" if m.islnk() else "other")
            body = tar.extractfile(m).read() if m.isreg() else b""
            found.append((m.name, kind, m.size if m.isreg() else 0, m.linkname, body))
    return found


def _written(fmt: int, members: list[tarfile.TarInfo], bodies: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(bodies[info.name]) if info.name in bodies else None)
    return buffer.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, *, size: int = 0, linkname: str = "",
          **extra: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mtime = kind, size, linkname, 1_700_000_000
    for key, value in extra.items():
        setattr(info, key, value)
    return info


LONG = "opt/" + "/".join(["a-rather-long-directory-name"] * 6) + "/file.txt"


def _feature_tar(fmt: int) -> bytes:
    bodies = {LONG: b"long name\n", "usr/bin/tool": bytes(range(256)) * 3,
              "café/naïve.txt": b"non-ASCII\n", "empty": b""}
    members = [
        _info("usr/", tarfile.DIRTYPE), _info("usr/bin/tool", size=768),
        _info(LONG, size=len(bodies[LONG])),
        _info("usr/bin/tool-hard", tarfile.LNKTYPE, linkname="usr/bin/tool"),
        _info("usr/bin/long-link", tarfile.SYMTYPE, linkname="../" + LONG),
        _info("long-hard", tarfile.LNKTYPE, linkname=LONG),
        _info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        _info("run/fifo", tarfile.FIFOTYPE),
        _info("empty", size=0),
        _info("big-uid", size=0, uid=0o10000000),  # above 7 octal digits: base-256 in GNU
    ]
    if fmt != tarfile.USTAR_FORMAT:
        members.append(_info("café/naïve.txt", size=len(bodies["café/naïve.txt"])))
    if fmt == tarfile.USTAR_FORMAT:  # ustar has no long names: only its prefix field
        members = [m for m in members if len(m.name) <= 255 and len(m.linkname) <= 100
                   and m.name != "big-uid"]
    return _written(fmt, members, bodies)


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
@pytest.mark.parametrize("chunk", [1, 511, 4096, 1 << 20])
def test_agrees_with_tarfile_on_every_header_feature(fmt: int, chunk: int) -> None:
    data = _feature_tar(fmt)
    assert _ours(data, chunk) == _tarfile(data)


def test_hard_links_keep_their_target_and_carry_no_data() -> None:
    data = _feature_tar(tarfile.PAX_FORMAT)
    links = {name: (size, target) for name, kind, size, target, _ in _ours(data)
             if kind == "hardlink"}
    assert links == {"usr/bin/tool-hard": (0, "usr/bin/tool"), "long-hard": (0, LONG)}


def test_names_that_are_not_utf8_survive_as_surrogate_escapes() -> None:
    raw = raw_member("bin/caf\xe9".encode("latin-1").decode("latin-1"), b"x")
    raw = raw.replace(b"caf\xc3\xa9", b"caf\xe9 ")  # a Latin-1 name, as old tars wrote them
    header = bytearray(raw[:512])
    data = _seal(header) + raw[512:] + end_of_archive()
    (name, *_rest), = _ours(data)
    assert name.encode("utf-8", "surrogateescape") == b"bin/caf\xe9 "


def test_base256_size_field() -> None:
    header = _header("numbers", 0, b"0", gnu=True)
    header[124:136] = b"\x80" + (5).to_bytes(11, "big")  # GNU base-256, as for sizes >= 8 GiB
    data = _seal(header) + b"12345".ljust(512, b"\0") + end_of_archive()
    assert _ours(data) == _tarfile(data) == [("numbers", "file", 5, "", b"12345")]


def test_gnu_dump_directory_is_a_directory_and_its_listing_is_skipped() -> None:
    listing = b"Yfile\0Nother\0\0"
    data = raw_member("var/dumped/", listing, b"D") + raw_member("after", b"ok") \
        + end_of_archive()
    assert [(n, k) for n, k, *_ in _ours(data)] == [("var/dumped", "dir"), ("after", "file")]


# --- sparse files ----------------------------------------------------------------------------

def _regions(count: int, *, leading_hole: bool = True) -> list[tuple[int, bytes]]:
    start = 4096 if leading_hole else 0
    return [(start + i * 65536, bytes([65 + i % 26]) * (1000 + 37 * i)) for i in range(count)]


SPARSE_FORMS = ["gnu-old", "pax-0.0", "pax-0.1", "pax-1.0"]


@pytest.mark.parametrize("form", SPARSE_FORMS)
@pytest.mark.parametrize("count", [1, 4, 5, 30], ids=lambda n: f"{n}-regions")
@pytest.mark.parametrize("chunk", [509, 1 << 20])
def test_sparse_members_agree_with_tarfile(form: str, count: int, chunk: int) -> None:
    regions = _regions(count, leading_hole=count != 4)
    real_size = regions[-1][0] + len(regions[-1][1]) + 12345  # a trailing hole too
    data = (raw_member("data/", b"", b"5") + sparse_member("data/disk.img", regions, real_size,
                                                           form)
            + raw_member("data/after.txt", b"still in step\n") + end_of_archive())
    ours = _ours(data, chunk)
    assert ours == _tarfile(data)
    assert ours[1][:3] == ("data/disk.img", "file", real_size)
    assert ours[1][4] == sparse_content(regions, real_size)
    assert ours[2][4] == b"still in step\n"


def test_sparse_file_in_an_image_has_its_real_name_and_size() -> None:
    regions = _regions(6)
    real_size = 6 * 65536 + 8192
    for form in SPARSE_FORMS:
        layer = sparse_member("srv/disk.img", regions, real_size, form) + end_of_archive()
        anatomy = analyse_image(legacy_archive(Image(layers=[layer], history=[step("import")])))
        assert [(f.path, f.size_bytes) for f in anatomy.largest_files] == [("srv/disk.img",
                                                                            real_size)]
        assert anatomy.total_bytes == real_size and anatomy.wasted_bytes == 0


@pytest.mark.parametrize("form", ["gnu-old", "pax-0.1", "pax-1.0"])
@pytest.mark.parametrize(("sparse_map", "fragment"), [
    ([(4096, 1000), (69632, 1037), (135168, 1073)], "sparse map of 3110 data bytes"),
    ([(4096, 1000), (4100, 1037), (135168, 1074)], "overlap"),
    ([(4096, 1000), (69632, 1037), (250_000, 1074)], "past its real size"),
])
def test_malformed_sparse_maps_are_named_errors(form: str, sparse_map: list,
                                                fragment: str) -> None:
    broken = sparse_member("data/disk.img", _regions(3), 200_000, form, sparse_map=sparse_map)
    with pytest.raises(TarFormatError, match=fragment) as caught:
        _ours(broken + end_of_archive())
    assert "data/disk.img" in str(caught.value)


def test_unreadable_sparse_map_entry_is_an_error() -> None:
    broken = sparse_member("data/disk.img", _regions(1), 9000, "pax-0.1",
                           sparse_map=[("4x96", 1000)])
    with pytest.raises(TarFormatError, match="unreadable sparse map entry"):
        _ours(broken + end_of_archive())


def test_unknown_pax_sparse_version_is_an_error() -> None:
    member = sparse_member("data/disk.img", _regions(2), 200_000, "pax-1.0")
    broken = member.replace(b"GNU.sparse.major=1", b"GNU.sparse.major=2")
    with pytest.raises(TarFormatError, match=r"sparse format 2\.0"):
        _ours(broken + end_of_archive())


def test_a_pax_size_that_is_not_a_number_is_an_error_not_a_crash() -> None:
    info = _info("file", size=3)
    info.pax_headers = {"size": "three"}
    data = _written(tarfile.PAX_FORMAT, [info], {"file": b"abc"})
    with pytest.raises(TarFormatError, match="unreadable size"):
        _ours(data)


GNU_TAR = shutil.which("tar")


def _is_gnu_tar() -> bool:
    if not GNU_TAR:
        return False
    version = subprocess.run([GNU_TAR, "--version"], capture_output=True, text=True,
                             check=False).stdout
    return "GNU tar" in version


@pytest.mark.skipif(not _is_gnu_tar(), reason="GNU tar is not installed")
@pytest.mark.parametrize("options", [["--format=gnu"], ["--format=posix", "--sparse-version=0.0"],
                                     ["--format=posix", "--sparse-version=0.1"],
                                     ["--format=posix", "--sparse-version=1.0"]],
                         ids=["gnu", "pax-0.0", "pax-0.1", "pax-1.0"])
def test_gnu_tar_sparse_archives(tmp_path: Path, options: list[str]) -> None:
    source = tmp_path / "src"
    source.mkdir()
    with (source / "disk.img").open("wb") as handle:
        handle.truncate(40 * 65536 + 777)
        for number in range(40):  # more regions than the old header and one extension hold
            handle.seek(number * 65536 + 512)
            handle.write(bytes([48 + number % 10]) * 3000)
    (source / "plain.txt").write_bytes(b"plain\n")
    archive = tmp_path / "out.tar"
    subprocess.run([GNU_TAR, "--sparse", *options, "-cf", str(archive), "-C", str(source),
                    "disk.img", "plain.txt"], check=True)
    data = archive.read_bytes()
    ours = _ours(data, 4096)
    assert ours == _tarfile(data)
    assert ours[0][4] == (source / "disk.img").read_bytes()
