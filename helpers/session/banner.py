"""The first output of a replayed notebook: what replay means for the learner."""

from __future__ import annotations

from typing import Any

from .missing import NotRecorded, live_options


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def is_missing(value: Any) -> bool:
    """True for a stand-in of a result replay does not have."""
    return isinstance(value, NotRecorded)


def replay_banner(session: Any, engine: str, why: str = "") -> str:
    """Recorded on which engine, with which images, when; what re-runs; what needs an engine.

    ``engine`` names the recorded engine ("Docker Engine 28.5.1 (containerd image store, …)");
    ``why`` says why this is replay although nobody asked for it.
    """
    recording = session.recording
    reason = f" Why replay: {why}" if why else ""
    if recording is None:
        return (f"Replay: no Docker Engine is used here, and {session.problem}. The cells that "
                f"need the engine say so instead of showing a result. To run this notebook for "
                f"real, {live_options()}.{reason}")
    what = f"a session recorded on {recording.recorded_at or 'an unknown date'}"
    if engine:
        what += f" with {engine}"
    images = recording.images()
    if images:
        what += f", images {_and(images)}"
    return (f"Replay: no Docker Engine is used here. This notebook shows {what}. Re-run any "
            "cell as often as you like: it shows the recorded result again. Changed "
            f"arguments and the exercises need a live engine: {live_options()}.{reason}")
