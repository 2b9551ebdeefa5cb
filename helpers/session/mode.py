"""Live, record or replay: which one this kernel runs in, and why."""

from __future__ import annotations

import os

MODES = ("live", "record", "replay")

_why_replay = ""  # why the last automatic choice was replay (no engine answered: the reason)


def replay_requested() -> bool:
    """True when COURSE_MODE asks for replay explicitly (Binder, the strict nbval run)."""
    return os.environ.get("COURSE_MODE", "").strip().lower() == "replay"


def requested_mode() -> str:
    """COURSE_MODE if set; otherwise live when an engine answers, replay when none does."""
    global _why_replay
    wanted = os.environ.get("COURSE_MODE", "").strip().lower()
    if wanted in MODES:
        return wanted
    from ..engine.client import why_no_engine

    _why_replay = why_no_engine()
    return "replay" if _why_replay else "live"


def why_replay() -> str:
    """Why this session replays although nobody asked for it: the engine error's first line.

    ``make lab`` passes the reason it found in ``COURSE_REPLAY_REASON`` when it chooses replay.
    """
    return os.environ.get("COURSE_REPLAY_REASON", "").strip() or _why_replay
