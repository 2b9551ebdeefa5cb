"""Run course code under a label scope and state folder of its own, then put both back.

Benchmarks and test fixtures make engine objects that must not mix with a learner's notebooks:
their own notebook label (so cleanup(scope) removes exactly them) and their own journal.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import labels


@contextmanager
def scoped(notebook: str, state_dir: Path) -> Iterator[Path]:
    """Label new objects with ``notebook`` and keep the journal in ``state_dir`` meanwhile."""
    previous = labels.current_notebook()
    saved_state = os.environ.get("COURSE_STATE_DIR")
    labels.set_notebook(notebook)
    os.environ["COURSE_STATE_DIR"] = str(state_dir)
    try:
        yield state_dir
    finally:
        labels.set_notebook(previous)
        if saved_state is None:
            os.environ.pop("COURSE_STATE_DIR", None)
        else:
            os.environ["COURSE_STATE_DIR"] = saved_state
