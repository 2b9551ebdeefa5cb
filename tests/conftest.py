"""Shared test hygiene: no test leaves the session in record or replay mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import labels, session


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    """A recording left open would capture (and save) every later test's helper calls."""
    notebook = labels.current_notebook()
    yield
    session.reset()
    labels.set_notebook(notebook)
