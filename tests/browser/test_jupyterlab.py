"""A learner's view: JupyterLab in headless Chromium runs a notebook; charts render, no errors.

Uses Debian's Chromium through Playwright (no browser download). Skips where Chromium is
absent, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import pytest
from labdriver import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    chromium,
    lab_server,
    open_notebook,
    run_all,
    saved_errors,
)

NOTEBOOK = "01_containers_vs_vms.ipynb"

pytestmark = pytest.mark.browser


@pytest.fixture
def lab(tmp_path):
    """``jupyter lab`` on a temporary copy of the notebooks, on a free loopback port."""
    with lab_server(tmp_path) as running:
        yield running


def test_notebook_runs_in_the_browser_and_charts_render(lab) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    base, token, workdir = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            open_notebook(page, base, token, NOTEBOOK)
            finished = run_all(page)
            errors = saved_errors(page, workdir / NOTEBOOK)
            if errors or not finished:
                page.screenshot(path=str(ARTIFACTS / "browser-01-failure.png"), full_page=True)
            assert errors == [], [e[:1500] for e in errors[:2]]
            prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
            assert finished, f"some cells did not run: {prompts} (see artifacts/)"
            images = page.locator(".jp-RenderedImage img")
            assert images.count() >= 2, "expected the latency and size charts"
            widths = [images.nth(i).evaluate("img => img.naturalWidth")
                      for i in range(images.count())]
            assert all(width > 100 for width in widths), widths
            cli = page.locator("pre.course-cli").all_inner_texts()
            assert any("$(seq 10)" in line for line in cli), "CLI lines must show verbatim"
            assert page.locator("pre.course-cli mjx-container").count() == 0
            images.first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "browser-01-chart.png"))
        finally:
            browser.close()
