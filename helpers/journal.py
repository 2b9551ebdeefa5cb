"""The journal: the equivalent ``docker …`` command line of every action the helpers take.

Learners are here to learn the CLI, so every helper that acts on the engine writes the command
a person would type. Notebooks show it beside the result, and notebook 10 builds its command
recap from the journal file that every notebook appends to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import labels, settings


@dataclass(frozen=True)
class Command:
    """One CLI line, the notebook that ran it, and how it went."""

    cli: str
    notebook: str
    ok: bool = True
    seconds: float = 0.0
    at: float = field(default_factory=time.time)


_captures: list[list[Command]] = []
_problem: str = ""  # why the journal file could not be written, once it could not


def journal_path() -> Path:
    return settings.state_dir() / "journal.jsonl"


def record(cli: str, *, ok: bool = True, seconds: float = 0.0) -> Command:
    """Note one command; also hand it to any open :func:`capture` (replay stores those)."""
    command = Command(cli=cli, notebook=labels.current_notebook(), ok=ok,
                      seconds=round(seconds, 3))
    append(command)
    return command


def append(command: Command) -> None:
    """Hand the command to open captures and append it to the journal file.

    The file is a convenience (notebook 10's recap): when it cannot be written (a full or
    read-only state folder), the action still runs and :func:`problem` says why.
    """
    global _problem
    for captured in _captures:
        captured.append(command)
    try:
        with journal_path().open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(command)) + "\n")
    except OSError as exc:
        from .files import os_error_text

        _problem = os_error_text(exc)


def problem() -> str:
    """Why the journal file could not be written (``""`` when it could)."""
    return _problem


@contextmanager
def capture() -> Iterator[list[Command]]:
    """Collect the commands recorded inside the block (used to show them and to record them)."""
    captured: list[Command] = []
    _captures.append(captured)
    try:
        yield captured
    finally:
        _captures.remove(captured)


def read(notebook: str | None = None) -> list[Command]:
    """Every journalled command, oldest first; unreadable lines are skipped, not fatal."""
    try:
        path = journal_path()
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except OSError:
        return []
    commands = []
    for line in text.splitlines():
        try:
            command = Command(**json.loads(line))
        except (ValueError, TypeError):
            continue
        if notebook is None or command.notebook == notebook:
            commands.append(command)
    return commands


def forget(notebook: str | None = None) -> None:
    """Drop a notebook's lines (a re-run from the top starts its recap afresh).

    Best effort, like :func:`append`: an unwritable state folder is noted in :func:`problem`.
    """
    global _problem
    from .files import os_error_text, write_text

    try:
        path = journal_path()
        if not path.exists():
            return
        if notebook is None:
            path.unlink()
            return
        kept = [c for c in read() if c.notebook != notebook]
        write_text(path, "".join(json.dumps(asdict(c)) + "\n" for c in kept))
    except OSError as exc:
        _problem = os_error_text(exc)
