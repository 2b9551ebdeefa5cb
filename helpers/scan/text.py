"""The findings table as plain text, for a terminal: what ``python -m helpers scan`` prints.

No pandas here: the command line should start fast, and a fixed-width table is all a terminal
needs. Columns are cut to a width (with ``…``) so a row stays on one line.
"""

from __future__ import annotations

from collections.abc import Sequence

from .model import ScanResult
from .origins import describe_step, package_of

COLUMNS: tuple[tuple[str, int], ...] = (
    ("SEVERITY", 8), ("ID", 19), ("PACKAGE", 20), ("INSTALLED", 18), ("FIXED", 20),
    ("LAYER", 60),
)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def table(rows: Sequence[Sequence[str]], columns: Sequence[tuple[str, int]] = COLUMNS) -> str:
    """Left-aligned columns, each as wide as its widest cell up to its limit."""
    widths = [min(limit, max([len(name), *(len(row[i]) for row in rows)]))
              for i, (name, limit) in enumerate(columns)]
    lines = []
    for row in [[name for name, _ in columns], *rows]:
        cells = [_cut(str(cell), width).ljust(width) for cell, width in zip(row, widths,
                                                                              strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def layer_label(result: ScanResult, finding_index: int) -> str:
    """``6 RUN pip install …`` when the scan knows the layer's step, else a short diff_id."""
    finding = result.findings[finding_index]
    package = package_of(finding, result.packages) if result.packages else None
    if package is not None and package.layer_index >= 0:
        step = describe_step(package.step) or "(base image)"
        return f"{package.layer_index} {step}"
    layer = finding.layer
    if layer.startswith("sha256:") and len(layer) > 19:
        return layer[:19] + "…"
    return layer


def render(result: ScanResult) -> str:
    """The summary sentence, the table (worst first) and the notes."""
    result.findings = result.sorted_findings()
    rows = [[f.severity, f.id, f.package, f.installed, f.fixed or "-", layer_label(result, i)]
            for i, f in enumerate(result.findings)]
    summary = result.summary
    counts = ", ".join(f"{n} {s}" for s, n in summary.items() if n)
    head = (f"{result.target}: {len(result.findings)} findings ({counts})" if result.findings
            else f"{result.target}: no known vulnerabilities found")
    if result.source:
        head += f" [source: {result.source}]"
    parts = [head]
    if rows:
        parts.append(table(rows))
    parts += [f"note: {note}" for note in result.notes]
    return "\n".join(parts)
