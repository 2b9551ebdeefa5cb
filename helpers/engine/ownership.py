"""What the course made, by its own record: never decided by a name or an inherited label alone.

Two kinds of evidence, one rule per kind of object:

- **images** are the course's only when the course built, pulled, loaded, imported or tagged
  them: each such reference and image id is noted here (per notebook) the moment it exists.
  An image built ``FROM`` a course image inherits the course's image labels, so labels prove
  nothing for images. Cleanup removes a noted reference only while it still points at the
  noted id, and never with force.
- **containers, volumes and networks** carry the course's labels, set when the course creates
  them (and by the course's compose files). A container also inherits its image's labels, so
  a container whose course label could have come from its image (an image committed from a
  course container) counts as the course's only when its id was noted here at creation.

The record lives in the state folder (``created/<notebook>.jsonl``). Writing it is best
effort: when the state folder cannot be written (a full disk), the course still works and
what is not noted is simply never removed, the safe side.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import labels, settings
from .sdk import docker

RECORD_DIR = "created"
IMAGE = "image"
CONTAINER = "container"
BUILD = "build"  # a build that started: its tag, and when (an interrupted build's evidence)


@dataclass(frozen=True)
class Entry:
    """One noted object: its kind, its name or reference, its id, the notebook, and when."""

    kind: str
    notebook: str
    ref: str = ""
    id: str = ""
    at: float = field(default_factory=time.time)


def record_dir() -> Path:
    """The folder of the record: ``<state folder>/created``."""
    return settings.state_dir() / RECORD_DIR


def record_file(notebook: str) -> Path:
    """One notebook's record file (``created/<notebook>.jsonl``)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in notebook)
    return record_dir() / f"{safe}.jsonl"


def note(kind: str, *, ref: str = "", id: str = "", notebook: str | None = None) -> Entry:
    """Append one entry to the notebook's record; never fails the caller (see module doc)."""
    entry = Entry(kind=kind, notebook=notebook or labels.current_notebook(), ref=ref, id=id)
    with contextlib.suppress(OSError):
        path = record_file(entry.notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(entry)) + "\n")
    return entry


def entries(notebook: str | None = None, kind: str | None = None) -> list[Entry]:
    """The noted entries of one notebook (or all), oldest first; unreadable lines skipped."""
    folder = record_dir()
    files = [record_file(notebook)] if notebook else sorted(folder.glob("*.jsonl"))
    found = []
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                entry = Entry(**json.loads(line))
            except (ValueError, TypeError):
                continue
            if kind is None or entry.kind == kind:
                found.append(entry)
    return found


def forget(done: Iterable[Entry]) -> None:
    """Drop entries (their objects are gone): each file rewritten through a temporary file."""
    by_notebook: dict[str, set[Entry]] = {}
    for entry in done:
        by_notebook.setdefault(entry.notebook, set()).add(entry)
    for notebook, dropped in by_notebook.items():
        kept = [e for e in entries(notebook) if e not in dropped]
        path = record_file(notebook)
        with contextlib.suppress(OSError):
            if not kept:
                path.unlink(missing_ok=True)
                continue
            _write_atomically(path, "".join(json.dumps(asdict(e)) + "\n" for e in kept))


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# --- images ----------------------------------------------------------------------------------

def note_image(reference: str, image_id: str, notebook: str | None = None) -> None:
    """The course made ``reference`` point at ``image_id`` (build, pull, load, import, tag)."""
    if reference and image_id:
        note(IMAGE, ref=reference, id=image_id, notebook=notebook)


def note_image_of(engine, reference: str, notebook: str | None = None) -> str | None:
    """Look ``reference`` up and note it; its id, or None when the engine has no such image."""
    try:
        image_id = str(engine.images.get(reference).id)
    except docker.errors.APIError:  # ImageNotFound included
        return None
    note_image(reference, image_id, notebook)
    return image_id


def course_image_ids() -> set[str]:
    """Every image id the course noted, in any notebook."""
    return {e.id for e in entries(kind=IMAGE)}


def is_course_image(image_id: str, reference: str | None = None) -> bool:
    """Did the course make this image (with this reference, when one is given)?"""
    return any(e.id == image_id and (reference is None or e.ref == reference)
               for e in entries(kind=IMAGE))


# --- containers, volumes, networks -----------------------------------------------------------

def has_course_label(object_labels: dict | None) -> bool:
    """True when the labels carry the course's own key (``io.docker-course.managed=true``)."""
    return (object_labels or {}).get(labels.COURSE_KEY) == labels.COURSE_VALUE


def note_container(container_id: str, name: str, notebook: str | None = None) -> None:
    """The course created this container (noted right after ``create``, before ``start``)."""
    note(CONTAINER, ref=name, id=container_id, notebook=notebook)


def owns_container(container, engine=None) -> bool:
    """The course made this container: its label says so and cannot have come from its image.

    A container's labels include its image's. When the image carries the same course labels
    (it was committed from a course container), only the id noted at creation counts.
    """
    own = (container.attrs.get("Config") or {}).get("Labels") or container.labels or {}
    if not has_course_label(own):
        return False
    image_id = str(container.attrs.get("Image") or "")
    try:
        api = (engine or container.client).api
        image_labels = (api.inspect_image(image_id).get("Config") or {}).get("Labels") or {}
    except (docker.errors.APIError, AttributeError):
        image_labels = {}
    inherited = has_course_label(image_labels) and \
        image_labels.get(labels.NOTEBOOK_KEY) == own.get(labels.NOTEBOOK_KEY)
    if not inherited:
        return True
    return container.id in {e.id for e in entries(kind=CONTAINER)}


def owns_volume(volume) -> bool:
    """Volumes inherit nothing: the course's label, set at creation, is the record."""
    return has_course_label(volume.attrs.get("Labels"))


def owns_network(network) -> bool:
    """Networks inherit nothing: the course's label, set at creation, is the record."""
    return has_course_label(network.attrs.get("Labels"))
