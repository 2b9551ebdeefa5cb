"""Coverage: what a scan judged, per package type, against which advisories of which date.

Offline the shipped snapshot judges Python packages only; after an online refresh it also
holds the Debian and Alpine advisories of the course's images' OS packages. That refresh path
is tested with saved OSV answers written here (the OSV API is not reachable from the test
machines): a small Debian and Alpine sample in OSV's own shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers.lessons import recap
from helpers.scan import compare, scan_packages, snapshot
from helpers.scan.advisories import AdvisoryIndex, QueriedPackage, advisory_from_osv, load_snapshot
from helpers.scan.coverage import coverage_of, package_kind, why_not_judged
from helpers.scan.model import Package
from helpers.scan.origins import base_split, origins

LIBC = Package(name="libc6", version="2.36-9+deb12u10", type="os", ecosystem="Debian:12",
               location="var/lib/dpkg/status", source_name="glibc",
               source_version="2.36-9+deb12u10", purl="pkg:deb/debian/libc6@2.36-9%2Bdeb12u10",
               layer_index=0)
BASH = Package(name="bash", version="5.2.15-2+b7", type="os", ecosystem="Debian:12",
               location="var/lib/dpkg/status", source_name="bash", source_version="5.2.15-2",
               layer_index=0)
MUSL = Package(name="musl", version="1.2.4-r2", type="os", ecosystem="Alpine:v3.19",
               location="lib/apk/db/installed", source_name="musl", source_version="1.2.4-r2")
LIBCRYPTO = Package(name="libcrypto3", version="3.1.4-r2", type="os", ecosystem="Alpine:v3.19",
                    location="lib/apk/db/installed", source_name="openssl",
                    source_version="3.1.4-r2")
FLASK = Package(name="Flask", version="2.0.1", type="python", ecosystem="PyPI", layer_index=3)
PACKAGING = Package(name="packaging", version="25.0", type="python", ecosystem="PyPI",
                    layer_index=3)
SETUPTOOLS = Package(name="setuptools", version="66.1.1", type="python", ecosystem="PyPI",
                     layer_index=0)


def test_package_kinds() -> None:
    assert [package_kind(p) for p in (FLASK, LIBC, MUSL)] == ["python", "dpkg", "apk"]
    rpm = Package(name="bash", version="5.1", type="os", ecosystem="Red Hat",
                  purl="pkg:rpm/redhat/bash@5.1")
    assert package_kind(rpm) == "rpm"


def test_offline_snapshot_judges_python_only_and_says_so() -> None:
    result = scan_packages([FLASK, SETUPTOOLS, LIBC, BASH], target="app")
    coverage = result.coverage
    assert [(r.kind, r.listed, r.judged) for r in coverage.rows] == [
        ("python", 2, 2), ("dpkg", 2, 0)]
    python = coverage.row("python")
    assert python.source == "PyPA Advisory Database + GitHub Advisory Database"
    assert python.as_of == coverage.as_of == load_snapshot().as_of
    assert coverage.row("dpkg").source == ""  # nothing judged: no source to name
    document = result.to_json()
    assert list(document) == ["findings", "summary", "coverage"]
    assert document["coverage"]["types"]["dpkg"]["why_not_judged"].startswith(
        "the advisory snapshot has no Debian:12 advisories")
    assert "2 dpkg packages (bash, libc6) listed, not judged" in result.headline()


def test_the_shipped_snapshot_records_what_it_was_built_for_and_its_date() -> None:
    index = load_snapshot()
    assert QueriedPackage("PyPI", "packaging") in index.queried  # the bumped image has it
    assert len(index.as_of) == 10 and index.as_of.startswith("20")
    assert why_not_judged(PACKAGING, index) == ""
    other = Package(name="django", version="1.0", type="python", ecosystem="PyPI")
    assert why_not_judged(other, index) == "not in the snapshot's package list"
    assert not index.covers("PyPI", ["django"])


@pytest.mark.parametrize("findings", [False, True])
def test_no_known_vulnerabilities_only_with_its_scope(findings: bool) -> None:
    flask = FLASK if findings else Package(name="Flask", version="3.1.3", type="python",
                                           ecosystem="PyPI")
    headline = scan_packages([flask, LIBC], target="img").headline()
    if findings:
        assert headline.startswith("img: 1 finding (1 HIGH) in the 1 python package judged")
    else:
        assert headline.startswith("img: no known vulnerabilities in the 1 python package "
                                   "judged against PyPA Advisory Database")
    assert "1 dpkg package (libc6) listed, not judged" in headline
    nothing = scan_packages([LIBC], target="img").headline()
    assert nothing.startswith("img: nothing judged (1 packages listed)")
    assert "no known vulnerabilities" not in nothing


def test_a_report_without_coverage_says_whose_count_it_is() -> None:
    from helpers.scan.model import ScanResult

    assert ScanResult(target="r.json", source="trivy").headline() == \
        "r.json: 0 findings reported by trivy."


# --- the online refresh of OS advisories, on saved answers --------------------------------

DEBIAN_RECORDS = {
    "DEBIAN-CVE-2025-4802": {
        "id": "DEBIAN-CVE-2025-4802", "modified": "2025-06-01T00:00:00Z",
        "published": "2025-05-16T20:15:00Z", "upstream": ["CVE-2025-4802"],
        "details": "prose that must not be kept",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [
                          {"introduced": "0"}, {"fixed": "2.36-9+deb12u11"}]}]},
                     {"package": {"ecosystem": "Debian:13", "name": "glibc"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [
                          {"introduced": "0"}, {"fixed": "2.41-8"}]}]}]},
    "DEBIAN-CVE-2022-3715": {
        "id": "DEBIAN-CVE-2022-3715", "modified": "2025-03-01T00:00:00Z",
        "upstream": ["CVE-2022-3715"],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "bash"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [
                          {"introduced": "0"}, {"fixed": "5.2.15-2"}]}]}]},
    "ALPINE-CVE-2023-6129": {
        "id": "ALPINE-CVE-2023-6129", "modified": "2024-01-20T00:00:00Z",
        "upstream": ["CVE-2023-6129"],
        "affected": [{"package": {"ecosystem": "Alpine:v3.19", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [
                          {"introduced": "0"}, {"fixed": "3.1.4-r3"}]}]}]},
}


class _Answer:
    def __init__(self, payload: Any) -> None:
        self.status_code, self._payload, self.text = 200, payload, json.dumps(payload)

    def json(self) -> Any:
        return self._payload


class _SavedOsv:
    """OSV's answers for a version query: only the advisories affecting that version."""

    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    def request(self, method: str, url: str, timeout: float, **kwargs: Any) -> _Answer:
        if url.endswith("/v1/querybatch"):
            results = []
            for query in kwargs["json"]["queries"]:
                self.queries.append(query)
                name, version = query["package"]["name"], query.get("version")
                hits = {("glibc", "2.36-9+deb12u10"): ["DEBIAN-CVE-2025-4802"],
                        ("openssl", "3.1.4-r2"): ["ALPINE-CVE-2023-6129"]}.get((name, version),
                                                                               [])
                results.append({"vulns": [{"id": i} for i in hits]})
            return _Answer({"results": results})
        return _Answer(DEBIAN_RECORDS[url.rsplit("/", 1)[1]])


@pytest.fixture
def refreshed(tmp_path: Path) -> tuple[Path, _SavedOsv]:
    osv = _SavedOsv()
    queries = [("PyPI", "flask"), *snapshot.os_queries([LIBC, BASH, MUSL, LIBCRYPTO])]
    document = snapshot.refresh_online(queries, api_url="https://osv.test", session=osv)
    path = snapshot.write_snapshot(document, tmp_path / "refreshed.json")
    return path, osv


def test_os_queries_ask_per_source_package_at_its_version() -> None:
    assert snapshot.os_queries([LIBC, BASH, MUSL, LIBCRYPTO, FLASK]) == [
        ("Alpine:v3.19", "musl", "1.2.4-r2"), ("Alpine:v3.19", "openssl", "3.1.4-r2"),
        ("Debian:12", "bash", "5.2.15-2"), ("Debian:12", "glibc", "2.36-9+deb12u10")]
    assert snapshot.parse_query("Debian:12/glibc@2.36-9+deb12u10") == (
        "Debian:12", "glibc", "2.36-9+deb12u10")
    assert snapshot.query_text(("Debian:12", "glibc", "2.36-9")) == "Debian:12/glibc@2.36-9"


def test_refresh_asks_osv_with_versions_and_keeps_facts(refreshed: tuple[Path, _SavedOsv]
                                                        ) -> None:
    path, osv = refreshed
    assert {"package": {"ecosystem": "Debian:12", "name": "glibc"},
            "version": "2.36-9+deb12u10"} in osv.queries
    assert {"package": {"ecosystem": "PyPI", "name": "flask"}} in osv.queries
    document = json.loads(path.read_text())
    assert "prose" not in path.read_text()
    assert "Debian:12/glibc@2.36-9+deb12u10" in document["packages"]
    names = {s["name"]: s["ecosystems"] for s in document["sources"]}
    assert names["OSV.dev: Debian Security Tracker"] == ["Debian:12"]
    assert names["OSV.dev: Alpine secdb"] == ["Alpine:v3.19"]
    [glibc] = [a for a in document["advisories"] if a["id"] == "DEBIAN-CVE-2025-4802"]
    assert [a["package"]["ecosystem"] for a in glibc["affected"]] == ["Debian:12"]  # 13 dropped


def test_refreshed_snapshot_judges_dpkg_and_apk(refreshed: tuple[Path, _SavedOsv]) -> None:
    path, _ = refreshed
    result = scan_packages([LIBC, BASH, MUSL, LIBCRYPTO, FLASK], target="img", snapshot=path)
    rows = {r.kind: r for r in result.coverage.rows}
    assert (rows["dpkg"].listed, rows["dpkg"].judged) == (2, 2)
    assert (rows["apk"].listed, rows["apk"].judged) == (2, 2)
    assert rows["dpkg"].source == "OSV.dev: Debian Security Tracker"
    assert rows["apk"].source == "OSV.dev: Alpine secdb"
    found = {(f.id, f.package, f.fixed) for f in result.findings}
    assert ("CVE-2025-4802", "libc6", "2.36-9+deb12u11") in found  # by source package glibc
    assert ("CVE-2023-6129", "libcrypto3", "3.1.4-r3") in found  # apk rules: r2 < r3
    assert not any(f.package == "bash" for f in result.findings)  # 5.2.15-2 is the fix


def test_another_version_than_the_refreshed_one_is_not_judged(
        refreshed: tuple[Path, _SavedOsv]) -> None:
    path, _ = refreshed
    newer = Package(name="libc6", version="2.36-9+deb12u13", type="os", ecosystem="Debian:12",
                    location="var/lib/dpkg/status", source_name="glibc",
                    source_version="2.36-9+deb12u13")
    result = scan_packages([newer], target="img", snapshot=path)
    row = result.coverage.row("dpkg")
    assert (row.listed, row.judged) == (1, 0)
    assert row.why_not == "the snapshot was refreshed for another version of it"
    assert result.findings == []  # only judged packages are matched


def test_debian_12_advisories_do_not_judge_debian_13() -> None:
    index = AdvisoryIndex(advisories=[advisory_from_osv(DEBIAN_RECORDS["DEBIAN-CVE-2022-3715"])],
                          queried=[QueriedPackage("Debian:12", "bash")])
    trixie = Package(name="bash", version="5.2.37-2", type="os", ecosystem="Debian:13",
                     location="var/lib/dpkg/status", source_name="bash")
    coverage = coverage_of([trixie], index)
    assert coverage.row("dpkg").judged == 0
    assert "no Debian:13 advisories" in coverage.row("dpkg").why_not


def test_script_keeps_the_snapshot_and_lists_os_packages_offline(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "scripts" / "build_advisory_snapshot.py"
    os_list = tmp_path / "os.txt"
    os_list.write_text("# comment\nDebian:12/glibc@2.36-9+deb12u10\nAlpine:v3.19/musl\n")
    assert snapshot.read_query_list(os_list) == [("Debian:12", "glibc", "2.36-9+deb12u10"),
                                                 ("Alpine:v3.19", "musl")]
    output = tmp_path / "snapshot.json"
    output.write_text("previous")
    done = subprocess.run([sys.executable, str(script), "--refresh-online", "--os-list",
                           str(os_list), "--api-url", "http://127.0.0.1:9", "--timeout", "3",
                           "--output", str(output)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "Could not reach the OSV API" in done.stderr
    assert "Traceback" not in done.stderr and output.read_text() == "previous"
    shipped = snapshot.read_query_list(
        Path(__file__).resolve().parents[2] / "data" / "advisories" / "os-packages.txt")
    assert shipped and all(q[0] == "Debian:12" and len(q) == 3 for q in shipped)


# --- base image or yours, comparisons, notebook 10 ----------------------------------------

def _layered() -> Any:
    result = scan_packages([SETUPTOOLS, LIBC, FLASK], target="app:old")
    result.base_image, result.base_layers = "python:3.12-slim", 1
    return result


def test_base_split_is_scouts_only_base_and_ignore_base() -> None:
    split = base_split(_layered())
    assert list(split.index) == ["base image", "your layers"]
    assert split.loc["base image", "image"] == "python:3.12-slim"
    assert (split.loc["base image", "HIGH"], split.loc["your layers", "HIGH"]) == (1, 1)
    assert (split.loc["base image", "packages"], split.loc["your layers", "packages"]) == (2, 1)
    assert split.loc["your layers", "layers"] == "1–3"
    rows = origins(_layered())
    setuptools = next(r for r in rows if r["package"] == "setuptools")
    assert (setuptools["step"], setuptools["brought in by"]) == (
        "(base image python:3.12-slim)", "base image")


def test_comparison_names_its_scope() -> None:
    before = _layered()
    after = scan_packages([SETUPTOOLS, LIBC, Package(name="Flask", version="3.1.3",
                                                     type="python", ecosystem="PyPI")],
                          target="app:new")
    text = compare(before, after).describe()
    assert text.startswith("app:old -> app:new: 1 fixed, 1 still open, 0 new. Both scans: 2 "
                           "python packages judged against")
    assert "1 dpkg package (libc6) listed, not judged" in text


def test_notebook_10_measures_split_base_and_yours_and_quote_the_scope() -> None:
    old = _layered()
    new = scan_packages([SETUPTOOLS, LIBC, Package(name="Flask", version="3.1.3",
                                                   type="python", ecosystem="PyPI",
                                                   layer_index=3)], target="app:new")
    new.base_image, new.base_layers = "python:3.12-slim", 1
    measures = {m.measure: m for m in recap._measures_09({"scan_image": [old, new]})}
    bumped = [name for name in measures if name.startswith("findings, bumped")]
    assert bumped[0] == "findings, bumped pins, your layers (critical + high)"  # notebook 10
    assert measures[bumped[0]].number == 0
    assert measures["findings, bumped pins, base image (critical + high)"].value == "1 (1)"
    assert measures["packages judged, bumped pins"].value.startswith("2/2 python, 0/1 dpkg")
