"""What a reader cannot read in a chart: clipped text, overlapping tick labels, a legend over
the data. The tests run it on every chart a notebook shows."""

from __future__ import annotations

from matplotlib.figure import Figure


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
