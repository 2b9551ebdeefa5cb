"""Notebook 10's recap and dashboard, from a journal and results made in the test."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import journal, labels, session, settings
from helpers.lessons import recap
from helpers.lessons.isolation import MemoryLimitResult
from helpers.lessons.two_tier import StartupRace


@pytest.mark.parametrize(("cli", "verb"), [
    ("docker run -d --name web -p 127.0.0.1:5000:5000 app:1", "docker run"),
    ("docker volume create data", "docker volume create"),
    ("docker compose -p course-08 --env-file x.env -f compose.yaml up -d", "docker compose up"),
    ("docker compose -p course-08 -f compose.yaml down -v", "docker compose down"),
    ("for i in $(seq 10); do time docker run --rm busybox true; done", "docker run"),
    ("python -m helpers scan app.tar", "python -m helpers scan"),
    ("curl -X POST http://127.0.0.1:5000/api/messages", "curl"),
    ("", ""),
])
def test_command_verb(cli: str, verb: str) -> None:
    assert recap.command_verb(cli) == verb


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(settings, "RECORDINGS_DIR", tmp_path / "recordings")
    monkeypatch.setenv("COURSE_MODE", "live")
    return tmp_path


def test_recap_groups_and_counts_the_journal(isolated) -> None:
    labels.set_notebook("02")
    journal.record("docker build -t app:1 .")
    journal.record("docker run -d --name web app:1")
    labels.set_notebook("06")
    journal.record("docker run --rm -v data:/data busybox ls /data")
    table = recap.command_recap.__wrapped__()
    assert table.loc["docker run", "times"] == 2
    assert table.loc["docker run", "notebooks"] == "02, 06"
    assert table.loc["docker build", "example"] == "docker build -t app:1 ."
    assert table.index[0] == "docker run"  # most used first


def test_dashboard_reads_each_notebooks_results(isolated) -> None:
    session.begin("01")
    session.remember("start_latency", pd.DataFrame({"seconds": [0.2, 0.4, 0.3]}))
    session.remember("memory_limit", MemoryLimitResult(64, 256, 137, True, ""))
    session.begin("07")
    session.remember("startup_race", StartupRace("web", "db", 1.0, 2.5, 4.0, 3, "waiting", "up", 0))
    board = recap.dashboard.__wrapped__()
    latency = board[board["measure"] == "container start, median"]
    assert latency["value"].iloc[0] == "300 ms"
    assert board[board["measure"] == "database ready after"]["number"].iloc[0] == 2.5
    assert (board[board["notebook"] == "05"]["measure"] == "not run yet").all()


def test_recap_lists_docker_commands_only_with_a_copyable_example(isolated) -> None:
    labels.set_notebook("01")
    journal.record("for i in $(seq 3); do time docker run --rm busybox true; done")
    journal.record("docker run --rm busybox uname -r")
    journal.record("docker logs web 2>&1 | grep waiting")
    journal.record("curl http://127.0.0.1:5000/health")
    journal.record("tar tvf backup.tar")
    journal.record("docker compose -p c logs")
    table = recap.command_recap.__wrapped__()
    assert set(table.index) == {"docker run", "docker logs", "docker compose logs"}
    assert table.loc["docker run", "example"] == "docker run --rm busybox uname -r"
    assert table.loc["docker run", "times"] == 2
    # no plain line for it: the first line, as it ran
    assert table.loc["docker logs", "example"] == "docker logs web 2>&1 | grep waiting"
