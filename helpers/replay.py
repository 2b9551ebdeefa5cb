"""Live, record and replay modes.

Every notebook-facing helper is wrapped by :func:`action`. Live, it runs and shows the CLI
lines it journalled. Recording, it also stores its plain-data result (or its CourseError) in
``data/recordings/<notebook>.json``. Replaying (no engine: Binder), it returns the stored
result and shows the same CLI lines, so the notebook's own code runs unchanged and its outputs
match the committed ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import codec, errors, journal, labels, settings

MODES = ("live", "record", "replay")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Recording:
    """One notebook's recorded helper calls, with where and when they were recorded."""

    notebook: str
    recorded_at: str = ""
    engine: str = ""
    code_hash: str = ""
    calls: list[dict] = field(default_factory=list)


@dataclass
class _Session:
    mode: str = "live"
    notebook: str = "adhoc"
    recording: Recording | None = None
    cursor: int = 0
    depth: int = 0
    show_cli: bool = True


_session = _Session()


def replay_requested() -> bool:
    """True when COURSE_MODE asks for replay explicitly (Binder, the strict nbval run)."""
    return os.environ.get("COURSE_MODE", "").strip().lower() == "replay"


_why_replay = ""  # why the last automatic choice was replay (no engine answered: the reason)


def requested_mode() -> str:
    """COURSE_MODE if set; otherwise live when an engine answers, replay when none does."""
    global _why_replay
    wanted = os.environ.get("COURSE_MODE", "").strip().lower()
    if wanted in MODES:
        return wanted
    from .engine.failures import why_no_engine

    _why_replay = why_no_engine()
    return "replay" if _why_replay else "live"


def why_replay() -> str:
    """Why this session replays although nobody asked for it: the engine error's first line.

    ``make lab`` passes the reason it found in ``COURSE_REPLAY_REASON`` when it chooses replay.
    """
    return os.environ.get("COURSE_REPLAY_REASON", "").strip() or _why_replay


def notebook_file(notebook: str) -> Path | None:
    matches = sorted((settings.PROJECT_ROOT / "notebooks").glob(f"{notebook}_*.ipynb"))
    return matches[0] if matches else None


def code_hash(notebook: str) -> str:
    """A fingerprint of the notebook's code cells: a recording is stale once they change."""
    path = notebook_file(notebook)
    if path is None:
        return ""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    code = "\n\0".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
    return hashlib.sha256(code.encode()).hexdigest()[:16]


def recording_path(notebook: str) -> Path:
    return settings.RECORDINGS_DIR / f"{notebook}.json"


def load_recording(notebook: str) -> Recording:
    path = recording_path(notebook)
    hint = "run `make record` on a machine with a Docker Engine, then commit data/recordings/."
    if not path.exists():
        raise errors.ReplayMissing(f"No recording for notebook {notebook} ({path.name}) and no "
                                   "Docker Engine to run it live.", hint=hint)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        recording = Recording(**raw)
    except (ValueError, TypeError) as exc:
        raise errors.ReplayMissing(f"The recording {path.name} is unreadable ({exc}).",
                                   hint=hint) from None
    current = code_hash(notebook)
    if current and recording.code_hash and current != recording.code_hash:
        raise errors.ReplayMissing(f"The recording for notebook {notebook} is older than the "
                                   "notebook's code (it was recorded before the last edit).",
                                   hint=hint)
    return recording


def begin(notebook: str, *, engine_label: str = "") -> _Session:
    """Start a notebook run: pick the mode and reset the call cursor."""
    global _session
    labels.set_notebook(notebook)
    mode = requested_mode()
    recording = None
    if mode == "replay":
        recording = load_recording(notebook)
    elif mode == "record":
        recording = Recording(notebook=notebook, recorded_at=time.strftime("%Y-%m-%d"),
                              engine=engine_label, code_hash=code_hash(notebook))
    _session = _Session(mode=mode, notebook=notebook, recording=recording)
    journal.forget(notebook)  # a run from the top starts the notebook's recap afresh
    _forget_results(notebook)
    return _session


def session() -> _Session:
    return _session


def _save() -> None:
    recording = _session.recording
    if recording is None:
        return
    path = recording_path(recording.notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(recording), indent=1, sort_keys=False) + "\n",
                    encoding="utf-8")


def _show_commands(commands: list[journal.Command]) -> None:
    if not commands or not _session.show_cli:
        return
    from . import display

    display.show_cli([c.cli for c in commands])


def action(func: F) -> F:
    """Make a notebook-facing helper recordable, replayable, and show its CLI lines."""
    name = func.__qualname__

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _session.depth:  # called from inside another action: that one records
            return func(*args, **kwargs)
        if _session.mode == "replay":
            return _replay(name)
        _session.depth += 1
        try:
            with journal.capture() as captured:
                try:
                    result = func(*args, **kwargs)
                except errors.CourseError as exc:
                    _store(name, captured, error=exc)
                    _show_commands(captured)
                    raise
        finally:
            _session.depth -= 1
        _store(name, captured, result=result)
        _show_commands(captured)
        remember(name, result)
        return result

    return wrapper  # type: ignore[return-value]


def results_path(notebook: str) -> Path:
    return settings.state_dir() / "results" / f"{notebook}.json"


def remember(name: str, result: Any) -> None:
    """Keep every helper result of this notebook's latest run: notebook 10 gathers them."""
    try:
        encoded = codec.encode(result)
    except TypeError:
        return
    _remember_encoded(name, encoded)


def _remember_encoded(name: str, encoded: Any) -> None:
    """Best effort: a full or read-only state folder must not stop the notebook's helpers."""
    from .files import write_text

    try:
        path = results_path(_session.notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except ValueError:
            stored = {}
        stored.setdefault(name, []).append(encoded)
        write_text(path, json.dumps(stored))
    except OSError:
        return


def _forget_results(notebook: str) -> None:
    try:
        results_path(notebook).unlink(missing_ok=True)
    except OSError:
        return


def run_results(notebook: str) -> dict[str, list[Any]]:
    """Each helper's results (in call order) from the notebook's last run on this machine, or,
    when it has not run here, from its recording."""
    path = results_path(notebook)
    raw: dict[str, list[Any]] = {}
    if path.exists():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raw = {}
    if not raw and recording_path(notebook).exists():
        try:
            calls = json.loads(recording_path(notebook).read_text(encoding="utf-8"))["calls"]
        except (ValueError, KeyError):
            calls = []
        for call in calls:
            if "result" in call:
                raw.setdefault(call["call"], []).append(call["result"])
    decoded: dict[str, list[Any]] = {}
    for name, values in raw.items():
        for value in values if isinstance(values, list) else [values]:
            try:
                decoded.setdefault(name, []).append(codec.decode(value))
            except (ValueError, TypeError, ImportError, AttributeError):
                continue
    return decoded


def _store(name: str, captured: list[journal.Command], *, result: Any = None,
           error: errors.CourseError | None = None) -> None:
    if _session.mode != "record" or _session.recording is None:
        return
    entry: dict[str, Any] = {"call": name, "journal": [asdict(c) for c in captured]}
    if error is not None:
        extra = {k: v for k, v in vars(error).items()
                 if k not in ("message", "hint", "log_tail") and isinstance(v, (str, int, float))}
        entry["error"] = {"class": type(error).__name__, "message": error.message,
                          "hint": error.hint, "log_tail": error.log_tail, "fields": extra}
    else:
        entry["result"] = codec.encode(result)
    _session.recording.calls.append(entry)
    _save()


def _replay(name: str) -> Any:
    recording = _session.recording
    assert recording is not None
    hint = "run `make record` to refresh the recordings."
    if _session.cursor >= len(recording.calls):
        raise errors.ReplayMissing(f"The recording of notebook {recording.notebook} ends before "
                                   f"this call ({name}).", hint=hint)
    entry = recording.calls[_session.cursor]
    _session.cursor += 1
    if entry["call"] != name:
        raise errors.ReplayMissing(f"The recording of notebook {recording.notebook} expected "
                                   f"{entry['call']} here, not {name}.", hint=hint)
    commands = [journal.Command(**c) for c in entry.get("journal", [])]
    for command in commands:
        journal.append(command)
    _show_commands(commands)
    if "result" in entry:
        _remember_encoded(name, entry["result"])
    if "error" in entry:
        failure = entry["error"]
        cls = getattr(errors, failure["class"], errors.CourseError)
        if not (isinstance(cls, type) and issubclass(cls, errors.CourseError)):
            cls = errors.CourseError
        error = errors.CourseError.__new__(cls)
        errors.CourseError.__init__(error, failure["message"], hint=failure.get("hint", ""),
                                    log_tail=failure.get("log_tail", ""))
        error.__dict__.update(failure.get("fields", {}))  # e.g. BuildFailed.step / .command
        raise error
    return codec.decode(entry["result"])
