"""Test-wide rule: live tests need an engine; under COURSE_REQUIRE_ENGINE=1 its absence fails.

Lives at the repository root so it also governs the notebooks that nbval collects.
"""

from __future__ import annotations

import pytest

from helpers import settings
from helpers.engine.client import client
from helpers.errors import EngineUnavailable


def _engine_problem() -> str | None:
    try:
        client()
    except EngineUnavailable as exc:
        return exc.render().replace("\n", " ")
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    live = [item for item in items if item.get_closest_marker("live")]
    if not live:
        return
    problem = _engine_problem()
    if problem is None:
        return
    if settings.require_engine():
        pytest.exit(f"COURSE_REQUIRE_ENGINE=1 but the live tests cannot run: {problem}",
                    returncode=3)
    skip = pytest.mark.skip(reason=f"no Docker Engine: {problem}")
    for item in live:
        item.add_marker(skip)
