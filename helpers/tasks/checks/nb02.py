"""The checks of notebook 02's "Your turn" tasks."""

from __future__ import annotations

from collections.abc import Mapping

from ...engine import state
from ..registry import Verdict, register
from ._common import _http_status, _is_root, _loopback_problem, _missing, _running, _task

APP = "{notebooks}/../data/apps/flask-app"
# The Dockerfile of 02.own-healthcheck, written by printf (\047 is a single quote).
HEALTH_DOCKERFILE = (
    r"ARG PYTHON_IMAGE=python:3.12-slim\nFROM $PYTHON_IMAGE\nWORKDIR /site\n"
    r"RUN echo hello from my image > index.html\nUSER 10001\n"
    r'HEALTHCHECK --interval=5s --timeout=3s CMD ["python", "-c", '
    r'"import urllib.request as u; u.urlopen(\047http://127.0.0.1:8000/\047)"]\n'
    r'CMD ["python", "-m", "http.server", "8000"]\n')


@register("02.build-and-run",
          goal="Build the course's Flask app (data/apps/flask-app) as my-flask:1.0 and run it "
               "in the background as container my-flask, published on 127.0.0.1:8081 (the app "
               "listens on 5000); http://127.0.0.1:8081/health must answer 200.",
          names={"image": "my-flask:1.0", "container": "my-flask", "port": "8081"},
          objects=(("container", "container"), ("image", "image")),
          solution=(f"docker build -t {{image}} --build-arg PYTHON_IMAGE=<python-image> {APP}",
                    "docker run -d --name {container} -p 127.0.0.1:{port}:5000 {image}",
                    # gunicorn needs a moment before /health answers
                    "for i in $(seq 30); do curl -fsS http://127.0.0.1:{port}/health && break; "
                    "sleep 1; done"))
def build_and_run(names: Mapping[str, str]) -> Verdict:
    """my-flask:1.0 exists; my-flask runs it on 127.0.0.1:8081 only; /health answers 200."""
    task = _task("02.build-and-run")
    image, name, port = names["image"], names["container"], names["port"]
    build = (f"docker build -t {image} --build-arg PYTHON_IMAGE=<python-image> "
             "../data/apps/flask-app")
    run = f"docker run -d --name {name} -p 127.0.0.1:{port}:5000 {image}"
    again = f"`docker rm -f {name}`, then `{run}`."
    if not state.image_exists(image):
        return _missing(task.id, "image", image, f"build it from the notebooks folder: `{build}`.")
    found, problem = _running(task.id, name, image, run, again)
    if found is None:
        return problem
    problem = _loopback_problem(task.id, found, 5000, port, again)
    if problem is not None:
        return problem
    status = _http_status(str(port), "/health")
    if status is None:
        return task.verdict(False, f"nothing answers on 127.0.0.1:{port}: the port is "
                                   f"published, but the app in {name} does not listen on 5000.",
                            "give gunicorn a few seconds and check again; else `docker logs "
                            f"{name}` shows where it listens (did you set -e PORT?): {again}")
    if status != 200:
        return task.verdict(False, f"http://127.0.0.1:{port}/health answered {status}, not 200.",
                            f"is it the course's app? `docker logs {name}`.")
    return task.verdict(True, f"{name} runs {image} and answers /health on 127.0.0.1:{port} "
                              "(HTTP 200), on no other interface.")


@register("02.own-healthcheck",
          goal="Write a Dockerfile in a folder my-health that serves a page with Python's "
               "http.server on port 8000 as uid 10001 (USER) and has a HEALTHCHECK; build it "
               "as my-health:1.0 and run it as container my-health until it is healthy.",
          names={"image": "my-health:1.0", "container": "my-health"},
          objects=(("container", "container"), ("image", "image")),
          solution=("mkdir -p my-health",
                    f"printf '{HEALTH_DOCKERFILE}' > my-health/Dockerfile",
                    "docker build -t {image} --build-arg PYTHON_IMAGE=<python-image> my-health",
                    "docker run -d --name {container} {image}",
                    # the first probe runs one interval (5 s) after the start
                    "for i in $(seq 30); do docker ps -q --filter name={container} "
                    "--filter health=healthy | grep -q . && break; sleep 1; done",
                    "docker ps --filter name={container}"))
def own_healthcheck(names: Mapping[str, str]) -> Verdict:
    """my-health:1.0 has a non-root USER and a HEALTHCHECK; my-health runs it, healthy."""
    task, image, name = _task("02.own-healthcheck"), names["image"], names["container"]
    build = f"docker build -t {image} --build-arg PYTHON_IMAGE=<python-image> my-health"
    run = f"docker run -d --name {name} {image}"
    rebuild = f"edit my-health/Dockerfile, `{build}`, `docker rm -f {name}`, then `{run}`."
    found_image = state.image(image)
    if found_image is None:
        return _missing(task.id, "image", image, f"`{build}`.")
    if not found_image.user or _is_root(found_image.user):
        who = f"USER {found_image.user}" if found_image.user else "no USER instruction"
        return task.verdict(False, f"{image} runs as root ({who}).",
                            f"add `USER 10001` before CMD: {rebuild}")
    if not found_image.healthcheck or found_image.healthcheck[0] == "NONE":
        return task.verdict(False, f"{image} has no HEALTHCHECK.",
                            "add one that fetches the page, e.g. `HEALTHCHECK --interval=5s "
                            "CMD [\"python\", \"-c\", \"import urllib.request as u; "
                            f"u.urlopen('http://127.0.0.1:8000/')\"]`: {rebuild}")
    found, problem = _running(task.id, name, image, run, f"`docker rm -f {name}`, then `{run}`.")
    if found is None:
        return problem
    if found.image_id != found_image.id:
        return task.verdict(False, f"{name} was created from an earlier build of {image}: a "
                                   "container keeps the image it was created from.",
                            f"`docker rm -f {name}`, then `{run}`.")
    if _is_root(found.user):
        return task.verdict(False, f"{name} runs as root (--user {found.user} overrides the "
                                   "image's USER).",
                            f"leave out --user: `docker rm -f {name}`, then `{run}`.")
    if not found.health:
        return task.verdict(False, f"{name} has no health status: it was started without "
                                   "its health check (--no-healthcheck?).",
                            f"`docker rm -f {name}`, then `{run}`.")
    if found.health == "starting":
        return task.verdict(False, f"{name}'s health is still starting: the first probe runs "
                                   "one interval after the start.",
                            f"check again in a few seconds; `docker ps --filter name={name}` "
                            "shows (healthy) when it passed.")
    if found.health != "healthy":
        said = " ".join(found.health_output.split())[-160:] or "no output"
        return task.verdict(False, f"{name} is {found.health}: its last probe said: {said}",
                            "does the probe fetch the port the server listens on (8000)? "
                            f"{rebuild}")
    return task.verdict(True, f"{name} runs as user {found_image.user}, not root, and its "
                              "health check passes (healthy).")
