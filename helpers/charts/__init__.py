"""Every chart of the course, in one place: DataFrames in, a ``matplotlib.figure.Figure`` out.

Figures are made with ``matplotlib.figure.Figure`` (not pyplot), so a notebook cell that returns
one shows it exactly once and nothing leaks between cells; they are drawn at 100 dpi, at most
:data:`~helpers.charts.style.MAX_WIDTH` inches wide, every axis labelled with its unit. No
chart knows anything about Docker: the lessons hand them plain frames.

=================  =====================================================================
module             charts
=================  =====================================================================
``builds``         container start times (01), sizes (01), build steps (02), build times (04)
``layers``         image anatomy: sizes, layers by Dockerfile step, largest files (04)
``registry``       what each push sent (05)
``networks``       who reaches whom, by name and by IP (07)
``compose``        the health timeline of ``compose up`` (08)
``scans``          findings per severity, before and after (09)
``recap``          the dashboard of notebook 10
``style``          widths, palettes, label shortening (no matplotlib)
``axes``           byte and count axis formats
``checks``         :func:`layout_problems`: what a reader could not read in a figure
=================  =====================================================================

Importing this package costs nothing: a chart's module, and matplotlib with it (about 0.3 s),
is imported the first time one of its charts is asked for (``charts.size_chart``), so a
notebook that draws no chart never pays for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .style import MAX_WIDTH as MAX_WIDTH
from .style import PALETTE as PALETTE
from .style import short_label as short_label

_HOME = {
    "latency_chart": "builds", "size_chart": "builds", "step_time_chart": "builds",
    "build_seconds_chart": "builds",
    "size_comparison_chart": "layers", "layer_stack_chart": "layers",
    "layer_bars_chart": "layers", "files_chart": "layers",
    "reuse_chart": "registry",
    "matrix_chart": "networks",
    "health_timeline_chart": "compose",
    "severity_chart": "scans", "before_after_chart": "scans", "status_chart": "scans",
    "dashboard_figure": "recap",
    "bytes_axis": "axes", "integer_axis": "axes",
    "layout_problems": "checks",
}

__all__ = ["MAX_WIDTH", "PALETTE", "short_label", *_HOME]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


if TYPE_CHECKING:
    from .axes import bytes_axis as bytes_axis
    from .axes import integer_axis as integer_axis
    from .builds import build_seconds_chart as build_seconds_chart
    from .builds import latency_chart as latency_chart
    from .builds import size_chart as size_chart
    from .builds import step_time_chart as step_time_chart
    from .checks import layout_problems as layout_problems
    from .compose import health_timeline_chart as health_timeline_chart
    from .layers import files_chart as files_chart
    from .layers import layer_bars_chart as layer_bars_chart
    from .layers import layer_stack_chart as layer_stack_chart
    from .layers import size_comparison_chart as size_comparison_chart
    from .networks import matrix_chart as matrix_chart
    from .recap import dashboard_figure as dashboard_figure
    from .registry import reuse_chart as reuse_chart
    from .scans import before_after_chart as before_after_chart
    from .scans import severity_chart as severity_chart
    from .scans import status_chart as status_chart
