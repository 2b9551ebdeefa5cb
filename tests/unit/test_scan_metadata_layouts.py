"""Python package metadata in every place installers leave it, found by the inventory.

wheel ``*.dist-info/METADATA``; setuptools ``*.egg-info/PKG-INFO`` and ``*.egg-info/METADATA``
(bundles such as the AWS CLI ship the latter, outside any site-packages); distutils'
single-file ``*.egg-info``; easy_install's ``*.egg/EGG-INFO/PKG-INFO``. Built here as image
archives and scanned end to end, so the SBOM sees what the scan sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from anatomy_builders import Image, file, layer_tar, legacy_archive, step

from helpers.scan import scan_source, wants, write_sbom
from helpers.scan.inventory import parse_python_metadata

OS_RELEASE = b'ID=debian\nVERSION_ID="12"\n'


def _metadata(name: str, version: str, *, version_field: str = "2.1") -> bytes:
    return (f"Metadata-Version: {version_field}\nName: {name}\nVersion: {version}\n"
            "Summary: made in a test\n\nlong description\n").encode()


@pytest.mark.parametrize(("path", "kept"), [
    ("opt/bundle/dist/urllib3-1.26.5-py3.9.egg-info/METADATA", True),
    ("opt/bundle/dist/urllib3-1.26.5-py3.9.egg-info/PKG-INFO", True),
    ("opt/bundle/dist/urllib3-1.26.5-py3.9.egg-info/RECORD", False),
    ("usr/lib/python3/dist-packages/Jinja2-2.11.2.egg-info", True),
    ("opt/eggs/Werkzeug-2.2.2-py3.11.egg/EGG-INFO/PKG-INFO", True),
    ("opt/eggs/Werkzeug-2.2.2-py3.11.egg/EGG-INFO/requires.txt", False),
    ("srv/docs/METADATA", False),
    ("srv/EGG-INFO/PKG-INFO", False),
])
def test_wants_every_metadata_layout(path: str, kept: bool) -> None:
    assert wants(path) is kept


BUNDLE = "opt/bundle/dist/urllib3-1.26.5-py3.9.egg-info"
LAYOUTS = {
    "egg-info folder with METADATA only (bundle)": {
        f"{BUNDLE}/METADATA": _metadata("urllib3", "1.26.5"),
        f"{BUNDLE}/top_level.txt": b"urllib3\n"},
    "egg-info folder with PKG-INFO and METADATA": {
        f"{BUNDLE}/METADATA": _metadata("urllib3", "1.26.5"),
        f"{BUNDLE}/PKG-INFO": _metadata("urllib3", "1.26.5", version_field="1.2")},
    "unzipped egg": {
        "opt/eggs/urllib3-1.26.5-py3.11.egg/EGG-INFO/PKG-INFO":
            _metadata("urllib3", "1.26.5", version_field="1.1")},
    "distutils single file": {
        "usr/lib/python3/dist-packages/urllib3-1.26.5.egg-info":
            _metadata("urllib3", "1.26.5", version_field="1.0")},
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_is_inventoried_once_and_matched(layout: str, tmp_path: Path) -> None:
    image = Image(layers=[layer_tar(file("etc/os-release", OS_RELEASE)),
                          layer_tar(*(file(p, d) for p, d in LAYOUTS[layout].items()))],
                  history=[step("ADD rootfs /"), step("RUN ./install")])
    result = scan_source(legacy_archive(image))
    assert [(p.name, p.version, p.layer_index) for p in result.packages] == [
        ("urllib3", "1.26.5", 1)]
    assert sorted(f.id for f in result.findings) == [
        "CVE-2023-43804", "CVE-2023-45803", "CVE-2024-37891"]
    sbom = json.loads(write_sbom(result.packages, tmp_path / "sbom.json").read_text())
    assert [c["purl"] for c in sbom["components"]] == ["pkg:pypi/urllib3@1.26.5"]


@pytest.mark.parametrize(("location", "expected"), [
    ("usr/lib/python3/dist-packages/Jinja2-2.11.2.egg-info", ("Jinja2", "2.11.2")),
    ("opt/eggs/Werkzeug-2.2.2-py3.11.egg/EGG-INFO/PKG-INFO", ("Werkzeug", "2.2.2")),
    ("x/cryptography-3.3.2-py3.8.egg-info/METADATA", ("cryptography", "3.3.2")),
])
def test_metadata_without_name_and_version_falls_back_to_the_folder(
        location: str, expected: tuple[str, str]) -> None:
    (package,) = parse_python_metadata(b"Metadata-Version: 1.0\nSummary: no name\n",
                                       location=location)
    assert (package.name, package.version) == expected


def test_the_same_project_in_two_folders_is_two_packages() -> None:
    files = {"usr/lib/python3/dist-packages/urllib3-1.26.5.egg-info": _metadata("urllib3",
                                                                                "1.26.5"),
             "opt/bundle/dist/urllib3-1.26.5-py3.9.egg-info/METADATA": _metadata("urllib3",
                                                                                 "1.26.5")}
    image = Image(layers=[layer_tar(*(file(p, d) for p, d in files.items()))],
                  history=[step("RUN install")])
    result = scan_source(legacy_archive(image))
    assert sorted(p.location for p in result.packages) == sorted(files)
