"""How long ``python -m helpers scan IMAGE`` takes on the course app image, cold and warm.

Builds the app with its 2021 pins (the app's Dockerfile with
``REQUIREMENTS=requirements-2021.txt``: the image notebook 09 scans) under its own label
scope, then runs the command as a learner would, in a fresh process each time: the first run
is "cold" (first export of a new image, first read of the advisory snapshot), the following
runs "warm". A second table splits one warm scan into its stages, in one process. The target
is a warm run of at most 3 s. The image is removed at the end unless ``--keep``.

    python -m bench scan            # or: python bench/bench_scan.py [--runs 5] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import bench_scope, text_table

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCOPE = "09-bench"
IMAGE = "docker-course/flask-app-09:bench"
TARGET_SECONDS = 3.0


def _cli_run(arguments: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "helpers", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return time.perf_counter() - started, done.returncode, done.stdout + done.stderr


def _stages(image: str) -> list[tuple[str, str]]:
    """One warm scan, in process, split into export, read and match."""
    from helpers.anatomy.archive import read_image
    from helpers.engine import images
    from helpers.scan import load_snapshot, scan_archive, wants

    started = time.perf_counter()
    size = sum(len(chunk) for chunk in images.export_stream(image))
    export = time.perf_counter() - started
    started = time.perf_counter()
    archive = read_image(images.export_stream(image), keep=wants)
    read = time.perf_counter() - started
    started = time.perf_counter()
    index = load_snapshot()
    load = time.perf_counter() - started
    started = time.perf_counter()
    result = scan_archive(archive, target=image, snapshot=index)
    match = time.perf_counter() - started
    return [
        ("docker save stream only (drained)", f"{export:.2f} s ({size / 1e6:.0f} MB)"),
        ("docker save stream + archive reader (keep=wants)", f"{read:.2f} s"),
        ("load advisory snapshot", f"{load:.2f} s ({len(index)} advisories)"),
        ("inventory + match", f"{match:.2f} s ({len(result.packages)} packages, "
                              f"{len(result.findings)} findings)"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `python -m helpers scan IMAGE`.")
    parser.add_argument("--runs", type=int, default=5, help="CLI runs (first one is cold)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark image")
    args = parser.parse_args(argv or [])
    with bench_scope(SCOPE, "bench-scan-"):
        return _measure(args)


def _measure(args: argparse.Namespace) -> int:
    from helpers.engine import images
    from helpers.engine.cleanup import cleanup
    from helpers.lessons import vulnerabilities

    env = dict(os.environ)
    try:
        built = vulnerabilities.build_app(IMAGE)
        facts = images.require(IMAGE)
        runs = []
        for _ in range(max(args.runs, 2)):
            seconds, code, output = _cli_run(["scan", IMAGE], env)
            if code != 0:
                print(output)
                return 2
            runs.append(seconds)
        json_seconds, _, _ = _cli_run(["scan", IMAGE, "--json"], env)
        warm = runs[1:]
        median = statistics.median(warm)
        print(f"image {IMAGE}: {facts.size_bytes / 1e6:.0f} MB, {facts.layers} layers "
              f"(built in {built.seconds:.1f} s)")
        rows = [("cold (first run)", f"{runs[0]:.2f} s"),
                (f"warm, median of {len(warm)}", f"{median:.2f} s"),
                ("warm, min / max", f"{min(warm):.2f} s / {max(warm):.2f} s"),
                ("warm, --json", f"{json_seconds:.2f} s")]
        print(text_table(rows, ("python -m helpers scan IMAGE", "wall time")))
        print()
        print(text_table(_stages(IMAGE), ("one warm scan, in process", "time")))
        verdict = "PASS" if median <= TARGET_SECONDS else "FAIL"
        print(f"\n{verdict}: warm median {median:.2f} s (target <= {TARGET_SECONDS:.0f} s)")
        return 0 if verdict == "PASS" else 1
    finally:
        if not args.keep:
            cleanup(SCOPE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
