"""A learner's view: JupyterLab in headless Chromium runs a notebook; charts render, no errors.

Uses Debian's Chromium through Playwright (no browser download). Skips where Chromium is
absent, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers import ports

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
NOTEBOOK = "01_containers_vs_vms.ipynb"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]

pytestmark = pytest.mark.browser


def _chromium() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    message = "Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def lab_server(tmp_path):
    """``jupyter lab`` on a temporary copy of the notebooks, on a free loopback port."""
    workdir = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", workdir)
    port = ports.free_port()
    token = secrets.token_hex(16)
    _write_settings(tmp_path / "settings")
    log = (tmp_path / "lab.log").open("w")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={workdir}", "--ServerApp.open_browser=False",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/api/status?token={token}", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None:
                pytest.fail("jupyter lab exited: " + (tmp_path / "lab.log").read_text()[-2000:])
            time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not answer within 60 s")
        yield base, token, workdir
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _write_settings(folder: Path) -> None:
    """Render every cell (no windowing, so every prompt can be read) and no news pop-up."""
    import json

    for plugin, values in (
            ("@jupyterlab/notebook-extension/tracker", {"windowingMode": "none"}),
            ("@jupyterlab/apputils-extension/notification",
             {"fetchNews": "false", "checkForUpdates": False})):
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def test_notebook_runs_in_the_browser_and_charts_render(lab_server) -> None:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    base, token, workdir = lab_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", wait_until="networkidle")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
            _wait_for_kernel(base, token)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            finished = _wait_until_idle(page)
            errors = _saved_errors(page, workdir / NOTEBOOK)
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


def _wait_for_kernel(base: str, token: str, timeout: float = 120) -> None:
    """Until the server reports the notebook's kernel started and idle.

    In a fresh virtualenv the first kernel start is slow (bytecode compiling); the page's idle
    indicator can show before the kernel is connected, and "Run All" would then be lost.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = requests.get(f"{base}/api/sessions?token={token}", timeout=5).json()
        states = [s["kernel"].get("execution_state") for s in sessions
                  if s.get("path", "").endswith(NOTEBOOK) and s.get("kernel")]
        if "idle" in states:
            return
        time.sleep(0.5)
    pytest.fail(f"the notebook's kernel was not ready within {timeout:.0f} s")


def _saved_errors(page, path: Path) -> list[str]:
    """Save the notebook from the browser and list its error outputs (name: value)."""
    import json

    before = path.stat().st_mtime
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 20
    while path.stat().st_mtime == before and time.monotonic() < deadline:
        time.sleep(0.3)
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in cells for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def _wait_until_idle(page, timeout: float = 300) -> bool:
    """Wait until no cell shows ``[*]`` for a few seconds; True if every code cell ran.

    "Run All Cells" stops at the first error, so waiting for every prompt would hang.
    """
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        prompts = [p.strip() for p in
                   page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]
        if "[*]:" in prompts:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 3:
            return bool(prompts) and all(p not in ("[ ]:", "") for p in prompts)
        time.sleep(0.5)
    pytest.fail(f"cells still running after {timeout:.0f} s")
