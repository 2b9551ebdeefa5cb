"""The checks of notebook 04's "Your turn" tasks."""

from __future__ import annotations

from collections.abc import Mapping

from ...engine import state
from ..registry import Verdict, register
from ._common import _missing, _task

MB = 1_000_000  # notebook 04 counts in decimal megabytes
SLIM_LIMIT_BYTES = 250 * MB
APP_PORT = 5000
KEPT_OUT = "deploy_key"
APP_FILE = "app/app.py"
FLASK_APP = "{notebooks}/../data/apps/flask-app"
PROBE = ("for tool in gcc cc c++; do command -v $tool; done; "
         "python -c 'import MySQLdb' >/dev/null 2>&1 && echo driver=ok || echo driver=missing")


def _layers(reference: str):
    """The image's layers as the notebook's analysis reads them (``docker save``, streamed)."""
    from ...anatomy.archive import read_image
    from ...engine import images

    return read_image(images.export_stream(reference)).layers


def _step(layer) -> str:
    from ...anatomy.analysis import short_step

    return short_step(layer.created_by or "?", width=60)


@register("04.slim-image",
          goal="Write a multi-stage Dockerfile for the app with the compiled MySQL driver "
               "(requirements-mysqlclient.txt) and build it as my-slim:1.0: below 250 MB "
               "unpacked, no C compiler inside, MySQLdb importable, and its own command "
               "answering /health on port 5000.",
          names={"image": "my-slim:1.0"}, objects=(("image", "image"),),
          solution=(f"cp -r {FLASK_APP} my-slim",
                    "cp my-slim/Dockerfile.multistage my-slim/Dockerfile.mine",
                    "docker build -t {image} -f my-slim/Dockerfile.mine "
                    "--build-arg PYTHON_IMAGE=<python-image> my-slim"))
def slim_image(names: Mapping[str, str]) -> Verdict:
    """my-slim:1.0 unpacks to under 250 MB, has no compiler, imports MySQLdb, answers /health.

    The size is the notebook's "layer size" summed: the bytes of the regular files in every
    layer's tar, uncompressed (read from ``docker save``), the same on both image stores.
    """
    task, image = _task("04.slim-image"), names["image"]
    build = (f"`docker build -t {image} -f my-slim/Dockerfile.mine --build-arg "
             "PYTHON_IMAGE=<python-image> my-slim` (my-slim: your copy of data/apps/flask-app)")
    if not state.image_exists(image):
        return _missing(task.id, "image", image, f"{build}.")
    layers = _layers(image)
    total = sum(layer.size_bytes for layer in layers)
    if total >= SLIM_LIMIT_BYTES:
        largest = max(layers, key=lambda layer: layer.size_bytes)
        return task.verdict(False, f"{image} unpacks to {total / MB:,.0f} MB, above the limit "
                                   f"of {SLIM_LIMIT_BYTES / MB:,.0f} MB; its largest layer "
                                   f"({largest.size_bytes / MB:,.0f} MB) is `{_step(largest)}`.",
                            "compile in a builder stage (`FROM … AS builder`), then start the "
                            "final stage from the plain Python image and `COPY --from=builder` "
                            "only the virtual environment; the final stage needs libmariadb3, "
                            "not build-essential.")
    code, output = state.run_probe(image, PROBE)
    lines = output.split()
    compilers = [line for line in lines if line.startswith("/")]
    if compilers:
        return task.verdict(False, f"{image} still holds a C compiler ({compilers[0]}): the "
                                   "build tools reached the final image.",
                            "install build-essential in the builder stage only; the final "
                            "stage copies the compiled result out of it.")
    if "driver=ok" not in lines:
        detail = "" if code == 0 else f" (the probe exited {code}: {output.strip()[-120:]})"
        return task.verdict(False, f"python in {image} cannot import MySQLdb, the compiled "
                                   f"driver{detail}.",
                            "install requirements-mysqlclient.txt in the builder, copy the "
                            "environment it went into (`COPY --from=builder /opt/app-venv "
                            "/opt/app-venv`) and put its bin folder first in PATH; "
                            "libmariadb3 must be in the final stage.")
    status, log = state.serve_probe(image, APP_PORT, "/health")
    if status != 200:
        answered = f"answered {status}" if status else "did not answer"
        shown = f" Its log ends: {log[-200:]!r}." if log else ""
        return task.verdict(False, f"a container of {image} {answered} on /health, port "
                                   f"{APP_PORT}, within 30 s.{shown}",
                            "keep the app's CMD (gunicorn … app:app), WORKDIR /app with "
                            "app.py in it, and gunicorn in the copied environment.")
    return task.verdict(True, f"{image} unpacks to {total / MB:,.1f} MB (limit "
                              f"{SLIM_LIMIT_BYTES / MB:,.0f} MB), has no compiler, imports "
                              "MySQLdb and answers /health.")


@register("04.keep-out",
          goal="In a copy of the app folder that also holds a file deploy_key, build my-clean:1.0 "
               "with a Dockerfile that does COPY . /app, and a .dockerignore that keeps "
               "deploy_key out: no layer may store it, and app/app.py must be there.",
          names={"image": "my-clean:1.0"}, objects=(("image", "image"),),
          solution=(f"cp -r {FLASK_APP} my-clean",
                    "echo 'not a real key' > my-clean/deploy_key",
                    "printf 'FROM <python-image>\\nWORKDIR /app\\nCOPY . /app\\n' "
                    "> my-clean/Dockerfile.mine",
                    "echo deploy_key >> my-clean/.dockerignore",
                    "docker build -t {image} -f my-clean/Dockerfile.mine my-clean"))
def keep_out(names: Mapping[str, str]) -> Verdict:
    """No layer of my-clean:1.0 stores a file named deploy_key; app/app.py is visible.

    Every layer is read (``docker save``, streamed): a file deleted by a later step still
    counts, since its layer still stores it and ships with the image.
    """
    from ...anatomy.filesystem import FinalFilesystem

    task, image = _task("04.keep-out"), names["image"]
    build = f"`docker build -t {image} -f my-clean/Dockerfile.mine my-clean`"
    if not state.image_exists(image):
        return _missing(task.id, "image", image, f"{build}.")
    layers = _layers(image)
    final = FinalFilesystem.of(layers)
    if final.layer_of(APP_FILE) is None:
        return task.verdict(False, f"{image} has no /{APP_FILE}: the COPY did not bring the app "
                                   "(or .dockerignore keeps it out too).",
                            f"`COPY . /app` in the Dockerfile; .dockerignore lists only what to "
                            f"leave out, such as {KEPT_OUT}. Then {build}.")
    stored = [(layer, path) for layer in layers for path in layer.entries
              if path.rsplit("/", 1)[-1] == KEPT_OUT]
    if stored:
        layer, path = stored[0]
        if final.layer_of(path) is not None:
            return task.verdict(False, f"/{path} is in {image}: layer {layer.index} "
                                       f"(`{_step(layer)}`) stores it.",
                                f"add a line `{KEPT_OUT}` to the .dockerignore at the root of "
                                f"the build context (next to app.py), then {build}.")
        return task.verdict(False, f"/{path} is deleted by a later step, yet layer "
                                   f"{layer.index} (`{_step(layer)}`) still stores it: anyone "
                                   f"with {image} can read it.",
                            "a later `rm` only hides a file. Keep it out of the build context "
                            f"instead: a line `{KEPT_OUT}` in .dockerignore, no `rm`; then "
                            f"{build}.")
    return task.verdict(True, f"{image} holds /{APP_FILE}, and none of its {len(layers)} layers "
                              f"stores {KEPT_OUT}.")
