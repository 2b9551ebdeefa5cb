"""The notebook cell that is running: which one it is, and how it ends in replay.

Recording notes the cell each helper call came from; replay uses it so that re-running a cell
shows that cell's recorded results again. JupyterLab tells the kernel a cell's id; nbclient
and nbval do not, so the id is then found by the cell's exact source in the course's own
notebook file.

In replay, a cell that needs a result the recording does not have ends with a short note
instead of a traceback, and counts as run successfully, so "Run All" goes on with the next
cell (an IPython exception handler, and a post-run hook that clears the error it handled).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from .. import errors
from . import missing

_state: dict[str, Any] = {
    "run": 0,  # counts cells run in this kernel
    "cell_id": None, "source": None, "counters": Counter(), "swallowed": None,
    "installed": None, "replay": False, "notebook_path": None,
    "found": None,  # (run, id) of the last cell found by its source
    "found_index": -1,  # its position in the notebook file
}
_sources: dict[str, tuple[float, dict[str, list[tuple[int, str]]]]] = {}


def _shell() -> Any:
    if "IPython" not in sys.modules:  # not in a kernel: no need to import IPython to know
        return None
    from IPython import get_ipython

    return get_ipython()


def _start_cell(cell_id: str | None, source: str | None) -> None:
    _state.update(run=_state["run"] + 1, cell_id=cell_id, source=source, counters=Counter(),
                  swallowed=None)
    missing.new_cell()


def _pre_run_cell(info: Any) -> None:
    _start_cell(getattr(info, "cell_id", None) or None, getattr(info, "raw_cell", None))


def _post_run_cell(result: Any) -> None:
    swallowed = _state["swallowed"]
    if swallowed is not None and result is not None and result.error_in_exec is swallowed:
        result.error_in_exec = None  # the cell ended with a note: "Run All" goes on
    _state["swallowed"] = None


def _handle(shell: Any, etype: type, value: BaseException, tb: Any,
            tb_offset: int | None = None) -> list[str]:
    """IPython's handler for exceptions in replay: a missing result ends the cell with a note."""
    origin = ""
    if isinstance(value, missing.NeedsLiveEngine):
        origin = value.origin
    elif missing.cell.touched:
        origin = missing.cell.touched
    elif isinstance(value, errors.EngineUnavailable):
        origin = "a Docker Engine"
    if not origin:
        shell.showtraceback(running_compiled_code=True)
        return []
    if origin not in missing.cell.noted:
        missing.cell.noted.add(origin)
        from .. import display

        text = (missing.needs_engine_text(origin) if origin != "a Docker Engine" else
                "Needs a live engine: this cell asks the engine directly, and replay has none. "
                f"To run it for real, {missing.live_options()}.")
        display.note(text, kind="offline")
    _state["swallowed"] = value
    return []


def install(*, replay: bool) -> None:
    """Follow the kernel's cells; in replay, also end cells that need a missing result cleanly.

    Does nothing outside IPython. Safe to call at every ``course.start()``.
    """
    shell = _shell()
    if shell is None:
        return
    if _state["installed"] is not shell:
        shell.events.register("pre_run_cell", _pre_run_cell)
        shell.events.register("post_run_cell", _post_run_cell)
        _state["installed"] = shell
        _adopt_running_cell(shell)
    if replay:
        shell.set_custom_exc((Exception,), _handle)
    elif _state["replay"]:
        shell.set_custom_exc((), None)
    _state["replay"] = replay


def _adopt_running_cell(shell: Any) -> None:
    """The hooks come in during a cell (``course.start()``): take that cell's id and source."""
    parent: dict[str, Any] = {}
    kernel = getattr(shell, "kernel", None)
    try:
        parent = kernel.get_parent() if kernel is not None else {}
    except Exception:  # an older or different kernel: the id stays unknown
        parent = {}
    metadata = parent.get("metadata") or {}
    content = parent.get("content") or {}
    _start_cell(metadata.get("cellId") or None, content.get("code"))


def set_notebook_path(path: Path | None) -> None:
    """The notebook file whose cells are running (to find a cell's id by its source); a run
    from the top starts looking for cells from its top."""
    _state.update(notebook_path=path, found=None, found_index=-1)


def running_notebook_path() -> Path | None:
    """``COURSE_NOTEBOOK_FILE`` (set by the notebook runner), else what :func:`set_notebook_path`
    was told."""
    value = os.environ.get("COURSE_NOTEBOOK_FILE", "").strip()
    return Path(value) if value else _state["notebook_path"]


def _ids_by_source(path: Path) -> dict[str, list[tuple[int, str]]]:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return {}
    cached = _sources.get(str(path))
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (ValueError, OSError):
        cells = []
    found: dict[str, list[tuple[int, str]]] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and cell.get("id"):
            source = "".join(cell.get("source", ""))
            found.setdefault(source.strip(), []).append((index, cell["id"]))
    _sources[str(path)] = (stamp, found)
    return found


def current_cell() -> str | None:
    """The id of the running cell: the kernel's word, else found by its source; None outside
    a notebook.

    Two cells with the same source (``compose.ps(stack)`` before and after a restart) are told
    apart by order: the first of them after the cell found last, as nbclient runs top down.
    """
    if _state["cell_id"]:
        return _state["cell_id"]
    found = _state["found"]
    if found is not None and found[0] == _state["run"]:
        return found[1]
    source = _state["source"]
    path = running_notebook_path()
    if source is None or path is None:
        return None
    matches = _ids_by_source(path).get(source.strip(), [])
    if not matches:
        return None
    index, cell_id = next(((i, c) for i, c in matches if i > _state["found_index"]), matches[0])
    _state.update(found=(_state["run"], cell_id), found_index=index)
    return cell_id


def index_in_cell(helper: str, key: str) -> int:
    """How many calls with this key the running cell made before this one."""
    counters: Counter = _state["counters"]
    index = counters[(helper, key)]
    counters[(helper, key)] += 1
    return index


def reset() -> None:
    """Forget the running cell (tests)."""
    _start_cell(None, None)
