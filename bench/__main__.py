"""``python -m bench [NAME ...]``: run the ``main()`` of every ``bench/bench_*.py`` module.

Each benchmark prints its own table. NAME selects benchmarks by the part after ``bench_``
(``python -m bench scan``). The exit code is the worst of theirs.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def discover() -> list[str]:
    """Module names of the benchmarks, in name order."""
    folder = Path(__file__).resolve().parent
    return sorted(info.name for info in pkgutil.iter_modules([str(folder)])
                  if info.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    wanted = list(sys.argv[1:] if argv is None else argv)
    options = [w for w in wanted if w.startswith("-")]
    if options:
        print(f"Options ({' '.join(options)}) belong to one benchmark: run it as a script, "
              "e.g. python bench/bench_scan.py --keep")
        return 2
    names = [n for n in discover() if not wanted or n.removeprefix("bench_") in wanted
             or n in wanted]
    if not names:
        print(f"No benchmark matches {' '.join(wanted)}; known: "
              + ", ".join(n.removeprefix("bench_") for n in discover()))
        return 2
    worst = 0
    for name in names:
        print(f"== {name}")
        module = importlib.import_module(f"bench.{name}")
        code = module.main()
        worst = max(worst, int(code or 0))
        print()
    return worst


if __name__ == "__main__":
    sys.exit(main())
