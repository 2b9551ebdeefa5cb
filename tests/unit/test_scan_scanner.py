"""The built-in scanner end to end: acceptance cases on the shipped snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers.scan import scan_archive, scan_packages
from helpers.scan.inventory import NOTHING_TO_INVENTORY
from helpers.scan.model import Package

SITE = "usr/local/lib/python3.12/site-packages"


def py(name: str, version: str) -> Package:
    return Package(name=name, version=version, type="python", ecosystem="PyPI")


def test_old_flask_werkzeug_requests_report_the_known_cves() -> None:
    result = scan_packages([py("Flask", "2.0.1"), py("Werkzeug", "2.2.2"),
                            py("requests", "2.26.0")], target="old")
    by_id = {f.id: f for f in result.findings}
    flask = by_id["CVE-2023-30861"]
    assert flask.package == "Flask" and flask.installed == "2.0.1"
    assert flask.fixed == "2.2.5, 2.3.2"
    assert {"PYSEC-2023-62", "GHSA-m2qf-hxjv-5gpq"} <= set(flask.aliases)
    werkzeug = by_id["CVE-2023-25577"]
    assert werkzeug.package == "Werkzeug" and werkzeug.fixed == "2.2.3"
    assert werkzeug.severity == "HIGH"
    # merged duplicates: one row per issue, not one per database
    assert len(result.findings) == len({(f.id, f.package) for f in result.findings})


def test_current_versions_report_neither_and_nothing_high() -> None:
    result = scan_packages([
        py("Flask", "3.1.0"), py("Werkzeug", "3.1.3"), py("requests", "2.32.3"),
        py("Jinja2", "3.1.5"), py("urllib3", "2.3.0"), py("idna", "3.10"),
        py("certifi", "2024.12.14"), py("pip", "24.3.1"), py("setuptools", "75.8.0"),
        py("wheel", "0.45.1"), py("gunicorn", "23.0.0"), py("PyMySQL", "1.1.1"),
        py("click", "8.1.8"), py("itsdangerous", "2.2.0"), py("MarkupSafe", "3.0.2"),
        py("blinker", "1.9.0"), py("charset-normalizer", "3.4.1")], target="new")
    ids = {f.id for f in result.findings}
    assert "CVE-2023-30861" not in ids and "CVE-2023-25577" not in ids
    assert result.summary["CRITICAL"] == 0 and result.summary["HIGH"] == 0


@dataclass
class FakeLayer:
    index: int
    diff_id: str
    created_by: str
    files: dict[str, bytes] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)


@dataclass
class FakeArchive:
    layers: list[FakeLayer]
    name: str = "course-app:test"


def _meta(name: str, version: str) -> tuple[str, bytes]:
    return (f"{SITE}/{name}-{version}.dist-info/METADATA",
            f"Name: {name}\nVersion: {version}\n".encode())


def test_scan_archive_puts_the_layer_on_each_finding() -> None:
    base = FakeLayer(0, "sha256:base", "ADD rootfs", {
        "etc/os-release": b"ID=debian\nVERSION_ID=12\n",
        "var/lib/dpkg/status": b"Package: libc6\nStatus: install ok installed\n"
                               b"Version: 2.36-9\nSource: glibc\n"})
    app = FakeLayer(1, "sha256:app", "RUN pip install -r requirements.txt",
                    dict([_meta("Flask", "2.0.1")]))
    result = scan_archive(FakeArchive([base, app]))
    assert result.target == "course-app:test"
    assert {f.layer for f in result.findings} == {"sha256:app"}
    assert {p.name for p in result.packages} == {"libc6", "Flask"}
    # the shipped snapshot has no Debian advisories: say so rather than imply "safe"
    dpkg = result.coverage.row("dpkg")
    assert (dpkg.listed, dpkg.judged) == (1, 0) and "no Debian:12 advisories" in dpkg.why_not
    assert "1 dpkg package (libc6) listed, not judged" in result.describe()
    assert "no known vulnerabilities" not in result.describe()


def test_archive_without_package_database_says_nothing_to_inventory() -> None:
    result = scan_archive(FakeArchive([FakeLayer(0, "sha256:x", "COPY hello /",
                                                 {"hello": b"\x7fELF"})]))
    assert result.findings == [] and result.packages == []
    assert result.notes == [NOTHING_TO_INVENTORY]
    assert "Nothing to inventory" in result.describe()
    assert result.to_frame().empty
