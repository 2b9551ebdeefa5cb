"""Run notebooks headless: record a live session, then write the replayed outputs into them.

``make record`` runs every notebook twice. First live with COURSE_MODE=record, which writes
data/recordings/<nn>.json (the plain-data results of each helper call, keyed by the call).
Then with COURSE_MODE=replay, saving the outputs into the .ipynb files: what is committed is
exactly what a replay shows, so `pytest --nbval` in replay mode can demand identical outputs.
A replayed cell that shows the "not in the recorded session" note means a call whose key
differs from run to run: recording fails rather than commit that.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import settings
from .errors import CourseError

NOTEBOOKS_DIR = settings.PROJECT_ROOT / "notebooks"
CELL_TIMEOUT = 1200


def notebooks(selected: list[str] | None = None) -> list[Path]:
    """The course's notebooks (exact names: a learner's ``01_…-Copy1.ipynb`` is not one)."""
    from .session.recording import NOTEBOOK_NAME

    found = sorted(p for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")
                   if NOTEBOOK_NAME.match(p.name))
    if selected:
        found = [p for p in found if p.name[:2] in selected]
        missing = set(selected) - {p.name[:2] for p in found}
        if missing:
            raise CourseError(f"No notebook numbered {', '.join(sorted(missing))}.")
    return found


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _mode(mode: str, path: Path | None = None) -> contextlib.AbstractContextManager[None]:
    """COURSE_MODE for the kernel, and which notebook file it runs (COURSE_NOTEBOOK_FILE: the
    session finds a cell's id by its source there, as nbclient does not send ids)."""
    values = {"COURSE_MODE": mode}
    if mode == "replay":  # the saved outputs must not show this machine's task progress
        values["COURSE_PROGRESS_FILE"] = os.devnull
    if path is not None:
        values["COURSE_NOTEBOOK_FILE"] = str(path.resolve())
    return _environment(**values)


NOT_RECORDED_MARK = "course-offline"


def not_recorded_cells(notebook: Any) -> list[int]:
    """Code cells whose outputs show replay's "not recorded" / "needs a live engine" note."""
    found = []
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if NOT_RECORDED_MARK in str(output.get("data", {}).get("text/html", "")):
                found.append(number)
                break
    return found


def execute(path: Path, mode: str, *, save: bool) -> float:
    """Run one notebook top to bottom in ``mode``; optionally save its outputs in place."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    started = time.monotonic()
    with _mode(mode, path):
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as exc:
            raise CourseError(f"{path.name} failed in {mode} mode.",
                              log_tail=str(exc)[-2000:]) from None
    missing = not_recorded_cells(notebook) if mode == "replay" and save else []
    if missing:
        raise CourseError(f"{path.name}: replay found no recording for calls in code cells "
                          f"{', '.join(map(str, missing))} (cell numbers from 0), so its outputs "
                          "were not saved.",
                          hint="a helper's arguments differ between runs (a temporary path, a "
                               "time?): make them stable, then record again.")
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
