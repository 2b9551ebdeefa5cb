"""Driving JupyterLab in headless Chromium (Playwright, Debian's Chromium: no browser download).

Shared by the browser tests: a JupyterLab server on a temporary copy of the notebooks, and the
few learner actions they need (Run All, run a cell, edit a cell, save, restart).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import ports

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def chromium() -> str:
    """The Chromium to drive; skips (fails under CI) when there is none."""
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    message = "Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def write_settings(folder: Path) -> None:
    """Render every cell (no windowing, so every prompt can be read) and no news pop-up."""
    for plugin, values in (
            ("@jupyterlab/notebook-extension/tracker", {"windowingMode": "none"}),
            ("@jupyterlab/apputils-extension/notification",
             {"fetchNews": "false", "checkForUpdates": False})):
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@contextlib.contextmanager
def lab_server(tmp_path: Path, env: dict[str, str] | None = None
               ) -> Iterator[tuple[str, str, Path]]:
    """``jupyter lab`` on a temporary copy of the notebooks, on a free loopback port.

    Yields (base URL, token, notebooks folder). ``env`` adds to the server's (and so the
    kernels') environment.
    """
    workdir = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", workdir)
    port = ports.free_port()
    token = secrets.token_hex(16)
    write_settings(tmp_path / "settings")
    log_path = tmp_path / "lab.log"
    log = log_path.open("w")
    server_env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
                  "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
                  "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), **(env or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={workdir}", "--ServerApp.open_browser=False",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=server_env, cwd=workdir)
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
                pytest.fail("jupyter lab exited: " + log_path.read_text()[-2000:])
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


def open_notebook(page: Any, base: str, token: str, name: str, *,
                  workspace: str = "") -> None:
    """Open notebook ``name`` and wait until its kernel is ready for "Run All"."""
    where = f"/lab/workspaces/{workspace}" if workspace else "/lab"
    page.goto(f"{base}{where}/tree/{name}?token={token}", wait_until="networkidle")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    wait_for_kernel(base, token, name)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=60_000)


def wait_for_kernel(base: str, token: str, name: str, timeout: float = 120) -> None:
    """Until the server reports the notebook's kernel started and idle.

    In a fresh virtualenv the first kernel start is slow (bytecode compiling); the page's idle
    indicator can show before the kernel is connected, and "Run All" would then be lost.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = requests.get(f"{base}/api/sessions?token={token}", timeout=5).json()
        states = [s["kernel"].get("execution_state") for s in sessions
                  if s.get("path", "").endswith(name) and s.get("kernel")]
        if "idle" in states:
            return
        time.sleep(0.5)
    pytest.fail(f"the kernel of {name} was not ready within {timeout:.0f} s")


def menu(page: Any, top: str, item: str) -> None:
    """Click a main-menu entry, e.g. ("Run", "Run All Cells")."""
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.get_by_text(item, exact=True).click()


def run_all(page: Any) -> bool:
    """Run → Run All Cells; True when every code cell ran."""
    menu(page, "Run", "Run All Cells")
    return wait_until_idle(page)


def restart_and_run_all(page: Any) -> bool:
    """Kernel → Restart Kernel and Run All Cells…, confirmed; True when every code cell ran."""
    menu(page, "Kernel", "Restart Kernel and Run All Cells…")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    time.sleep(2)  # the restart clears the prompts only once the new kernel is up
    return wait_until_idle(page)


def wait_until_idle(page: Any, timeout: float = 300) -> bool:
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


def cell(page: Any, index: int) -> Any:
    """The notebook's cell number ``index`` (counting every cell, as in the .ipynb file)."""
    return page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)


def prompt(page: Any, index: int) -> str:
    """The cell's execution prompt, e.g. ``[12]:``."""
    return cell(page, index).locator(".jp-InputPrompt").inner_text().strip()


def select(page: Any, index: int) -> None:
    """Make the cell the active one, in command mode."""
    cell(page, index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")


def run_cell(page: Any, index: int, *, key: str = "Control+Enter", timeout: float = 120) -> None:
    """Run one cell (Ctrl+Enter: stay; Shift+Enter: move on) and wait for its new prompt."""
    before = prompt(page, index)
    select(page, index)
    page.keyboard.press(key)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = prompt(page, index)
        if re.fullmatch(r"\[\d+\]:", now) and now != before:
            return
        time.sleep(0.2)
    pytest.fail(f"cell {index} did not finish within {timeout:.0f} s "
                f"(prompt {prompt(page, index)})")


def set_source(page: Any, index: int, text: str) -> None:
    """Replace the cell's code as a learner would: select all of it and type (paste) over it."""
    cell(page, index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")


def insert_cell_below(page: Any, index: int, text: str) -> int:
    """A new code cell under cell ``index`` holding ``text``; its index."""
    select(page, index)
    page.keyboard.press("b")
    new = index + 1
    set_source(page, new, text)
    return new


def output_text(page: Any, index: int) -> str:
    """Everything the cell's output area shows, as text."""
    return "\n".join(cell(page, index).locator(".jp-OutputArea-output").all_inner_texts())


def save(page: Any, path: Path, timeout: float = 20) -> dict:
    """Save from the browser (Ctrl+S) and return the notebook as saved."""
    before = path.stat().st_mtime
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + timeout
    while path.stat().st_mtime == before and time.monotonic() < deadline:
        time.sleep(0.3)
    return json.loads(path.read_text(encoding="utf-8"))


def error_outputs(notebook: dict) -> list[str]:
    """The notebook's error outputs (name: value): tracebacks a learner would see."""
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in notebook["cells"]
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def saved_errors(page: Any, path: Path) -> list[str]:
    """Save the notebook from the browser and list its error outputs (name: value)."""
    return error_outputs(save(page, path))
