"""Notebook 10's dashboard: measures from the earlier notebooks side by side."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from .axes import integer_axis
from .style import MAX_WIDTH, PALETTE, SEVERITY_COLOURS


def dashboard_figure(data: dict[str, pd.DataFrame]) -> Figure:
    """Three panels: container start times, findings before/after, measures per notebook."""
    figure = Figure(figsize=(MAX_WIDTH, 3.8), layout="constrained")
    panels = figure.subplots(1, 2)
    latency = data.get("latency")
    if latency is not None:
        values = latency["seconds"] * 1000
        panels[0].bar(latency.index.astype(str), values, color=PALETTE[0])
        panels[0].set_xlabel("run")
        panels[0].set_ylabel("time (ms)")
        panels[0].set_title("01 · docker run --rm, start to exit")
    findings = data.get("findings")
    if findings is not None:
        severities = [s for s in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
                      if s in findings]
        bottom = [0.0] * len(findings)
        colours = SEVERITY_COLOURS  # the palette of notebook 09's charts
        for severity in severities:
            panels[1].bar(findings.index, findings[severity], bottom=bottom,
                          color=colours[severity], label=severity)
            bottom = [b + v for b, v in zip(bottom, findings[severity], strict=True)]
        panels[1].set_ylabel("findings (count)")
        integer_axis(panels[1].yaxis)
        panels[1].set_title("09 · findings before and after bumping pins\n"
                            "(judged packages only: see notebook 09's coverage)")
        panels[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure
