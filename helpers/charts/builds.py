"""Charts from DataFrames: labelled axes with units, readable sizes. No Docker in here.

Figures are made with ``matplotlib.figure.Figure`` (not pyplot) so a notebook cell that returns
one shows it exactly once, and nothing leaks between cells.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .units import human_bytes

# The widest a chart is drawn (inches, at 100 dpi: 950 px): JupyterLab's notebook column on a
# 1280-px screen with the file browser open; a wider PNG is scaled down and its text shrinks.
MAX_WIDTH = 9.5
PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
           "#64748b"]


def _bytes_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda value, _: human_bytes(value)))


def short_label(text: object, width: int) -> str:
    """``text`` on one line, at most ``width`` characters, ending in "…" when it was cut (the
    table beside the chart has the whole text)."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def integer_axis(axis) -> None:
    """Ticks at whole numbers only: for counts (findings, restarts, containers)."""
    axis.set_major_locator(MaxNLocator(integer=True))


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
        _bytes_axis(axes.xaxis)
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


def layout_problems(figure: Figure, *, tolerance: float = 1.0) -> list[str]:
    """What a reader cannot read in ``figure``, as sentences; [] when the layout is clean.

    Draws the figure (Agg renderer) and looks at every visible, non-empty text: it must lie
    inside the figure (no clipped title, tick or value label), tick labels of one axis must not
    overlap one another, and no legend may cover a bar, a line or a value label of any axes.
    ``tolerance`` is in pixels at the figure's dpi. Raises nothing.
    """
    from matplotlib.artist import Artist
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(figure)  # what savefig(format="png") draws with
    canvas.draw()
    renderer = canvas.get_renderer()
    frame = figure.bbox
    problems: list[str] = []

    undrawn: set[int] = set()  # tick labels of ticks outside the view limits: made, never drawn
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            slack = (high - low) * 1e-9
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not low - slack <= tick.get_loc() <= high + slack:
                    undrawn.update((id(tick.label1), id(tick.label2)))

    def shown(text: Text) -> bool:
        return (text.get_visible() and bool(text.get_text().strip())
                and text.figure is not None and id(text) not in undrawn)

    for text in figure.findobj(Text):
        if not shown(text):
            continue
        box = text.get_window_extent(renderer)
        if (box.x0 < frame.x0 - tolerance or box.y0 < frame.y0 - tolerance
                or box.x1 > frame.x1 + tolerance or box.y1 > frame.y1 + tolerance):
            problems.append(f"text {text.get_text()!r} is clipped by the figure's edge")
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            labels = [t for t in axis.get_ticklabels() if shown(t)]
            for i in range(len(labels) - 1):
                for j in range(i + 1, len(labels)):
                    if _labels_overlap(labels[i], labels[j], renderer) > tolerance:
                        problems.append(f"tick labels {labels[i].get_text()!r} and "
                                        f"{labels[j].get_text()!r} overlap")
    marks: list[Artist] = []
    for axes in figure.axes:
        marks += [a for a in axes.patches if isinstance(a, Rectangle) and a.get_visible()
                  and a.get_width() and a.get_height()]
        marks += [a for a in axes.lines if isinstance(a, Line2D) and a.get_visible()]
        marks += [a for a in axes.texts if shown(a)]
    for legend in figure.findobj(Legend):
        if not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        for mark in marks:
            if _overlap(box, mark.get_window_extent(renderer)) > tolerance:
                what = mark.get_text() if isinstance(mark, Text) else type(mark).__name__
                problems.append(f"the legend covers {what!r}")
                break
    return problems


def _labels_overlap(first, second, renderer) -> float:
    """How far two tick labels overlap, in pixels. Rotated labels (parallel, as ticks are) are
    compared across their baselines: their boxes drawn upright overlap whenever the text is
    long, though the letters never meet."""
    import math

    angle = math.radians(first.get_rotation() % 180)
    if abs(math.sin(angle)) < 1e-3:
        return _overlap(first.get_window_extent(renderer), second.get_window_extent(renderer))
    heights = []
    for text in (first, second):
        rotation = text.get_rotation()
        text.set_rotation(0)
        heights.append(text.get_window_extent(renderer).height)
        text.set_rotation(rotation)
    (x0, y0), (x1, y1) = (t.get_transform().transform(t.get_position()) for t in (first, second))
    across = abs(-(x1 - x0) * math.sin(angle) + (y1 - y0) * math.cos(angle))
    return max(0.0, (heights[0] + heights[1]) / 2 - across)


def _overlap(a, b) -> float:
    """The smaller side, in pixels, of the intersection of two boxes (0: they don't meet)."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, min(width, height))
