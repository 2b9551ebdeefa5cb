"""Every task has a solution the live harness can run, and it does what the notebook's hint
cell tells the learner: pure, no engine (the harness is tests/live/test_tasks_done.py)."""

from __future__ import annotations

import nbformat
import pytest
from task_solutions import ROLE, filled_in, unknown_placeholders

from helpers import notebook_runner, tasks

# Task ids registered before their solution was written: each fails the test below, as
# expected, until its solution lands (then strict xfail makes it fail again: drop it here).
WITHOUT_SOLUTION_YET: set[str] = set()

IMAGES = {placeholder: placeholder for placeholder in tasks.PLACEHOLDERS}


def every_task():
    return [pytest.param(task, id=task.id,
                         marks=[pytest.mark.xfail(strict=True, reason="no solution yet")]
                         if task.id in WITHOUT_SOLUTION_YET else [])
            for task in tasks.all_tasks()]


@pytest.mark.parametrize("task", every_task())
def test_every_task_has_a_runnable_solution(task):
    assert task.solution, f"{task.id} has no solution"
    assert all(line.strip() for line in task.solution), task.solution
    assert not unknown_placeholders(task), f"{task.id}: {unknown_placeholders(task)}"
    used = {role for line in task.solution for role in ROLE.findall(line)}
    made = {role for _, role in task.objects}
    assert made <= used, f"{task.id}'s solution never names {sorted(made - used)}"


def test_placeholders_are_told_apart_from_templates_and_shell_variables():
    line = ("docker inspect --format '{{.State.Status}}' {container} && echo ${PORT} "
            "{notebooks}/x <shell-image>")
    assert ROLE.findall(line) == ["container", "notebooks"]
    assert filled_in(line, {"container": "my-box"}, {"<shell-image>": "busybox"}, "/nb") == (
        "docker inspect --format '{{.State.Status}}' my-box && echo ${PORT} /nb/x busybox")
    with pytest.raises(KeyError):
        filled_in("{volume}", {"container": "my-box"}, {}, "/nb")


def hint_commands(task: tasks.Task) -> list[str]:
    """The ``# !docker …`` lines of the code cell before the task's check cell, as a learner
    types them in a terminal opened in notebooks/ (images as placeholders)."""
    path = notebook_runner.notebooks([task.notebook])[0]
    cells = nbformat.read(path, as_version=4).cells
    numbers = [i for i, cell in enumerate(cells)
               if cell.cell_type == "code" and f'tasks.check("{task.id}")' in cell.source]
    assert numbers, f"{path.name} has no cell that runs tasks.check(\"{task.id}\")"
    number = numbers[0]
    lines = [line.strip()[3:] for line in cells[number - 1].source.splitlines()
             if line.strip().startswith("# !docker ")]
    # IPython fills {shell.reference} in a `!` line and halves doubled braces
    return [line.replace("{shell.reference}", "<shell-image>")
                .replace("{python.reference}", "<python-image>")
                .replace("{{", "{").replace("}}", "}") for line in lines]


@pytest.mark.parametrize("task", [t for t in tasks.all_tasks() if t.solution],
                         ids=lambda task: task.id)
def test_the_solution_does_what_the_hint_cell_says(task):
    typed = [filled_in(line.replace("{notebooks}/", ""), task.names, IMAGES, "")
             for line in task.solution]
    hints = hint_commands(task)
    assert hints, f"no `# !docker …` hint cell before tasks.check(\"{task.id}\")"
    for hint in hints:
        assert any(hint in line for line in typed), f"{task.id}: `{hint}` not in {typed}"
