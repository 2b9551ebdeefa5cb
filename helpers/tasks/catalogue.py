"""Every registered task, looked up by id or by notebook.

Importing this module imports :mod:`helpers.tasks.checks`, whose modules register their tasks
with :mod:`helpers.tasks.registry`; the registry itself imports no check, so nothing imports
in a circle.
"""

from __future__ import annotations

from . import checks  # noqa: F401  (registers the tasks)
from .registry import TASKS, Task


def get(task_id: str) -> Task:
    """The task ``task_id``; a KeyError that lists the known ids otherwise."""
    try:
        return TASKS[task_id]
    except KeyError:
        raise KeyError(f"no task {task_id!r}; known: {', '.join(sorted(TASKS))}") from None


def all_tasks(notebook: str | None = None) -> list[Task]:
    """Every task (of one notebook), in notebook and registration order."""
    found = [t for t in TASKS.values() if notebook is None or t.notebook == notebook]
    return sorted(found, key=lambda t: t.notebook)
