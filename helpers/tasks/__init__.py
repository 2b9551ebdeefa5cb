""""Your turn" tasks: the learner types the docker commands, a check reads the engine state.

A notebook states a task's goal and names in a markdown cell, offers a commented ``# !docker …``
hint, then calls :func:`check`, which shows ``✔ done`` or ``not yet: <what is wrong>. Hint: …``
and never raises, so a notebook runs through with its tasks undone. In replay a task says it
needs a live engine and where to get one; its check is not run and never shows ✔.

Progress (which tasks passed here, and when) is kept in the state folder
(:mod:`.progress`); notebook 10 and ``python -m helpers progress`` show it. What a learner makes
for a task is theirs: the course's cleanup never removes it, only :func:`remove_my_objects`
does, when a learner calls it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from .catalogue import all_tasks, get
from .progress import load, progress_path, rows, save_verdict
from .registry import TASKS, Task, Verdict

__all__ = ["TASKS", "Task", "Verdict", "all_tasks", "check", "get", "load", "progress_path",
           "progress_table", "remove_my_objects", "rows", "run_check", "save_verdict",
           "show_progress"]

PLACEHOLDERS = {"<shell-image>": "shell", "<python-image>": "python",
                "<database-image>": "database"}


def _in_replay() -> bool:
    from ..session import session

    return session().mode == "replay"


def _images_named(text: str) -> str:
    """Hints name the course's images by placeholder; put this engine's references in."""
    from .. import resolver

    for placeholder, key in PLACEHOLDERS.items():
        if placeholder in text:
            # no such image here yet: the placeholder stays readable
            with contextlib.suppress(Exception):
                text = text.replace(placeholder,
                                    resolver.resolve(key, allow_build=False).reference)
    return text


def run_check(task_id: str, names: Mapping[str, str] | None = None, *,
              record: bool = True) -> Verdict:
    """Run the check of ``task_id`` on the live engine and return its verdict (no display).

    ``names`` replaces some of the task's names (tests use their own). A passing or failing
    verdict is noted in the progress file when ``record`` and the names are the task's own.
    A check that cannot reach the engine is "not yet", with the engine's reason.
    """
    from ..errors import CourseError

    task = get(task_id)
    wanted = {**task.names, **(names or {})}
    try:
        verdict = task.check(wanted)
    except CourseError as exc:
        verdict = task.verdict(False, exc.message, exc.hint)
    except Exception as exc:  # docker SDK and OS errors: a "not yet" with the reason
        from ..engine.failures import translate

        engine_error = translate(exc) if isinstance(exc, OSError) else None
        if engine_error is not None:
            verdict = task.verdict(False, engine_error.message, engine_error.hint)
        else:
            verdict = task.verdict(False, f"the check could not read the engine "
                                          f"({type(exc).__name__}: {str(exc)[:200]}).",
                                   "is the Docker Engine running? Try `docker info`.")
    verdict = Verdict(task=verdict.task, passed=verdict.passed,
                      message=_images_named(verdict.message), hint=_images_named(verdict.hint))
    if record and wanted == dict(task.names):
        save_verdict(verdict)
    return verdict


def check(task_id: str, names: Mapping[str, str] | None = None) -> None:
    """The notebook's check cell: show ``✔ done`` or ``not yet: … Hint: …``; never raises.

    Returns nothing, so the cell shows the one line only (:func:`run_check` returns the
    verdict). In replay the check is not run: a note says the task needs a live engine, and
    where to get one (never a ✔).
    """
    from .. import display

    task = get(task_id)
    if _in_replay():
        from ..session import live_options

        display.note(f"Your turn ({task.id}) needs a live Docker Engine: the recorded session "
                     f"cannot check what you do. To do it for real, {live_options()}.",
                     kind="task")
        return
    verdict = run_check(task_id, names)
    display.note(verdict.text(), kind="ok" if verdict.passed else "warn")


def progress_table(notebook: str | None = None):
    """The tasks passed in this environment (and when), as a DataFrame indexed by task.

    Columns: ``notebook``, ``status`` ("passed" / "not yet"), ``passed_at`` (ISO 8601 local
    time of the first passing check, "" when not yet) and ``goal``. Only live checks of this
    machine count: nothing comes from a recorded session. When each task was last checked is in
    ``python -m helpers progress --json`` (``last_checked``), not here: a table that changes
    with every check, passed or not, would say nothing more to the learner.
    """
    import pandas as pd

    frame = pd.DataFrame(rows(notebook), columns=["task", "notebook", "status", "passed_at",
                                                  "goal"])
    return frame.set_index("task")


def show_progress(notebook: str | None = None):
    """Notebook 10's table of tasks passed here, under a note that says where it comes from.

    The table is read from this machine's progress file (live checks only); nothing in it
    comes from a recorded session. In replay the note says so and where to do the tasks live.
    """
    from .. import display

    table = progress_table(notebook)
    done = int((table["status"] == "passed").sum())
    if _in_replay():
        from ..session import live_options

        display.note(f"Your tasks: {done} of {len(table)} passed on this machine. The tasks are "
                     "checked on a live engine only, never from the recorded session; to do "
                     f"them, {live_options()}.", kind="task")
    else:
        display.note(f"Your tasks: {done} of {len(table)} passed, checked live on this machine "
                     f"(kept in {progress_path()}; nothing here comes from a recorded session). "
                     "`python -m helpers progress --json` prints the same.", kind="info")
    return table


def remove_my_objects(notebook: str, *, dry_run: bool = False) -> list[str]:
    """Remove, by name, what the learner made for ``notebook``'s tasks ("kind name" list).

    Only a notebook's cleanup cell offers this, naming every object; the course's own cleanup
    never touches them. With ``dry_run`` nothing is removed: the list says what would be.
    """
    from .. import display

    order = {"project": 0, "container": 1, "network": 2, "volume": 3, "image": 4}
    wanted: list[tuple[str, str]] = []
    for task in all_tasks(notebook):
        for kind, role in task.objects:
            item = (kind, task.names[role])
            if item not in wanted:
                wanted.append(item)
    wanted.sort(key=lambda item: order[item[0]])
    if _in_replay():
        display.note("Nothing of yours to remove: no Docker Engine runs here (replay).",
                     kind="task")
        return []
    if dry_run:
        return [f"{kind} {name}" for kind, name in wanted]
    from ..engine.learner import remove_by_name

    removed = [f"{kind} {name}" for kind, name in wanted if remove_by_name(kind, name)]
    display.note("Removed: " + (", ".join(removed) if removed else "nothing (none of them was "
                                "there)."), kind="info")
    return removed
