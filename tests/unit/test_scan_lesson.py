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
    assert "Flask" in needed.index
    assert (needed["bumped pin reaches it"] == "yes").all()
    bumped = vulnerabilities._pins(vulnerabilities.BUMPED_PINS)
    after = scan_packages([_py(name, version) for name, version in bumped.values()])
    assert vulnerabilities.python_findings(after).empty
    assert after.coverage.judged == after.coverage.listed == len(bumped)  # all judged


def test_bumped_pins_name_only_what_the_app_needs() -> None:
    """The base image's pip (and the stand-in's setuptools) are the base's: pinning them would
    add setuptools to an official python:3.12-slim, which has none."""
    bumped = vulnerabilities._pins(vulnerabilities.BUMPED_PINS)
    assert not {"pip", "setuptools", "wheel"} & set(bumped)
    table = vulnerabilities.pins_table(scan_packages([_py("setuptools", "66.1.1")]))
    assert "setuptools" not in table.index


def test_saved_reports_are_labelled_format_examples_and_compare() -> None:
    saved = vulnerabilities.read_saved_reports("course-app-before")
    labels = ["Docker Scout format (example)", "Trivy format (example)",
              "Grype format (example)"]
    assert list(saved.summary.index) == labels
    assert "made by the course" in saved.origin and "no tool ran" in saved.origin
    assert set(saved.findings["format"]) == set(labels)
    assert saved.of("FLASK")["format"].tolist() == labels
    assert (saved.of("flask")["fixed"] == "2.2.5, 2.3.2").all()
    partial = vulnerabilities.compare_saved("course-app-before", "course-app-partial")
    assert partial.counts == {"fixed": 3, "still open": 17, "new": 1}


def test_scope_check_fails_on_your_layers_and_lists_the_base() -> None:
    base = Package(name="setuptools", version="66.1.1", type="python", ecosystem="PyPI",
                   layer_index=0)
    flask = Package(name="Flask", version="2.0.1", type="python", ecosystem="PyPI",
                    layer_index=3)
    libc = Package(name="libc6", version="2.36-9", type="os", ecosystem="Debian:12",
                   location="var/lib/dpkg/status", source_name="glibc", layer_index=0)
    dirty = scan_packages([base, flask, libc], target="app:old")
    dirty.base_image, dirty.base_layers = "python:base", 1
    verdict = vulnerabilities.scope_check(dirty)
    assert not verdict.passed
    assert verdict.in_your_layers == ["Flask 2.0.1 CVE-2023-30861 (HIGH)"]
    assert "Flask 2.0.1 CVE-2023-30861" in verdict.failure()
    clean = scan_packages([base, libc, Package(name="Flask", version="3.1.3", type="python",
                                               ecosystem="PyPI", layer_index=3)],
                          target="app:new")
    clean.base_image, clean.base_layers = "python:base", 1
    verdict = vulnerabilities.scope_check(clean)
    assert verdict.passed and verdict.in_base == ["setuptools 66.1.1 CVE-2024-6345 (HIGH)"]
    text = verdict.success()
    assert "within the 2 python packages judged against PyPA Advisory Database" in text
    assert "1 dpkg package (libc6) listed, not judged" in text
    nothing = scan_packages([libc], target="app:os-only")
    assert not vulnerabilities.scope_check(nothing).passed  # nothing judged: no verdict
    assert "Nothing was judged" in vulnerabilities.scope_check(nothing).failure()


def test_coverage_table_and_chart_titles_carry_the_scope() -> None:
    result = scan_packages([_py("Flask", "2.0.1"),
                            Package(name="libc6", version="2.36-9", type="os",
                                    ecosystem="Debian:12", location="var/lib/dpkg/status")],
                           target="app")
    table = vulnerabilities.coverage_table(result)
    assert list(table.index) == ["python", "dpkg"]
    assert table.loc["dpkg", "judged"] == 0 and table.loc["python", "judged"] == 1
    line = vulnerabilities.scope_line(result)
    assert line.startswith("judged: 1 python (PyPA + GitHub advisories of 20")
    assert line.endswith(" · not judged: 1 dpkg")
    both = vulnerabilities.scope_line(result, scan_packages([_py("Flask", "3.1.3")]))
    assert both.startswith("judged: 1 | 1 python (") and both.endswith("not judged: 1 | 0 dpkg")
    figure = vulnerabilities.severity_chart(result, label="app")
    title = figure.axes[0].get_title()
    assert "(count)" in title and "not judged: 1 dpkg" in title


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
