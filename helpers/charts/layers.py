"""Charts of image anatomy: sizes side by side, layers stacked by Dockerfile step, top files.

Every function takes DataFrames (the ``*_frame()`` views of an
:class:`~helpers.anatomy.model.ImageAnatomy`) and returns a ``matplotlib.figure.Figure``; none
knows anything about Docker. Sizes are decimal bytes, humanized on axes and labels.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..units import human_bytes
from .axes import bytes_axis
from .style import MAX_WIDTH, PALETTE, left_short, short_label

KEPT = PALETTE[0]
WASTED = PALETTE[2]
BASE = "#94a3b8"
SMALL_SHARE = 0.035  # a layer thinner than this share of the tallest image gets no label


def size_comparison_chart(summary: pd.DataFrame, *,
                          title: str = "Image size: bytes the container sees, bytes wasted"
                          ) -> Figure:
    """One horizontal bar per image: visible bytes, then wasted bytes, with total and efficiency.

    ``summary`` has one row per image (index: image name) with ``visible_bytes``,
    ``wasted_bytes``, ``total_bytes`` and ``efficiency`` columns (``summary_frame()`` rows).
    """
    figure = Figure(figsize=(9, 0.9 * len(summary) + 1.6), layout="constrained")
    axes = figure.subplots()
    names = [str(name) for name in summary.index]
    axes.barh(names, summary["visible_bytes"], color=KEPT, label="visible in the final filesystem")
    axes.barh(names, summary["wasted_bytes"], left=summary["visible_bytes"], color=WASTED,
              label="wasted: stored in a layer, hidden by a later one")
    for row, (_, item) in enumerate(summary.iterrows()):
        axes.text(item["total_bytes"], row, f"  {human_bytes(item['total_bytes'])}, "
                                            f"{item['efficiency'] * 100:.1f} % efficient",
                  va="center", fontsize=9)
    bytes_axis(axes.xaxis)
    axes.set_xlabel("size (bytes of the files in all layers; 1 MB = 1,000,000 bytes)")
    axes.invert_yaxis()
    axes.margins(x=0.35)
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title(title)
    return figure


def layer_stack_chart(layers: Mapping[str, pd.DataFrame], *,
                      title: str = "Layers of each image, stacked in build order") -> Figure:
    """One stacked column per image, one segment per layer, labelled with its Dockerfile step.

    ``layers`` maps an image name to its ``layers_frame()`` (``step``, ``size_bytes``,
    ``wasted_bytes``). The wasted part of a layer is hatched; layers too thin to label are
    counted under the column.
    """
    names = list(layers)
    figure = Figure(figsize=(min(MAX_WIDTH, 4.2 * len(names) + 1.5), 6.5), layout="constrained")
    axes = figure.subplots()
    tallest = max((float(frame["size_bytes"].sum()) for frame in layers.values()), default=1.0)
    width = 0.8
    for column, name in enumerate(names):
        frame = layers[name]
        bottom = 0.0
        small = 0
        small_bytes = 0
        for position, (index, row) in enumerate(frame.iterrows()):
            size = float(row["size_bytes"])
            if size <= 0:
                continue
            colour = BASE if position == 0 else PALETTE[(position - 1) % len(PALETTE)]
            if colour == WASTED:
                colour = PALETTE[5]
            wasted = min(float(row["wasted_bytes"]), size)
            axes.bar(column, size - wasted, width, bottom=bottom, color=colour,
                     edgecolor="white", linewidth=0.6)
            if wasted:
                axes.bar(column, wasted, width, bottom=bottom + size - wasted, color=colour,
                         hatch="////", edgecolor=WASTED, linewidth=0.6, alpha=0.55)
            if size >= SMALL_SHARE * tallest:
                step = row["step"] or "base image"
                waste = f", {human_bytes(wasted)} wasted" if wasted else ""
                axes.text(column, bottom + size / 2,
                          f"#{index} {short_label(step, 44)}\n{human_bytes(size)}{waste}",
                          ha="center", va="center", fontsize=7.5, color="black",
                          bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none",
                                "pad": 1.5})
            else:
                small += 1
                small_bytes += int(size)
            bottom += size
        note = f"{human_bytes(bottom)} in total"
        if small:
            note += f"\n+ {small} thin layers ({human_bytes(small_bytes)})"
        axes.text(column, bottom + tallest * 0.01, note, ha="center", va="bottom", fontsize=8)
    axes.set_xticks(range(len(names)), [short_label(n, 48) for n in names], fontsize=8)
    axes.set_xlim(-0.6, len(names) - 0.4)
    axes.set_ylim(0, tallest * 1.12)
    bytes_axis(axes.yaxis)
    axes.set_ylabel("size (bytes of the files stored in each layer)")
    axes.legend(handles=[Patch(facecolor="white", edgecolor=WASTED, hatch="////",
                               label="wasted: hidden by a later layer")],
                loc="upper right", fontsize=8)
    axes.set_title(title)
    return figure


def layer_bars_chart(layers: pd.DataFrame, *,
                     title: str = "Bytes per layer, labelled with the Dockerfile step") -> Figure:
    """One horizontal bar per layer: kept bytes, then the bytes later layers hide."""
    figure = Figure(figsize=(10, 0.42 * len(layers) + 1.6), layout="constrained")
    axes = figure.subplots()
    labels = [f"#{index} {short_label(step or 'base image', 58)}"
              for index, step in zip(layers.index, layers["step"], strict=True)]
    kept = layers["size_bytes"] - layers["wasted_bytes"]
    axes.barh(labels, kept, color=KEPT, label="kept (visible at the end)")
    axes.barh(labels, layers["wasted_bytes"], left=kept, color=WASTED,
              label="wasted (hidden by a later layer)")
    for row, (size, wasted) in enumerate(zip(layers["size_bytes"], layers["wasted_bytes"],
                                             strict=True)):
        text = human_bytes(size) + (f" ({human_bytes(wasted)} wasted)" if wasted else "")
        axes.text(size, row, "  " + text, va="center", fontsize=8)
    bytes_axis(axes.xaxis)
    axes.set_xlabel("size (bytes of the files stored in the layer)")
    axes.invert_yaxis()
    axes.margins(x=0.3)
    axes.tick_params(axis="y", labelsize=8)
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title(title)
    return figure


def files_chart(files: pd.DataFrame, *, title: str, colour_by: str | None = None,
                top: int = 10) -> Figure:
    """The ``top`` largest rows of a files table (``path``, ``size_bytes``), as bars.

    ``colour_by`` names a column to colour by (``reason`` for wasted files, ``layer`` for
    visible ones); its values appear in the legend.
    """
    shown = files.nlargest(top, "size_bytes") if len(files) > top else files
    figure = Figure(figsize=(10, 0.4 * max(len(shown), 1) + 1.6), layout="constrained")
    axes = figure.subplots()
    # The same path can be stored by two layers: number the rows, name the layer in the label.
    layers = shown["layer"] if "layer" in shown else [None] * len(shown)
    labels = [left_short(str(path), 56) + ("" if layer is None else f"  (layer {layer})")
              for path, layer in zip(shown["path"], layers, strict=True)]
    groups = [str(v) for v in dict.fromkeys(shown[colour_by])] if colour_by else []
    colours = ([PALETTE[groups.index(str(v)) % len(PALETTE)] for v in shown[colour_by]]
               if colour_by else KEPT)
    rows = list(range(len(shown)))
    bars = axes.barh(rows, shown["size_bytes"], color=colours)
    axes.set_yticks(rows, labels)
    axes.bar_label(bars, labels=[human_bytes(v) for v in shown["size_bytes"]], padding=3,
                   fontsize=8)
    bytes_axis(axes.xaxis)
    axes.set_xlabel("size (bytes)")
    axes.invert_yaxis()
    axes.margins(x=0.2)
    axes.tick_params(axis="y", labelsize=8)
    if colour_by:
        axes.legend(handles=[Patch(color=PALETTE[i % len(PALETTE)], label=f"{colour_by} {g}")
                             for i, g in enumerate(groups)], loc="lower right", fontsize=8)
    axes.set_title(title)
    return figure
