"""Benchmarks of the course helpers (``make bench`` / ``python -m bench``); not timed tests."""

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
    from helpers.scoping import scoped

    with tempfile.TemporaryDirectory(prefix=prefix) as state, scoped(notebook, Path(state)):
        yield Path(state)
