"""Every "Your turn" task done, then its notebook run live: each check shows ✔, no cell fails.

For one notebook: run the notebook live with nbclient, cell by cell, and just before each
``tasks.check(...)`` cell run that task's solution (tests/task_solutions.py) with the task's OWN
names (my-box, mydata …), in a scratch folder, the way a learner types it at that point; then
demand the ✔ line under every check cell. Progress goes to a temporary progress file (the
machine's own is untouched). Afterwards ``tasks.remove_my_objects(NN)`` removes what the
solutions made, even when something failed, and the test checks that nothing is left.

The task names are fixed, so the test refuses to start when one of them already exists (it
never removes what it did not make). Notebooks 02, 07, 08 and 09 publish port 5000 and use the
tag flask-app:1.0: their run holds the lock /tmp/course-port5000.lock, like ``flock`` does.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from task_solutions import run_solution

from helpers import notebook_runner, tasks

NOTEBOOKS = [f"{number:02d}" for number in range(1, 10)]
PORT_5000 = {"02", "07", "08", "09"}
PORT_5000_LOCK = Path("/tmp/course-port5000.lock")
REMOVE = {"project": "compose -p {} down -v", "container": "rm -f {}",
          "network": "network rm {}", "volume": "volume rm {}",
          "image": "image rm {}"}  # in removal order


@contextlib.contextmanager
def port_5000_lock(notebook: str) -> Iterator[None]:
    """Hold the shared port-5000 lock while a notebook that publishes port 5000 runs."""
    if notebook not in PORT_5000:
        yield
        return
    handle = os.open(PORT_5000_LOCK, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing the last descriptor releases the lock


def task_objects(notebook: str) -> list[tuple[str, str]]:
    """(kind, name) of every object the notebook's tasks make, with the tasks' own names, in
    an order they can be removed in (containers first, images last)."""
    found = []
    for task in tasks.all_tasks(notebook):
        for kind, role in task.objects:
            if (kind, task.names[role]) not in found:
                found.append((kind, task.names[role]))
    return sorted(found, key=lambda item: list(REMOVE).index(item[0]))


def existing(objects: list[tuple[str, str]]) -> list[str]:
    """Which of ``objects`` the engine has ("kind name"), asked with `docker inspect --type`."""
    def there(kind: str, name: str) -> bool:
        if kind == "project":  # a Compose project is its containers' label, not an object
            listed = subprocess.run(["docker", "compose", "ls", "--all", "--quiet", "--filter",
                                     f"name={name}"], capture_output=True, text=True,
                                    check=False).stdout.split()
            return name in listed
        return subprocess.run(["docker", "inspect", "--type", kind, name], capture_output=True,
                              check=False).returncode == 0

    return [f"{kind} {name}" for kind, name in objects if there(kind, name)]


def check_cells(notebook) -> dict[str, int]:
    """Task id → the number of the code cell that runs ``tasks.check("<id>")``."""
    cells = {}
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            for task in tasks.all_tasks():
                if f'tasks.check("{task.id}")' in cell.source:
                    cells[task.id] = number
    return cells


def shown(cell) -> str:
    """The plain text a code cell shows: streams, display data and results."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def run_live(path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch, scratch: Path,
             timings: dict[str, float]):
    """Execute the notebook live with nbclient, cell by cell (as helpers.notebook_runner does
    in one go), doing each task's solution just before its check cell runs, as a learner
    would at that point (05's tasks need the registry the notebook started). Returns the
    notebook with its outputs; AssertionError with the failing cell's tail when a cell raises.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("COURSE_MODE", "live")
    monkeypatch.setenv("COURSE_NOTEBOOK_FILE", str(path.resolve()))
    # only the progress file is the test's own: the state folder's record of what the course
    # built stays shared, so the notebook may rebuild images an earlier run made
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(state_dir / "tasks.json"))
    notebook = nbformat.read(path, as_version=4)
    before = {number: task_id for task_id, number in check_cells(notebook).items()}
    client = NotebookClient(notebook, timeout=notebook_runner.CELL_TIMEOUT,
                            kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for number, cell in enumerate(notebook.cells):
            if number in before:
                started = time.monotonic()
                run_solution(tasks.get(before[number]), scratch)
                timings["solutions"] = timings.get("solutions", 0.0) + time.monotonic() - started
            try:
                client.execute_cell(cell, number)
            except CellExecutionError as exc:
                raise AssertionError(f"{path.name}: cell {number} failed with every task "
                                     f"done:\n{str(exc)[-2500:]}") from None
    return notebook


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_with_every_task_done(notebook, tmp_path, monkeypatch):
    todo = tasks.all_tasks(notebook)
    if not todo:
        pytest.skip(f"notebook {notebook} has no registered task yet")
    lacking = [task.id for task in todo if not task.solution]
    assert not lacking, f"no solution to run for {', '.join(lacking)}"
    path = notebook_runner.notebooks([notebook])[0]
    objects = task_objects(notebook)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    timings = {}
    started = time.monotonic()
    with port_5000_lock(notebook):
        timings["lock"] = time.monotonic() - started
        there = existing(objects)
        if there:
            removal = "; ".join(f"docker {REMOVE[kind].format(name)}" for kind, name in objects
                                if f"{kind} {name}" in there)
            pytest.fail(f"{', '.join(there)} already exist(s): this test uses the tasks' own "
                        f"names and removes only what it made. If they are yours to lose: "
                        f"`{removal}`, then run it again.")
        monkeypatch.setenv("COURSE_MODE", "live")
        try:
            started = time.monotonic()
            (tmp_path / "state").mkdir()
            done = run_live(path, tmp_path / "state", monkeypatch, scratch, timings)
            timings["notebook"] = time.monotonic() - started - timings.get("solutions", 0.0)
        finally:
            tasks.remove_my_objects(notebook)
        left = existing(objects)
    print(f"{notebook}: port-5000 lock waited {timings['lock']:.1f} s, solutions "
          f"{timings['solutions']:.1f} s, notebook run {timings['notebook']:.1f} s")
    cells = check_cells(done)
    missing = [task.id for task in todo if task.id not in cells]
    assert not missing, f"{path.name} has no check cell for {missing}: their solutions never ran"
    for task in todo:
        assert task.id in cells, f"{path.name} has no cell that runs tasks.check(\"{task.id}\")"
        text = shown(done.cells[cells[task.id]])
        assert f"✔ {task.id} done:" in text and "not yet" not in text, \
            f"{task.id} with its solution done:\n{text}"
    recorded = tasks.load()  # the test's own progress file
    assert all(recorded.get(task.id, {}).get("passed_at") for task in todo), recorded
    assert not left, f"left behind after remove_my_objects: {', '.join(left)}"
