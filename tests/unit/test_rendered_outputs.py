"""What a reader sees is whole: no table cut short, no chart with a clipped or covered label.

The committed outputs are read as nbconvert/JupyterLab render them (text/html); the charts are
checked on the figures themselves while the notebooks replay (no engine needed).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from helpers import charts
from helpers.notebook_runner import notebooks

NOTEBOOKS = notebooks()
# pandas' marks of a cut table: a cell ending in "...", a row or column of "...", "N rows × M"
CUT_CELL = re.compile(r"<t[dh][^>]*>[^<]*\.\.\.</t[dh]>")
CUT_SHAPE = re.compile(r"\d+ rows × \d+ columns|\[\d+ rows x \d+ columns\]")


def _outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            yield number, str(data.get("text/html", "")) + str(data.get("text/plain", ""))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_no_committed_table_is_cut_short(path: Path) -> None:
    cut = [(number, match.group(0)[:90]) for number, text in _outputs(path)
           for match in [*CUT_CELL.finditer(text), *CUT_SHAPE.finditer(text)]]
    assert not cut, f"{path.name}: tables cut short (cell number, text): {cut}"


def test_the_check_sees_a_cut_table() -> None:
    import pandas as pd

    frame = pd.DataFrame({"instruction": ["RUN pip install --no-cache-dir -r requirements.txt "
                                          "--root-user-action=ignore"]})
    with pd.option_context("display.max_colwidth", 50):
        assert CUT_CELL.search(frame._repr_html_())
    long = pd.DataFrame({"n": range(100)})
    with pd.option_context("display.max_rows", 10):
        assert CUT_SHAPE.search(long._repr_html_())


def test_layout_check_finds_a_clipped_title_and_a_covering_legend() -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    axes = figure.subplots()
    axes.bar(["a", "b"], [1, 2], label="values")
    axes.set_title("a title far too long to fit in a figure only three inches wide, so cut")
    axes.legend(loc="center")
    problems = charts.layout_problems(figure)
    assert any("clipped" in p for p in problems), problems
    assert any("legend covers" in p for p in problems), problems


AUDIT_CELL = """\
import json as _json, os as _os
from matplotlib.figure import Figure as _Figure
from helpers.charts import layout_problems as _layout_problems
_savefig = _Figure.savefig
def _audited(self, *args, **kwargs):
    result = _savefig(self, *args, **kwargs)
    title = " / ".join(a.get_title() for a in self.axes if a.get_title())
    with open(_os.environ["COURSE_CHART_AUDIT"], "a", encoding="utf-8") as out:
        out.write(_json.dumps({"chart": title, "problems": _layout_problems(self)}) + "\\n")
    return result
_Figure.savefig = _audited
"""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_replayed_charts_have_no_clipped_or_covered_label(path: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    if not any("image/png" in output.get("data", {}) for cell in notebook.cells
               for output in cell.get("outputs", [])):
        pytest.skip(f"{path.name} draws no chart")
    audit = tmp_path / "audit.jsonl"
    monkeypatch.setenv("COURSE_CHART_AUDIT", str(audit))
    monkeypatch.setenv("COURSE_MODE", "replay")
    monkeypatch.setenv("COURSE_PROGRESS_FILE", os.devnull)
    monkeypatch.setenv("COURSE_NOTEBOOK_FILE", str(path.resolve()))
    notebook.cells.insert(0, nbformat.v4.new_code_cell(AUDIT_CELL))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    records = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() \
        else []
    assert records, f"{path.name}: no chart was drawn in replay"
    bad = [r for r in records if r["problems"]]
    assert not bad, f"{path.name}: " + "; ".join(f"{r['chart']}: {r['problems']}" for r in bad)


def test_layout_check_tells_rotated_labels_that_meet_from_ones_that_do_not() -> None:
    from matplotlib.figure import Figure

    def figure(width: float) -> Figure:
        # too narrow for constrained layout to fit anything: drawn without it
        made = Figure(figsize=(width, 3), layout="constrained" if width > 3 else None)
        axes = made.subplots()
        names = [f"course-07-container-{n}\n[course-07-net]" for n in range(6)]
        axes.bar(names, range(6))
        axes.set_xticks(range(6), names, rotation=35, ha="right", rotation_mode="anchor")
        return made

    assert charts.layout_problems(figure(9)) == []
    assert any("overlap" in p for p in charts.layout_problems(figure(1.5)))
