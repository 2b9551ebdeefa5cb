"""Axis formats shared by the charts: byte sizes in readable units, whole-number counts."""

from __future__ import annotations

from matplotlib.axis import Axis
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..units import human_bytes


def bytes_axis(axis: Axis) -> None:
    """Tick labels in readable decimal units (``12.3 MB``); the data stay in bytes."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: human_bytes(value)))


def integer_axis(axis: Axis) -> None:
    """Ticks at whole numbers only: for counts (findings, restarts, containers)."""
    axis.set_major_locator(MaxNLocator(integer=True))
