"""The old name of :mod:`helpers.session`, kept so that existing imports go on working.

Mode, recordings, ``@action``, the codec and per-notebook results now live in the session
package; import from there in new code.
"""

from __future__ import annotations

from .session import (
    MODES,
    NeedsLiveEngine,
    NotRecorded,
    Recording,
    Session,
    action,
    begin,
    code_hash,
    is_missing,
    live_options,
    notebook_file,
    recording_path,
    remember,
    replay_banner,
    replay_requested,
    requested_mode,
    reset,
    results_path,
    run_results,
    session,
    why_replay,
)
from .session import load as load_recording

__all__ = [
    "MODES",
    "NeedsLiveEngine",
    "NotRecorded",
    "Recording",
    "Session",
    "action",
    "begin",
    "code_hash",
    "is_missing",
    "live_options",
    "load_recording",
    "notebook_file",
    "recording_path",
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
