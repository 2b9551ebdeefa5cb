"""The reachability matrix of notebook 07: who reaches whom, by container name and by IP."""

from __future__ import annotations

import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .style import MAX_WIDTH, OUTCOME_COLOURS, OUTCOME_MARKS, OUTCOME_MEANINGS, diagonal_order


def _axis_labels(frame: pd.DataFrame, who: str) -> list[str]:
    pairs = dict(zip(frame[who], frame[f"{who} network"], strict=False))
    return [f"{name}\n[{network}]" if not name.startswith("a container") else name
            for name, network in pairs.items()]


def matrix_chart(frame: pd.DataFrame, *,
                 title: str = "Who reaches whom (TCP connection from source to target)") -> Figure:
    """A heatmap per way of addressing (by name, by IP): green reached, red no answer …"""
    ways = [by for by in ("name", "IP") if by in set(frame["by"])]
    sources = list(dict.fromkeys(frame["source"]))
    targets = diagonal_order(sources, list(dict.fromkeys(frame["target"])))
    outcomes = list(OUTCOME_COLOURS)
    colours = ListedColormap(["#ffffff", *OUTCOME_COLOURS.values()])
    figure = Figure(figsize=(min(MAX_WIDTH, 4.6 * len(ways) + 1.2), 0.6 * len(sources) + 2.6),
                    layout="constrained")
    axes_list = figure.subplots(1, len(ways), squeeze=False)[0]
    source_labels = _axis_labels(frame.drop_duplicates("source"), "source")
    target_networks = dict(zip(frame["target"], frame["target network"], strict=False))
    target_labels = [f"{t}\n[{target_networks[t]}]" for t in targets]
    for axes, by in zip(axes_list, ways, strict=True):
        part = frame[frame["by"] == by]
        cells = {(str(r.source), str(r.target)): str(r.outcome) for r in part.itertuples()}
        grid = [[(outcomes.index(cells[(s, t)]) + 1) if (s, t) in cells else 0 for t in targets]
                for s in sources]
        axes.imshow(grid, cmap=colours, vmin=0, vmax=len(outcomes), aspect="auto")
        for row, source in enumerate(sources):
            for column, target in enumerate(targets):
                outcome = cells.get((source, target))
                axes.text(column, row, OUTCOME_MARKS.get(outcome, "—") if outcome else "—",
                          ha="center", va="center", fontsize=8,
                          color="white" if outcome in ("reachable", "no answer") else "black")
        axes.set_xticks(range(len(targets)), target_labels, fontsize=7, rotation=35,
                        ha="right", rotation_mode="anchor")
        axes.set_yticks(range(len(sources)), source_labels if axes is axes_list[0] else
                        [""] * len(sources), fontsize=7)
        axes.set_xlabel("target container [its network]")
        axes.set_title(f"by {'container name' if by == 'name' else 'IP address'}")
        axes.tick_params(length=0)
    axes_list[0].set_ylabel("source (probe runs inside it)")
    figure.suptitle(title)
    figure.legend(handles=[Patch(color=colour, label=OUTCOME_MEANINGS[outcome])
                           for outcome, colour in OUTCOME_COLOURS.items()],
                  loc="outside lower center", ncols=2, fontsize=8)
    return figure
