"""A task's solution as a learner types it: its placeholders, its lines filled in, and a run.

A solution line (:attr:`helpers.tasks.Task.solution`) names the task's objects by role
(``{container}``), the course's images by placeholder (``<shell-image>``) and the notebooks
folder as ``{notebooks}``. Go templates (``{{.State.Status}}``) and shell expansions
(``${PORT}``) are left as they are. Used by the unit test of every solution and by the live
harness that does every task (tests/live/test_tasks_done.py).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from helpers import tasks
from helpers.notebook_runner import NOTEBOOKS_DIR

ROLE = re.compile(r"(?<![{$])\{([A-Za-z_]\w*)\}(?!\})")
IMAGE = re.compile(r"<[a-z]+-image>")
FOLDER = "notebooks"
LINE_TIMEOUT = 900  # seconds; a build of the flask app takes well under a minute


def unknown_placeholders(task: tasks.Task) -> list[str]:
    """The placeholders of ``task``'s solution that name no role and no course image."""
    known_roles = {*task.names, FOLDER}
    unknown = []
    for line in task.solution:
        unknown += [f"{{{role}}}" for role in ROLE.findall(line) if role not in known_roles]
        unknown += [image for image in IMAGE.findall(line) if image not in tasks.PLACEHOLDERS]
    return unknown


def filled_in(line: str, names: Mapping[str, str], images: Mapping[str, str],
              notebooks: str) -> str:
    """``line`` with each ``{role}`` replaced by its name, ``{notebooks}`` by ``notebooks`` and
    each image placeholder by ``images[placeholder]`` (KeyError for an unknown one)."""
    values = {**names, FOLDER: notebooks}
    line = ROLE.sub(lambda found: values[found.group(1)], line)
    return IMAGE.sub(lambda found: images[found.group(0)], line)


def solution_lines(task: tasks.Task, names: Mapping[str, str] | None = None) -> list[str]:
    """``task``'s solution ready to run: its own names (or ``names``), this engine's images
    (built as stand-ins if missing, through :func:`helpers.resolver.resolve`) and the absolute
    notebooks folder."""
    from helpers import resolver

    wanted = {**task.names, **(names or {})}
    used = {image for line in task.solution for image in IMAGE.findall(line)}
    images = {image: resolver.resolve(tasks.PLACEHOLDERS[image]).reference for image in used}
    return [filled_in(line, wanted, images, str(NOTEBOOKS_DIR)) for line in task.solution]


def run_solution(task: tasks.Task, cwd: Path,
                 names: Mapping[str, str] | None = None) -> list[tuple[str, float]]:
    """Run ``task``'s solution line by line with bash in ``cwd``, as a learner types it.

    Returns (line, seconds) per line. Raises AssertionError naming the line, its exit status
    and the tail of its output when a line exits non-zero (or runs past LINE_TIMEOUT).
    """
    timings = []
    for line in solution_lines(task, names):
        started = time.monotonic()
        try:
            done = subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True,
                                  timeout=LINE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{task.id}: `{line}` ran past {LINE_TIMEOUT} s") from None
        if done.returncode != 0:
            raise AssertionError(f"{task.id}: `{line}` exited {done.returncode}:\n"
                                 f"{(done.stdout + done.stderr)[-1500:]}")
        timings.append((line, time.monotonic() - started))
    return timings
