"""A ``docker run`` that waits for its container writes its journal line once the exit code is
known: a command that fails (on purpose or not) is journaled as failed, as the shell sees it."""

from __future__ import annotations

from helpers import journal
from helpers.engine import containers


def test_the_exit_code_decides_the_journal_line(scope: str, shell_image: str) -> None:
    before = len(journal.read())
    code, _, _ = containers.run_once(shell_image, ["sh", "-c", "exit 3"])
    assert code == 3
    code, output, _ = containers.run_once(shell_image, ["echo", "fine"])
    assert code == 0 and output.strip() == "fine"
    lines = journal.read()[before:]
    assert [(line.ok, line.cli.startswith("docker run --rm")) for line in lines] == \
        [(False, True), (True, True)], lines
    assert "exit 3" in lines[0].cli and all(line.seconds > 0 for line in lines)
