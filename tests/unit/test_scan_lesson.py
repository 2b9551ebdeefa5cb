"""Notebook 09's helpers that need no engine: pins, saved reports, the tables it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.lessons import vulnerabilities
from helpers.scan import scan_packages
from helpers.scan.model import Package


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))


def _py(name: str, version: str) -> Package:
    return Package(name=name, version=version, type="python", ecosystem="PyPI")


def test_requirement_files_exist_and_pin_everything() -> None:
    for name in (vulnerabilities.OLD_PINS, vulnerabilities.BUMPED_PINS):
        pins = vulnerabilities._pins(name)
        assert {"flask", "werkzeug", "requests"} <= set(pins)
        assert all(version for _, version in pins.values()), name
    old = vulnerabilities._pins(vulnerabilities.OLD_PINS)
    assert (old["flask"][1], old["werkzeug"][1], old["requests"][1]) == (
        "2.0.1", "2.2.2", "2.26.0")
    assert vulnerabilities.DOCKERFILE.is_file()


def test_the_2021_file_is_not_ignored_by_the_build_context() -> None:
    ignored = (vulnerabilities.requirements_path().parent / ".dockerignore").read_text()
    patterns = [line.strip() for line in ignored.splitlines()
                if line.strip() and not line.startswith("#")]
    assert not any(p in ("*.txt", "requirements*", "requirements-*.txt") for p in patterns)


def test_bumped_pins_reach_every_fix_of_the_2021_pins() -> None:
    old = vulnerabilities._pins(vulnerabilities.OLD_PINS)
    result = scan_packages([_py(name, version) for name, version in old.values()]
                           + [_py("pip", "23.0.1"), _py("setuptools", "66.1.1")])
    table = vulnerabilities.pins_table(result)
    needed = table[table["findings before"] > 0]
    assert "Flask" in needed.index and "setuptools" in needed.index
    assert (needed["bumped pin reaches it"] == "yes").all()
    bumped = vulnerabilities._pins(vulnerabilities.BUMPED_PINS)
    after = scan_packages([_py(name, version) for name, version in bumped.values()])
    assert vulnerabilities.python_findings(after).empty


def test_saved_reports_agree_and_compare() -> None:
    saved = vulnerabilities.read_saved_reports("course-app-before")
    assert list(saved.summary.index) == ["Docker Scout", "Trivy", "Grype"]
    assert (saved.summary.nunique() == 1).all()
    assert set(saved.findings["tool"]) == {"Docker Scout", "Trivy", "Grype"}
    assert saved.of("FLASK")["tool"].tolist() == ["Docker Scout", "Trivy", "Grype"]
    partial = vulnerabilities.compare_saved("course-app-before", "course-app-partial")
    assert partial.counts == {"fixed": 3, "still open": 17, "new": 1}


def test_tables_for_reading() -> None:
    result = scan_packages([_py("Flask", "2.0.1")], target="app")
    table = vulnerabilities.findings_table(result)
    assert list(table.columns) == vulnerabilities.FINDING_VIEW
    shown = vulnerabilities.styled(table, caption="c")
    html = shown._repr_html_()
    assert "course-09" in html and "background-color: #dc2626" in html
    assert repr(shown) == table.to_string()  # no memory address: replays compare equal
    counts = vulnerabilities.counts_frame(before=result, after=scan_packages([]))
    assert list(counts.columns) == ["before", "after"]
    assert counts.loc["HIGH", "before"] == 1 and counts["after"].sum() == 0
