"""Whiteout rules, hard links and replaced directories: one final filesystem for every reader.

The layer analysis and the scanner's inventory (and so the SBOM) must see the same files in the
same archive. Each case is built here, read once, and asked of both; malformed layers must end
in one error naming the entry, from both.
"""

from __future__ import annotations

import pytest
from anatomy_builders import (
    Image,
    directory,
    file,
    hardlink,
    layer_tar,
    legacy_archive,
    oci_archive,
    opaque,
    step,
    symlink,
    whiteout,
)
from archive_writers import end_of_archive, raw_member

from helpers.anatomy import analyse, analyse_image, read_image
from helpers.anatomy.filesystem import FinalFilesystem
from helpers.errors import CourseError
from helpers.scan import inventory, scan_source, wants

SITE = "usr/local/lib/python3.12/site-packages"
OS_RELEASE = b'ID=debian\nVERSION_ID="12"\n'


def _meta(name: str, version: str, site: str = SITE) -> tuple[str, bytes]:
    return (f"{site}/{name}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode())


def _image(*layers: bytes) -> Image:
    return Image(layers=list(layers), history=[step(f"RUN step {i}") for i in
                                               range(len(layers))])


def _both(data: bytes):
    """The analysis and the inventory of one archive, from one read."""
    archive = read_image(data, keep=wants)
    return analyse(archive), inventory(archive), archive


# --- whiteout names ---------------------------------------------------------------------------

@pytest.mark.parametrize("entry", [f"{SITE}/.wh.", f"{SITE}/.wh..", f"{SITE}/.wh...", ".wh."])
def test_invalid_whiteout_names_are_rejected_by_every_reader(entry: str) -> None:
    path, data = _meta("PyMySQL", "1.0.2")
    archive = legacy_archive(_image(layer_tar(file("etc/os-release", OS_RELEASE),
                                              file(path, data)),
                                    layer_tar(file(entry, b""), file("srv/app.py", b"x"))))
    messages = []
    for reader in (analyse_image, scan_source):
        with pytest.raises(CourseError) as caught:
            reader(archive)
        messages.append(caught.value.message)
        assert "invalid whiteout entry" in caught.value.message
        assert repr(entry) in caught.value.message
        assert "OCI image-spec" in caught.value.hint
    assert messages[0] == messages[1]


def test_aufs_metadata_whiteouts_are_not_deletions() -> None:
    anatomy, _, _ = _both(legacy_archive(_image(
        layer_tar(file("a/keep", b"k" * 10)),
        layer_tar(file("a/.wh..wh.plnk", b""), file("b", b"x")))))
    assert anatomy.wasted_bytes == 0


def test_whiteout_listed_after_the_recreated_entry_still_applies_first() -> None:
    anatomy, _, archive = _both(oci_archive(_image(
        layer_tar(file("etc/app/old.conf", b"o" * 40)),
        layer_tar(directory("etc/app"), file("etc/app/new.conf", b"n" * 5),
                  whiteout("etc/app/old.conf"), opaque("etc")))))
    final = FinalFilesystem.of(archive.layers)
    assert "etc/app/new.conf" in final.entries and "etc/app/old.conf" not in final.entries
    assert [(w.path, w.reason) for w in anatomy.wasted_files] == [("etc/app/old.conf", "opaque")]


def test_opaque_whiteout_of_the_root_hides_every_lower_layer() -> None:
    path, data = _meta("Flask", "2.0.1")
    anatomy, found, _ = _both(legacy_archive(_image(
        layer_tar(file(path, data), file("etc/os-release", OS_RELEASE)),
        layer_tar(file(".wh..wh..opq", b""), file("hello", b"hi")))))
    assert found.packages == []
    assert anatomy.wasted_bytes == len(data) + len(OS_RELEASE)


@pytest.mark.parametrize("name", ["../etc/passwd", "a/../../etc/passwd", "/../x"])
def test_entries_climbing_out_of_the_root_are_rejected(name: str) -> None:
    layer = raw_member(name, b"root::0:0") + end_of_archive()
    with pytest.raises(CourseError, match="points outside the image root"):
        analyse_image(legacy_archive(_image(layer)))


def test_dot_dot_inside_the_root_is_resolved() -> None:
    layer = raw_member("a/b/../c.txt", b"c") + end_of_archive()
    archive = read_image(legacy_archive(_image(layer)))
    assert list(archive.layers[0].entries) == ["a/c.txt"]


def test_a_regular_file_without_a_name_is_rejected() -> None:
    layer = raw_member("./", b"data", b"0") + end_of_archive()
    with pytest.raises(CourseError, match="without a name"):
        analyse_image(legacy_archive(_image(layer)))


# --- hard links -------------------------------------------------------------------------------

PAYLOAD = bytes(range(200)) * 30  # 6000 bytes


def test_a_hard_link_keeps_bytes_visible_after_the_first_name_is_deleted() -> None:
    anatomy, _, _ = _both(legacy_archive(_image(
        layer_tar(file("usr/lib/libx.so.1", PAYLOAD),
                  hardlink("usr/lib/libx.so", "usr/lib/libx.so.1"),
                  hardlink("opt/x/lib.so", "usr/lib/libx.so.1")),
        layer_tar(whiteout("usr/lib/libx.so.1"), whiteout("opt/x")))))
    assert (anatomy.total_bytes, anatomy.wasted_bytes, anatomy.efficiency) == (6000, 0, 1.0)
    assert [(f.path, f.layer, f.size_bytes) for f in anatomy.largest_files] == [
        ("usr/lib/libx.so", 0, 6000)]
    assert anatomy.layers[1].deleted == 2


def test_bytes_are_wasted_when_the_last_name_goes() -> None:
    anatomy, _, _ = _both(legacy_archive(_image(
        layer_tar(file("a/real", PAYLOAD), hardlink("a/alias", "a/real")),
        layer_tar(whiteout("a/real")),
        layer_tar(file("a/alias", b"new")))))
    assert [(w.path, w.layer, w.size_bytes, w.reason, w.hidden_by)
            for w in anatomy.wasted_files] == [("a/real", 0, 6000, "overwritten", 2)]


def test_hard_links_are_one_content_not_duplicates() -> None:
    anatomy, _, _ = _both(legacy_archive(_image(
        layer_tar(file("bin/tool", PAYLOAD), hardlink("bin/tool2", "bin/tool"),
                  file("bin/copy", PAYLOAD)))))
    (group,) = anatomy.duplicates
    assert group.paths == ("bin/copy", "bin/tool") and group.wasted_bytes == 6000
    assert anatomy.visible_bytes == 12000


def test_a_name_written_twice_in_one_tar_keeps_its_first_content_through_a_link() -> None:
    anatomy, _, archive = _both(legacy_archive(_image(
        layer_tar(file("etc/conf", PAYLOAD), hardlink("etc/conf.orig", "etc/conf"),
                  file("etc/conf", b"rewritten")))))
    assert archive.layers[0].content.superseded == []  # the first copy is still linked
    assert (anatomy.total_bytes, anatomy.wasted_bytes) == (6000 + 9, 0)
    assert {f.path: f.size_bytes for f in anatomy.largest_files} == {"etc/conf.orig": 6000,
                                                                     "etc/conf": 9}


def test_large_hard_linked_files_get_their_digest_too() -> None:
    big = bytes(range(256)) * 2048  # hashed in the background thread
    anatomy, _, archive = _both(legacy_archive(_image(
        layer_tar(file("x/big", big), hardlink("x/big-link", "x/big"), file("y/big", big)),
        layer_tar(whiteout("x/big")))))
    entries = archive.layers[0].entries
    assert entries["x/big-link"].digest == entries["x/big"].digest is not None
    assert [g.paths for g in anatomy.duplicates] == [("x/big-link", "y/big")]


def test_a_hard_link_to_a_file_of_a_lower_layer_shares_its_content() -> None:
    anatomy, _, _ = _both(legacy_archive(_image(
        layer_tar(file("data/model.bin", PAYLOAD)),
        layer_tar(hardlink("data/model-link.bin", "data/model.bin")),
        layer_tar(whiteout("data/model.bin")))))
    assert anatomy.wasted_bytes == 0
    assert [(f.path, f.layer) for f in anatomy.largest_files] == [("data/model-link.bin", 0)]


@pytest.mark.parametrize(("layers", "fragment"), [
    ([layer_tar(hardlink("a/link", "a/nowhere"))], "neither an earlier entry"),
    ([layer_tar(directory("a"), hardlink("b", "a"))], "to the directory"),
    ([layer_tar(directory("a")), layer_tar(hardlink("b", "a"))], "which is a directory"),
])
def test_impossible_hard_links_are_named_errors(layers: list[bytes], fragment: str) -> None:
    data = legacy_archive(_image(*layers))
    for reader in (analyse_image, scan_source):
        with pytest.raises(CourseError, match=fragment) as caught:
            reader(data)
        assert "'b'" in caught.value.message or "'a/link'" in caught.value.message


# --- directories replaced by files, files by directories -------------------------------------

def test_a_symlink_replacing_site_packages_hides_its_packages_from_every_reader() -> None:
    path, data = _meta("Flask", "2.0.1")
    anatomy, found, archive = _both(legacy_archive(_image(
        layer_tar(file("etc/os-release", OS_RELEASE), directory(SITE), file(path, data)),
        layer_tar(symlink(SITE, "/opt/venv/lib/python3.12/site-packages")))))
    assert found.packages == []
    assert [(w.path, w.reason, w.hidden_by) for w in anatomy.wasted_files] == [
        (path, "overwritten", 1)]
    assert path not in FinalFilesystem.of(archive.layers).entries


def test_a_file_replacing_a_package_folder_and_its_return() -> None:
    path, data = _meta("requests", "2.31.0")
    folder = path.rpartition("/")[0]
    layers = [layer_tar(file(path, data)), layer_tar(file(folder, b"not a folder")),
              layer_tar(file(path, data))]
    for count, expected in ((2, []), (3, [("requests", "2.31.0", 2)])):
        _, found, _ = _both(legacy_archive(_image(*layers[:count])))
        assert [(p.name, p.version, p.layer_index) for p in found.packages] == expected


def test_an_entry_under_a_lower_file_turns_it_into_a_directory() -> None:
    anatomy, _, archive = _both(legacy_archive(_image(
        layer_tar(file("opt/app", b"a" * 100)),
        layer_tar(file("opt/app/config.yml", b"c" * 10)))))  # no explicit opt/app/ entry
    assert [(w.path, w.reason, w.hidden_by) for w in anatomy.wasted_files] == [
        ("opt/app", "overwritten", 1)]
    assert sorted(FinalFilesystem.of(archive.layers).entries) == ["opt/app/config.yml"]


def test_inventory_and_analysis_agree_on_which_metadata_is_visible() -> None:
    kept = [_meta(name, "1.0") for name in ("alpha", "bravo", "charlie", "delta", "echo")]
    layers = [
        layer_tar(*(file(p, d) for p, d in kept), file("etc/os-release", OS_RELEASE)),
        layer_tar(whiteout(kept[0][0].rpartition("/")[0]), opaque(f"{SITE}/charlie-1.0.dist-info")),
        layer_tar(symlink(kept[3][0].rpartition("/")[0], "/elsewhere"),
                  file(f"{SITE}/echo-1.0.dist-info/METADATA", kept[4][1])),
    ]
    _, found, archive = _both(oci_archive(_image(*layers), compression="gzip"))
    final = FinalFilesystem.of(archive.layers)
    visible_metadata = sorted(p for p in final.entries if p.endswith("/METADATA"))
    assert sorted(p.location for p in found.packages) == visible_metadata
    assert sorted(p.name for p in found.packages) == ["bravo", "echo"]
    assert {p.name: p.layer_index for p in found.packages} == {"bravo": 0, "echo": 0}
