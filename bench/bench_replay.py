"""How long the strict replay of the ten notebooks takes, and where the time goes.

The replay is what a Binder learner runs and what ``make test`` checks every output against.
The target: all ten notebooks replayed in at most 20 s.

Three measurements, all with ``COURSE_MODE=replay`` (no engine is used):

1. Per notebook, one kernel at a time (what a learner waits for, notebook by notebook): the
   kernel's start, the first cell (the helpers' imports and ``course.start``), the other cells,
   the kernel's stop. Also the same for a one-cell notebook (``1+1``): the floor that nbval
   and an IPython kernel cost whatever the notebook does.
2. The whole strict replay as ``make replay`` runs it, once with one kernel at a time
   (``-n 0``) and once with ``REPLAY_JOBS`` kernels side by side (``-n 2 --dist loadfile``,
   the Makefile's default), wall-clock, each in a fresh process.
3. What the first cell imports: its import time, and which heavy libraries it leaves for
   later (the Docker SDK, requests, urllib3 and matplotlib should not load there).

    python -m bench replay             # or: python bench/bench_replay.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench import text_table

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TARGET_SECONDS = 20.0
JOBS = int(os.environ.get("REPLAY_JOBS", "2"))
ENV = {**os.environ, "COURSE_MODE": "replay", "COURSE_PROGRESS_FILE": os.devnull}

# Timings per test phase, read back from a pytest run in a subprocess (pytest's own
# --durations report, one line per phase of every cell).
COLLECT = """
import json, sys, pytest
rows = []
class Collect:
    def pytest_runtest_logreport(self, report):
        rows.append([report.nodeid, report.when, report.duration, report.outcome])
code = pytest.main(sys.argv[2:], plugins=[Collect()])
json.dump(rows, open(sys.argv[1], "w"))
sys.exit(int(code))
"""

FIRST_CELL = """
import sys, time
started = time.perf_counter()
from helpers import charts, course, display, tasks
from helpers.lessons import isolation
took = time.perf_counter() - started
heavy = [m for m in ("docker", "requests", "urllib3", "matplotlib", "pandas") if m in sys.modules]
print(f"{took:.3f} {','.join(heavy)}")
"""


def _pytest(arguments: list[str], cwd: Path) -> tuple[float, list[list]]:
    import json

    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", COLLECT, out.name, "-q",
                               "-p", "no:cacheprovider", *arguments], cwd=cwd, env=ENV,
                              capture_output=True, text=True, timeout=900, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"pytest failed ({done.returncode}):\n{done.stdout[-3000:]}"
                             f"{done.stderr[-2000:]}")
        return wall, json.loads(Path(out.name).read_text(encoding="utf-8"))


def _phases(rows: list[list]) -> dict[str, dict[str, float]]:
    """notebook file -> start, first cell, other cells, stop (s) and the number of cells."""
    found: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for nodeid, when, seconds, _ in rows:
        name, _, cell = nodeid.partition("::")
        part = found[Path(name).name]
        if when == "setup":
            part["start"] += seconds
        elif when == "teardown":
            part["stop"] += seconds
        elif cell.endswith("Cell 0"):
            part["first"] += seconds
            part["cells"] += 1
        else:
            part["rest"] += seconds
            part["cells"] += 1
    return found


def _floor() -> dict[str, float]:
    """The same phases for a notebook whose one cell is ``1+1``."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as folder:
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(
            "1+1", execution_count=1, outputs=[nbformat.v4.new_output(
                "execute_result", data={"text/plain": "2"}, execution_count=1)])]
        nbformat.write(notebook, Path(folder) / "floor.ipynb")
        _, rows = _pytest(["--nbval", "--nbval-current-env", "-c", os.devnull,
                           "--rootdir", folder, folder], Path(folder))
    return dict(_phases(rows)["floor.ipynb"])


def main(argv: list[str] | None = None) -> int:
    del argv
    strict = ["notebooks", "--nbval", "--nbval-current-env", "--nbval-cell-timeout=1200"]
    serial_wall, rows = _pytest([*strict, "-n", "0"], ROOT)
    phases = _phases(rows)
    floor = _floor()
    table = []
    for name in sorted(phases):
        p = phases[name]
        total = p["start"] + p["first"] + p["rest"] + p["stop"]
        table.append((name[:2], f"{int(p['cells'])}", f"{p['start']:.2f}", f"{p['first']:.2f}",
                      f"{p['rest']:.2f}", f"{p['stop']:.2f}", f"{total:.2f}"))
    sums = {key: sum(p[key] for p in phases.values())
            for key in ("start", "first", "rest", "stop")}
    serial_sum = sum(sums.values())
    table.append(("all", f"{int(sum(p['cells'] for p in phases.values()))}",
                  *(f"{sums[k]:.2f}" for k in ("start", "first", "rest", "stop")),
                  f"{serial_sum:.2f}"))
    table.append(("1+1", "1", f"{floor['start']:.2f}", f"{floor['first']:.2f}", "–",
                  f"{floor['stop']:.2f}",
                  f"{floor['start'] + floor['first'] + floor['stop']:.2f}"))
    print("Strict replay, one kernel at a time (seconds per phase; 1+1: the floor of any "
          "notebook)")
    print(text_table(table, ("nb", "cells", "kernel start", "first cell", "other cells",
                             "kernel stop", "total")))
    parallel_wall, _ = _pytest([*strict, "-n", str(JOBS), "--dist", "loadfile"], ROOT)
    print()
    print(text_table([
        ("sum of the ten notebooks (kernel start to stop)", f"{serial_sum:.1f} s",
         f"{serial_sum / TARGET_SECONDS:.2f}"),
        ("`pytest --nbval` wall, one kernel at a time", f"{serial_wall:.1f} s",
         f"{serial_wall / TARGET_SECONDS:.2f}"),
        (f"`pytest --nbval -n {JOBS}` wall (make replay)", f"{parallel_wall:.1f} s",
         f"{parallel_wall / TARGET_SECONDS:.2f}"),
    ], ("measure", "time", f"÷ target {TARGET_SECONDS:.0f} s")))
    done = subprocess.run([sys.executable, "-c", FIRST_CELL], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=120, check=True)
    seconds, _, heavy = done.stdout.strip().partition(" ")
    print()
    print(f"first cell's imports (notebook 01, fresh process): {float(seconds):.2f} s; "
          f"loaded: {heavy or 'none of the heavy ones'} "
          "(docker, requests, urllib3 and matplotlib wait for their first use)")
    return 0 if parallel_wall <= TARGET_SECONDS else 1


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
