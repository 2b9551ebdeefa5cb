"""``@action``: every notebook-facing helper is recordable, replayable, and shows its CLI lines.

Live, an action runs and shows the CLI lines it journalled. Recording, it also stores its
plain-data result (or its CourseError), the notes it showed and its CLI lines under its key
(:mod:`.keys`) in ``data/recordings/<notebook>.json``. Replaying (no engine: Binder), it looks
its key up and returns the stored result with the same notes and CLI lines, so the notebook's
own code runs unchanged, in any order and as often as the learner likes. A call that was not
recorded returns a :class:`~.missing.NotRecorded` stand-in and says so in a short note.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from .. import errors, journal, labels
from . import cells, codec, keys, missing, results
from .mode import requested_mode
from .recording import Recording, code_hash, load, notebook_file, notebooks_dir

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Session:
    """The running notebook: its mode, its recording, and where replay has got to."""

    mode: str = "live"
    notebook: str = "adhoc"
    recording: Recording | None = None
    problem: str = ""  # replay without a usable recording: why
    last_position: int = -1  # the recorded call replayed last
    occurrences: Counter = field(default_factory=Counter)  # live: calls per key
    depth: int = 0
    show_cli: bool = True
    # replay: names a not-recorded call would have made (an image tag, a container), and the
    # call: a later call naming one needs a live engine although it was recorded
    unmade: dict[str, str] = field(default_factory=dict)


NAMING = ("tag", "name", "project")  # parameters that name what a helper creates


_session = Session()


def session() -> Session:
    """The running notebook's session."""
    return _session


def reset() -> None:
    """Back to a fresh live session (tests)."""
    global _session
    _session = Session()
    keys.forget_tokens()
    missing.new_cell()
    cells.reset()


def begin(notebook: str, *, engine_label: str = "") -> Session:
    """Start a notebook run: pick the mode, open its recording, start its recap afresh."""
    global _session
    labels.set_notebook(notebook)
    mode = requested_mode()
    recording, problem = None, ""
    if mode == "replay":
        recording, problem = load(notebook)
    named = notebooks_dir() / recording.notebook_file if recording and \
        recording.notebook_file else None
    path = named if named is not None and named.is_file() else notebook_file(notebook)
    cells.set_notebook_path(path)
    if mode == "record":
        running = cells.running_notebook_path() or path
        recording = Recording(notebook=notebook, notebook_file=running.name if running else "",
                              recorded_at=time.strftime("%Y-%m-%d"), engine=engine_label,
                              code_hash=code_hash(running))
        recording.save()
    _session = Session(mode=mode, notebook=notebook, recording=recording, problem=problem)
    journal.forget(notebook)  # a run from the top starts the notebook's recap afresh
    results.forget(notebook)
    cells.install(replay=mode == "replay")
    return _session


def _show(commands: list[journal.Command]) -> None:
    if not commands or not _session.show_cli:
        return
    from .. import display

    display.show_cli([c.cli for c in commands])


def _note_once(origin: str, text: str) -> None:
    if origin in missing.cell.noted:
        return
    missing.cell.noted.add(origin)
    from .. import display

    display.note(text, kind="offline")


def _key(helper: str, func: Callable[..., Any], args: tuple, kwargs: dict
         ) -> tuple[str, dict[str, Any]]:
    try:
        return keys.fingerprint(helper, keys.bind(func, args, kwargs))
    except Exception:  # a key must never break a live run
        return "", {}


def _unmade(arguments: dict[str, Any]) -> str:
    """The not-recorded call that would have made something these arguments name, or ""."""
    if not _session.unmade:
        return ""
    stack: list[Any] = list(arguments.values())
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if value in _session.unmade:
                return _session.unmade[value]
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return ""


def action(func: F | None = None, *, name: str | None = None) -> Any:
    """Make a notebook-facing helper recordable, replayable, and show its CLI lines.

    ``@action`` keys the helper by its function name; ``@action(name="…")`` gives it another
    (two helpers of one notebook must not share a name).
    """
    def decorate(function: F) -> F:
        helper = name or function.__qualname__

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _session.depth:  # called from inside another action: that one records
                return function(*args, **kwargs)
            if _session.mode == "replay":
                return _replay(helper, function, args, kwargs)
            return _run(helper, function, args, kwargs)

        wrapper.__course_action__ = helper  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def _run(helper: str, function: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    from .. import display

    key, summary = _key(helper, function, args, kwargs)
    cell = cells.current_cell()
    index = cells.index_in_cell(helper, key)
    failure: errors.CourseError | None = None
    result: Any = None
    _session.depth += 1
    try:
        with journal.capture() as captured, display.capture_shown() as shown:
            try:
                result = function(*args, **kwargs)
            except errors.CourseError as exc:
                failure = exc
    finally:
        _session.depth -= 1
    if failure is not None:  # recorded and shown outside the capture: its CLI lines once
        _store(helper, key, summary, cell, captured, shown, error=failure)
        _show(captured)
        raise failure
    entry = _store(helper, key, summary, cell, captured, shown, result=result)
    _show(captured)
    if entry is not None:
        occurrence, slot = entry["n"], f"{key}#{entry['n']}"
    else:
        occurrence = _session.occurrences[(helper, key)]
        _session.occurrences[(helper, key)] += 1
        slot = f"{key}@{cell}#{index}" if cell else f"{key}#{occurrence}"
    keys.tag(result, f"{helper}#{key}#{occurrence}")
    results.remember(_session.notebook, slot, helper, result)
    return result


def _store(helper: str, key: str, summary: dict[str, Any], cell: str | None,
           captured: list[journal.Command], shown: list[dict[str, Any]], *,
           result: Any = None, error: errors.CourseError | None = None) -> dict[str, Any] | None:
    recording = _session.recording
    if _session.mode != "record" or recording is None:
        return None
    entry: dict[str, Any] = {"helper": helper, "key": key, "cell": cell or "", "args": summary,
                             "journal": [asdict(c) for c in captured], "shown": shown}
    if error is not None:
        entry["error"] = codec.encode_error(error)
    else:
        entry["result"] = codec.encode(result)
    recording.add(entry)
    recording.save()
    return entry


def _replay(helper: str, function: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    from .. import display

    stand_in = missing.first_missing(args, kwargs)
    if stand_in is not None:  # built on a result replay does not have
        _note_once(stand_in.origin, missing.needs_engine_text(stand_in.origin))
        return missing.NotRecorded(stand_in.origin)
    call = keys.describe(helper, function, args, kwargs)
    arguments = keys.bind(function, args, kwargs)
    named = {value for name in NAMING if isinstance(value := arguments.get(name), str) and value}
    unmade = _unmade({k: v for k, v in arguments.items() if k not in NAMING})
    if unmade:  # e.g. scan_image(TAG) after a build of TAG with other arguments
        _note_once(unmade, missing.needs_engine_text(unmade))
        return missing.NotRecorded(unmade)
    key, _ = _key(helper, function, args, kwargs)
    recording = _session.recording
    position = None
    if recording is not None and key:
        position = recording.find(helper, key, cell=cells.current_cell(),
                                  index_in_cell=cells.index_in_cell(helper, key),
                                  after=_session.last_position)
    if position is None or recording is None:
        _note_once(call, missing.not_recorded_text(call, _session.problem))
        _session.unmade.update(dict.fromkeys(named, call))
        return missing.NotRecorded(call)
    for value in named:  # made as recorded again (an edit undone)
        _session.unmade.pop(value, None)
    _session.last_position = position
    entry = recording.calls[position]
    for item in entry.get("shown", []):
        if "note" in item:
            display.note(item["note"], kind=item.get("kind", "info"))
        elif "cli" in item and _session.show_cli:
            display.show_cli(item["cli"])
    commands = [journal.Command(**c) for c in entry.get("journal", [])]
    for command in commands:
        journal.append(command)
    _show(commands)
    if "error" in entry:
        raise codec.decode_error(entry["error"], errors.CourseError)
    try:
        result = codec.decode(entry["result"])
    except (ValueError, TypeError, KeyError) as exc:
        raise errors.ReplayMissing(
            f"The recording of notebook {recording.notebook} cannot be read back ({exc}).",
            hint="record it again: `python -m helpers record "
                 f"{recording.notebook}` on a machine with a Docker Engine.") from None
    keys.tag(result, f"{helper}#{key}#{entry.get('n', 0)}")
    results.remember(_session.notebook, f"{key}#{entry.get('n', 0)}", helper, entry["result"],
                     encoded=True)
    return result


def remember(helper: str, result: Any) -> None:
    """Keep ``result`` for notebook 10 as if ``helper`` had just returned it (a new slot)."""
    _session.occurrences[("remember", helper)] += 1
    results.remember(_session.notebook,
                     f"remember:{helper}#{_session.occurrences[('remember', helper)]}", helper,
                     result)
