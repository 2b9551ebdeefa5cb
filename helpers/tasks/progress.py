"""Which tasks passed in this environment, and when: a JSON file in the state folder.

Only a live check writes here; replay never does, so the file never mixes in anything recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from .. import settings
from .catalogue import all_tasks
from .registry import Verdict


def progress_path() -> Path:
    """``COURSE_PROGRESS_FILE`` if set, else ``<state folder>/tasks.json``.

    The strict replay tests set it to ``/dev/null`` (nothing passed), so the progress table
    they compare does not depend on what was done on the machine before.
    """
    override = os.environ.get("COURSE_PROGRESS_FILE")
    return Path(override) if override else settings.state_dir() / "tasks.json"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def load() -> dict[str, dict[str, Any]]:
    """Task id → ``{passed_at, last_checked, last_passed, last_message}``; {} when unreadable."""
    try:
        data = json.loads(progress_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_verdict(verdict: Verdict, *, at: str | None = None) -> None:
    """Note one live check's verdict; the first pass keeps its time (``passed_at``)."""
    from ..files import write_text

    data = load()
    when = at or _now()
    entry = data.get(verdict.task) if isinstance(data.get(verdict.task), dict) else {}
    entry = dict(entry or {})
    entry.update(last_checked=when, last_passed=verdict.passed, last_message=verdict.message)
    if verdict.passed and not entry.get("passed_at"):
        entry["passed_at"] = when
    data[verdict.task] = entry
    # progress is a convenience: a read-only state folder must not break a check
    with contextlib.suppress(OSError):
        write_text(progress_path(), json.dumps(data, indent=1, sort_keys=True) + "\n")


def rows(notebook: str | None = None) -> list[dict[str, Any]]:
    """One row per task: id, notebook, goal, status ("passed"/"not yet"), passed at, checked."""
    data = load()
    found = []
    for task in all_tasks(notebook):
        entry = data.get(task.id) or {}
        passed_at = str(entry.get("passed_at") or "")
        found.append({"task": task.id, "notebook": task.notebook, "goal": task.goal,
                      "status": "passed" if passed_at else "not yet", "passed_at": passed_at,
                      "last_checked": str(entry.get("last_checked") or ""),
                      "last_message": str(entry.get("last_message") or "")})
    return found
