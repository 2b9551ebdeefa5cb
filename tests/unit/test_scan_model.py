"""The findings table: severity words, the fixed JSON shape, the notebook DataFrame."""

from __future__ import annotations

import json

import pytest

from helpers.scan.model import (
    SEVERITIES,
    Finding,
    ScanResult,
    normalize_severity,
    severity_from_score,
)


@pytest.mark.parametrize(("word", "expected"), [
    ("critical", "CRITICAL"), ("High", "HIGH"), ("MODERATE", "MEDIUM"), ("Negligible", "LOW"),
    ("UNSPECIFIED", "UNKNOWN"), ("", "UNKNOWN"), (None, "UNKNOWN"), ("whatever", "UNKNOWN"),
])
def test_severity_words_map_onto_five(word: object, expected: str) -> None:
    assert normalize_severity(word) == expected


@pytest.mark.parametrize(("score", "expected"), [
    (9.8, "CRITICAL"), ("7.5", "HIGH"), (4.0, "MEDIUM"), (3.9, "LOW"), (None, "UNKNOWN"),
])
def test_score_ratings(score: object, expected: str) -> None:
    assert severity_from_score(score) == expected


def _finding(**overrides: object) -> Finding:
    values = {"id": "CVE-1", "severity": "high", "package": "flask", "installed": "2.0.1",
              "type": "python", "aliases": ["GHSA-x", "CVE-1", "GHSA-x"]}
    values.update(overrides)
    return Finding(**values)  # type: ignore[arg-type]


def test_finding_normalises_severity_and_aliases() -> None:
    finding = _finding()
    assert finding.severity == "HIGH"
    assert finding.aliases == ["GHSA-x"]  # no duplicates, not the id itself


def test_json_shape_is_exact() -> None:
    result = ScanResult(target="img", findings=[_finding(), _finding(id="CVE-2", severity="")])
    document = json.loads(json.dumps(result.to_json()))
    assert list(document) == ["findings", "summary"]
    assert list(document["findings"][0]) == ["id", "aliases", "severity", "package", "type",
                                             "installed", "fixed", "layer", "source"]
    assert document["summary"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "LOW": 0,
                                   "UNKNOWN": 1}


def test_summary_has_every_severity_when_empty() -> None:
    assert ScanResult(target="empty").summary == dict.fromkeys(SEVERITIES, 0)


def test_frame_is_ordered_worst_first() -> None:
    result = ScanResult(target="img", findings=[
        _finding(id="A", severity="LOW"), _finding(id="B", severity="CRITICAL"),
        _finding(id="C", severity="MEDIUM")])
    frame = result.to_frame()
    assert list(frame["id"]) == ["B", "C", "A"]
    assert list(frame["severity"].cat.categories) == list(SEVERITIES)
    assert frame["severity"].cat.ordered
    assert list(result.severity_counts()) == [1, 0, 1, 1, 0]


def test_empty_frame_keeps_columns() -> None:
    frame = ScanResult(target="x").to_frame()
    assert frame.empty and "severity" in frame.columns


def test_from_dict_round_trip() -> None:
    finding = _finding(fixed="2.2.5, 2.3.2", layer="sha256:abc", source="built-in")
    assert Finding.from_dict(finding.to_dict()) == finding
