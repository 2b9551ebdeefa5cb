"""Human-readable sizes and durations for tables and chart labels."""

from __future__ import annotations

UNITS = ("B", "kB", "MB", "GB", "TB")


def human_bytes(size: float | int | None) -> str:
    """Decimal units, as ``docker image ls`` prints them (1 MB = 1,000,000 bytes)."""
    if size is None:
        return ""
    value = float(size)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in UNITS:
        if value < 1000 or unit == UNITS[-1]:
            if unit == "B":
                return f"{sign}{int(value)} B"
            return f"{sign}{value:.1f} {unit}" if value < 100 else f"{sign}{value:.0f} {unit}"
        value /= 1000
    return f"{sign}{value:.1f} TB"


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"
