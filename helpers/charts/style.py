"""How every chart of the course looks: widths, colours, labels. No matplotlib in here.

One palette for the whole course, so a colour means the same in every notebook: a severity in
notebook 09's charts and in notebook 10's dashboard, a container state on the Compose health
timeline, an outcome in the networking matrix.
"""

from __future__ import annotations

# The widest a chart is drawn (inches, at 100 dpi: 950 px): JupyterLab's notebook column on a
# 1280-px screen with the file browser open; a wider PNG is scaled down and its text shrinks.
MAX_WIDTH = 9.5

#: Series colours, in the order series are drawn.
PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
           "#64748b"]

#: One colour per severity, worst the darkest red (charts of notebooks 09 and 10, and the
#: coloured cells of 09's tables).
SEVERITY_COLOURS = {"CRITICAL": "#7f1d1d", "HIGH": "#dc2626", "MEDIUM": "#f59e0b",
                    "LOW": "#2563eb", "UNKNOWN": "#94a3b8"}

#: How each container state looks on the Compose health timeline (notebook 08).
STATE_COLOURS = {"created": "#94a3b8", "starting": "#f59e0b", "healthy": "#16a34a",
                 "running": "#2563eb", "unhealthy": "#dc2626", "restarting": "#9333ea",
                 "exited": "#1f2937"}

#: Outcomes of a TCP probe in the reachability matrix (notebook 07): colour, the word in the
#: cell, and the legend's sentence.
OUTCOME_COLOURS = {"reachable": "#16a34a", "refused": "#ea580c", "no answer": "#dc2626",
                   "name not resolved": "#94a3b8"}
OUTCOME_MARKS = {"reachable": "yes", "refused": "refused", "no answer": "no",
                 "name not resolved": "no DNS"}
OUTCOME_MEANINGS = {"reachable": "yes: connected",
                    "refused": "refused: reached, but nothing listens",
                    "no answer": "no: no answer (isolated networks)",
                    "name not resolved": "no DNS: the name does not resolve"}


def short_label(text: object, width: int) -> str:
    """``text`` on one line, at most ``width`` characters, ending in "…" when it was cut (the
    table beside the chart has the whole text)."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def left_short(text: str, width: int) -> str:
    """``text`` cut at its start ("…" first): paths are told apart by their end."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def diagonal_order(sources: list[str], targets: list[str]) -> list[str]:
    """Targets in the sources' order (so "itself" falls on the diagonal of a who-reaches-whom
    grid), the others after them."""
    return [s for s in sources if s in targets] + [t for t in targets if t not in sources]
