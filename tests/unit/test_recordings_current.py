"""The committed recordings match the notebooks' code and still read back.

Replay never refuses a notebook at run time (learners edit theirs, and JupyterLab autosaves).
Instead this test fails in `make test`/CI when a notebook's code changed after its recording,
or when a result class changed so that a recording no longer reads back: re-record on a live
engine with `python -m helpers record NN` (or `make record` for all).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import errors, settings
from helpers.session import codec, recording

NOTEBOOKS = sorted(p for p in (settings.PROJECT_ROOT / "notebooks").glob("*.ipynb")
                   if recording.NOTEBOOK_NAME.match(p.name))


def _recording(path: Path) -> dict:
    number = path.name[:2]
    saved = settings.RECORDINGS_DIR / f"{number}.json"
    assert saved.exists(), f"no recording of {path.name}: run `python -m helpers record {number}`"
    return json.loads(saved.read_text(encoding="utf-8"))


def _again(path: Path) -> str:
    return f"record it again on a live engine: `python -m helpers record {path.name[:2]}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_recording_is_of_the_notebook_as_committed(path: Path) -> None:
    saved = _recording(path)
    assert saved.get("format") == recording.FORMAT, \
        f"{path.name[:2]}.json is in an older format (calls without keys): {_again(path)}"
    assert saved.get("notebook_file") == path.name, f"recorded from another file: {_again(path)}"
    assert saved.get("code_hash") == recording.code_hash(path), \
        f"{path.name}'s code changed after it was recorded: {_again(path)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_recorded_result_and_error_reads_back(path: Path) -> None:
    saved = _recording(path)
    if saved.get("format") != recording.FORMAT:
        pytest.skip("an older format: see the test above")
    for number, call in enumerate(saved["calls"]):
        where = f"{path.name[:2]}.json call {number} ({call.get('helper')})"
        if "error" in call:
            error = codec.decode_error(call["error"], errors.CourseError)
            assert codec.type_name(type(error)) == call["error"]["type"], \
                f"{where}: the error class {call['error']['type']} is gone: {_again(path)}"
        else:
            try:
                codec.decode(call["result"])
            except ValueError as exc:
                pytest.fail(f"{where}: {exc}; {_again(path)}")
