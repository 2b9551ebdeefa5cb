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


def journal_path() -> Path:
    return settings.state_dir() / "journal.jsonl"


def record(cli: str, *, ok: bool = True, seconds: float = 0.0) -> Command:
    """Note one command; also hand it to any open :func:`capture` (replay stores those)."""
    command = Command(cli=cli, notebook=labels.current_notebook(), ok=ok,
                      seconds=round(seconds, 3))
    append(command)
    return command


def append(command: Command) -> None:
    for captured in _captures:
        captured.append(command)
    with journal_path().open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(command)) + "\n")


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
    path = journal_path()
    if not path.exists():
        return []
    commands = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            command = Command(**json.loads(line))
        except (ValueError, TypeError):
            continue
        if notebook is None or command.notebook == notebook:
            commands.append(command)
    return commands


def forget(notebook: str | None = None) -> None:
    """Drop a notebook's lines (a re-run from the top starts its recap afresh)."""
    path = journal_path()
    if not path.exists():
        return
    if notebook is None:
        path.unlink()
        return
    kept = [c for c in read() if c.notebook != notebook]
    path.write_text("".join(json.dumps(asdict(c)) + "\n" for c in kept), encoding="utf-8")
