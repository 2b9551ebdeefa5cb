"""Run notebooks headless: record a live session, then write the replayed outputs into them.

``make record`` runs every notebook twice. First live with COURSE_MODE=record, which writes
data/recordings/<nn>.json (the plain-data results of each helper call). Then with
COURSE_MODE=replay, saving the outputs into the .ipynb files: what is committed is exactly what
a replay shows, so `pytest --nbval` in replay mode can demand identical outputs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import settings
from .errors import CourseError

NOTEBOOKS_DIR = settings.PROJECT_ROOT / "notebooks"
CELL_TIMEOUT = 1200


def notebooks(selected: list[str] | None = None) -> list[Path]:
    found = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if selected:
        found = [p for p in found if p.name[:2] in selected]
        missing = set(selected) - {p.name[:2] for p in found}
        if missing:
            raise CourseError(f"No notebook numbered {', '.join(sorted(missing))}.")
    return found


@contextmanager
def _mode(mode: str) -> Iterator[None]:
    previous = os.environ.get("COURSE_MODE")
    os.environ["COURSE_MODE"] = mode
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("COURSE_MODE", None)
        else:
            os.environ["COURSE_MODE"] = previous


def execute(path: Path, mode: str, *, save: bool) -> float:
    """Run one notebook top to bottom in ``mode``; optionally save its outputs in place."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    started = time.monotonic()
    with _mode(mode):
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as exc:
            raise CourseError(f"{path.name} failed in {mode} mode.",
                              log_tail=str(exc)[-2000:]) from None
    if save:
        for cell in notebook.cells:
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(notebook, path)
    return time.monotonic() - started


def record(selected: list[str] | None = None) -> list[tuple[str, float, float]]:
    """Record live, then save replayed outputs; (notebook, live seconds, replay seconds)."""
    timings = []
    for path in notebooks(selected):
        live = execute(path, "record", save=False)
        replayed = execute(path, "replay", save=True)
        timings.append((path.name, live, replayed))
        print(f"{path.name}: recorded in {live:.0f} s, replay outputs saved ({replayed:.1f} s)",
              flush=True)
    return timings
