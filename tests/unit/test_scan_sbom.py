"""CycloneDX export: parse it back, and validate it against the bundled schema."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from helpers.scan.model import Package
from helpers.scan.sbom import to_cyclonedx_json, validation_errors, write_sbom

PACKAGES = [
    Package(name="Flask", version="2.0.1", type="python", ecosystem="PyPI",
            purl="pkg:pypi/flask@2.0.1", layer="sha256:app",
            location="usr/local/lib/python3.12/site-packages/flask-2.0.1.dist-info/METADATA"),
    Package(name="libc6", version="2.36-9+deb12u4", type="os", ecosystem="Debian:12",
            purl="pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
            layer="sha256:base", location="var/lib/dpkg/status"),
]
WHEN = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_sbom_lists_components_with_purls() -> None:
    document = json.loads(to_cyclonedx_json(PACKAGES, image="course-app:test", timestamp=WHEN))
    assert document["bomFormat"] == "CycloneDX"
    assert document["metadata"]["component"]["name"] == "course-app:test"
    purls = {c["name"]: c["purl"] for c in document["components"]}
    assert purls["Flask"] == "pkg:pypi/flask@2.0.1"
    assert purls["libc6"].startswith("pkg:deb/debian/libc6@2.36-9")
    props = {p["name"]: p["value"] for c in document["components"] if c["name"] == "libc6"
             for p in c["properties"]}
    assert props["docker-course:layer_diff_id"] == "sha256:base"


def test_sbom_is_valid_and_stable(tmp_path: Path) -> None:
    text = to_cyclonedx_json(PACKAGES, image="img", timestamp=WHEN)
    assert validation_errors(text) is None
    again = write_sbom(list(reversed(PACKAGES)), tmp_path / "sbom.json", image="img",
                       timestamp=WHEN)
    assert json.loads(again.read_text()) == json.loads(text)


def test_empty_inventory_is_still_a_valid_sbom() -> None:
    text = to_cyclonedx_json([], image="scratch-image", timestamp=WHEN)
    assert validation_errors(text) is None
    assert json.loads(text).get("components", []) == []
