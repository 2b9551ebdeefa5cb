"""Notebook 04's "Your turn" tasks done as a learner does them (the docker CLI), and done wrong.

Names of their own (``t-<hex>-…``) through the ``made`` fixture of test_tasks_live, which
removes every image made under them.
"""

from __future__ import annotations

import shutil

from test_tasks_live import docker, fails, made, passes  # noqa: F401  (made: a fixture)

from helpers import settings

APP = settings.APPS_DIR / "flask-app"


def _image(made, role: str) -> str:  # noqa: F811
    reference = made.name("image", role) + ":1.0"
    made.objects.append(("image", reference))
    return reference


def _build_stdin(reference: str, dockerfile: str) -> None:
    """``docker build -t REFERENCE -`` with the Dockerfile on stdin (no build context)."""
    import subprocess

    subprocess.run(["docker", "build", "-q", "-t", reference, "-"], input=dockerfile,
                   text=True, capture_output=True, check=True, timeout=600)


def test_slim_image(made, python_image):  # noqa: F811
    image = _image(made, "slim")
    fails("04.slim-image", "there is no image", image=image)
    # one stage, the toolchain kept: far above the limit
    docker("build", "-q", "-t", image, "-f", str(APP / "Dockerfile.single"),
           "--build-arg", f"PYTHON_IMAGE={python_image}", str(APP))
    result = fails("04.slim-image", "above the limit of 250 MB", image=image)
    assert "largest layer" in result.message and "builder stage" in result.hint, result.text()
    # small, but without the compiled driver
    docker("tag", python_image, image)
    assert "libmariadb3" in fails("04.slim-image", "cannot import MySQLdb", image=image).hint
    docker("image", "rm", image)
    _build_stdin(image, f"FROM {python_image}\n"
                        "RUN printf '#!/bin/sh\\n' > /usr/local/bin/gcc "
                        "&& chmod +x /usr/local/bin/gcc\n")
    fails("04.slim-image", "still holds a C compiler (/usr/local/bin/gcc)", image=image)
    # the multi-stage image, but a command that does not serve the app
    multi = _image(made, "multi")
    docker("build", "-q", "-t", multi, "-f", str(APP / "Dockerfile.multistage"),
           "--build-arg", f"PYTHON_IMAGE={python_image}", str(APP))
    docker("image", "rm", image)
    _build_stdin(image, f"FROM {multi}\nCMD [\"true\"]\n")
    fails("04.slim-image", "did not answer on /health", image=image)
    assert "unpacks to" in passes("04.slim-image", image=multi).message


def test_keep_out(made, python_image, tmp_path):  # noqa: F811
    image = _image(made, "clean")
    folder = tmp_path / "my-clean"
    shutil.copytree(APP, folder)
    (folder / "deploy_key").write_text("not a real key\n", encoding="utf-8")
    dockerfile = folder / "Dockerfile.mine"
    plain = f"FROM {python_image}\nWORKDIR /app\nCOPY . /app\n"

    def build() -> None:
        docker("build", "-q", "-t", image, "-f", str(dockerfile), str(folder))

    fails("04.keep-out", "there is no image", image=image)
    dockerfile.write_text(plain, encoding="utf-8")
    build()
    result = fails("04.keep-out", "/app/deploy_key is in", image=image)
    assert "COPY . /app" in result.message and ".dockerignore" in result.hint, result.text()
    # deleted by a later step: hidden, but still stored
    dockerfile.write_text(plain + "RUN rm /app/deploy_key\n", encoding="utf-8")
    build()
    assert "`rm` only hides" in fails("04.keep-out", "is deleted by a later step, yet layer",
                                      image=image).hint
    # a .dockerignore that leaves out the app as well
    ignore = folder / ".dockerignore"
    kept = ignore.read_text(encoding="utf-8")
    ignore.write_text(kept + "deploy_key\napp.py\n", encoding="utf-8")
    dockerfile.write_text(plain, encoding="utf-8")
    build()
    fails("04.keep-out", "has no /app/app.py", image=image)
    ignore.write_text(kept + "deploy_key\n", encoding="utf-8")
    build()
    assert "none of its" in passes("04.keep-out", image=image).message
