"""COURSE_REQUIRE_ENGINE=1 turns a missing engine into a failure with one clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest_live(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:9", **env_extra}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/live/test_engine_and_cli.py::test_engine_facts_name_the_engine"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_missing_engine_fails_the_run_when_required() -> None:
    done = _pytest_live({"COURSE_REQUIRE_ENGINE": "1"})
    assert done.returncode != 0
    assert "COURSE_REQUIRE_ENGINE=1 but the live tests cannot run" in done.stdout
    assert "No Docker Engine answered at tcp://127.0.0.1:9" in done.stdout


def test_missing_engine_skips_live_tests_otherwise() -> None:
    done = _pytest_live({"COURSE_REQUIRE_ENGINE": ""})
    assert done.returncode == 0, done.stdout[-1500:]
    assert "1 skipped" in done.stdout
