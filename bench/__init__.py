"""Benchmarks of the course helpers (``make bench`` / ``python -m bench``); not timed tests."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def text_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A plain aligned table, the way benchmarks print their results."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@contextmanager
def bench_scope(notebook: str, prefix: str) -> Iterator[Path]:
    """Label what a benchmark makes as ``notebook`` and keep its journal out of the course's.

    Yields a scratch folder that is also COURSE_STATE_DIR for the duration.
    """
    from helpers import labels

    previous = labels.current_notebook()
    saved_state = os.environ.get("COURSE_STATE_DIR")
    labels.set_notebook(notebook)
    with tempfile.TemporaryDirectory(prefix=prefix) as state:
        os.environ["COURSE_STATE_DIR"] = state
        try:
            yield Path(state)
        finally:
            labels.set_notebook(previous)
            if saved_state is None:
                os.environ.pop("COURSE_STATE_DIR", None)
            else:
                os.environ["COURSE_STATE_DIR"] = saved_state
