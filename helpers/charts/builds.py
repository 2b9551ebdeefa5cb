"""Charts of time and size: container start times, image sizes, build steps, build times."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ..units import human_bytes
from .axes import bytes_axis
from .style import PALETTE, short_label


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
    axes.margins(y=0.1)
    # below the axes, so it covers no bar
    figure.legend(loc="outside lower center", fontsize=8)
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
        bytes_axis(axes.xaxis)
    axes.set_xlabel("size (bytes, log scale)" if log_scale else "size")
    axes.invert_yaxis()
    axes.set_title(title)
    if colour_by:
        from matplotlib.patches import Patch

        # below the axes, so it covers no bar and no value label
        figure.legend(handles=[Patch(color=PALETTE[i % len(PALETTE)], label=g)
                               for i, g in enumerate(groups)], loc="outside lower center",
                      ncols=max(len(groups), 1), fontsize=8)
    axes.margins(x=0.25)
    return figure


def step_time_chart(frame: pd.DataFrame, *, title: str = "Time per build step") -> Figure:
    """Seconds per Dockerfile step (``build_steps_table`` output): steps that ran in blue,
    CACHED steps (0 s, their layer came from the build cache) in green."""
    figure = Figure(figsize=(8, 0.35 * len(frame) + 1.6), layout="constrained")
    axes = figure.subplots()
    labels = [f"[{stage} {step}] {short_label(text, 44)}"
              for (stage, step), text in zip(frame.index, frame["instruction"], strict=True)]
    cached = [value == "CACHED" for value in frame["cache"]]
    colours = [PALETTE[1] if hit else PALETTE[0] for hit in cached]
    bars = axes.barh(labels, frame["seconds"], color=colours)
    texts = axes.bar_label(bars, labels=["CACHED" if hit else f"{seconds:.2f} s" for hit, seconds
                                         in zip(cached, frame["seconds"], strict=True)],
                           padding=3, fontsize=8)
    for text, hit in zip(texts, cached, strict=True):
        if hit:
            text.set_color(PALETTE[1])
            text.set_fontweight("bold")
    axes.invert_yaxis()
    axes.set_xlabel("time (s)")
    axes.margins(x=0.2)
    axes.set_title(title)
    from matplotlib.patches import Patch

    figure.legend(handles=[Patch(color=PALETTE[0], label="ran"),
                           Patch(color=PALETTE[1], label="CACHED: layer from the build cache")],
                  loc="outside lower center", ncols=2, fontsize=8)
    return figure


def build_seconds_chart(frame: pd.DataFrame, *, label: str = "build",
                        columns: tuple[str, ...] = ("pip_seconds", "build_seconds"),
                        names: tuple[str, ...] = ("pip install step", "whole build"),
                        title: str = "Build time") -> Figure:
    """Grouped horizontal bars of seconds, one group per row of ``frame`` (e.g. per build)."""
    figure = Figure(figsize=(8, 0.8 * len(frame) + 1.6), layout="constrained")
    axes = figure.subplots()
    height = 0.8 / len(columns)
    positions = range(len(frame))
    for offset, (column, name) in enumerate(zip(columns, names, strict=True)):
        ys = [p + offset * height for p in positions]
        bars = axes.barh(ys, frame[column], height=height, color=PALETTE[offset % len(PALETTE)],
                         label=name)
        axes.bar_label(bars, labels=[f"{value:.1f} s" for value in frame[column]], padding=3,
                       fontsize=8)
    axes.set_yticks([p + height * (len(columns) - 1) / 2 for p in positions],
                    [str(value) for value in frame[label]])
    axes.invert_yaxis()
    axes.set_xlabel("time (s)")
    axes.margins(x=0.2)
    axes.set_title(title)
    figure.legend(loc="outside lower center", ncols=len(columns), fontsize=8)
    return figure
