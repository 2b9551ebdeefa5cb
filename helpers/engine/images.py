"""Images on the engine: look up, pull, load, import, tag, export, remove.

Each action notes its CLI equivalent in the journal.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import journal, references
from ..display import FactsView
from ..errors import CourseError, ImageUnavailable
from . import failures, ownership
from .client import client
from .sdk import docker


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


_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
# The grammar of distribution's reference package: [domain/]path[:tag][@digest]
REFERENCE = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
                       r"(?::\w[\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z]"
                       r"[A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")
IMAGE_ID = re.compile(r"^(?:sha256:)?[0-9a-f]{4,64}$")


def check_reference(reference: str) -> None:
    """Raise :class:`ImageUnavailable` for text that cannot name an image at all.

    The engine answers such a name with a bare HTTP 400 ("invalid reference format"); this
    says it in the course's words before anything is asked. Image ids pass too.
    """
    if not (REFERENCE.match(reference or "") or IMAGE_ID.match(reference or "")):
        raise ImageUnavailable(
            f"{reference!r} is not a valid image reference.",
            hint="an image reference looks like `name`, `name:tag`, `registry:5000/name:tag` "
                 "or `name@sha256:…`, with a lowercase name (`docker image ls` lists yours).")


def inspect(reference: str) -> ImageFacts | None:
    """Facts about a local image, or None when the engine has no such image.

    Raises :class:`ImageUnavailable` for a malformed reference.
    """
    check_reference(reference)
    try:
        image = client().images.get(reference)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 404:
            return None
        if exc.status_code == 400:
            raise ImageUnavailable(f"{reference!r} is not a valid image reference "
                                   f"({exc.explanation or exc}).",
                                   hint="check the name: `docker image ls` lists yours.") from None
        raise
    attrs = image.attrs
    config = attrs.get("Config") or {}
    return ImageFacts(
        reference=reference,
        id=image.id or "",
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


def pull(reference: str, timeout: float = 120, *, owner: str | None = None) -> ImageFacts:
    """``docker pull``; any failure (offline, rate limit, unknown name) is one ImageUnavailable.

    ``owner`` is the notebook the pulled image is noted under (``base`` for the course's
    base images). Raises :class:`EngineUnavailable` when the engine stops answering.
    """
    started = time.monotonic()
    parsed = references.parse(reference)
    try:
        client().api.pull(parsed.repository, tag=parsed.pull_tag, stream=False)
        ownership.note_image_of(client(), reference, owner)
    except (docker.errors.APIError, docker.errors.DockerException, OSError) as exc:
        _raise_if_engine_gone(exc)
        journal.record(f"docker pull {reference}", ok=False,
                       seconds=time.monotonic() - started)
        raise ImageUnavailable(f"Could not pull {reference}: {str(exc).splitlines()[0][:200]}",
                               hint="no registry reachable? the course can load images from "
                                    "an archive or build stand-ins.") from None
    journal.record(f"docker pull {reference}", seconds=time.monotonic() - started)
    return require(reference)


def _raise_if_engine_gone(exc: BaseException) -> None:
    mapped = failures.translate(exc)
    if mapped is not None:
        raise mapped from None


def load(archive: Path, *, owner: str | None = None) -> list[str]:
    """``docker load -i ARCHIVE``; returns the tags that were loaded (noted under ``owner``).

    Raises :class:`ImageUnavailable` for an unreadable or malformed archive and
    :class:`EngineUnavailable` when the engine stops answering.
    """
    started = time.monotonic()
    try:
        with archive.open("rb") as stream:
            loaded = client().images.load(stream)
        for image in loaded:
            for tag_name in image.tags:
                ownership.note_image(tag_name, str(image.id), owner)
    except (docker.errors.APIError, OSError) as exc:
        _raise_if_engine_gone(exc)
        journal.record(f"docker load -i {archive}", ok=False)
        raise ImageUnavailable(f"Could not load {archive}: {str(exc).splitlines()[0][:200]}",
                               hint="is it a `docker save` archive? re-create it with "
                                    "`make images-archive`.") from None
    journal.record(f"docker load -i {archive}", seconds=time.monotonic() - started)
    return [tag for image in loaded for tag in image.tags]


def import_rootfs(tarball: Path, reference: str, changes: list[str], *,
                  owner: str | None = None) -> ImageFacts:
    """``docker import`` a root filesystem tar, with Dockerfile-style ``--change`` lines.

    The image is noted as the course's under ``owner`` (the stand-ins pass ``base``).
    Raises :class:`ImageUnavailable` when the engine refuses it.
    """
    started = time.monotonic()
    parsed = references.parse(reference)
    try:
        # from_file sends a Content-Length; from_stream's chunked upload is refused by some engines
        client().api.import_image_from_file(str(tarball), repository=parsed.repository,
                                            tag=parsed.tag_or_latest,
                                            changes=changes)
        ownership.note_image_of(client(), reference, owner)
    except docker.errors.APIError as exc:
        raise ImageUnavailable(f"docker import of {tarball} failed: {exc.explanation}") from None
    change_flags = " ".join(f"--change '{c}'" for c in changes)
    journal.record(f"docker import {change_flags} {tarball.name} {reference}",
                   seconds=time.monotonic() - started)
    return require(reference)


def tag(source: str, target: str) -> None:
    """``docker tag SOURCE TARGET``; the new reference is noted as the course's."""
    parsed = references.parse(target)
    image = client().images.get(source)
    image.tag(parsed.repository, tag=parsed.tag_or_latest)
    ownership.note_image(references.with_latest(target), str(image.id))
    journal.record(f"docker tag {source} {target}")


def export_stream(reference: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """``docker save REFERENCE`` as a stream of chunks: nothing is written to disk.

    Raises :class:`ImageUnavailable` (no such image, or a malformed reference),
    :class:`CourseError` (the engine refused the export) and :class:`EngineUnavailable` (the
    engine stopped answering, also in the middle of the stream).
    """
    require(reference)
    journal.record(f"docker save {reference} -o {reference.split('/')[-1].replace(':', '_')}.tar")
    try:
        with failures.translated(during=f"exporting {reference}"):
            yield from client().api.get_image(reference, chunk_size=chunk_size)
    except docker.errors.APIError as exc:
        raise CourseError(f"Exporting {reference} failed: {exc.explanation}") from None


def remove(reference: str, *, force: bool = False) -> bool:
    """``docker rmi``; True if something was removed, False if it was not there.

    Never forced unless asked: a reference with other tags is only untagged, and an image a
    container uses stays (the engine's :class:`docker.errors.APIError` conflict is raised).
    """
    try:
        client().images.remove(reference, force=force, noprune=False)
    except docker.errors.ImageNotFound:
        return False
    journal.record(f"docker rmi {'-f ' if force else ''}{reference}")
    return True


HOST_CA_LABEL = "io.docker-course.host-ca-certificates"


def host_ca_certificates(reference: str) -> int:
    """How many of this host's extra CA certificates the image carries (0 when none).

    The Python stand-in trusts the host's extra CAs (a TLS-inspecting proxy's) and says how
    many in this label; images built ``FROM`` it inherit both the certificates and the label.
    """
    facts = inspect(reference)
    if facts is None:
        return 0
    try:
        return int(facts.labels.get(HOST_CA_LABEL, "0") or 0)
    except ValueError:
        return 0


def check_can_leave(reference: str, registry: str) -> None:
    """Refuse to push ``reference`` to a registry off this machine when it carries host CAs.

    A registry on this machine's loopback (``127.0.0.1:5001``, ``localhost:…``) is fine.
    Raises :class:`CourseError` naming the image, the count and what to do otherwise.
    """
    host = registry.rsplit("@", 1)[-1]
    host = host[1:].split("]", 1)[0] if host.startswith("[") else host.split(":", 1)[0]
    if host.lower() in ("127.0.0.1", "localhost", "::1"):
        return
    count = host_ca_certificates(reference)
    if count:
        raise CourseError(
            f"{reference} carries {count} CA certificate(s) of this machine (the Python "
            f"stand-in trusts the host's extra CAs, e.g. a TLS-inspecting proxy's), so the "
            f"course will not push it to {registry}.",
            hint="build the image on the official python image (`docker pull python:3.12-slim`"
                 ", then build again) before pushing it off this machine; pushing to the "
                 "course's local registry on 127.0.0.1 is fine.")


@dataclass(frozen=True)
class HistoryEntry:
    """One line of ``docker image history``: the instruction that made it and its size.

    ``size_bytes`` is the size of the filesystem layer the instruction added (0 for an
    instruction that only changed the image's settings: the config marks it ``empty_layer``
    and no layer exists for it). ``comment`` is the builder's note (``buildkit.dockerfile.v0``).
    """

    created_by: str
    size_bytes: int
    comment: str


def history(reference: str) -> list[HistoryEntry]:
    """``docker image history REFERENCE``: newest entry first, as the CLI prints them.

    Raises :class:`ImageUnavailable` for a missing or malformed reference. Source: the Engine
    API's ``GET /images/{name}/history``, read from the image config's ``history`` list.
    """
    require(reference)
    journal.record(f"docker image history {reference}")
    return [HistoryEntry(created_by=str(row.get("CreatedBy") or ""),
                         size_bytes=int(row.get("Size") or 0),
                         comment=str(row.get("Comment") or ""))
            for row in client().api.history(reference)]
