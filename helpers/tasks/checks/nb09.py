"""The checks of notebook 09's "Your turn" tasks."""

from __future__ import annotations

from collections.abc import Mapping

from ...engine import state
from ..registry import Verdict, register
from ._common import _http_status, _is_root, _missing, _task

BASE_PACKAGES = {"pip", "setuptools", "wheel"}
SERIOUS = ("CRITICAL", "HIGH")


@register("09.fixed-image",
          goal="Build my-app:fixed from data/apps/flask-app with pins that leave no HIGH or "
               "CRITICAL finding in the app's Python packages.",
          names={"image": "my-app:fixed"}, objects=(("image", "image"),),
          solution=("docker build -t {image} --build-arg REQUIREMENTS=requirements-bumped.txt "
                    "--build-arg PYTHON_IMAGE=<python-image> {notebooks}/../data/apps/flask-app",))
def fixed_image(names: Mapping[str, str]) -> Verdict:
    """The built-in scanner finds no HIGH/CRITICAL advisory in my-app:fixed's app packages."""
    from ...engine import images
    from ...scan.scanner import scan_source

    task, image = _task("09.fixed-image"), names["image"]
    build = (f"docker build -t {image} --build-arg REQUIREMENTS=requirements-bumped.txt "
             "--build-arg PYTHON_IMAGE=<python-image> data/apps/flask-app")
    if not state.image_exists(image):
        return _missing(task.id, "image", image, f"`{build}`.")
    result = scan_source(images.export_stream(image), target=image)
    serious = sorted({(f.package, f.installed, f.id, f.severity, f.fixed)
                      for f in result.findings
                      if f.severity in SERIOUS and f.package.lower() not in BASE_PACKAGES})
    judged = result.coverage.judged if result.coverage is not None else 0
    if not judged:
        return task.verdict(False, f"the scanner judged no package of {image}: is it the "
                                   "flask-app image?", f"`{build}`.")
    if serious:
        shown = "; ".join(f"{p} {v} {i} ({s}, fixed in {fx or 'no release yet'})"
                          for p, v, i, s, fx in serious[:4])
        more = f" and {len(serious) - 4} more" if len(serious) > 4 else ""
        return task.verdict(False, f"{image} still has {shown}{more}.",
                            "pin each at or above its fixed version (requirements-bumped.txt "
                            f"does), then rebuild: `{build}`.")
    return task.verdict(True, f"{image}: no HIGH or CRITICAL finding in the app's packages "
                              f"({judged} packages judged; the base image's pip/setuptools "
                              "aside).")


@register("09.run-non-root",
          goal="Run my-app:fixed as container my-app, published on 127.0.0.1:5019 (the app "
               "listens on 5000), as the image's non-root user; /health must answer 200.",
          names={"container": "my-app", "image": "my-app:fixed", "port": "5019"},
          objects=(("container", "container"),),
          solution=("docker run -d --name {container} -p 127.0.0.1:{port}:5000 {image}",
                    "docker exec {container} id",
                    # gunicorn needs a moment before /health answers
                    "for i in $(seq 30); do curl -fsS http://127.0.0.1:{port}/health && break; "
                    "sleep 1; done"))
def run_non_root(names: Mapping[str, str]) -> Verdict:
    """my-app runs my-app:fixed, not as root, on 127.0.0.1:5019, and /health answers 200."""
    task = _task("09.run-non-root")
    name, image, port = names["container"], names["image"], names["port"]
    run = f"docker run -d --name {name} -p 127.0.0.1:{port}:5000 {image}"
    found = state.container(name)
    if found is None:
        return _missing(task.id, "container", name, f"`{run}`.")
    if found.image != image:
        return task.verdict(False, f"{name} runs {found.image}, not {image}.",
                            f"`docker rm -f {name}`, then `{run}`.")
    if found.status != "running":
        return task.verdict(False, f"{name} is {found.status}, not running.",
                            f"`docker logs {name}` says why; `docker rm -f {name}`, then `{run}`.")
    if _is_root(found.user):
        return task.verdict(False, f"{name} runs as root (--user {found.user}): a flaw in the "
                                   "app would own the whole container.",
                            f"leave out --user: the image runs as uid 10001. "
                            f"`docker rm -f {name}`, then `{run}`.")
    code, uid = state.exec_output(name, ["id", "-u"])
    if code == 0 and uid.strip() == "0":
        return task.verdict(False, f"{name}'s processes run as uid 0 (root).",
                            f"use the image's own user: `docker rm -f {name}`, then `{run}`.")
    bindings = found.ports.get("5000/tcp") or []
    if not bindings:
        return task.verdict(False, f"{name} does not publish the app's port 5000.",
                            f"`docker rm -f {name}`, then `{run}`.")
    if any(ip != "127.0.0.1" for ip, _ in bindings):
        return task.verdict(False, f"{name} publishes 5000 on every interface.",
                            f"bind to loopback: `-p 127.0.0.1:{port}:5000`.")
    if sorted({p for _, p in bindings}) != [str(port)]:
        return task.verdict(False, f"{name} publishes 5000 on host port "
                                   f"{', '.join(sorted({p for _, p in bindings}))}, not {port}.",
                            f"`docker rm -f {name}`, then `{run}`.")
    status = _http_status(str(port), "/health")
    if status != 200:
        return task.verdict(False, f"http://127.0.0.1:{port}/health answered "
                                   f"{status or 'nothing'}, not 200.",
                            "the app needs a few seconds to start: check again; else "
                            f"`docker logs {name}`.")
    return task.verdict(True, f"{name} answers /health on 127.0.0.1:{port} as uid "
                              f"{uid.strip() or found.user}, not root.")
