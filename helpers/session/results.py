"""Each notebook's helper results from its latest run on this machine: notebook 10 gathers them.

Stored per notebook in the state folder as a list of slots. A slot is one call of the notebook:
re-running a cell puts its new result in the same slot instead of adding another, so "the
first build" stays the first build however often a learner runs cells.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import settings
from . import codec
from .recording import recording_path

_cache: dict[str, tuple[Path, list[list[Any]]]] = {}  # what this kernel wrote last, per notebook


def results_path(notebook: str) -> Path:
    """Where the results of notebook ``notebook``'s latest run are kept."""
    return settings.state_dir() / "results" / f"{notebook}.json"


def _read(path: Path) -> list[list[Any]]:
    try:
        stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    except (ValueError, OSError):
        return []
    if not isinstance(stored, list):
        return []
    return [item for item in stored if isinstance(item, list) and len(item) == 3]


def remember(notebook: str, slot: str, helper: str, result: Any, *,
             encoded: bool = False) -> None:
    """Keep ``result`` of ``helper`` in ``slot`` of the notebook's latest run.

    ``encoded``: the result is already JSON data (replay has it so). A result that cannot be
    encoded is left out: it was a helper's bug in record mode, and is not lost data here.
    """
    if not encoded:
        try:
            result = codec.encode(result)
        except TypeError:
            return
    try:  # best effort: a full or read-only state folder must not stop the notebook's helpers
        path = results_path(notebook)
        cached = _cache.get(notebook)
        stored = cached[1] if cached and cached[0] == path else _read(path)
        for item in stored:
            if item[0] == slot:
                item[1:] = [helper, result]
                break
        else:
            stored.append([slot, helper, result])
        _cache[notebook] = (path, stored)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(stored), encoding="utf-8")
        partial.replace(path)  # never a half-written file, and no fsync per helper call
    except OSError:
        return


def forget(notebook: str) -> None:
    """A run from the top starts the notebook's results afresh."""
    _cache.pop(notebook, None)
    try:
        results_path(notebook).unlink(missing_ok=True)
    except OSError:
        return


def run_results(notebook: str) -> dict[str, list[Any]]:
    """Each helper's results (in call order) from the notebook's last run on this machine, or,
    when it has not run here, from its recording."""
    try:
        stored = _read(results_path(notebook))
    except OSError:
        stored = []
    raw: list[tuple[str, Any]] = [(item[1], item[2]) for item in stored]
    if not raw and recording_path(notebook).exists():
        try:
            calls = json.loads(recording_path(notebook).read_text(encoding="utf-8"))["calls"]
        except (ValueError, KeyError, TypeError, OSError):
            calls = []
        raw = [(call.get("helper") or call.get("call", ""), call["result"]) for call in calls
               if isinstance(call, dict) and "result" in call]
    decoded: dict[str, list[Any]] = {}
    for helper, value in raw:
        try:
            decoded.setdefault(helper, []).append(codec.decode(value))
        except (ValueError, TypeError, KeyError):
            continue
    return decoded
