"""Record a helper call, then replay it with no engine: same result, same CLI lines, same error."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from helpers import errors, journal, replay, settings
from helpers.display import FactsView


@dataclass
class Answer(FactsView):
    value: int
    size_bytes: int


@replay.action
def add(a: int, b: int) -> Answer:
    journal.record(f"docker run --rm calc {a}+{b}")
    return Answer(value=a + b, size_bytes=1234)


@replay.action
def broken() -> None:
    journal.record("docker build -t broken .")
    raise errors.BuildFailed("step 2 failed", step="2", command="RUN false", hint="fix it",
                             log_tail="boom")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "RECORDINGS_DIR", tmp_path / "recordings")
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def test_record_then_replay_gives_the_same_results(isolated, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COURSE_MODE", "record")
    replay.begin("zz")
    assert add(2, 3) == Answer(5, 1234)
    with pytest.raises(errors.BuildFailed):
        broken()
    saved = json.loads((isolated / "recordings" / "zz.json").read_text())
    assert [call["call"] for call in saved["calls"]] == ["add", "broken"]

    monkeypatch.setenv("COURSE_MODE", "replay")
    replay.begin("zz")
    assert add(100, 100) == Answer(5, 1234)  # the recorded result, not a new computation
    with pytest.raises(errors.BuildFailed, match="step 2 failed") as failure:
        broken()
    assert failure.value.log_tail == "boom"
    assert failure.value.step == "2" and failure.value.command == "RUN false"
    assert [c.cli for c in journal.read("zz")] == ["docker run --rm calc 2+3",
                                                   "docker build -t broken ."]
    assert "$ docker run --rm calc 2+3" in capsys.readouterr().out


def test_replay_without_recording_tells_the_maintainer_what_to_do(isolated, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_MODE", "replay")
    with pytest.raises(errors.ReplayMissing, match="No recording") as failure:
        replay.begin("nothing-here")
    assert "make record" in failure.value.hint


def test_replay_past_the_end_or_out_of_order_is_clear(isolated, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_MODE", "record")
    replay.begin("zz")
    add(1, 1)
    monkeypatch.setenv("COURSE_MODE", "replay")
    replay.begin("zz")
    with pytest.raises(errors.ReplayMissing, match="expected add"):
        broken()
    replay.begin("zz")
    add(1, 1)
    with pytest.raises(errors.ReplayMissing, match="ends before"):
        add(1, 1)


def test_stale_recording_is_detected(isolated, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_MODE", "record")
    monkeypatch.setattr(replay, "code_hash", lambda notebook: "old")
    replay.begin("zz")
    add(1, 2)
    monkeypatch.setattr(replay, "code_hash", lambda notebook: "new")
    monkeypatch.setenv("COURSE_MODE", "replay")
    with pytest.raises(errors.ReplayMissing, match="older than the notebook"):
        replay.begin("zz")


def test_facts_view_renders_readable_sizes() -> None:
    html = Answer(5, 183_086_264)._repr_html_()
    assert "183 MB" in html and "size bytes" in html


def test_run_results_are_remembered_and_fall_back_to_the_recording(isolated,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("COURSE_MODE", "record")
    replay.begin("zz")
    add(1, 2)
    add(3, 4)
    assert replay.run_results("zz")["add"] == [Answer(3, 1234), Answer(7, 1234)]
    replay.results_path("zz").unlink()
    assert replay.run_results("zz")["add"] == [Answer(3, 1234), Answer(7, 1234)]  # recording
    assert replay.run_results("never-ran") == {}
    replay.begin("zz")  # a new run from the top starts afresh
    add(5, 5)
    assert replay.run_results("zz")["add"] == [Answer(10, 1234)]
