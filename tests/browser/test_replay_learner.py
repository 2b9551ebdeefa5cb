"""Replay as a learner uses it: JupyterLab in headless Chromium, no Docker Engine at all.

On notebooks 01, 04 and 09, with the committed recordings: Run All; re-run a middle cell twice
(the recorded result again); step on with Shift+Enter; change an argument and run it (a note:
not in the recorded session); save, restart the kernel and Run All; duplicate the notebook,
edit and save the copy, then Run All on the original; paste the exercise solution into a new
cell. Never a traceback, and never a ✔ on a result replay did not have.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
import requests
from labdriver import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    cell,
    chromium,
    error_outputs,
    insert_cell_below,
    lab_server,
    open_notebook,
    output_text,
    restart_and_run_all,
    run_all,
    run_cell,
    save,
    select,
    set_source,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

NOT_RECORDED = "Not in the recorded session"
NEEDS_ENGINE = "Needs a live engine"


@dataclass(frozen=True)
class Scenario:
    """Where in a notebook the learner acts (cells found by a piece of their code)."""

    rerun: str  # a middle cell with a helper call, re-run twice
    edit: tuple[str, str, str]  # the cell, the argument as committed, the learner's version
    depends: str  # a later cell that uses the edited result (its check must not be green)


SCENARIOS = {
    "01_containers_vs_vms.ipynb": Scenario(
        rerun="isolation.kernel_inside_vs_host(",
        edit=("isolation.memory_limit(", "limit_mb=64", "limit_mb=512"),
        depends="display.check(oom.oom_killed"),
    "04_multistage_builds.ipynb": Scenario(
        rerun='anatomy.analyse("docker-course/flask-app-04:single")',
        edit=('course.run_once("docker-course/flask-app-04:multi"', "id -u;", "id -un;"),
        depends="probe.output.split()"),
    "09_vulnerabilities.ipynb": Scenario(
        rerun="before = vulnerabilities.scan_image(OLD)",
        edit=("vulnerabilities.build_app(NEW", '"requirements-bumped.txt"',
              '"requirements-2021.txt"'),
        depends="vulnerabilities.base_and_yours(after)"),
}


CUT_CELLS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output td,'
    + '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output th')]
  .map(c => c.innerText.trim()).filter(t => t.endsWith('...'))"""
SQUEEZED_IMAGES = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img')]
  .filter(i => i.complete && i.naturalWidth > 0 && i.clientWidth < 0.9 * i.naturalWidth)
  .map(i => `${i.naturalWidth}px drawn, ${i.clientWidth}px shown`)"""


def _sources(notebook: dict) -> list[str]:
    return ["".join(c.get("source", "")) for c in notebook["cells"]]


def _find(notebook: dict, piece: str) -> int:
    found = [i for i, (c, s) in enumerate(zip(notebook["cells"], _sources(notebook), strict=True))
             if c["cell_type"] == "code" and piece in s]
    assert found, f"no code cell with {piece!r}: update SCENARIOS to the notebook"
    return found[0]


def _exercise(notebook: dict) -> str:
    for source in _sources(notebook):
        if "## Exercise" in source:
            match = re.search(r"```python\n(.*?)```", source, re.S)
            if match:
                return match.group(1).strip()
    pytest.fail("the notebook has no exercise with a ```python solution")


def _notes(page, index: int) -> str:
    return output_text(page, index)


def _honest(page, cells: int) -> list[int]:
    """Cells that show a ✔ next to a replay note: a green check on a result it did not have."""
    return [i for i in range(cells) if "✔" in (text := _notes(page, i))
            and (NOT_RECORDED in text or NEEDS_ENGINE in text)]


@pytest.fixture
def replay_lab(tmp_path):
    """JupyterLab whose kernels replay and can reach no engine at all."""
    env = {"COURSE_MODE": "replay", "DOCKER_HOST": "unix:///nonexistent/docker.sock",
           "DOCKER_CONTEXT": "", "COURSE_STATE_DIR": str(tmp_path / "state"),
           "COURSE_REQUIRE_ENGINE": ""}
    with lab_server(tmp_path, env) as running:
        yield running


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_learner_can_do_anything_in_replay(replay_lab, name: str) -> None:
    from playwright.sync_api import sync_playwright

    scenario = SCENARIOS[name]
    base, token, workdir = replay_lab
    path = workdir / name
    committed = json.loads(path.read_text(encoding="utf-8"))
    rerun, depends = _find(committed, scenario.rerun), _find(committed, scenario.depends)
    edited = _find(committed, scenario.edit[0])
    cells = len(committed["cells"])
    ARTIFACTS.mkdir(exist_ok=True)
    shot = str(ARTIFACTS / f"browser-replay-{name[:2]}-failure.png")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True,
                                             args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            open_notebook(page, base, token, name)

            # Run All: every cell runs, from the recording, and the banner says what replay is
            assert run_all(page), "Run All did not run every cell"
            assert error_outputs(save(page, path)) == []
            banner = _notes(page, _find(committed, "course.start("))
            assert "Re-run any cell" in banner and "make lab" in banner, banner
            assert page.locator(".course-offline").count() == 0, "a committed call replayed as "\
                "not recorded: the recording is stale (python -m helpers record)"
            # as Chromium renders them: no table cell cut short with "...", no chart squeezed
            assert page.evaluate(CUT_CELLS) == [], "a table is cut short"
            assert page.evaluate(SQUEEZED_IMAGES) == [], "a chart is shown smaller than drawn"

            # a middle cell re-run twice shows the recorded result again
            first = _notes(page, rerun)
            for _ in range(2):
                run_cell(page, rerun)
                assert _notes(page, rerun) == first

            # step on with Shift+Enter
            select(page, rerun)
            for _ in range(4):
                page.keyboard.press("Shift+Enter")
            wait_until_idle(page)
            assert error_outputs(save(page, path)) == []

            # change an argument: a note, not the result recorded for other arguments
            source, was, now = (_sources(committed)[edited], *scenario.edit[1:])
            assert was in source, f"{was!r} is not in the cell any more: update SCENARIOS"
            set_source(page, edited, source.replace(was, now))
            run_cell(page, edited)
            assert NOT_RECORDED in _notes(page, edited)
            run_cell(page, depends)
            assert NEEDS_ENGINE in _notes(page, depends) and "✔" not in _notes(page, depends)
            assert error_outputs(save(page, path)) == []

            # save, restart the kernel, Run All: the edit does not make the notebook unrunnable
            assert restart_and_run_all(page), "Run All stopped after the edit"
            assert error_outputs(save(page, path)) == []
            assert NOT_RECORDED in _notes(page, edited)
            assert NEEDS_ENGINE in _notes(page, depends)
            before = [i for i in range(edited) if NOT_RECORDED in _notes(page, i)
                      or NEEDS_ENGINE in _notes(page, i)]
            assert before == [], f"cells before the edit lost their recording: {before}"
            assert _honest(page, cells) == []

            # a duplicated notebook, edited and saved, changes nothing for the original
            copied = requests.post(f"{base}/api/contents?token={token}",
                                   json={"copy_from": name}, timeout=10).json()["path"]
            other = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_notebook(other, base, token, copied, workspace="copy")
            start = _find(committed, "course.start(")
            set_source(other, start, _sources(committed)[start] + "\n# my own notes")
            save(other, workdir / copied)
            other.close()
            assert restart_and_run_all(page), "Run All on the original failed after the copy"
            assert error_outputs(save(page, path)) == []
            assert page.locator(".jp-NotebookPanel .course-offline").count() >= 1  # the edit

            # the exercise, pasted into a new cell: a note, no traceback
            last = len(json.loads(path.read_text(encoding="utf-8"))["cells"]) - 1
            exercise = insert_cell_below(page, last, _exercise(committed))
            run_cell(page, exercise)
            assert NOT_RECORDED in _notes(page, exercise), _notes(page, exercise)
            saved = save(page, path)
            assert error_outputs(saved) == []
            assert _honest(page, len(saved["cells"])) == []
            for index, what in ((edited, "edited"), (depends, "check"), (exercise, "exercise")):
                cell(page, index).screenshot(path=str(ARTIFACTS / f"browser-replay-{name[:2]}-"
                                                                  f"{what}.png"))
        except BaseException:
            page.screenshot(path=shot, full_page=True)
            raise
        finally:
            browser.close()
