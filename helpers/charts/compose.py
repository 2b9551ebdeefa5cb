"""The Compose health timeline of notebook 08: each service's state over the seconds of ``up``."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .style import STATE_COLOURS


def health_timeline_chart(timeline: pd.DataFrame, *,
                          title: str = "Health timeline of `up`") -> Figure:
    """One row per service, coloured by state over seconds; dashed lines where one turns healthy."""
    services = list(dict.fromkeys(timeline["service"]))
    figure = Figure(figsize=(8.5, 1.9 + 0.7 * max(1, len(services))), layout="constrained")
    axes = figure.subplots()
    last = float(timeline["to_s"].max()) if len(timeline) else 1.0
    right = last * 1.03 + 0.2  # states still current when `up` returned run to the edge
    for row, service in enumerate(services):
        part = timeline[timeline["service"] == service]
        for _, interval in part.iterrows():
            stop = right if float(interval["to_s"]) >= last else float(interval["to_s"])
            width = max(stop - float(interval["from_s"]), 0.05)
            axes.broken_barh([(float(interval["from_s"]), width)], (row - 0.35, 0.7),
                             color=STATE_COLOURS.get(interval["state"], "#64748b"))
    healthy = timeline[timeline["state"] == "healthy"].groupby("service")["from_s"].min()
    marks = axes.get_xaxis_transform()  # x in seconds, y in axes fractions
    for service, moment in healthy.items():
        axes.axvline(float(moment), color=STATE_COLOURS["healthy"], linestyle="--",
                     linewidth=1)
        axes.text(float(moment), 1.01, f"{service} healthy\n{moment:.1f} s", transform=marks,
                  fontsize=8, ha="center", va="bottom")
    axes.set_yticks(range(len(services)), services)
    axes.set_ylim(-0.6, len(services) - 0.4)
    axes.invert_yaxis()
    axes.set_xlabel("time since the first container was created (s)")
    axes.set_ylabel("service")
    axes.set_xlim(0, right)
    axes.set_title(title, pad=24)
    shown = [s for s in STATE_COLOURS if s in set(timeline["state"])]
    figure.legend(handles=[Patch(color=STATE_COLOURS[s], label=s) for s in shown],
                  loc="outside lower center", fontsize=8, ncols=len(shown), title="state",
                  title_fontsize=8)
    return figure
