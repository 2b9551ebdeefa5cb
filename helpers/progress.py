"""One status line that updates in place: in a notebook an updating display, elsewhere stderr.

Long actions (a build, a stand-in image) should never look frozen to a learner.
"""

from __future__ import annotations

import sys
import time


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class Progress:
    """``with Progress("Building app") as p: p.update("Step 2/7 RUN pip install")``."""

    def __init__(self, title: str, *, quiet: bool = False) -> None:
        self.title = title
        self.quiet = quiet
        self.started = time.monotonic()
        self._handle = None
        self._last_print = 0.0

    def __enter__(self) -> Progress:
        self.update("starting")
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish("failed" if exc[0] else "done")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _line(self, status: str) -> str:
        return f"{self.title}: {status} ({self.elapsed:.1f} s elapsed)"

    def update(self, status: str) -> None:
        if self.quiet:
            return
        line = self._line(status)
        if _in_notebook():
            from IPython.display import display

            if self._handle is None:
                self._handle = display({"text/plain": line}, raw=True, display_id=True)
            else:
                self._handle.update({"text/plain": line}, raw=True)
        elif time.monotonic() - self._last_print > 2 or status == "starting":
            self._last_print = time.monotonic()
            print(line, file=sys.stderr, flush=True)

    def finish(self, status: str) -> None:
        """Leave the final line in place, then stop updating it."""
        if self.quiet:
            return
        self._last_print = 0
        self.update(status)
