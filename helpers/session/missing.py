"""What replay hands out for a call it has no recording of, and the notes that say so.

A call that was not recorded (changed arguments, an exercise) returns a :class:`NotRecorded`
stand-in instead of raising: the cell goes on, the variable it was assigned to no longer holds
an older result, and whatever is derived from it (``result.size_bytes``, ``frame["x"] * 2``,
another helper called with it) is a stand-in for the same missing call. The moment a value is
really needed (a truth value, a number, text, iteration) a :class:`NeedsLiveEngine` error ends
the cell; in a notebook the course shows it as a short note, not a traceback
(:mod:`.cells`), and :func:`helpers.display.check` never shows a ✔ for it.
"""

from __future__ import annotations

import os
import re
from typing import Any

from .. import display, errors, settings

CODESPACES = re.compile(r"https://codespaces\.new/[^\s)\]>\"']+")


def live_options() -> str:
    """Where a learner gets a live engine: Codespaces (the README's link) or ``make lab``."""
    url = os.environ.get("COURSE_LIVE_URL", "").strip()
    if not url:
        try:
            readme = (settings.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
        except OSError:
            readme = ""
        match = CODESPACES.search(readme)
        url = match.group(0) if match else ""
    where = f"GitHub Codespaces ({url})" if url else "GitHub Codespaces"
    return f"open the course in {where}, or run `make lab` on a machine with Docker"


def not_recorded_text(call: str, why: str = "") -> str:
    """The note for a call replay has no recording of."""
    reason = why or "it was not run when this notebook was recorded"
    return (f"Not in the recorded session: {call} — {reason}, so replay has no result for "
            f"it. Changed arguments and exercises need a live engine: {live_options()}.")


def needs_engine_text(origin: str) -> str:
    """The note for a cell (or a check) that needs a result replay does not have."""
    return (f"Needs a live engine: this uses the result of {origin}, which is not in the "
            f"recorded session. To run it for real, {live_options()}.")


class NeedsLiveEngine(errors.ReplayMissing):
    """A value was needed from a call replay has no recording of.

    In a notebook the course shows it as a note (:mod:`.cells`); elsewhere it reads as one
    sentence saying where to run the course live.
    """

    def __init__(self, origin: str) -> None:
        self.origin = origin
        super().__init__(needs_engine_text(origin))


class _CellState:
    """What a missing result did in the cell that is running (reset at every cell)."""

    def __init__(self) -> None:
        self.touched = ""  # the origin of a stand-in this cell used
        self.noted: set[str] = set()  # origins whose note this cell already shows


cell = _CellState()


def new_cell() -> None:
    """A new cell starts: forget what the previous one did with stand-ins."""
    global cell
    cell = _CellState()


def _use(origin: str) -> None:
    cell.touched = cell.touched or origin


def _needed(self: NotRecorded, *_: Any) -> Any:
    raise NeedsLiveEngine(self.origin)


def _derive(self: NotRecorded, *_: Any, **__: Any) -> NotRecorded:
    _use(self.origin)
    return self


class NotRecorded:
    """Stands for the result of a call replay has no recording of (see the module doc)."""

    __slots__ = ("origin",)
    _course_missing = True

    def __init__(self, origin: str) -> None:
        object.__setattr__(self, "origin", origin)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # IPython, pandas and copy probe these: not a result field
            raise AttributeError(name)
        _use(self.origin)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        _use(self.origin)

    def __setitem__(self, key: Any, value: Any) -> None:
        _use(self.origin)

    __getitem__ = __call__ = _derive
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _derive
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _derive
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = __invert__ = _derive
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __matmul__ = _derive
    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _derive  # type: ignore[assignment]
    __round__ = _derive

    __bool__ = __len__ = __iter__ = __contains__ = __hash__ = _needed
    __str__ = __format__ = __float__ = __int__ = __index__ = __complex__ = _needed
    __fspath__ = __bytes__ = __reversed__ = _needed

    def __repr__(self) -> str:
        return f"<not recorded: {self.origin}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text form: short, as the note beside it says which call."""
        printer.text("<not recorded>")

    def _repr_html_(self) -> str | None:
        """What a cell shows for it: no result, and why (just "<not recorded>" when the cell
        already shows the note for that call)."""
        import html

        if self.origin in cell.noted:
            return None
        return (f'<div class="course-note course-offline" style="background:#eef1f6;'
                f'padding:6px 10px;border-radius:4px">⊘ No result: {html.escape(self.origin)} '
                "is not in the recorded session.</div>")


def first_missing(*values: Any) -> NotRecorded | None:
    """The first stand-in among ``values`` (looking inside lists, tuples and dicts)."""
    stack = list(values)
    seen = 0
    while stack and seen < 10_000:
        value = stack.pop(0)
        seen += 1
        if isinstance(value, NotRecorded):
            return value
        if isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
    return None


def involved(value: Any = None) -> str:
    """The missing call behind ``value``, or behind anything the running cell used; "" if none."""
    if isinstance(value, NotRecorded):
        return value.origin
    return cell.touched


def _check_gap(condition: object) -> str:
    """For :func:`helpers.display.check`: the note when ``condition`` rests on a missing result
    (shown once per cell and origin), else ""."""
    origin = involved(condition)
    if not origin:
        return ""
    cell.noted.add(origin)
    return needs_engine_text(origin)


display.explain_replay_gaps(_check_gap)
