"""Charts of scan results: findings per severity, and before/after a fix. DataFrames in,
``matplotlib.figure.Figure`` out (no pyplot, so a cell shows its figure once)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..scan.model import SEVERITIES
from .axes import integer_axis
from .style import SEVERITY_COLOURS


def _counts(values: pd.Series | Mapping[str, int]) -> list[int]:
    return [int(values.get(severity, 0) or 0) for severity in SEVERITIES]


def severity_chart(counts: pd.Series | Mapping[str, int], *,
                   title: str = "Findings per severity") -> Figure:
    """One bar per severity (all five, zeros included), each labelled with its count."""
    values = _counts(counts)
    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axes = figure.subplots()
    bars = axes.bar(list(SEVERITIES), values,
                    color=[SEVERITY_COLOURS[s] for s in SEVERITIES])
    axes.bar_label(bars, labels=[str(v) for v in values], padding=2)
    axes.set_xlabel("severity")
    axes.set_ylabel("findings")
    axes.set_title(title)
    axes.set_ylim(0, max([*values, 1]) * 1.2)
    integer_axis(axes.yaxis)
    return figure


def before_after_chart(frame: pd.DataFrame, *, title: str = "Findings before and after"
                       ) -> Figure:
    """Grouped bars: one group per severity, one bar per column of ``frame`` (e.g. before,
    after), index = severities. Each bar is labelled with its count."""
    frame = frame.reindex(list(SEVERITIES)).fillna(0).astype(int)
    figure = Figure(figsize=(7.5, 3.4), layout="constrained")
    axes = figure.subplots()
    width = 0.8 / max(len(frame.columns), 1)
    hatches = ["", "//", "..", "xx"]
    for number, column in enumerate(frame.columns):
        positions = [i + (number - (len(frame.columns) - 1) / 2) * width
                     for i in range(len(frame.index))]
        bars = axes.bar(positions, frame[column], width=width, label=str(column),
                        color=[SEVERITY_COLOURS[s] for s in frame.index],
                        alpha=1.0 if number == 0 else 0.55, hatch=hatches[number % 4],
                        edgecolor="#1f2937", linewidth=0.6)
        axes.bar_label(bars, labels=[str(v) for v in frame[column]], padding=2, fontsize=8)
    axes.set_xticks(range(len(frame.index)), list(frame.index))
    axes.set_xlabel("severity")
    axes.set_ylabel("findings")
    axes.set_title(title)
    axes.set_ylim(0, max([int(frame.to_numpy().max()) if frame.size else 0, 1]) * 1.25)
    integer_axis(axes.yaxis)
    # the colours mean severity, so the legend tells the bars apart by fill only
    axes.legend(handles=[Patch(facecolor="#9ca3af", alpha=1.0 if n == 0 else 0.55,
                               hatch=hatches[n % 4], edgecolor="#1f2937", label=str(column))
                         for n, column in enumerate(frame.columns)], loc="upper right")
    return figure


def status_chart(grid: pd.DataFrame, *, title: str = "What the change did") -> Figure:
    """Stacked horizontal bars: one bar per status (fixed, still open, new), split by severity
    (``Comparison.by_severity()``)."""
    grid = grid.reindex(columns=list(SEVERITIES)).fillna(0).astype(int)
    figure = Figure(figsize=(7.5, 0.6 * len(grid.index) + 1.6), layout="constrained")
    axes = figure.subplots()
    left = [0] * len(grid.index)
    labels = [str(status) for status in grid.index]
    for severity in SEVERITIES:
        values = grid[severity].tolist()
        axes.barh(labels, values, left=left, color=SEVERITY_COLOURS[severity], label=severity)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for position, total in enumerate(left):
        axes.text(total + 0.2, position, str(total), va="center", fontsize=9)
    axes.invert_yaxis()
    axes.set_xlabel("findings")
    axes.set_title(title)
    axes.set_xlim(0, max([*left, 1]) * 1.15)
    integer_axis(axes.xaxis)
    figure.legend(*axes.get_legend_handles_labels(), loc="outside lower center", fontsize=8,
                  ncols=len(SEVERITIES))
    return figure
