"""Remove exactly what the course created, never a user's own objects.

Containers, networks and volumes are found by the course's labels, and a container only when
its label cannot have come from its image (see :mod:`.ownership`). Images are removed only
when the course's record says the course made them, only by the reference the course gave
them (another tag a learner added keeps the image), and never with force: an image that any
remaining container uses is kept and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import journal, labels
from ..errors import CourseError
from . import ownership
from .client import client
from .sdk import docker

BASE_NOTEBOOK = "base"  # stand-in base images: slow to make, kept unless asked
BUILD_WINDOW = 1800  # seconds: the longest a course build may run (build.build's timeout)


@dataclass
class CleanupReport:
    """What cleanup removed, by kind, so a notebook can show and assert it.

    ``kept`` lists course images that stay, each with why (a container still uses it).
    """

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.containers) + len(self.networks) + len(self.volumes) + len(self.images)

    def as_rows(self) -> list[tuple[str, int, str]]:
        kinds = [("containers", self.containers), ("networks", self.networks),
                 ("volumes", self.volumes), ("images", self.images)]
        if self.kept:
            kinds.append(("kept images", self.kept))
        return [(kind, len(names), ", ".join(names[:6]) + (" …" if len(names) > 6 else ""))
                for kind, names in kinds]


def cleanup(notebook: str | None = None, *, images: bool = True,
            include_bases: bool = False) -> CleanupReport:
    """Remove the course's containers, networks, volumes and (optionally) images.

    ``notebook`` limits it to one notebook's objects (an empty string is refused: ``None``
    means every notebook). Stand-in base images survive unless ``include_bases`` (or
    ``notebook="base"``): rebuilding them costs minutes, and they hold nothing of the
    learner's. Raises :class:`ValueError` for an empty notebook name and
    :class:`~helpers.errors.EngineUnavailable` when no engine answers.
    """
    if notebook is not None and not notebook.strip():
        raise ValueError("notebook must name a notebook (None cleans every notebook)")
    engine = client()
    wanted = labels.filters(notebook)
    report = CleanupReport()
    for container in engine.containers.list(all=True, filters=wanted):
        if not ownership.owns_container(container, engine):
            continue
        try:
            container.remove(force=True, v=True)  # anonymous volumes die with it
            report.containers.append(container.name or container.short_id)
        except docker.errors.NotFound:
            pass
    for network in engine.networks.list(filters=wanted):
        if not ownership.owns_network(network):
            continue
        try:
            network.remove()
            report.networks.append(network.name or network.short_id)
        except docker.errors.APIError:
            pass
    for volume in engine.volumes.list(filters=wanted):
        if not ownership.owns_volume(volume):
            continue
        try:
            volume.remove(force=True)
            report.volumes.append(volume.name)
        except docker.errors.APIError:
            pass
    _forget_gone_containers(engine, notebook)
    if images:
        _remove_images(engine, notebook, include_bases or notebook == BASE_NOTEBOOK, report)
    for command, names in (("docker rm -f", report.containers),
                           ("docker network rm", report.networks),
                           ("docker volume rm", report.volumes), ("docker rmi", report.images)):
        if names:
            journal.record(f"{command} {' '.join(names)}")
    return report


def notebook_numbers() -> list[str]:
    """The course's notebooks by number (``01`` … ``10``), from the notebooks folder."""
    from .. import settings

    folder = settings.PROJECT_ROOT / "notebooks"
    return sorted({path.name.split("_", 1)[0] for path in folder.glob("[0-9]*_*.ipynb")})


def _no_such_notebook(notebook: str) -> CourseError:
    return CourseError(f"There is no notebook {notebook!r} to clean up.",
                       hint=f"name one of the course's notebooks "
                            f"({', '.join(notebook_numbers())}), or leave --notebook out to "
                            "clean up everything the course made.")


def notebook_word(notebook: str) -> str:
    """The static half of :func:`check_notebook` (no engine asked): ``07`` for ``7``.

    Raises :class:`CourseError` for an empty name, a pattern, or a number that is no notebook.
    """
    name = (notebook or "").strip()
    known = notebook_numbers()
    if name.isdigit() and len(name) == 1 and f"0{name}" in known:
        name = f"0{name}"
    if not name or any(ch in name for ch in "*?[]{}, /\\=") or \
            (name.isdigit() and name not in known):
        raise _no_such_notebook(notebook)
    return name


def check_notebook(notebook: str) -> str:
    """``notebook`` if it names something cleanup can act on, else :class:`CourseError`.

    Accepted: a notebook of the course (``02``, or ``2``), ``base`` (the stand-in base
    images), or any other scope the course has objects or records for (a test's or a
    benchmark's). Empty names, patterns and unknown numbers are refused, never widened.
    """
    name = notebook_word(notebook)
    if name in notebook_numbers() or name == BASE_NOTEBOOK or _scope_in_use(name):
        return name
    raise _no_such_notebook(notebook)


def _scope_in_use(name: str) -> bool:
    if ownership.entries(name):
        return True
    engine = client()
    wanted = labels.filters(name)
    return bool(engine.containers.list(all=True, filters=wanted)
                or engine.volumes.list(filters=wanted)
                or engine.networks.list(filters=wanted)
                or engine.images.list(filters=labels.image_filters(name)))


def _forget_gone_containers(engine, notebook: str | None) -> None:
    """Drop the record of containers that no longer exist (removed here or by hand)."""
    gone = []
    for entry in ownership.entries(notebook, kind=ownership.CONTAINER):
        try:
            engine.containers.get(entry.id)
        except docker.errors.NotFound:
            gone.append(entry)
        except docker.errors.APIError:
            continue
    ownership.forget(gone)


def _image_id(engine, reference: str) -> str | None:
    try:
        return str(engine.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code in (400, 404):
            return None
        raise


def _users(engine, image_id: str) -> list[str]:
    """Names of the containers (anyone's) created from ``image_id``."""
    try:
        found = engine.containers.list(all=True, filters={"ancestor": image_id})
    except docker.errors.APIError:
        return []
    return [c.name for c in found if str(c.attrs.get("Image")) == image_id]


def _remove_images(engine, notebook: str | None, include_bases: bool,
                   report: CleanupReport) -> None:
    """Noted references first (each only while it points at the noted id), then noted images
    whose tags moved away (a rebuild left them untagged), then what interrupted builds left."""
    noted = [e for e in ownership.entries(notebook, kind=ownership.IMAGE)
             if include_bases or e.notebook != BASE_NOTEBOOK]
    done: list[ownership.Entry] = []
    moved: list[ownership.Entry] = []
    for entry in noted:
        current = _image_id(engine, entry.ref)
        if current != entry.id:
            moved.append(entry)
            continue
        users = _users(engine, entry.id)
        if users and not _other_tags(engine, entry.id, entry.ref):
            report.kept.append(f"{entry.ref} (used by {', '.join(sorted(users)[:3])})")
            continue
        try:
            engine.images.remove(entry.ref, force=False, noprune=False)
            report.images.append(entry.ref)
            done.append(entry)
        except docker.errors.ImageNotFound:
            done.append(entry)
        except docker.errors.APIError as exc:
            report.kept.append(f"{entry.ref} ({_short(exc)})")
    for entry in moved:
        image_id = entry.id
        try:
            image = engine.images.get(image_id)
        except docker.errors.ImageNotFound:
            done.append(entry)
            continue
        except docker.errors.APIError:
            continue
        if image.tags:  # tagged again by someone: theirs now, the course lets go of it
            done.append(entry)
            continue
        if _users(engine, image_id):
            continue
        try:
            engine.images.remove(image_id, force=False, noprune=False)
            if image_id not in report.images:
                report.images.append(image_id)
            done.append(entry)
        except docker.errors.ImageNotFound:
            done.append(entry)
        except docker.errors.APIError:
            pass  # still a parent of another image: leave it
    report.images += _remove_interrupted_builds(engine, notebook, include_bases, done)
    ownership.forget(done)
    _forget_intermediates(notebook)


def _other_tags(engine, image_id: str, reference: str) -> bool:
    try:
        tags = engine.images.get(image_id).tags
    except docker.errors.APIError:
        return False
    return any(tag != reference for tag in tags)


def _short(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc).splitlines()[0][:120]


def _remove_interrupted_builds(engine, notebook: str | None, include_bases: bool,
                               done: list[ownership.Entry]) -> list[str]:
    """What a course build that never finished (the engine or the kernel died) left behind.

    Evidence, all of it: the build the course noted before it started (its tag and time),
    and an image carrying that notebook's image label, created within the build's time
    limit after that start, that the record does not know: under the build's tag (the build
    completed after the kernel died), or with no tag at all.
    """
    removed: list[str] = []
    pending = [e for e in ownership.entries(notebook, kind=ownership.BUILD)
               if include_bases or e.notebook != BASE_NOTEBOOK]
    known = ownership.course_image_ids()
    for entry in pending:
        wanted = {"label": [f"{labels.IMAGE_KEY}={labels.COURSE_VALUE}",
                            f"{labels.IMAGE_NOTEBOOK_KEY}={entry.notebook}"]}
        try:
            found = engine.images.list(filters={**wanted, "dangling": True})
            found += [image for image in engine.images.list(filters={**wanted,
                                                                      "reference": entry.ref})
                      if entry.ref in image.tags]
        except docker.errors.APIError:
            continue
        for image in found:
            if image.id in known or not entry.at - 1 <= _created(image) <= \
                    entry.at + BUILD_WINDOW or _users(engine, image.id):
                continue
            target = entry.ref if entry.ref in image.tags else image.id
            try:
                engine.images.remove(target, force=False, noprune=False)
                removed.append(target)
            except docker.errors.APIError:
                pass
        done.append(entry)
    return removed


def _created(image) -> float:
    from datetime import datetime

    text = str(image.attrs.get("Created", ""))
    try:
        whole = text.split(".")[0].rstrip("Z")
        return datetime.fromisoformat(whole + "+00:00").timestamp()
    except ValueError:
        return 0.0


def _forget_intermediates(notebook: str | None) -> None:
    """The build's list of replaced ids: its images are in the record too, so it is done."""
    from .build import intermediates_file

    files = [intermediates_file(notebook)] if notebook else \
        list(intermediates_file("x").parent.glob("*.txt"))
    for path in files:
        path.unlink(missing_ok=True)


def leftovers() -> list[tuple[str, str]]:
    """(kind, name) of every container, volume and network that carries the course's label,
    containers first: what ``python -m helpers leftovers`` lists (none after a clean run)."""
    engine, wanted = client(), labels.filters()
    return ([("container", str(c.name)) for c in engine.containers.list(all=True,
                                                                         filters=wanted)]
            + [("volume", str(v.name)) for v in engine.volumes.list(filters=wanted)]
            + [("network", str(n.name)) for n in engine.networks.list(filters=wanted)])
