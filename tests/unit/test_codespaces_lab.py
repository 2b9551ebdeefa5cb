"""The dev container's JupyterLab, started with its exact postStartCommand, answers requests as
Codespaces forwards them: with the forwarded Host header, and with the Host rewritten but the
``*.app.github.dev`` Origin kept (page 200, kernel start 201). It outlives the hook's shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
FORWARDED = "fluffy-space-waddle-5g4x9q7r-{port}.app.github.dev"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[dict]:
    """JupyterLab started by the dev container's postStartCommand, on a free port."""
    if not (ROOT / ".venv" / "bin" / "jupyter").exists() or not shutil.which("setsid"):
        pytest.skip("needs the course venv (make .venv/.installed) and setsid")
    folder = tmp_path_factory.mktemp("lab")
    port = _free_port()
    log = folder / "jupyterlab.log"
    env = {**os.environ, "COURSE_LAB_PORT": str(port), "COURSE_LAB_LOG": str(log),
           "COURSE_LAB_WAIT": "120", "JUPYTER_CONFIG_DIR": str(folder / "config"),
           "JUPYTER_RUNTIME_DIR": str(folder / "runtime")}
    hook = subprocess.run(["/bin/sh", "-c", CONFIG["postStartCommand"]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    pid = int((folder / "jupyterlab.log.pid").read_text()) \
        if (folder / "jupyterlab.log.pid").exists() else None
    try:
        assert hook.returncode == 0, hook.stdout + hook.stderr
        yield {"port": port, "pid": pid, "log": log, "hook": hook}
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)  # the session start-lab made with setsid


def test_the_hook_returns_and_jupyterlab_keeps_running(lab) -> None:
    assert "JupyterLab is up" in lab["hook"].stdout
    time.sleep(1)
    os.kill(lab["pid"], 0)  # still alive after the hook's shell has gone
    assert os.getsid(lab["pid"]) == lab["pid"], "start-lab must give JupyterLab its own session"


def test_forwarded_host_gets_the_page_rooted_at_the_repo_on_notebook_01(lab) -> None:
    port = lab["port"]
    host = FORWARDED.format(port=port)
    headers = {"Host": host, "X-Forwarded-Proto": "https", "X-Forwarded-Host": host}
    first = sorted((ROOT / "notebooks").glob("01_*.ipynb"))[0].name
    landing = requests.get(f"http://127.0.0.1:{port}/", headers=headers, timeout=30,
                           allow_redirects=False)
    assert landing.status_code in (301, 302), landing.text[:300]
    assert urlsplit(landing.headers["Location"]).path.endswith(f"/lab/tree/notebooks/{first}")
    page = requests.get(f"http://127.0.0.1:{port}/lab/tree/notebooks/{first}", headers=headers,
                        timeout=30)
    assert page.status_code == 200, page.text[:300]
    contents = requests.get(f"http://127.0.0.1:{port}/api/contents/notebooks", headers=headers,
                            timeout=30)
    assert contents.status_code == 200
    assert first in {item["name"] for item in contents.json()["content"]}


def _session_with_xsrf(port: int, host: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"http://127.0.0.1:{port}/lab", headers={"Host": host}, timeout=30)
    assert page.status_code == 200
    return session


def test_kernel_starts_with_the_host_rewritten_and_the_codespaces_origin_kept(lab) -> None:
    port = lab["port"]
    origin = "https://" + FORWARDED.format(port=port)
    session = _session_with_xsrf(port, f"localhost:{port}")
    headers = {"Host": f"localhost:{port}", "Origin": origin,
               "X-XSRFToken": session.cookies.get("_xsrf", "")}
    started = session.post(f"http://127.0.0.1:{port}/api/kernels", headers=headers,
                           json={"name": "python3"}, timeout=60)
    assert started.status_code in (200, 201), started.text[:300]
    assert started.headers.get("Access-Control-Allow-Origin") == origin
    kernel = started.json()["id"]
    gone = session.delete(f"http://127.0.0.1:{port}/api/kernels/{kernel}", headers=headers,
                          timeout=60)
    assert gone.status_code == 204


def test_kernel_start_through_the_forwarded_host_too(lab) -> None:
    port = lab["port"]
    host = FORWARDED.format(port=port)
    session = _session_with_xsrf(port, host)
    headers = {"Host": host, "Origin": f"https://{host}",
               "X-XSRFToken": session.cookies.get("_xsrf", "")}
    started = session.post(f"http://127.0.0.1:{port}/api/kernels", headers=headers,
                           json={"name": "python3"}, timeout=60)
    assert started.status_code in (200, 201), started.text[:300]
    session.delete(f"http://127.0.0.1:{port}/api/kernels/{started.json()['id']}",
                   headers=headers, timeout=60)


def test_other_origins_are_still_refused(lab) -> None:
    port = lab["port"]
    session = _session_with_xsrf(port, f"localhost:{port}")
    refused = session.post(f"http://127.0.0.1:{port}/api/kernels", json={"name": "python3"},
                           headers={"Host": f"localhost:{port}", "Origin": "https://evil.example",
                                    "X-XSRFToken": session.cookies.get("_xsrf", "")},
                           timeout=60)
    assert refused.status_code in (403, 404)  # jupyter_server: "Blocking Cross Origin API request"


def test_a_second_start_finds_the_running_lab(lab) -> None:
    env = {**os.environ, "COURSE_LAB_PORT": str(lab["port"]), "COURSE_LAB_LOG": str(lab["log"])}
    again = subprocess.run(["/bin/sh", "-c", CONFIG["postStartCommand"]], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 0 and "already running" in again.stdout
