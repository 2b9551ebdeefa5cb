"""The task registry and the progress file: pure, no engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import settings, tasks
from helpers.session import actions
from helpers.tasks import progress, registry


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_every_notebook_of_part_one_has_its_tasks():
    counts = {nb: len(tasks.all_tasks(nb)) for nb in ("01", "03", "06", "07", "09")}
    assert counts["01"] >= 1 and all(counts[nb] >= 2 for nb in ("03", "06", "07", "09"))
    for task in tasks.all_tasks():
        assert task.id.startswith(task.notebook + ".")
        assert task.goal and task.names and task.check.__doc__
        for _, role in task.objects:
            assert role in task.names, task.id
        for name in task.names.values():  # learner names never look like the course's own
            assert not name.startswith("course-"), name


def test_ids_are_checked():
    with pytest.raises(ValueError):
        registry.register("6.x", goal="g", names={})
    with pytest.raises(KeyError, match="known"):
        tasks.get("99.nothing")


def test_progress_keeps_the_first_pass(state):
    first = tasks.Verdict("06.keep-a-file", True, "ok")
    progress.save_verdict(first, at="2026-01-01T10:00:00+0000")
    progress.save_verdict(tasks.Verdict("06.keep-a-file", False, "gone"),
                          at="2026-01-02T10:00:00+0000")
    entry = progress.load()["06.keep-a-file"]
    assert entry["passed_at"] == "2026-01-01T10:00:00+0000"
    assert entry["last_checked"] == "2026-01-02T10:00:00+0000" and not entry["last_passed"]
    rows = {row["task"]: row for row in progress.rows()}
    assert rows["06.keep-a-file"]["status"] == "passed"
    assert rows["01.memory-limit"]["status"] == "not yet"
    assert rows["01.memory-limit"]["passed_at"] == ""


def test_a_failed_check_is_not_a_pass():
    progress.save_verdict(tasks.Verdict("03.paused", False, "is running, not paused"))
    assert {r["task"]: r["status"] for r in progress.rows("03")}["03.paused"] == "not yet"


def test_an_unreadable_progress_file_reads_as_empty(state):
    state.mkdir(parents=True, exist_ok=True)
    (state / "tasks.json").write_text("{not json", encoding="utf-8")
    assert progress.load() == {}
    assert all(row["status"] == "not yet" for row in progress.rows())


def test_verdict_text():
    assert tasks.Verdict("01.x", True, "fine").text() == "01.x done: fine"
    assert tasks.Verdict("01.x", False, "wrong.", "do this.").text() == \
        "01.x not yet: wrong. Hint: do this."


def test_replay_never_runs_a_check_nor_shows_a_tick(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(actions, "_session", actions.Session(mode="replay"))
    task = tasks.get("06.keep-a-file")
    monkeypatch.setitem(registry.TASKS, task.id, registry.Task(
        id=task.id, notebook="06", goal="g", names=task.names,
        check=lambda names: ran.append(names) or task.verdict(True, "yes")))
    tasks.check("06.keep-a-file")
    out = capsys.readouterr().out
    assert not ran and "✔" not in out and "needs a live Docker Engine" in out
    assert progress.load() == {}
    assert tasks.remove_my_objects("06") == []


def test_remove_my_objects_names_only_the_tasks_objects(monkeypatch):
    monkeypatch.setattr(actions, "_session", actions.Session(mode="live"))
    assert tasks.remove_my_objects("06", dry_run=True) == [
        "container my-writer", "container my-reader", "volume mydata"]


def test_cli_progress_json(state):
    progress.save_verdict(tasks.Verdict("07.reach-by-name", True, "ok"),
                          at="2026-03-01T09:00:00+0000")
    done = subprocess.run([sys.executable, "-m", "helpers", "progress", "--json"],
                          capture_output=True, text=True, check=True,
                          cwd=settings.PROJECT_ROOT,
                          env={**os.environ, "COURSE_STATE_DIR": str(state)})
    found = {row["task"]: row for row in json.loads(done.stdout)}
    assert found["07.reach-by-name"]["status"] == "passed"
    assert found["07.reach-by-name"]["passed_at"] == "2026-03-01T09:00:00+0000"
    assert found["09.fixed-image"]["status"] == "not yet"
    text = subprocess.run([sys.executable, "-m", "helpers", "progress"], capture_output=True,
                          text=True, check=True, cwd=settings.PROJECT_ROOT,
                          env={**os.environ, "COURSE_STATE_DIR": str(state)})
    assert text.stdout.startswith("1 of ") and "07.reach-by-name" in text.stdout
