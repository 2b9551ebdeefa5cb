"""Charts from DataFrames: labelled axes with units, readable sizes. No Docker in here.

Figures are made with ``matplotlib.figure.Figure`` (not pyplot) so a notebook cell that returns
one shows it exactly once, and nothing leaks between cells.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .units import human_bytes

PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
           "#64748b"]


def _bytes_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda value, _: human_bytes(value)))


def latency_chart(frame: pd.DataFrame, *, column: str = "seconds",
                  title: str = "Start-to-exit time of short-lived containers") -> Figure:
    """One bar per run, with the median as a line."""
    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axes = figure.subplots()
    values = frame[column] * 1000
    axes.bar(frame.index.astype(str), values, color=PALETTE[0])
    median = float(values.median())
    axes.axhline(median, color=PALETTE[2], linestyle="--", label=f"median {median:.0f} ms")
    axes.set_xlabel("run")
    axes.set_ylabel("time (ms)")
    axes.set_title(title)
    axes.legend(loc="upper right")
    return figure


def size_chart(frame: pd.DataFrame, *, label: str, size: str = "size_bytes",
               colour_by: str | None = None, log_scale: bool = False,
               title: str = "Size") -> Figure:
    """Horizontal bars of byte sizes, labelled with readable values."""
    figure = Figure(figsize=(8, 0.5 * len(frame) + 1.4), layout="constrained")
    axes = figure.subplots()
    groups = list(dict.fromkeys(frame[colour_by])) if colour_by else []
    colours = [PALETTE[groups.index(v) % len(PALETTE)] for v in frame[colour_by]] \
        if colour_by else PALETTE[0]
    bars = axes.barh(frame[label].astype(str), frame[size], color=colours)
    axes.bar_label(bars, labels=[human_bytes(v) for v in frame[size]], padding=3, fontsize=8)
    if log_scale:
        axes.set_xscale("log")
    else:
        _bytes_axis(axes.xaxis)
    axes.set_xlabel("size (bytes, log scale)" if log_scale else "size")
    axes.invert_yaxis()
    axes.set_title(title)
    if colour_by:
        from matplotlib.patches import Patch

        axes.legend(handles=[Patch(color=PALETTE[i % len(PALETTE)], label=g)
                             for i, g in enumerate(groups)], loc="lower right", fontsize=8)
    axes.margins(x=0.25)
    return figure


def step_time_chart(frame: pd.DataFrame, *, title: str = "Time per build step") -> Figure:
    """Seconds per Dockerfile step (``build_steps_table`` output)."""
    figure = Figure(figsize=(8, 0.35 * len(frame) + 1.4), layout="constrained")
    axes = figure.subplots()
    labels = [f"{i}: {str(t)[:48]}" for i, t in zip(frame.index, frame["instruction"],
                                                    strict=True)]
    colours = [PALETTE[1] if cached else PALETTE[0] for cached in frame["from cache"]]
    axes.barh(labels, frame["seconds"], color=colours)
    axes.invert_yaxis()
    axes.set_xlabel("time (s)")
    axes.set_title(title + " (green = from cache)")
    return figure


def timeline_chart(frame: pd.DataFrame, *, x: str, y: str, title: str, xlabel: str) -> Figure:
    """A simple step plot, e.g. a state over time."""
    figure = Figure(figsize=(8, 3), layout="constrained")
    axes = figure.subplots()
    axes.step(frame[x], frame[y], where="post", color=PALETTE[0])
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    return figure
