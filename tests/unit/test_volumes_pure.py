"""Notebook 06's pure parts: archive checks, output parsers, table rows, hash comparison."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from helpers import labels
from helpers.engine import volumes as ev
from helpers.errors import CourseError
from helpers.lessons import volumes as lv


def _tar(path: Path, members: list[tuple[str, bytes | None]]) -> Path:
    """A tar like `tar cf - -C /data .` writes: './' first, then folders and files."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as out:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                out.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o644
                out.addfile(info, io.BytesIO(content))
    return path


@pytest.fixture
def good(tmp_path) -> Path:
    return _tar(tmp_path / "good.tar", [("./", None), ("./logs", None),
                                        ("./logs/day 1.txt", b"1\n2\n" * 500),
                                        ("./notes.txt", b"hello\n"), ("./empty", b"")])


def test_read_archive_lists_members_with_hashes(good) -> None:
    entries = ev.read_archive(good)
    assert [e.path for e in entries] == [".", "logs", "logs/day 1.txt", "notes.txt", "empty"]
    notes = entries[3]
    assert notes.kind == "file" and notes.size_bytes == 6 and notes.mode == "0644"
    assert notes.sha256 == hashlib.sha256(b"hello\n").hexdigest()
    assert entries[1].kind == "dir" and entries[1].sha256 == ""


@pytest.mark.parametrize(("keep", "words"), [
    (2000, "cut short: it ends in the middle of a file"),  # inside day 1.txt's content
    (3584, "no end-of-archive marker"),  # right before the header of notes.txt
    (5120, "no end-of-archive marker"),  # every member, but not the end marker
])
def test_a_truncated_archive_is_refused(good, tmp_path, keep, words) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(good.read_bytes()[:keep])
    with pytest.raises(CourseError, match=words):
        ev.read_archive(bad)


def test_only_the_padding_after_the_end_marker_may_be_missing(good, tmp_path) -> None:
    shorter = tmp_path / "shorter.tar"
    shorter.write_bytes(good.read_bytes()[:5120 + 1024])  # members + the two zero blocks
    assert len(ev.read_archive(shorter)) == 5


def test_a_garbled_header_is_refused(good, tmp_path) -> None:
    with tarfile.open(good) as read:
        header = read.getmember("./notes.txt").offset
    data = bytearray(good.read_bytes())
    data[header:header + 512] = b"\x07" * 512
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    with pytest.raises(CourseError, match="incomplete or damaged"):
        ev.read_archive(bad)


@pytest.mark.parametrize(("content", "words"), [(b"", "empty file"), (b"\0" * 1024, "no files"),
                                                (b"not a tar at all" * 64, "not a tar")])
def test_empty_or_foreign_files_are_refused(tmp_path, content, words) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(content)
    with pytest.raises(CourseError, match=words):
        ev.read_archive(bad)


def test_a_missing_archive_is_refused(tmp_path) -> None:
    with pytest.raises(CourseError, match="no backup archive"):
        ev.read_archive(tmp_path / "nowhere.tar")


@pytest.mark.parametrize(("name", "kind", "link", "words"), [
    ("/etc/passwd", tarfile.REGTYPE, "", "absolute"),
    ("./../up.txt", tarfile.REGTYPE, "", "climbs out"),
    ("./dev/sda", tarfile.BLKTYPE, "", "device"),
    ("./link", tarfile.LNKTYPE, "../../etc/shadow", "hard link"),
])
def test_unsafe_members_are_named(name, kind, link, words) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    assert words in ev.unsafe_reason(info)


def test_safe_members_pass() -> None:
    for name in ("./a", "a/b/c", "./", "."):
        assert ev.unsafe_reason(tarfile.TarInfo(name)) == ""
    link = tarfile.TarInfo("./l")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/hosts"  # a symlink is only a path; it is read inside the container
    assert ev.unsafe_reason(link) == ""


def test_checksum_sidecar_catches_changed_bytes(good) -> None:
    assert ev.verify_checksum(good) is False  # none noted: nothing to compare
    ev.checksum_file(good).write_text(f"{ev.sha256_file(good)}  {good.name}\n")
    assert ev.verify_checksum(good) is True
    data = bytearray(good.read_bytes())
    data[4096] ^= 0xFF  # the first byte of notes.txt: still a well-formed tar
    good.write_bytes(bytes(data))
    assert ev.read_archive(good)
    with pytest.raises(CourseError, match="does not match"):
        ev.verify_checksum(good)


def test_wrap_in_tar_streams_one_member(tmp_path) -> None:
    source = tmp_path / "backup.tar"
    source.write_bytes(bytes(range(256)) * 9 + b"tail")
    stream = b"".join(ev.wrap_in_tar(source, "backup.tar", chunk=1000))
    assert len(stream) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(stream)) as read:
        assert read.getnames() == ["backup.tar"]
        assert read.extractfile("backup.tar").read() == source.read_bytes()


def test_chunk_reader_reassembles_chunks() -> None:
    reader = io.BufferedReader(ev._ChunkReader([b"ab", b"", b"cde", b"f"]))
    assert reader.read(4) == b"abcd" and reader.read() == b"ef" and reader.read() == b""


def test_parse_hash_listing() -> None:
    a, b = "a" * 64, "b" * 64
    output = (f"{a}  ./notes.txt\n{b}  ./logs/day 1.txt\n{ev.HASH_MARKER}\n6 ./notes.txt\n"
              "10893 ./logs/day 1.txt\n")
    assert ev.parse_hash_listing(output) == [
        {"path": "logs/day 1.txt", "size_bytes": 10893, "sha256": b},
        {"path": "notes.txt", "size_bytes": 6, "sha256": a}]
    assert ev.parse_hash_listing(f"{ev.HASH_MARKER}\n") == []


@pytest.mark.parametrize(("output", "size"), [("1234\t/data\n", 1234), ("KiB\n12\t/data\n", 12288),
                                              ("du: nothing\n", None)])
def test_parse_du(output, size) -> None:
    assert ev.parse_du(output) == size


def test_volume_rows_keep_the_wanted_labels_and_mark_unknown_sizes() -> None:
    mine = {labels.COURSE_KEY: "true", labels.NOTEBOOK_KEY: "06"}
    usage = {"Volumes": [
        {"Name": "course-06-b", "Driver": "local", "Labels": mine, "CreatedAt": "t",
         "UsageData": {"Size": 10, "RefCount": 1}},
        {"Name": "course-06-a", "Driver": "local", "Labels": mine,
         "UsageData": {"Size": -1, "RefCount": 0}},
        {"Name": "course-03-data", "Driver": "local",
         "Labels": {labels.COURSE_KEY: "true", labels.NOTEBOOK_KEY: "03"}},
        {"Name": "yours", "Driver": "local", "Labels": None, "UsageData": {"Size": 5}},
    ]}
    rows = ev.volume_rows(usage, mine)
    assert [r["volume"] for r in rows] == ["course-06-a", "course-06-b"]
    assert rows[0]["size_bytes"] is None and rows[0]["measured by"] == ""
    assert rows[1]["size_bytes"] == 10 and rows[1]["containers"] == 1
    everything = ev.volume_rows(usage, {labels.COURSE_KEY: "true"})
    assert len(everything) == 3


def test_mount_rows_show_volumes_binds_tmpfs_and_read_only_root() -> None:
    attrs = {"Mounts": [{"Type": "volume", "Name": "v", "Source": "/var/lib/docker/volumes/v",
                         "Destination": "/data", "RW": False},
                        {"Type": "bind", "Source": "/home/me/site", "Destination": "/site",
                         "RW": True}],
             "HostConfig": {"Tmpfs": {"/scratch": "size=16m"}, "ReadonlyRootfs": True}}
    rows = ev.mount_rows("c", attrs)
    assert [(r["type"], r["source"], r["target"], r["writable"]) for r in rows] == [
        ("volume", "v", "/data", False), ("bind", "/home/me/site", "/site", True),
        ("tmpfs", "(memory, size=16m)", "/scratch", True),
        ("root filesystem", "(image layers)", "/", False)]


def test_compare_hashes_marks_changed_and_missing_files() -> None:
    left = pd.DataFrame({"path": ["a", "b", "c"], "size_bytes": [1, 2, 3],
                         "sha256": ["1", "2", "3"]}).set_index("path")
    right = pd.DataFrame({"path": ["a", "b", "d"], "size_bytes": [1, 2, 4],
                          "sha256": ["1", "x", "4"]}).set_index("path")
    compared = lv.compare_hashes(left, right)
    assert list(compared.index) == ["a", "b", "c", "d"]
    assert list(compared["same"]) == [True, False, False, False]
    assert compared.loc["c", "sha256 restored"] == "(missing)"


def test_work_dir_follows_the_notebook_and_the_setting(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path))
    assert lv.work_dir("06") == tmp_path.resolve() / "notebook-06"


def test_writer_script_names_its_container() -> None:
    assert 'echo "written by course-06-writer"' in lv.writer_script("course-06-writer")


def test_host_names_must_be_simple(tmp_path) -> None:
    with pytest.raises(CourseError, match="simple name"):
        lv._simple("../escape", "File name")
    assert lv._simple("index.html", "File name") == "index.html"
