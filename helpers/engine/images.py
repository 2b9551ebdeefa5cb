"""Images on the engine: look up, pull, load, import, tag, export, remove.

Each action notes its CLI equivalent in the journal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from .. import journal, labels
from ..display import FactsView
from ..errors import CourseError, ImageUnavailable
from .client import client


@dataclass(frozen=True)
class ImageFacts(FactsView):
    """What ``docker image inspect`` says that a learner cares about."""

    reference: str
    id: str
    tags: tuple[str, ...]
    size_bytes: int
    layers: int
    created: str
    architecture: str
    user: str
    labels: dict[str, str]

    @property
    def short_id(self) -> str:
        return self.id.split(":")[-1][:12]


def inspect(reference: str) -> ImageFacts | None:
    """Facts about a local image, or None when the engine has no such image."""
    try:
        image = client().images.get(reference)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 404:
            return None
        raise
    attrs = image.attrs
    config = attrs.get("Config") or {}
    return ImageFacts(
        reference=reference,
        id=image.id,
        tags=tuple(image.tags),
        size_bytes=int(attrs.get("Size", 0)),
        layers=len((attrs.get("RootFS") or {}).get("Layers") or []),
        created=str(attrs.get("Created", "")),
        architecture=str(attrs.get("Architecture", "")),
        user=str(config.get("User") or "root"),
        labels=dict(config.get("Labels") or {}),
    )


def require(reference: str) -> ImageFacts:
    """Like :func:`inspect`, but a missing image is a clear error."""
    facts = inspect(reference)
    if facts is None:
        raise ImageUnavailable(f"There is no image called {reference!r} on this engine.",
                               hint="check the name with `docker image ls`, or build it first.")
    return facts


def pull(reference: str, timeout: float = 120) -> ImageFacts:
    """``docker pull``; any failure (offline, rate limit, unknown name) is one ImageUnavailable."""
    started = time.monotonic()
    repository, _, tag = reference.rpartition(":") if ":" in reference.split("/")[-1] else (
        reference, "", "latest")
    try:
        client().api.pull(repository, tag=tag or "latest", stream=False)
    except (docker.errors.APIError, docker.errors.DockerException, OSError) as exc:
        journal.record(f"docker pull {reference}", ok=False,
                       seconds=time.monotonic() - started)
        raise ImageUnavailable(f"Could not pull {reference}: {str(exc).splitlines()[0][:200]}",
                               hint="no registry reachable? the course can load images from "
                                    "an archive or build stand-ins.") from None
    journal.record(f"docker pull {reference}", seconds=time.monotonic() - started)
    return require(reference)


def load(archive: Path) -> list[str]:
    """``docker load -i ARCHIVE``; returns the tags that were loaded."""
    started = time.monotonic()
    try:
        with archive.open("rb") as stream:
            loaded = client().images.load(stream)
    except (docker.errors.APIError, OSError) as exc:
        journal.record(f"docker load -i {archive}", ok=False)
        raise ImageUnavailable(f"Could not load {archive}: {str(exc).splitlines()[0][:200]}",
                               hint="is it a `docker save` archive? re-create it with "
                                    "`make images-archive`.") from None
    journal.record(f"docker load -i {archive}", seconds=time.monotonic() - started)
    return [tag for image in loaded for tag in image.tags]


def import_rootfs(tarball: Path, reference: str, changes: list[str]) -> ImageFacts:
    """``docker import`` a root filesystem tar, with Dockerfile-style ``--change`` lines."""
    started = time.monotonic()
    repository, _, tag = reference.rpartition(":")
    try:
        # from_file sends a Content-Length; from_stream's chunked upload is refused by some engines
        client().api.import_image_from_file(str(tarball), repository=repository, tag=tag,
                                            changes=changes)
    except docker.errors.APIError as exc:
        raise ImageUnavailable(f"docker import of {tarball} failed: {exc.explanation}") from None
    change_flags = " ".join(f"--change '{c}'" for c in changes)
    journal.record(f"docker import {change_flags} {tarball.name} {reference}",
                   seconds=time.monotonic() - started)
    return require(reference)


def tag(source: str, target: str) -> None:
    repository, _, tag_name = target.rpartition(":") if ":" in target.split("/")[-1] else (
        target, "", "latest")
    client().images.get(source).tag(repository, tag=tag_name or "latest")
    journal.record(f"docker tag {source} {target}")


def export_stream(reference: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """``docker save REFERENCE`` as a stream of chunks: nothing is written to disk."""
    require(reference)
    journal.record(f"docker save {reference} -o {reference.split('/')[-1].replace(':', '_')}.tar")
    try:
        yield from client().api.get_image(reference, chunk_size=chunk_size)
    except docker.errors.APIError as exc:
        raise CourseError(f"Exporting {reference} failed: {exc.explanation}") from None


def remove(reference: str, *, force: bool = False) -> bool:
    """``docker rmi``; True if something was removed, False if it was not there."""
    try:
        client().images.remove(reference, force=force, noprune=False)
    except docker.errors.ImageNotFound:
        return False
    journal.record(f"docker rmi {'-f ' if force else ''}{reference}")
    return True


def list_course_images(notebook: str | None = None) -> list[ImageFacts]:
    """Images the course labelled (all of them, or one notebook's)."""
    images = client().images.list(filters=labels.image_filters(notebook))
    found = []
    for image in images:
        reference = image.tags[0] if image.tags else image.id
        facts = inspect(image.id)
        if facts is not None:
            found.append(ImageFacts(**{**facts.__dict__, "reference": reference}))
    return found
