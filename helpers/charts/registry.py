"""What each push sent to the registry (notebook 05): bytes uploaded, layers reused."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ..units import human_bytes
from .axes import bytes_axis
from .style import PALETTE


def _layers(count: int) -> str:
    return f"{count} layer" if count == 1 else f"{count} layers"


def reuse_chart(frame: pd.DataFrame, *, title: str = "What each push sent") -> Figure:
    """Stacked bars per push: bytes uploaded, and bytes of layers the registry already had."""
    figure = Figure(figsize=(8, 0.8 * len(frame) + 2.0), layout="constrained")
    axes = figure.subplots()
    names = [str(n) for n in frame.index]
    sent = frame["bytes_sent"]
    there = frame["bytes_already_there"]
    axes.barh(names, sent, height=0.6, color=PALETTE[2], label="uploaded (layer pushed)")
    axes.barh(names, there, left=sent, height=0.6, color=PALETTE[1],
              label="not uploaded (layer already in the registry)")
    for y, (s, t, ls, lt) in enumerate(zip(sent, there, frame["layers_sent"],
                                           frame["layers_already_there"], strict=True)):
        axes.text(s + t, y, f"  {human_bytes(s)} sent ({_layers(ls)}), {_layers(lt)} reused",
                  va="center", fontsize=8)
    bytes_axis(axes.xaxis)
    axes.set_xlim(0, max(float((sent + there).max()), 1.0) * 1.7)
    axes.set_xlabel("compressed layer size (bytes, decimal units)")
    axes.invert_yaxis()
    axes.set_title(title)
    figure.legend(loc="outside lower center", ncols=2, fontsize=8)
    return figure
