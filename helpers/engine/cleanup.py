"""Remove exactly what the course created (by label), never a user's own objects."""

from __future__ import annotations

from dataclasses import dataclass, field

import docker.errors

from .. import journal, labels
from .client import client

BASE_NOTEBOOK = "base"  # stand-in base images: slow to make, kept unless asked


@dataclass
class CleanupReport:
    """What cleanup removed, by kind, so a notebook can show and assert it."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.containers) + len(self.networks) + len(self.volumes) + len(self.images)

    def as_rows(self) -> list[tuple[str, int, str]]:
        return [(kind, len(names), ", ".join(names[:6]) + (" …" if len(names) > 6 else ""))
                for kind, names in (("containers", self.containers), ("networks", self.networks),
                                    ("volumes", self.volumes), ("images", self.images))]


def cleanup(notebook: str | None = None, *, images: bool = True,
            include_bases: bool = False) -> CleanupReport:
    """Remove the course's containers, networks, volumes and (optionally) images.

    ``notebook`` limits it to one notebook's objects. Stand-in base images survive unless
    ``include_bases``: rebuilding them costs minutes, and they hold nothing of the learner's.
    """
    engine = client()
    wanted = labels.filters(notebook)
    report = CleanupReport()
    for container in engine.containers.list(all=True, filters=wanted):
        try:
            container.remove(force=True, v=True)  # anonymous volumes die with it
            report.containers.append(container.name)
        except docker.errors.NotFound:
            pass
    for network in engine.networks.list(filters=wanted):
        try:
            network.remove()
            report.networks.append(network.name)
        except docker.errors.APIError:
            pass
    for volume in engine.volumes.list(filters=wanted):
        try:
            volume.remove(force=True)
            report.volumes.append(volume.name)
        except docker.errors.APIError:
            pass
    if images:
        for image in engine.images.list(filters=labels.image_filters(notebook)):
            owner = (image.labels or {}).get(labels.IMAGE_NOTEBOOK_KEY, "")
            if owner == BASE_NOTEBOOK and not include_bases:
                continue
            for reference in image.tags or [image.id]:
                try:
                    engine.images.remove(reference, force=True)
                    report.images.append(reference)
                except docker.errors.APIError:
                    pass
    if images:
        report.images += _remove_dangling_intermediates(engine, notebook)
    for command, names in (("docker rm -f", report.containers),
                           ("docker network rm", report.networks),
                           ("docker volume rm", report.volumes), ("docker rmi", report.images)):
        if names:
            journal.record(f"{command} {' '.join(names)}")
    return report


def _remove_dangling_intermediates(engine, notebook: str | None) -> list[str]:
    """Untagged images that the course's own builds produced (see build.intermediates_file)."""
    from .build import intermediates_file

    files = [intermediates_file(notebook)] if notebook else \
        list(intermediates_file("x").parent.glob("*.txt"))
    removed = []
    for path in files:
        if not path.exists():
            continue
        for image_id in dict.fromkeys(path.read_text(encoding="utf-8").split()):
            try:
                image = engine.images.get(image_id)
            except docker.errors.ImageNotFound:
                continue
            if image.tags:
                continue  # a tagged image is a result, not a leftover
            try:
                engine.images.remove(image.id, force=False, noprune=False)
                removed.append(image_id)
            except docker.errors.APIError:
                pass  # still a parent of another image or used by a container: leave it
        path.unlink(missing_ok=True)
    return removed
