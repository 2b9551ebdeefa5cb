"""Where findings come from (layer step, requirement line, direct / via / base image), the text
table, the charts, and the scan results surviving the replay codec."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from helpers.charts import before_after_chart, severity_chart, status_chart
from helpers.scan import compare, scan_packages
from helpers.scan.inventory import parse_python_metadata
from helpers.scan.model import SEVERITIES, Finding, Package, ScanResult
from helpers.scan.origins import (
    brought_in_by,
    describe_step,
    needed_by,
    origins,
    origins_frame,
    package_of,
    parse_requirements,
)
from helpers.scan.text import render, table
from helpers.session import codec

SITE = "opt/venv/lib/python3.11/site-packages"
PIP_STEP = "|1 REQUIREMENTS=requirements-2021.txt /bin/sh -c pip install --no-cache-dir -r " \
           "${REQUIREMENTS}"


@pytest.mark.parametrize(("created_by", "shown"), [
    (PIP_STEP, "RUN pip install --no-cache-dir -r requirements-2021.txt"),
    ("RUN |2 A=1 B=two /bin/sh -c echo $A ${B} $AB # buildkit", "RUN echo 1 two $AB"),
    ("RUN /bin/sh -c set -eux; make install # buildkit", "RUN set -eux; make install"),
    ("/bin/sh -c #(nop) WORKDIR /app", "WORKDIR /app"),
    ("/bin/sh -c #(nop) COPY file:facccdb3b2393f6f6e326495f9f3b7b6247dc0c4aa80b01c4842a51c596453c0"
     " in ./ ", "COPY file:facccdb3b239… in ./"),
    ("COPY requirements.txt . # buildkit", "COPY requirements.txt ."),
    ("/bin/sh -c apt-get update", "RUN apt-get update"),
    ("", ""),
])
def test_history_lines_read_as_dockerfile_steps(created_by: str, shown: str) -> None:
    assert describe_step(created_by) == shown


def test_requirements_lines_are_found_by_normalised_name() -> None:
    text = ("# pins\n"
            "-r base.txt\n"
            "Flask==2.0.1  # the web framework\n"
            "    # via nothing\n"
            "zope.interface==5.0 \\\n"
            "    --hash=sha256:abc\n"
            "charset_normalizer==2.0.4\n"
            "requests[socks]==2.26.0 ; python_version >= '3.7'\n"
            "not a requirement !!\n")
    lines = parse_requirements(text, file="req.txt")
    assert set(lines) == {"flask", "zope-interface", "charset-normalizer", "requests"}
    assert (lines["flask"].line, lines["flask"].text) == (3, "Flask==2.0.1")
    assert lines["zope-interface"].line == 5
    assert lines["zope-interface"].text == "zope.interface==5.0"
    assert str(lines["charset-normalizer"]) == "req.txt:7 charset_normalizer==2.0.4"


def test_requires_dist_leaves_extras_out() -> None:
    [package] = parse_python_metadata(
        b"Metadata-Version: 2.1\nName: requests\nVersion: 2.26.0\n"
        b"Requires-Dist: urllib3 (<1.27,>=1.21.1)\nRequires-Dist: certifi>=2017.4.17\n"
        b"Requires-Dist: charset_normalizer~=2.0.0; python_version >= \"3\"\n"
        b"Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == 'socks'\n"
        b"Requires-Dist: ???\n\nbody",
        location=f"{SITE}/requests-2.26.0.dist-info/METADATA")
    assert package.requires == ("certifi", "charset-normalizer", "urllib3")


def _package(name: str, version: str, layer: int, *requires: str, site: str = SITE,
             step: str = PIP_STEP) -> Package:
    return Package(name=name, version=version, type="python", ecosystem="PyPI",
                   location=f"{site}/{name.lower()}-{version}.dist-info/METADATA",
                   layer=f"sha256:{layer}", layer_index=layer, step=step, requires=requires)


@pytest.fixture
def result() -> ScanResult:
    packages = [
        _package("pip", "23.0.1", 0, step=""),
        _package("setuptools", "66.1.1", 0, step=""),
        _package("Flask", "2.0.1", 3, "werkzeug", "jinja2"),
        _package("Werkzeug", "2.2.2", 3, "markupsafe"),
        _package("requests", "2.26.0", 3, "urllib3", "idna"),
        _package("urllib3", "1.26.6", 3),
        # the same project in another virtualenv requires nothing of this site's packages
        _package("other", "1.0", 3, "urllib3", site="usr/lib/python3/dist-packages"),
        Package(name="libc6", version="2.36-9", type="os", ecosystem="Debian:12",
                layer="sha256:0", layer_index=0, step=""),
    ]
    return scan_packages(packages, target="app:2021")


def test_needed_by_stays_within_one_site(result: ScanResult) -> None:
    by_name = {p.name: p for p in result.packages}
    assert needed_by(by_name["urllib3"], result.packages) == ["requests"]
    assert needed_by(by_name["Flask"], result.packages) == []
    assert needed_by(by_name["libc6"], result.packages) == []


def test_brought_in_by(result: ScanResult) -> None:
    by_name = {p.name: p for p in result.packages}
    packages = result.packages
    assert brought_in_by(by_name["Flask"], packages, base_layers=1) == "direct"
    assert brought_in_by(by_name["Werkzeug"], packages, base_layers=1) == "via Flask"
    assert brought_in_by(by_name["pip"], packages, base_layers=1) == "base image"
    assert brought_in_by(by_name["pip"], packages, base_layers=0) == "direct"
    assert brought_in_by(by_name["libc6"], packages, base_layers=0) == ""
    assert brought_in_by(None, packages) == ""


def test_origins_rows(result: ScanResult) -> None:
    requirements = {"requirements-2021.txt": "Flask==2.0.1\nWerkzeug==2.2.2\nurllib3==1.26.6\n"
                                             "pip==23.0.1\n"}
    rows = origins(result, requirements=requirements, base_layers=1)
    assert len(rows) == len(result.findings)
    flask = next(r for r in rows if r["id"] == "CVE-2023-30861")
    assert flask["layer"] == 3
    assert flask["step"] == "RUN pip install --no-cache-dir -r requirements-2021.txt"
    assert flask["requirement"] == "requirements-2021.txt:1 Flask==2.0.1"
    assert flask["brought in by"] == "direct"
    urllib3 = next(r for r in rows if r["package"] == "urllib3")
    assert (urllib3["requirement"], urllib3["brought in by"]) == (
        "requirements-2021.txt:3 urllib3==1.26.6", "via requests")
    setuptools = next(r for r in rows if r["package"] == "setuptools")
    assert (setuptools["layer"], setuptools["step"], setuptools["brought in by"]) == (
        0, "(base image)", "base image")
    pip = next(r for r in rows if r["package"] == "pip")
    assert pip["requirement"] == ""  # the base image's copy, not the file's
    frame = origins_frame(result, requirements=requirements, base_layers=1)
    assert list(frame["severity"].cat.categories) == list(SEVERITIES)
    assert frame["id"].tolist() == [r["id"] for r in rows]


def test_package_of_prefers_the_finding_layer() -> None:
    old = _package("Flask", "2.0.1", 2)
    copy = _package("Flask", "2.0.1", 5, site="app/venv/lib/python3.11/site-packages")
    finding = Finding(id="X", severity="HIGH", package="flask", type="python",
                      installed="2.0.1", layer="sha256:5")
    assert package_of(finding, [old, copy]) is copy
    assert package_of(Finding(id="X", severity="HIGH", package="flask", type="python",
                              installed="9.9"), [old]) is None


def test_text_table_cuts_long_cells() -> None:
    text = table([["HIGH", "x" * 40]], columns=(("SEVERITY", 8), ("ID", 10)))
    assert text.splitlines()[1] == "HIGH      " + "x" * 9 + "…"


def test_render_empty_and_full(result: ScanResult) -> None:
    empty = ScanResult(target="scratch", notes=["Nothing to inventory: …"])
    assert render(empty) == "scratch: no known vulnerabilities found\nnote: Nothing to inventory: …"
    text = render(result)
    assert text.splitlines()[0].startswith("app:2021: ")
    assert "3 RUN pip install --no-cache-dir -r requirements-2021.txt" in text


def test_scan_results_survive_the_replay_codec(result: ScanResult) -> None:
    back = codec.decode(codec.encode(result))
    assert back == result
    comparison = compare(result, scan_packages(result.packages[2:4], target="app:new"))
    restored = codec.decode(codec.encode(comparison))
    assert restored.counts == comparison.counts
    pd.testing.assert_frame_equal(restored.by_severity(), comparison.by_severity())


def test_charts_are_labelled(result: ScanResult) -> None:
    figure = severity_chart(result.severity_counts(), title="t")
    axes = figure.axes[0]
    assert isinstance(figure, Figure)
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("severity", "findings")
    assert [t.get_text() for t in axes.get_xticklabels()] == [
        "CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
    frame = pd.DataFrame({"before": result.severity_counts(),
                          "after": pd.Series({"HIGH": 1})})
    pair = before_after_chart(frame).axes[0]
    assert [t.get_text() for t in pair.get_legend().get_texts()] == ["before", "after"]
    comparison = compare(result, ScanResult(target="empty"))
    status = status_chart(comparison.by_severity()).axes[0]
    assert [t.get_text() for t in status.get_yticklabels()] == ["fixed", "still open", "new"]
