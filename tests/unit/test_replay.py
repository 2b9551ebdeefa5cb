"""Record helper calls, then replay them with no engine: looked up by call, in any order.

Also: a call that was not recorded gives a stand-in and a note, never a traceback or a ✔;
errors come back as their own class; notes shown inside a helper are replayed; result types
are found by name, not module path.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from helpers import display, errors, journal, session, settings
from helpers.display import FactsView
from helpers.session import cells, codec, keys, missing, recording

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Answer(FactsView):
    value: int
    size_bytes: int


class RefusedByRegistry(errors.CourseError):
    """An error class that lives outside helpers.errors (like PushFailed)."""

    def __init__(self, message: str, *, registry: str = "", hint: str = "",
                 log_tail: str = "") -> None:
        self.registry = registry
        super().__init__(message, hint=hint, log_tail=log_tail)


@session.action
def add(a: int, b: int = 1) -> Answer:
    journal.record(f"docker run --rm calc {a}+{b}")
    return Answer(value=a + b, size_bytes=1234)


@session.action
def broken() -> None:
    journal.record("docker build -t broken .")
    raise errors.BuildFailed("step 2 failed", step="2", command="RUN false", hint="fix it",
                             log_tail="boom")


@session.action
def push() -> None:
    journal.record("docker push 127.0.0.1:5000/app:1.0")
    raise RefusedByRegistry("the registry refused the push", registry="127.0.0.1:5000")


@session.action
def warned(port: int) -> int:
    display.note(f"port {port} was taken: using {port + 1}", kind="warn")
    return port + 1


@session.action
def total(answer: Answer) -> int:
    return answer.value * 10


@session.action
def build(tag: str, *, requirements: str = "requirements.txt") -> str:
    return f"{tag} with {requirements}"


@session.action
def scan(reference: str) -> str:
    return f"findings of {reference}"


counter = {"calls": 0}


@session.action
def visits() -> int:
    counter["calls"] += 1
    return counter["calls"]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RECORDINGS_DIR", str(tmp_path / "recordings"))
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("COURSE_NOTEBOOK_FILE", raising=False)
    session.reset()
    yield tmp_path
    session.reset()


def record(monkeypatch, notebook: str = "zz") -> None:
    monkeypatch.setenv("COURSE_MODE", "record")
    session.begin(notebook)


def replay(monkeypatch, notebook: str = "zz") -> None:
    monkeypatch.setenv("COURSE_MODE", "replay")
    session.begin(notebook)


def test_record_then_replay_in_any_order_as_often_as_wanted(isolated, monkeypatch,
                                                            capsys) -> None:
    record(monkeypatch)
    assert add(2, 3) == Answer(5, 1234)
    assert add(7) == Answer(8, 1234)
    saved = json.loads((isolated / "recordings" / "zz.json").read_text())
    assert saved["format"] == recording.FORMAT
    assert [(c["helper"], c["args"]) for c in saved["calls"]] == [
        ("add", {"a": 2, "b": 3}), ("add", {"a": 7, "b": 1})]

    replay(monkeypatch)
    capsys.readouterr()
    assert add(7) == Answer(8, 1234)  # the second call first
    assert add(2, b=3) == Answer(5, 1234)  # keyword or positional: the same call
    assert add(2, 3) == Answer(5, 1234)  # again: the same recorded result
    assert add(7, 1) == Answer(8, 1234)  # the default spelled out: the same call
    shown = capsys.readouterr().out
    assert shown.count("$ docker run --rm calc 2+3") == 2 and "⊘" not in shown
    assert [c.cli for c in journal.read("zz")][:2] == ["docker run --rm calc 7+1",
                                                       "docker run --rm calc 2+3"]


def test_a_call_that_was_not_recorded_gives_a_note_and_a_stand_in(isolated, monkeypatch,
                                                                  capsys) -> None:
    record(monkeypatch)
    add(2, 3)
    replay(monkeypatch)
    capsys.readouterr()
    result = add(2, 4)  # a changed argument: not recorded, never the result for (2, 3)
    note = capsys.readouterr().out
    assert "⊘ Not in the recorded session: test_replay.add(2, 4)" in note
    assert "codespaces.new" in note and "make lab" in note
    assert session.is_missing(result)
    assert session.is_missing(result.value) and session.is_missing(result.value + 1)
    for needs_the_value in (bool, str, float, len, list, lambda r: f"{r:.0f}"):
        with pytest.raises(missing.NeedsLiveEngine, match="Needs a live engine"):
            needs_the_value(result.value)
    assert "<not recorded" in repr(result) and result._repr_html_() is None  # the note says it
    missing.new_cell()
    assert "No result: test_replay.add(2, 4)" in result._repr_html_()  # in a later cell


def test_a_check_on_a_missing_result_is_never_green(isolated, monkeypatch, capsys) -> None:
    replay(monkeypatch)  # no recording at all
    result = add(1, 1)
    capsys.readouterr()
    display.check(result.value == 2, "two", "not two")  # the stand-in itself
    out = capsys.readouterr().out
    assert "⊘ Needs a live engine" in out and "✔" not in out
    missing.new_cell()
    with pytest.raises(missing.NeedsLiveEngine):  # `not` needs a truth value: ends the cell
        display.check(not result.value, "zero", "not zero")
    display.check(True, "a plain truth, but this cell used a stand-in", "…")
    out = capsys.readouterr().out
    assert "✔" not in out and "⊘ Needs a live engine" in out
    missing.new_cell()
    display.check(True, "green again", "…")  # a new cell that uses no stand-in
    assert "✔ green again" in capsys.readouterr().out


def test_a_helper_called_with_a_missing_result_does_not_look_it_up(isolated, monkeypatch,
                                                                    capsys) -> None:
    record(monkeypatch)
    answer = add(2, 3)
    assert total(answer) == 50
    replay(monkeypatch)
    assert total(add(2, 3)) == 50  # the replayed result is keyed like the live one was
    capsys.readouterr()
    derived = total(add(9, 9))
    out = capsys.readouterr().out
    assert session.is_missing(derived) and out.count("⊘") == 1  # one note: the first call


def test_what_a_not_recorded_call_would_have_made_is_not_read_from_the_recording(
        isolated, monkeypatch, capsys) -> None:
    record(monkeypatch)
    build("app:new", requirements="bumped.txt")
    scan("app:new")
    replay(monkeypatch)
    capsys.readouterr()
    assert session.is_missing(build("app:new", requirements="old.txt"))  # an edited build…
    assert session.is_missing(scan("app:new"))  # …so the recorded scan is not of this image
    out = capsys.readouterr().out
    assert "⊘ Not in the recorded session: test_replay.build('app:new'" in out
    build("app:new", requirements="bumped.txt")  # the edit undone: as recorded again
    assert scan("app:new") == "findings of app:new"


def test_the_same_call_twice_replays_each_result_and_each_cell_its_own(isolated,
                                                                      monkeypatch) -> None:
    counter["calls"] = 0
    record(monkeypatch)
    cells._start_cell("cell-a", "visits()")
    assert visits() == 1
    cells._start_cell("cell-b", "visits()")
    assert visits() == 2
    replay(monkeypatch)
    cells._start_cell(None, None)  # no cell ids (a script): recorded order
    assert [visits(), visits()] == [1, 2]
    cells._start_cell("cell-b", "visits()")  # re-run cell b, then a, then b again
    assert visits() == 2
    cells._start_cell("cell-a", "visits()")
    assert visits() == 1
    cells._start_cell("cell-b", "visits()")
    assert visits() == 2
    assert counter["calls"] == 2  # replay never ran the helper


def test_cells_are_found_by_source_in_order_when_the_kernel_gives_no_id(isolated, tmp_path,
                                                                        monkeypatch) -> None:
    notebook = {"cells": [{"cell_type": "code", "id": "first", "source": "visits()"},
                          {"cell_type": "markdown", "id": "text", "source": "visits()"},
                          {"cell_type": "code", "id": "second", "source": ["visits", "()\n"]}]}
    path = tmp_path / "zz_test.ipynb"
    path.write_text(json.dumps(notebook))
    monkeypatch.setenv("COURSE_NOTEBOOK_FILE", str(path))
    cells._start_cell(None, "visits()")
    assert cells.current_cell() == "first" and cells.current_cell() == "first"
    cells._start_cell(None, "visits()\n")
    assert cells.current_cell() == "second"
    cells._start_cell(None, "print()")
    assert cells.current_cell() is None


def test_errors_come_back_as_their_own_class_with_their_fields(isolated, monkeypatch) -> None:
    record(monkeypatch)
    with pytest.raises(errors.BuildFailed):
        broken()
    with pytest.raises(RefusedByRegistry):
        push()
    replay(monkeypatch)
    with pytest.raises(errors.BuildFailed, match="step 2 failed") as failure:
        broken()
    assert failure.value.log_tail == "boom" and failure.value.hint == "fix it"
    assert failure.value.step == "2" and failure.value.command == "RUN false"
    with pytest.raises(RefusedByRegistry) as refused:  # not a plain CourseError
        push()
    assert refused.value.registry == "127.0.0.1:5000"
    assert [c.cli for c in journal.read("zz")] == ["docker build -t broken .",
                                                   "docker push 127.0.0.1:5000/app:1.0"]


def test_notes_shown_inside_a_helper_are_replayed(isolated, monkeypatch, capsys) -> None:
    record(monkeypatch)
    assert warned(5000) == 5001
    assert "⚠ port 5000 was taken" in capsys.readouterr().out
    replay(monkeypatch)
    assert warned(5000) == 5001
    assert "⚠ port 5000 was taken: using 5001" in capsys.readouterr().out


def test_result_types_are_found_by_name_not_module_path() -> None:
    from helpers.resolver import ResolvedImage

    fields = {f: "x" for f in ResolvedImage.__dataclass_fields__}
    made = ResolvedImage(**fields)
    encoded = codec.encode(made)
    assert encoded["type"] == "ResolvedImage"
    moved = {**encoded, "module": "helpers.somewhere_else"}  # the class moved since
    assert codec.decode(moved) == made
    old_style = {"__type__": "dataclass", "class": "helpers.old_place:ResolvedImage",
                 "fields": encoded["fields"]}
    assert codec.decode(old_style) == made
    with pytest.raises(ValueError, match="unknown recorded type"):
        codec.decode({**encoded, "type": "NoSuchResult", "module": ""})


def test_a_shared_type_name_is_told_apart_by_its_module() -> None:
    """Recordings made before the classes had names of their own say "Endpoint" and where."""
    from helpers.engine import endpoint, networking, registry_auth

    assert codec.find_type("Endpoint", "helpers.engine.registry") is registry_auth.Endpoint
    assert codec.find_type("Endpoint", "helpers.engine.endpoint") is endpoint.Endpoint
    assert codec.find_type("Endpoint", "helpers.engine.networking") is networking.Endpoint
    assert codec.find_type("EngineEndpoint") is endpoint.Endpoint


def test_a_name_two_loaded_classes_share_is_an_error(monkeypatch) -> None:
    first = type("Twin", (), {"__module__": "helpers.one"})
    second = type("Twin", (), {"__module__": "helpers.two"})
    monkeypatch.setattr(codec, "_refresh_index", lambda: None)
    monkeypatch.setitem(codec._index, "Twin", {first, second})
    codec._found.clear()
    assert codec.find_type("Twin", "helpers.two") is second
    with pytest.raises(ValueError, match="ambiguous"):
        codec.find_type("Twin", "helpers.gone")


def test_register_gives_a_renamed_class_its_old_name() -> None:
    @codec.register(name="Renamed", aliases=("OldName",))
    @dataclass
    class NewName:
        value: int

    assert codec.encode(NewName(1))["type"] == "Renamed"
    old = {"__type__": "dataclass", "type": "OldName", "module": "gone", "fields": {"value": 2}}
    assert codec.decode(old) == NewName(2)


def test_without_a_usable_recording_the_notebook_still_runs(isolated, monkeypatch,
                                                            capsys) -> None:
    replay(monkeypatch, "01")
    assert session.is_missing(add(1, 2))
    assert "there is no recording of notebook 01" in capsys.readouterr().out
    folder = isolated / "recordings"
    folder.mkdir()
    (folder / "02.json").write_text(json.dumps({"notebook": "02", "calls": [{"call": "add"}]}))
    replay(monkeypatch, "02")
    assert "older version of the course" in session.session().problem
    assert session.is_missing(add(1, 2))


def test_a_notebook_is_its_exact_file_never_a_copy(isolated, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(settings, "PROJECT_ROOT", tmp_path)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("01_containers-Copy1.ipynb", "01_containers.ipynb", "01 my notes.ipynb"):
        (folder / name).write_text("{}")
    assert session.notebook_file("01") == folder / "01_containers.ipynb"
    (folder / "01_also_mine.ipynb").write_text("{}")
    assert session.notebook_file("01") is None  # two candidates: none is guessed
    rec = isolated / "recordings"
    rec.mkdir()
    (rec / "01.json").write_text(json.dumps({"notebook_file": "01_containers.ipynb"}))
    assert session.notebook_file("01") == folder / "01_containers.ipynb"  # as recorded


def test_results_for_notebook_10_keep_one_slot_per_call(isolated, monkeypatch) -> None:
    record(monkeypatch)
    add(1, 2)
    add(3, 4)
    assert session.run_results("zz")["add"] == [Answer(3, 1234), Answer(7, 1234)]
    session.results_path("zz").unlink()
    assert session.run_results("zz")["add"] == [Answer(3, 1234), Answer(7, 1234)]  # recording
    assert session.run_results("never-ran") == {}
    replay(monkeypatch)  # a run from the top starts afresh
    add(3, 4)
    add(3, 4)  # a re-run replaces its slot instead of adding a result
    assert session.run_results("zz")["add"] == [Answer(7, 1234)]
    add(1, 2)
    assert session.run_results("zz")["add"] == [Answer(7, 1234), Answer(3, 1234)]


def test_keys_compare_arguments_as_values() -> None:
    def helper(image: str, runs: int = 10, path: Path | None = None,
               frame: pd.DataFrame | None = None) -> None: ...

    def key(*args, **kwargs) -> str:
        return keys.fingerprint("helper", keys.bind(helper, args, kwargs))[0]

    assert key("busybox") == key("busybox", runs=10) == key(image="busybox", runs=10.0)
    assert key("busybox") != key("busybox", runs=20)
    inside = settings.PROJECT_ROOT / "data" / "apps"
    assert keys.canonical(inside) == {"path": "<course>/data/apps"}
    ints = pd.DataFrame({"seconds": [1, 2]})
    floats = pd.DataFrame({"seconds": [1.0, 2.0]})
    assert key("b", frame=ints) == key("b", frame=floats)
    answer = Answer(1, 2)
    keys.tag(answer, "add#k#0")
    assert keys.canonical(answer) == {"ref": "add#k#0"}
    assert keys.canonical(Answer(1, 2))["type"] == "Answer"  # an equal copy is not the result


def test_facts_view_renders_readable_sizes() -> None:
    html = Answer(5, 183_086_264)._repr_html_()
    assert "183 MB" in html and "size bytes" in html


KERNEL_SCRIPT = textwrap.dedent('''
    import os
    from IPython.core.interactiveshell import InteractiveShell
    from helpers import session, display
    from helpers.session.missing import NotRecorded

    shell = InteractiveShell.instance()
    shown = []
    display._publish = lambda html, plain: shown.append(plain)

    def run(code):
        shown.clear()
        result = shell.run_cell(code)
        return result.success, list(shown)

    os.environ["COURSE_MODE"] = "replay"
    session.begin("zz")  # no recording: every helper is "not recorded"
    shell.user_ns["display"] = display
    shell.user_ns["missing"] = NotRecorded("course.build_image('x')")
    ok, notes = run("value = missing.size_bytes\\nprint(f'{value:,}')\\nraise SystemError")
    assert ok and len(notes) == 1 and "Needs a live engine" in notes[0], (ok, notes)
    ok, notes = run("display.check(missing.exit_code == 0, 'fine', 'bad')")
    assert ok and "✔" not in " ".join(notes) and "Needs a live engine" in notes[0], notes
    ok, notes = run("1 / 0")  # an error of the learner's own: a real traceback, a failed cell
    assert not ok and not notes
    ok, notes = run("display.check(True, 'green', 'red')")
    assert ok and notes == ["✔ green"], notes
    print("kernel-ok")
''')


def test_in_a_kernel_a_cell_needing_a_missing_result_ends_with_a_note(tmp_path) -> None:
    env = {"COURSE_STATE_DIR": str(tmp_path / "state"),
           "COURSE_RECORDINGS_DIR": str(tmp_path / "recordings"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", KERNEL_SCRIPT], capture_output=True,
                          text=True, env=env, timeout=120, cwd=tmp_path)
    assert "kernel-ok" in done.stdout, done.stdout[-2000:] + done.stderr[-3000:]


def test_course_type_names_are_unique_or_told_apart_by_module() -> None:
    """Recordings name result types by class name; a second class of the same name must be
    registered under another one (codec.register) before it is ever a helper's result."""
    codec._import_everything()
    codec._refresh_index()
    shared = {name for name, classes in codec._index.items() if len(classes) > 1}
    assert shared <= {"Endpoint"}, f"several course classes share a name: {sorted(shared)}"
