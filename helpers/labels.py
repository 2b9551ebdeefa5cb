"""Labels mark everything the course creates, so cleanup removes exactly that and nothing else.

Two keys: one says "made by the course", the other names the notebook that made it. A notebook
sets its name once with :func:`set_notebook`; every helper that creates an object asks
:func:`for_new_object` for the labels to attach.
"""

from __future__ import annotations

COURSE_KEY = "io.docker-course.managed"
NOTEBOOK_KEY = "io.docker-course.notebook"
COURSE_VALUE = "true"
# Images get keys of their own: a container inherits its image's labels, and a learner's own
# `docker run` of a course image must not look like something the course may remove.
IMAGE_KEY = "io.docker-course.image"
IMAGE_NOTEBOOK_KEY = "io.docker-course.image-notebook"

_current_notebook = "adhoc"

# Engine list filters as the SDK's ``list(filters=...)`` takes them: {"label": ["key=value"]}
Filters = dict[str, str | list[str] | bool]


def set_notebook(name: str) -> None:
    """Name the notebook (``"01"``, ``"02"`` …) whose objects are being created."""
    global _current_notebook
    if not name or any(ch.isspace() for ch in name):
        raise ValueError(f"notebook name must be a non-empty word, got {name!r}")
    _current_notebook = name


def current_notebook() -> str:
    return _current_notebook


def for_new_object(notebook: str | None = None) -> dict[str, str]:
    """Labels for a container, image, volume or network the course is about to create."""
    return {COURSE_KEY: COURSE_VALUE, NOTEBOOK_KEY: notebook or _current_notebook}


def for_new_image(notebook: str | None = None) -> dict[str, str]:
    """Labels for an image the course builds or imports."""
    return {IMAGE_KEY: COURSE_VALUE, IMAGE_NOTEBOOK_KEY: notebook or _current_notebook}


def image_filters(notebook: str | None = None) -> Filters:
    """Engine list filters matching the images the course (or one notebook) built or loaded."""
    wanted = [f"{IMAGE_KEY}={COURSE_VALUE}"]
    if notebook:
        wanted.append(f"{IMAGE_NOTEBOOK_KEY}={notebook}")
    return {"label": wanted}


def filters(notebook: str | None = None) -> Filters:
    """Engine list filters matching what the course (or one notebook) created."""
    wanted = [f"{COURSE_KEY}={COURSE_VALUE}"]
    if notebook:
        wanted.append(f"{NOTEBOOK_KEY}={notebook}")
    return {"label": wanted}


def cli_flags(notebook: str | None = None) -> str:
    """The same labels as ``--label`` flags, for the journal's CLI lines."""
    return " ".join(f"--label {k}={v}" for k, v in for_new_object(notebook).items())
