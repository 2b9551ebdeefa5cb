"""The advisory snapshot: built from the shared copies, facts only, merged, refreshable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers.errors import CourseError
from helpers.scan import snapshot
from helpers.scan.advisories import DEFAULT_SNAPSHOT, load_snapshot

REPO = Path(__file__).resolve().parents[2]
SHARED_ADVISORIES = REPO.parent / "shared" / "advisories"
SCRIPT = REPO / "scripts" / "build_advisory_snapshot.py"


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    if not (SHARED_ADVISORIES / "pypa").is_dir():
        pytest.skip("shared advisory copies not present")
    return snapshot.build_from_copies(SHARED_ADVISORIES / "pypa", SHARED_ADVISORIES / "ghsa")


def _by_alias(document: dict[str, Any], alias: str) -> list[dict[str, Any]]:
    return [a for a in document["advisories"] if alias == a["id"] or alias in a["aliases"]]


def test_shared_copies_hold_the_acceptance_advisories() -> None:
    flask = SHARED_ADVISORIES / "pypa" / "vulns" / "flask" / "PYSEC-2023-62.yaml"
    werkzeug = SHARED_ADVISORIES / "pypa" / "vulns" / "werkzeug" / "PYSEC-2023-58.yaml"
    if not flask.exists():
        pytest.skip("shared advisory copies not present")
    assert "CVE-2023-30861" in flask.read_text()
    assert "CVE-2023-25577" in werkzeug.read_text()


def test_pysec_and_ghsa_of_one_cve_are_one_record(built: dict[str, Any]) -> None:
    [record] = _by_alias(built, "CVE-2023-30861")
    assert record["id"] == "PYSEC-2023-62"
    assert set(record["aliases"]) == {"CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"}
    assert len(record["references"]) == 2  # both source records named
    assert _by_alias(built, "GHSA-m2qf-hxjv-5gpq") == [record]


def test_severity_from_reviewed_rating_with_moderate_as_medium(built: dict[str, Any]) -> None:
    ghsa = json.loads((SHARED_ADVISORIES / "ghsa" / "GHSA-hrfv-mqp8-q5rw.json").read_text())
    assert ghsa["database_specific"]["severity"] == "MODERATE"
    [record] = _by_alias(built, "GHSA-hrfv-mqp8-q5rw")
    assert record["database_specific"]["severity"] == "MEDIUM"
    [flask] = _by_alias(built, "CVE-2023-30861")
    assert flask["database_specific"]["severity"] == "HIGH"


def test_severity_from_cvss_vector_when_no_rating() -> None:
    pytest.importorskip("cvss")
    record = {"id": "PYSEC-1", "aliases": [], "affected": [
        {"package": {"ecosystem": "PyPI", "name": "x"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]}
    facts = snapshot.facts_only(record, source_url="u")
    assert facts is not None
    [merged] = snapshot.merge([facts])
    assert merged["database_specific"]["severity"] == "HIGH"  # base score 7.5
    assert "7.5" in merged["database_specific"]["severity_from"]


def test_no_rating_and_no_vector_is_unknown() -> None:
    record = {"id": "PYSEC-2", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"},
                                             "versions": ["1.0"]}]}
    [merged] = snapshot.merge([snapshot.facts_only(record, source_url="u")])
    assert merged["database_specific"]["severity"] == "UNKNOWN"


def test_withdrawn_and_other_packages_are_left_out() -> None:
    withdrawn = {"id": "PYSEC-3", "withdrawn": "2023-01-01T00:00:00Z",
                 "affected": [{"package": {"ecosystem": "PyPI", "name": "flask"},
                               "versions": ["1.0"]}]}
    other = {"id": "PYSEC-4", "affected": [{"package": {"ecosystem": "PyPI", "name": "django"},
                                            "versions": ["1.0"]}]}
    wanted = [("PyPI", "flask")]
    assert snapshot.facts_only(withdrawn, source_url="u", wanted=wanted) is None
    assert snapshot.facts_only(other, source_url="u", wanted=wanted) is None


def test_only_facts_are_kept(built: dict[str, Any]) -> None:
    allowed = {"id", "aliases", "published", "modified", "affected", "severity",
               "database_specific", "references", "upstream"}
    for record in built["advisories"]:
        assert set(record) <= allowed, record["id"]
        assert {r["type"] for r in record["references"]} == {"ADVISORY"}
        assert all(r["type"] in ("ECOSYSTEM", "SEMVER")
                   for a in record["affected"] for r in a["ranges"])


def test_shipped_snapshot_is_current_and_has_no_prose(built: dict[str, Any]) -> None:
    shipped = json.loads(DEFAULT_SNAPSHOT.read_text())
    assert shipped["advisories"] == built["advisories"], "rebuild data/advisories"
    text = DEFAULT_SNAPSHOT.read_text()
    assert '"details"' not in text and '"summary"' not in text
    flask_details = (SHARED_ADVISORIES / "pypa" / "vulns" / "flask" / "PYSEC-2023-62.yaml")
    assert "caching proxy" in flask_details.read_text() and "caching proxy" not in text


def test_shipped_snapshot_loads() -> None:
    index = load_snapshot()
    assert len(index) > 40
    assert "PyPI" in index.ecosystems()
    assert any(s["license"] == "CC-BY-4.0" for s in index.sources)


def test_unreadable_snapshot_is_a_course_error(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="No advisory snapshot"):
        load_snapshot(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"something": "else"}')
    with pytest.raises(CourseError, match="cannot be read"):
        load_snapshot(broken)


def test_yaml_dates_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "PYSEC-5.yaml"
    path.write_text("id: PYSEC-5\nmodified: 2023-08-07T05:41:30.977938Z\n"
                    "published: '2023-08-01T00:00:00Z'\n")
    record = snapshot.read_yaml(path)
    assert record["modified"] == "2023-08-07T05:41:30.977938Z"


# --- online refresh -----------------------------------------------------------------------

def test_parse_query() -> None:
    assert snapshot.parse_query("flask") == ("PyPI", "flask")
    assert snapshot.parse_query("Debian:12/openssl") == ("Debian:12", "openssl")


def test_refresh_fails_clearly_when_the_api_is_unreachable() -> None:
    with pytest.raises(CourseError, match="Could not reach the OSV API") as caught:
        snapshot.refresh_online([("PyPI", "flask")], api_url="http://127.0.0.1:9", timeout=3)
    assert "left unchanged" in caught.value.hint


def test_script_refresh_offline_exits_cleanly_and_keeps_the_file(tmp_path: Path) -> None:
    output = tmp_path / "snapshot.json"
    output.write_text("previous")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--refresh-online", "--api-url", "http://127.0.0.1:9",
         "--timeout", "3", "--output", str(output)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "Could not reach the OSV API" in done.stderr
    assert "Traceback" not in done.stderr
    assert output.read_text() == "previous"


class _FakeResponse:
    def __init__(self, payload: Any) -> None:
        self.status_code = 200
        self._payload = payload
        self.text = json.dumps(payload)

    def json(self) -> Any:
        return self._payload


class _FakeOsv:
    """Answers like the OSV API: two pages of ids for flask, then each record."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, url: str, timeout: float, **kwargs: Any) -> _FakeResponse:
        self.calls.append((method, url))
        if url.endswith("/v1/querybatch"):
            query = kwargs["json"]["queries"][0]
            if "page_token" not in query:
                return _FakeResponse({"results": [{"vulns": [{"id": "PYSEC-2023-62"}],
                                                   "next_page_token": "p2"}]})
            return _FakeResponse({"results": [{"vulns": [{"id": "GHSA-m2qf-hxjv-5gpq"}]}]})
        advisory_id = url.rsplit("/", 1)[1]
        return _FakeResponse({
            "id": advisory_id, "summary": "prose that must not be kept",
            "aliases": ["CVE-2023-30861"],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "Flask"}, "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.2.5"}]}]}],
            "database_specific": {"severity": "HIGH"} if advisory_id.startswith("GHSA") else {},
        })


def test_refresh_pages_merges_and_keeps_facts_only() -> None:
    fake = _FakeOsv()
    document = snapshot.refresh_online([("PyPI", "flask")], api_url="https://osv.test",
                                       session=fake)
    assert [c[0] for c in fake.calls] == ["POST", "POST", "GET", "GET"]
    [record] = document["advisories"]
    assert record["id"] == "PYSEC-2023-62"
    assert set(record["aliases"]) == {"CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"}
    assert record["database_specific"]["severity"] == "HIGH"
    assert "prose" not in json.dumps(document)
