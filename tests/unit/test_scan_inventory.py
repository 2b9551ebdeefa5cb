"""Inventory from an image's own files, layer by layer, on fake layers built here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest

from helpers.scan.inventory import KEEP, NOTHING_TO_INVENTORY, inventory, wants

SITE = "usr/local/lib/python3.12/site-packages"
OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


@dataclass
class FakeLayer:
    index: int
    files: dict[str, bytes] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    created_by: str = ""

    @property
    def diff_id(self) -> str:
        return "sha256:" + hashlib.sha256(str(self.index).encode()).hexdigest()


@dataclass
class FakeArchive:
    layers: list[FakeLayer]


def dpkg(*packages: tuple[str, str], extra: str = "") -> bytes:
    return "\n".join(f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n"
                     f"{extra}" for name, version in packages).encode()


def metadata(name: str, version: str) -> tuple[str, bytes]:
    body = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n# Long README\nName: x\n"
    return f"{SITE}/{name.lower()}-{version}.dist-info/METADATA", body.encode()


@pytest.mark.parametrize(("path", "kept"), [
    ("var/lib/dpkg/status", True),
    ("/var/lib/dpkg/status", True),
    ("./var/lib/dpkg/status", True),
    ("var/lib/dpkg/status-old", False),
    ("var/lib/dpkg/status.d/libc6", True),
    ("var/lib/dpkg/status.d/libc6.md5sums", False),
    ("lib/apk/db/installed", True),
    ("etc/os-release", True),
    (f"{SITE}/flask-2.0.1.dist-info/METADATA", True),
    (f"{SITE}/flask-2.0.1.dist-info/RECORD", False),
    (f"{SITE}/thing-1.0-py3.12.egg-info/PKG-INFO", True),
    ("usr/lib/python3/dist-packages/six-1.16.0.egg-info", True),
    ("usr/share/doc/flask/METADATA", False),
    ("app/main.py", False),
])
def test_wants_names_only_package_databases(path: str, kept: bool) -> None:
    assert wants(path) is kept
    assert KEEP is wants


def test_packages_are_credited_to_the_layer_that_added_them() -> None:
    base = FakeLayer(0, {"var/lib/dpkg/status": dpkg(("libc6", "2.36-9")),
                         "etc/os-release": OS_RELEASE}, created_by="ADD rootfs")
    apt = FakeLayer(1, {"var/lib/dpkg/status": dpkg(("libc6", "2.36-9"), ("curl", "7.88.1-10"))},
                    created_by="RUN apt-get install curl")
    pip = FakeLayer(2, dict([metadata("Flask", "2.0.1"), metadata("Werkzeug", "2.2.2")]),
                    created_by="RUN pip install flask")
    found = inventory(FakeArchive([base, apt, pip]))
    by_name = {p.name: p for p in found.packages}
    assert set(by_name) == {"libc6", "curl", "Flask", "Werkzeug"}
    assert by_name["libc6"].layer_index == 0 and by_name["libc6"].layer == base.diff_id
    assert by_name["curl"].layer_index == 1 and by_name["curl"].step == "RUN apt-get install curl"
    assert by_name["Flask"].layer_index == 2
    assert by_name["libc6"].ecosystem == "Debian:12"
    assert by_name["libc6"].purl.startswith("pkg:deb/debian/libc6@2.36-9")
    assert by_name["Flask"].purl == "pkg:pypi/flask@2.0.1"
    assert by_name["Flask"].ecosystem == "PyPI"
    assert found.os_release.ecosystem() == "Debian:12"


def test_upgrade_and_removal_in_later_layers() -> None:
    old_path, old_meta = metadata("Flask", "2.0.1")
    new_path, new_meta = metadata("Flask", "3.1.0")
    req_path, req_meta = metadata("requests", "2.26.0")
    layers = [
        FakeLayer(0, {old_path: old_meta, req_path: req_meta,
                      "var/lib/dpkg/status": dpkg(("curl", "7.88.1-10"), ("wget", "1.21"))}),
        # pip upgrade: old dist-info folder whited out, new one added
        FakeLayer(1, {new_path: new_meta}, {old_path.rsplit("/", 1)[0]}),
        # apt-get purge wget: the status file is rewritten without it
        FakeLayer(2, {"var/lib/dpkg/status": dpkg(("curl", "7.88.1-10"))}),
        # requests uninstalled: its file whited out
        FakeLayer(3, {}, {req_path}),
    ]
    found = inventory(FakeArchive(layers))
    assert {(p.name, p.version, p.layer_index) for p in found.packages} == {
        ("curl", "7.88.1-10", 0), ("Flask", "3.1.0", 1)}


def test_opaque_whiteout_hides_lower_layers_but_keeps_its_own_files() -> None:
    flask_path, flask_meta = metadata("Flask", "2.0.1")
    click_path, click_meta = metadata("click", "8.1.7")
    layers = [FakeLayer(0, {flask_path: flask_meta}),
              FakeLayer(1, {click_path: click_meta}, {f"{SITE}/"})]
    found = inventory(FakeArchive(layers))
    assert [(p.name, p.layer_index) for p in found.packages] == [("click", 1)]


def test_package_removed_then_reinstalled_is_credited_to_the_reinstall() -> None:
    path, meta = metadata("Flask", "2.0.1")
    folder = path.rsplit("/", 1)[0]
    layers = [FakeLayer(0, {path: meta}), FakeLayer(1, {}, {folder}), FakeLayer(2, {path: meta})]
    [package] = inventory(FakeArchive(layers)).packages
    assert package.layer_index == 2


def test_distroless_status_d_and_source_packages() -> None:
    files = {
        "var/lib/dpkg/status.d/libssl3": (b"Package: libssl3\nVersion: 3.0.11-1~deb12u2\n"
                                          b"Source: openssl\nArchitecture: amd64\n"),
        "var/lib/dpkg/status.d/libc6": (b"Package: libc6\nVersion: 2.36-9+deb12u4\n"
                                        b"Source: glibc (2.36-9+deb12u4)\n"),
        "etc/os-release": OS_RELEASE,
    }
    found = inventory(FakeArchive([FakeLayer(0, files)]))
    by_name = {p.name: p for p in found.packages}
    assert by_name["libssl3"].source_name == "openssl"
    assert by_name["libssl3"].source_version == "3.0.11-1~deb12u2"
    assert by_name["libc6"].source_name == "glibc"
    assert "arch=amd64" in by_name["libssl3"].purl


def test_dpkg_packages_not_installed_are_skipped() -> None:
    status = (b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
              b"Package: here\nStatus: install ok installed\nVersion: 2.0\n")
    found = inventory(FakeArchive([FakeLayer(0, {"var/lib/dpkg/status": status})]))
    assert [p.name for p in found.packages] == ["here"]
    assert found.packages[0].ecosystem == "Debian"  # no os-release: release unknown


def test_apk_database() -> None:
    apk = (b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n"
           b"P:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n\n")
    os_release = b'ID=alpine\nVERSION_ID=3.19.1\n'
    found = inventory(FakeArchive([FakeLayer(0, {"lib/apk/db/installed": apk,
                                                 "etc/os-release": os_release})]))
    by_name = {p.name: p for p in found.packages}
    assert by_name["libcrypto3"].source_name == "openssl"
    assert by_name["musl"].ecosystem == "Alpine:v3.19"
    assert by_name["musl"].purl.startswith("pkg:apk/alpine/musl@1.2.4-r2")


def test_egg_info_and_metadata_without_headers() -> None:
    files = {
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info": b"Name: six\nVersion: 1.16.0\n",
        f"{SITE}/legacy-0.3.egg-info/PKG-INFO": b"Metadata-Version: 1.0\nName: legacy\n"
                                                b"Version: 0.3\n",
        f"{SITE}/odd_pkg-1.2.dist-info/METADATA": b"Metadata-Version: 2.1\n",
    }
    found = inventory(FakeArchive([FakeLayer(0, files)]))
    assert {(p.name, p.version) for p in found.packages} == {
        ("six", "1.16.0"), ("legacy", "0.3"), ("odd_pkg", "1.2")}


def test_no_package_database_means_nothing_to_inventory() -> None:
    found = inventory(FakeArchive([FakeLayer(0, {"hello": b"\x7fELF"})]))
    assert found.empty and found.notes == [NOTHING_TO_INVENTORY]
    assert inventory(FakeArchive([])).empty
    frame = found.to_frame()
    assert frame.empty and "layer_index" in frame.columns
