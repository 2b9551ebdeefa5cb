"""Notebook 02's "Your turn" tasks done as a learner does them (the docker CLI), and done wrong.

Each check must pass on the right state and fail, with its specific message, on typical wrong
states. Names are the test's own (``t-<hex>-…``); the ``made`` fixture removes what it made.
"""

from __future__ import annotations

import time
from pathlib import Path

from test_tasks_live import docker, fails, free_port, made, verdict  # noqa: F401

from helpers import settings

APP = str(settings.APPS_DIR / "flask-app")

HEALTHY = """\
ARG PYTHON_IMAGE=python:3.12-slim
FROM ${PYTHON_IMAGE}
WORKDIR /site
RUN echo hello > index.html
USER 10001
HEALTHCHECK --interval=1s --timeout=3s --retries=1 \\
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:PROBE/')"]
CMD ["python", "-m", "http.server", "8000"]
"""


def _dockerfile(folder: Path, text: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(text)
    return str(folder)


# --- 02.build-and-run -----------------------------------------------------------------------

def test_build_and_run(made, python_image):  # noqa: F811
    image = made.name("image", "flask") + ":1.0"
    made.objects.append(("image", image))
    web, port = made.name("container", "web"), free_port()
    names = {"image": image, "container": web, "port": port}
    fails("02.build-and-run", f"there is no image named {image}", **names)
    docker("build", "-q", "-t", image, "--build-arg", f"PYTHON_IMAGE={python_image}", APP)
    fails("02.build-and-run", f"there is no container named {web}", **names)
    docker("run", "-d", "--name", web, "-p", f"127.0.0.1:{port}:5000", image)
    deadline = time.monotonic() + 30
    while not (result := verdict("02.build-and-run", **names)).passed \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "on no other interface" in result.message, result.text()
    docker("rm", "-f", web)
    fails("02.build-and-run", f"there is no container named {web}", **names)
    # published on every interface
    docker("run", "-d", "--name", web, "-p", f"{port}:5000", image)
    fails("02.build-and-run", "every interface", **names)
    docker("rm", "-f", web)
    # the port moved inside the container: published, but nothing listens on 5000
    docker("run", "-d", "--name", web, "-e", "PORT=6000", "-p", f"127.0.0.1:{port}:5000", image)
    time.sleep(3)
    fails("02.build-and-run", "does not listen on 5000", **names)
    docker("rm", "-f", web)
    other = free_port()
    docker("run", "-d", "--name", web, "-p", f"127.0.0.1:{other}:5000", image)
    fails("02.build-and-run", f"host port {other}, not {port}", **names)
    docker("rm", "-f", web)
    docker("create", "--name", web, "-p", f"127.0.0.1:{port}:5000", image)
    fails("02.build-and-run", "is created, not running", **names)


def test_build_and_run_other_image(made, python_image):  # noqa: F811
    image = made.name("image", "flask") + ":1.0"
    made.objects.append(("image", image))
    web, port = made.name("container", "web"), free_port()
    names = {"image": image, "container": web, "port": port}
    docker("tag", python_image, image)
    docker("run", "-d", "--name", web, "-p", f"127.0.0.1:{port}:5000", python_image,
           "sleep", "3600")
    result = fails("02.build-and-run", f"runs {python_image}, not {image}", **names)
    assert "docker rm -f" in result.hint


# --- 02.own-healthcheck ---------------------------------------------------------------------

def test_own_healthcheck(made, python_image, tmp_path):  # noqa: F811
    image = made.name("image", "health") + ":1.0"
    made.objects.append(("image", image))
    box = made.name("container", "health")
    names = {"image": image, "container": box}
    fails("02.own-healthcheck", f"there is no image named {image}", **names)
    build = ("build", "-q", "-t", image, "--build-arg", f"PYTHON_IMAGE={python_image}")
    # no USER: root
    docker(*build, _dockerfile(tmp_path / "root", HEALTHY.replace("USER 10001\n", "")))
    assert "USER 10001" in fails("02.own-healthcheck", "runs as root (no USER",
                                 **names).hint
    # no HEALTHCHECK
    no_check = "\n".join(line for line in HEALTHY.splitlines()
                         if not line.startswith(("HEALTHCHECK", "    CMD")))
    docker(*build, _dockerfile(tmp_path / "nocheck", no_check + "\n"))
    fails("02.own-healthcheck", "has no HEALTHCHECK", **names)
    # a probe of the wrong port: unhealthy
    docker(*build, _dockerfile(tmp_path / "wrong", HEALTHY.replace("PROBE", "8001")))
    fails("02.own-healthcheck", f"there is no container named {box}", **names)
    docker("run", "-d", "--name", box, image)
    deadline = time.monotonic() + 20
    while "unhealthy" not in (result := verdict("02.own-healthcheck", **names)).message \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "is unhealthy" in result.message and "8000" in result.hint, result.text()
    # the right image built, the container not made again
    docker(*build, _dockerfile(tmp_path / "right", HEALTHY.replace("PROBE", "8000")))
    fails("02.own-healthcheck", "created from an earlier build", **names)
    docker("rm", "-f", box)
    # the right image, run as root
    docker("run", "-d", "--name", box, "--user", "0", image)
    fails("02.own-healthcheck", "runs as root (--user 0", **names)
    docker("rm", "-f", box)
    docker("run", "-d", "--name", box, "--no-healthcheck", image)
    fails("02.own-healthcheck", "has no health status", **names)
    docker("rm", "-f", box)
    docker("run", "-d", "--name", box, image)
    deadline = time.monotonic() + 20
    while not (result := verdict("02.own-healthcheck", **names)).passed \
            and time.monotonic() < deadline:
        assert "still starting" in result.message, result.text()
        time.sleep(0.5)
    assert "(healthy)" in result.message, result.text()
