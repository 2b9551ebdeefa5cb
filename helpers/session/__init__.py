"""The session: live, record or replay; recordings; ``@action``; the codec; per-notebook results.

* :mod:`.mode` — which mode this kernel runs in (COURSE_MODE, else whether an engine answers);
* :mod:`.actions` — ``@action`` and the running notebook's session (``begin``);
* :mod:`.keys` — a call's key: helper name and argument fingerprint;
* :mod:`.recording` — recordings on disk, looked up by key; notebook files by exact name;
* :mod:`.missing` — what replay gives for a call it has no recording of, and the notes;
* :mod:`.cells` — the running notebook cell, and how a cell ends in replay;
* :mod:`.codec` — plain data to JSON and back, under stable type names;
* :mod:`.results` — each notebook's latest results, for notebook 10;
* :mod:`.banner` — what a replayed notebook says first;
* :mod:`.secrets` — passwords this kernel made for what it started (memory only).
"""

from __future__ import annotations

from . import codec
from .actions import Session, action, begin, remember, reset, session
from .banner import is_missing, replay_banner
from .missing import NeedsLiveEngine, NotRecorded, live_options
from .mode import MODES, replay_requested, requested_mode, why_replay
from .recording import (
    Recording,
    code_hash,
    load,
    notebook_file,
    recording_path,
    recordings_dir,
)
from .results import results_path, run_results

__all__ = [
    "MODES",
    "NeedsLiveEngine",
    "NotRecorded",
    "Recording",
    "Session",
    "action",
    "begin",
    "code_hash",
    "codec",
    "is_missing",
    "live_options",
    "load",
    "notebook_file",
    "recording_path",
    "recordings_dir",
    "remember",
    "replay_banner",
    "replay_requested",
    "requested_mode",
    "reset",
    "results_path",
    "run_results",
    "session",
    "why_replay",
]
