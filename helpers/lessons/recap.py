"""Notebook 10: the learner's own command recap and the course's measured results.

Both are built from what the other notebooks actually did: the journal of CLI lines, and the
results each notebook's helpers returned in its latest run (or, for a notebook not run on this
machine, in its recording). Nothing here is typed by hand.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import journal, session
from ..session import action
from ..units import human_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COURSE_NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07", "08", "09")
SUBCOMMAND_GROUPS = {"compose", "image", "volume", "network", "container", "system", "scout",
                     "buildx", "builder", "context", "plugin"}
COMPOSE_OPTIONS_WITH_VALUE = {"-p", "--project-name", "-f", "--file", "--env-file",
                              "--project-directory", "--profile"}


def notebook_title(notebook: str) -> str:
    """The notebook's first heading, e.g. "02 · A Dockerfile for a Flask app"."""
    path = session.notebook_file(notebook)
    if path is None:
        return notebook
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return notebook


def command_verb(cli: str) -> str:
    """The command a journal line is an example of: "docker run", "docker volume create",
    "curl" … (the journal holds what the course ran: Compose v2 only, never ``sudo``)."""
    try:
        words = shlex.split(cli)
    except ValueError:
        words = cli.split()
    if not words:
        return ""
    if words[0] == "for" and "do" in words:  # a shell loop: what it repeats
        return command_verb(" ".join(words[words.index("do") + 1:]).removesuffix("; done"))
    if words[0] == "time" and len(words) > 1:
        return command_verb(shlex.join(words[1:]))
    if words[:3] == ["python", "-m", "helpers"] and len(words) > 3:
        return f"python -m helpers {words[3]}"
    if words[:2] == ["docker", "compose"]:  # skip the global options: -p NAME, -f FILE …
        rest = iter(words[2:])
        for word in rest:
            if word in COMPOSE_OPTIONS_WITH_VALUE:
                next(rest, None)
            elif not word.startswith("-"):
                return f"docker compose {word}"
        return "docker compose"
    if words[0] == "docker" and len(words) > 1:
        if words[1] in SUBCOMMAND_GROUPS and len(words) > 2:
            return f"docker {words[1]} {words[2]}"
        return f"docker {words[1]}"
    return words[0]


@action
def command_recap() -> pd.DataFrame:
    """Every command the course ran, grouped by what it is: count, notebooks, one example."""
    rows = [{"notebook": c.notebook, "verb": command_verb(c.cli), "cli": c.cli}
            for c in journal.read() if c.notebook in COURSE_NOTEBOOKS or c.notebook == "10"]
    frame = pd.DataFrame(rows, columns=["notebook", "verb", "cli"])
    if frame.empty:
        return pd.DataFrame(columns=["command", "times", "notebooks", "example"])
    grouped = frame.groupby("verb", sort=False)
    recap = pd.DataFrame({
        "times": grouped.size(),
        "notebooks": grouped["notebook"].agg(lambda s: ", ".join(sorted(set(s)))),
        "example": grouped["cli"].agg(lambda s: copyable_example(list(s))),
    })
    recap.index.name = "command"
    recap = recap[[is_docker_command(verb) for verb in recap.index]]
    return recap.sort_values(["times", "command"], ascending=[False, True])


def is_docker_command(verb: str) -> bool:
    """A ``docker …`` command (Compose included); not curl, tar, rm, sha256sum or the course's
    own CLI."""
    return verb == "docker" or verb.startswith("docker ")


def copyable_example(lines: list[str]) -> str:
    """The example to show for one kind of command: the first line that is the command alone
    (no shell loop, pipe, redirection or ``time``), else the first line."""
    for line in lines:
        if line.startswith("docker ") and not any(mark in line for mark in ("|", "2>&1", "; ")):
            return line
    return lines[0] if lines else ""


@action
def commands_per_task() -> pd.DataFrame:
    """How many commands each notebook (task) ran, and how many different ones."""
    commands = journal.read()
    rows = []
    for notebook in COURSE_NOTEBOOKS:
        mine = [c for c in commands if c.notebook == notebook]
        rows.append({"task": notebook_title(notebook), "commands run": len(mine),
                     "different commands": len({command_verb(c.cli) for c in mine})})
    return pd.DataFrame(rows).set_index("task")


@dataclass
class Measure:
    """One measured result of the course, as the dashboard shows it."""

    notebook: str
    measure: str
    value: str
    number: float | None = None


def _first(results: dict[str, list[Any]], name: str, when: Callable[[Any], bool] = bool) -> Any:
    return next((r for r in results.get(name, []) if r is not None and when(r)), None)


def _all(results: dict[str, list[Any]], name: str) -> list[Any]:
    return [r for r in results.get(name, []) if r is not None]


def _measures_01(results: dict[str, list[Any]]) -> list[Measure]:
    latency = _first(results, "start_latency", lambda r: not r.empty)
    oom = _first(results, "memory_limit")
    found = []
    if latency is not None:
        median = float(latency["seconds"].median() * 1000)
        found.append(Measure("01", "container start, median", f"{median:.0f} ms", median))
    if oom is not None:
        found.append(Measure("01", "memory limit enforced (OOM-killed)",
                             "yes" if oom.oom_killed else "no", float(oom.oom_killed)))
    return found


def _measures_02(results: dict[str, list[Any]]) -> list[Measure]:
    builds = _all(results, "build_image")
    found = []
    if builds:
        found.append(Measure("02", "app image size", human_bytes(builds[0].size_bytes),
                             builds[0].size_bytes))
        found.append(Measure("02", "first build", f"{builds[0].seconds:.1f} s", builds[0].seconds))
    if len(builds) > 1:
        found.append(Measure("02", "rebuild from cache", f"{builds[1].seconds:.1f} s",
                             builds[1].seconds))
    return found


def _measures_04(results: dict[str, list[Any]]) -> list[Measure]:
    found = []
    for result in results.values():
        for item in result:
            sizes = getattr(item, "sizes", None)
            if isinstance(sizes, pd.DataFrame) and "size_bytes" in sizes:
                for _, row in sizes.iterrows():
                    found.append(Measure("04", f"image {row.iloc[0]}", human_bytes(
                        row["size_bytes"]), float(row["size_bytes"])))
            if hasattr(item, "efficiency") and hasattr(item, "wasted_bytes") and \
                    hasattr(item, "image"):
                found.append(Measure("04", f"efficiency of {item.image}",
                                     f"{item.efficiency:.2%} ({human_bytes(item.wasted_bytes)} "
                                     "wasted)", float(item.efficiency)))
    return found


def _measures_05(results: dict[str, list[Any]]) -> list[Measure]:
    pushes = [p for p in _all(results, "push") if getattr(p, "layers_sent", 0) or
              getattr(p, "layers_reused", 0)]
    found = []
    for label, push in zip(("first push", "second push"), pushes[:2], strict=False):
        found.append(Measure("05", f"{label}: uploaded / already there",
                             f"{human_bytes(push.bytes_sent)} / {human_bytes(push.bytes_reused)}",
                             float(push.bytes_sent)))
    return found


def _measures_06(results: dict[str, list[Any]]) -> list[Measure]:
    backup = _first(results, "backup_volume")
    if backup is None:
        return []
    return [Measure("06", "volume backup", f"{backup.files} files, "
                    f"{human_bytes(backup.archive_bytes)} archive", float(backup.archive_bytes))]


def _measures_07(results: dict[str, list[Any]]) -> list[Measure]:
    race = _first(results, "startup_race")
    if race is None:
        return []
    return [Measure("07", "database ready after", f"{race.database_ready_seconds:.1f} s",
                    race.database_ready_seconds),
            Measure("07", "app restarts while it waited", str(race.app_restarts),
                    float(race.app_restarts))]


def _measures_08(results: dict[str, list[Any]]) -> list[Measure]:
    up = _first(results, "up")
    recovery = _first(results, "kill_main_process")
    found = []
    if up is not None:
        for service, seconds in up.healthy.items():
            found.append(Measure("08", f"compose up: {service} healthy after",
                                 f"{seconds:.1f} s", seconds))
    if recovery is not None:
        found.append(Measure("08", "restart: always brought the app back in",
                             f"{recovery.seconds_until_running:.1f} s",
                             recovery.seconds_until_running))
    return found


def _measures_09(results: dict[str, list[Any]]) -> list[Measure]:
    """Findings of the two scans, each split into the image's own layers and its base image's,
    with what was judged: a count without its scope would read as a verdict on the image."""
    scans = _all(results, "scan_image")
    found = []
    for label, scan in zip(("old pins", "bumped pins"), scans[:2], strict=False):
        base_layers = max(getattr(scan, "base_layers", -1), 0)
        layer_of = {(p.name, p.version, p.type): p.layer_index for p in scan.packages}
        mine = [f for f in scan.findings
                if layer_of.get((f.package, f.installed, f.type), base_layers) >= base_layers]
        base = [f for f in scan.findings if f not in mine]
        for where, rows in (("your layers", mine), ("base image", base)):
            serious = sum(1 for f in rows if f.severity in ("CRITICAL", "HIGH"))
            found.append(Measure("09", f"findings, {label}, {where} (critical + high)",
                                 f"{len(rows)} ({serious})", float(serious)))
        coverage = getattr(scan, "coverage", None)
        if coverage is not None:
            judged = ", ".join(f"{r.judged}/{r.listed} {r.kind}" for r in coverage.rows)
            found.append(Measure("09", f"packages judged, {label}",
                                 f"{judged} (data as of {coverage.as_of or '?'})",
                                 float(coverage.judged)))
    return found


EXTRACTORS: dict[str, Callable[[dict[str, list[Any]]], list[Measure]]] = {
    "01": _measures_01, "02": _measures_02, "04": _measures_04, "05": _measures_05,
    "06": _measures_06, "07": _measures_07, "08": _measures_08, "09": _measures_09,
}


@action
def dashboard() -> pd.DataFrame:
    """The measured results of notebooks 01–09, from their latest runs."""
    rows: list[Measure] = []
    for notebook, extract in EXTRACTORS.items():
        try:
            found = extract(session.run_results(notebook))
        except (AttributeError, KeyError, TypeError, ValueError):
            found = []
        rows += found or [Measure(notebook, "not run yet", "–")]
    frame = pd.DataFrame([r.__dict__ for r in rows])
    frame["task"] = frame["notebook"].map(notebook_title)
    return frame[["notebook", "task", "measure", "value", "number"]]


@action
def dashboard_charts_data() -> dict[str, pd.DataFrame]:
    """The frames behind the dashboard charts (start latency, health timeline, findings)."""
    data: dict[str, pd.DataFrame] = {}
    latency = _first(session.run_results("01"), "start_latency", lambda r: not r.empty)
    if latency is not None:
        data["latency"] = latency
    up = _first(session.run_results("08"), "up")
    if up is not None and isinstance(getattr(up, "timeline", None), pd.DataFrame):
        data["timeline"] = up.timeline
    scans = _all(session.run_results("09"), "scan_image")
    if scans:
        data["findings"] = pd.DataFrame(
            [{"image": label, **scan.summary} for label, scan in
             zip(("old pins", "bumped pins"), scans, strict=False)]).set_index("image")
    return data


def dashboard_figure(data: dict[str, pd.DataFrame]) -> Figure:
    """The dashboard's panels: :func:`helpers.charts.dashboard_figure`."""
    from .. import charts

    return charts.dashboard_figure(data)
