"""Version ranges per ecosystem, and the matcher's use of them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers.scan.advisories import AdvisoryIndex, advisory_from_osv
from helpers.scan.matcher import match
from helpers.scan.model import Package
from helpers.scan.versions import (
    APK,
    DPKG,
    PYPI,
    ApkVersion,
    ecosystems_match,
    is_affected,
    newer_fixes,
    sort_versions,
)

REPO = Path(__file__).resolve().parents[2]


def _range(*events: dict[str, str]) -> list[dict[str, object]]:
    return [{"type": "ECOSYSTEM", "events": list(events)}]


@pytest.mark.parametrize(("version", "affected"), [
    ("0.1", True), ("2.2.4", True), ("2.2.5", False), ("2.2.6", False), ("2.3.0", True),
    ("2.3.1", True), ("2.3.2", False), ("3.0", False),
])
def test_introduced_zero_and_two_intervals(version: str, affected: bool) -> None:
    ranges = _range({"introduced": "0"}, {"fixed": "2.2.5"}, {"introduced": "2.3.0"},
                    {"fixed": "2.3.2"})
    assert is_affected(PYPI, version, ranges) is affected


def test_events_out_of_order_are_sorted() -> None:
    ranges = _range({"fixed": "2.3.2"}, {"introduced": "2.3.0"}, {"fixed": "2.2.5"},
                    {"introduced": "0"})
    assert is_affected(PYPI, "2.3.1", ranges)
    assert not is_affected(PYPI, "2.2.6", ranges)


@pytest.mark.parametrize(("version", "affected"), [
    ("1.0", False), ("1.2", True), ("1.4.2", True), ("1.4.3", False), ("2.0", False),
])
def test_last_affected_is_inclusive(version: str, affected: bool) -> None:
    ranges = _range({"introduced": "1.2"}, {"last_affected": "1.4.2"})
    assert is_affected(PYPI, version, ranges) is affected


def test_versions_list_matches_exactly_and_by_pep440_equality() -> None:
    assert is_affected(PYPI, "1.0.0", [], ["0.9", "1.0"])  # 1.0 == 1.0.0 in PEP 440
    assert not is_affected(PYPI, "1.0.1", [], ["0.9", "1.0"])
    assert is_affected(PYPI, "not-a-pep440-version", [], ["not-a-pep440-version"])


def test_pep440_prereleases_sit_before_the_release() -> None:
    ranges = _range({"introduced": "0"}, {"fixed": "2.3.0"})
    assert is_affected(PYPI, "2.3.0rc1", ranges)
    assert is_affected(PYPI, "2.3.0.dev1", ranges)
    assert not is_affected(PYPI, "2.3.0.post1", ranges)
    introduced_at_rc = _range({"introduced": "3.0.0rc1"}, {"fixed": "3.0.1"})
    assert is_affected(PYPI, "3.0.0rc2", introduced_at_rc)
    assert not is_affected(PYPI, "2.9.9", introduced_at_rc)


def test_invalid_installed_version_is_not_guessed() -> None:
    assert not is_affected(PYPI, "garbage version", _range({"introduced": "0"}))


def test_git_ranges_are_ignored() -> None:
    ranges = [{"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "abc123"}]}]
    assert not is_affected(PYPI, "1.0", ranges)


@pytest.mark.parametrize(("version", "affected"), [
    ("1.0-1", True),
    ("1:0.9-1", False),  # the epoch makes it newer than any version without one
    ("1.2~rc1-1", True),  # tilde sorts before the release
    ("1.2-1", False),
    ("1.2-1+deb12u1", False),
    ("1.1-9~deb12u1", True),
])
def test_debian_epochs_and_tildes(version: str, affected: bool) -> None:
    ranges = _range({"introduced": "0"}, {"fixed": "1.2-1"})
    assert is_affected(DPKG, version, ranges) is affected


def test_fixes_listed_ascending_and_only_newer() -> None:
    ranges = _range({"introduced": "0"}, {"fixed": "2.2.5"}, {"introduced": "2.3.0"},
                    {"fixed": "2.3.2"})
    assert newer_fixes(PYPI, "2.0.1", ranges) == ["2.2.5", "2.3.2"]
    assert newer_fixes(PYPI, "2.3.0", ranges) == ["2.3.2"]
    assert sort_versions(PYPI, ["2022.12.07", "2022.12.7", "2021.1"]) == ["2021.1",
                                                                          "2022.12.7"]


@pytest.mark.parametrize("values", [
    ["2022.12.07", "2022.12.7", "2021.1"],
    ["2022.12.7", "2022.12.07", "2021.1"],
    ["2021.1", "2022.12.07", "2022.12.7"],
])
def test_equal_versions_spelt_differently_give_one_spelling_whatever_the_order(
        values: list[str]) -> None:
    # the canonical PEP 440 spelling wins, whichever arrives first
    assert sort_versions(PYPI, values) == ["2021.1", "2022.12.7"]
    # with no canonical spelling present, the choice still ignores the order
    assert sort_versions(PYPI, ["1.0.01", "1.0.001"]) == sort_versions(
        PYPI, ["1.0.001", "1.0.01"]) == ["1.0.01"]


def test_fixed_versions_do_not_depend_on_the_hash_seed() -> None:
    """Two OSV entries name one fix as 2022.12.07 and 2022.12.7: same row under every seed."""
    script = textwrap.dedent("""
        from helpers.scan.advisories import AdvisoryIndex, advisory_from_osv
        from helpers.scan.matcher import match
        from helpers.scan.model import Package
        entries = [("2017.11.05", "2022.12.07"), ("2017.11.5", "2022.12.7")]
        record = {"id": "PYSEC-X", "aliases": ["CVE-2022-23491"], "affected": [
            {"package": {"ecosystem": "PyPI", "name": "certifi"},
             "ranges": [{"type": "ECOSYSTEM",
                         "events": [{"introduced": a}, {"fixed": f}]}]} for a, f in entries]}
        index = AdvisoryIndex(advisories=[advisory_from_osv(record)])
        package = Package(name="certifi", version="2021.5.30", type="python", ecosystem="PyPI")
        print(match([package], index)[0].fixed)
    """)
    seen = set()
    for seed in range(8):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, cwd=REPO, check=True)
        seen.add(done.stdout.strip())
    assert seen == {"2022.12.7"}


def test_ecosystem_release_matching() -> None:
    assert ecosystems_match("Debian:12", "Debian:12")
    assert not ecosystems_match("Debian:12", "Debian:11")
    assert ecosystems_match("Debian", "Debian:11")
    assert ecosystems_match("Ubuntu:22.04", "Ubuntu:22.04:LTS")
    assert not ecosystems_match("PyPI", "Debian:12")


def _index(*records: dict[str, object]) -> AdvisoryIndex:
    return AdvisoryIndex(advisories=[advisory_from_osv(r) for r in records])


def test_pep503_names_match() -> None:
    index = _index({"id": "GHSA-1", "aliases": ["CVE-2000-1"],
                    "database_specific": {"severity": "MODERATE"},
                    "affected": [{"package": {"ecosystem": "PyPI", "name": "Charset_Normalizer"},
                                  "ranges": _range({"introduced": "0"}, {"fixed": "3.0"})}]})
    package = Package(name="charset.normalizer", version="2.0.4", type="python",
                      ecosystem="PyPI", layer="sha256:l1")
    [finding] = match([package], index)
    assert (finding.id, finding.aliases, finding.severity) == ("CVE-2000-1", ["GHSA-1"],
                                                               "MEDIUM")
    assert (finding.fixed, finding.layer, finding.source) == ("3.0", "sha256:l1", "built-in")


def test_debian_advisories_match_by_source_package_and_release() -> None:
    index = _index({"id": "DEBIAN-CVE-2024-1", "upstream": ["CVE-2024-1"],
                    "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                                  "ranges": _range({"introduced": "0"},
                                                   {"fixed": "3.0.15-1~deb12u1"})}]},
                   {"id": "DEBIAN-CVE-2024-2",
                    "affected": [{"package": {"ecosystem": "Debian:11", "name": "openssl"},
                                  "ranges": _range({"introduced": "0"}, {"fixed": "9"})}]})
    libssl = Package(name="libssl3", version="3.0.11-1~deb12u2", type="os",
                     ecosystem="Debian:12", source_name="openssl",
                     source_version="3.0.11-1~deb12u2")
    [finding] = match([libssl], index)
    assert finding.id == "CVE-2024-1"  # the upstream CVE is what scanners show
    assert finding.package == "libssl3" and finding.fixed == "3.0.15-1~deb12u1"
    assert finding.severity == "UNKNOWN"
    patched = Package(name="libssl3", version="3.0.15-1~deb12u1", type="os",
                      ecosystem="Debian:12", source_name="openssl")
    assert match([patched], index) == []


def test_unsupported_ecosystem_gives_no_rows() -> None:
    index = _index({"id": "RHSA-1", "affected": [
        {"package": {"ecosystem": "Red Hat", "name": "openssl"},
         "ranges": _range({"introduced": "0"}, {"fixed": "9"})}]})
    openssl = Package(name="openssl", version="1:3.0.7-27.el9", type="os", ecosystem="Red Hat")
    assert match([openssl], index) == []


@pytest.mark.parametrize(("older", "newer"), [
    ("1.2_rc1", "1.2"), ("1.2", "1.2-r1"), ("1.2-r1", "1.2_p1"), ("1.2_p1", "1.2a"),
    ("1.2a", "1.2.1"), ("1.9", "1.10"), ("1.2_alpha", "1.2_beta2"), ("1.2_beta2", "1.2_beta10"),
    ("3.1.4-r5", "3.1.4-r10"), ("1.36.1-r5", "1.36.1-r15"),
])
def test_apk_versions_order_as_apk_does(older: str, newer: str) -> None:
    assert APK.parse(older) < APK.parse(newer)
    assert APK.parse(older) != APK.parse(newer)


def test_apk_bad_versions_are_not_guessed() -> None:
    with pytest.raises(ValueError):
        ApkVersion("not a version")
    assert not is_affected(APK, "not a version", _range({"introduced": "0"}, {"fixed": "9"}))


def test_alpine_advisories_match_by_origin_package_and_release() -> None:
    index = _index({"id": "ALPINE-CVE-2024-1", "upstream": ["CVE-2024-1"], "affected": [
        {"package": {"ecosystem": "Alpine:v3.19", "name": "openssl"},
         "ranges": _range({"introduced": "0"}, {"fixed": "3.1.4-r5"})}]},
                   {"id": "ALPINE-CVE-2024-2", "affected": [
        {"package": {"ecosystem": "Alpine:v3.18", "name": "openssl"},
         "ranges": _range({"introduced": "0"}, {"fixed": "9"})}]})
    libcrypto = Package(name="libcrypto3", version="3.1.4-r2", type="os",
                        ecosystem="Alpine:v3.19", location="lib/apk/db/installed",
                        source_name="openssl", source_version="3.1.4-r2")
    [finding] = match([libcrypto], index)
    assert (finding.id, finding.package, finding.fixed) == ("CVE-2024-1", "libcrypto3",
                                                            "3.1.4-r5")
    patched = Package(name="libcrypto3", version="3.1.4-r10", type="os", ecosystem="Alpine:v3.19",
                      source_name="openssl", source_version="3.1.4-r10")
    assert match([patched], index) == []
