"""Find each image the course needs: present → pull → load from archive → build a stand-in.

The order matters to a classroom: an image already present costs nothing, a pull needs a
registry, an archive folder (a USB stick) needs no network, and a stand-in needs only Debian's
package mirror. The result says which source was used so the notebook can tell the learner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import catalog, settings, standins
from .display import FactsView
from .engine import images
from .engine.cleanup import BASE_NOTEBOOK
from .errors import CourseError, ImageUnavailable


@dataclass
class ResolvedImage(FactsView):
    """Which reference to use for a catalog key, and where it came from."""

    key: str
    reference: str
    source: str  # "present", "pulled", "archive", "stand-in"
    is_official: bool
    seconds: float
    tried: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        kind = "official image" if self.is_official else "course stand-in"
        return f"{self.key}: {self.reference} ({kind}, {self.source}, {self.seconds:.1f} s)"


def resolve(key: str, *, allow_build: bool = True) -> ResolvedImage:
    """The reference to use for ``key``; raises ImageUnavailable listing everything tried."""
    wanted = catalog.get(key)
    started = time.monotonic()
    tried: list[str] = []

    def done(reference: str, source: str) -> ResolvedImage:
        return ResolvedImage(key=key, reference=reference, source=source,
                             is_official=reference == wanted.official,
                             seconds=round(time.monotonic() - started, 2), tried=tried)

    for reference in (wanted.official, wanted.standin):
        if images.inspect(reference) is not None:
            return done(reference, "present")
    tried.append("not present locally")

    if settings.allow_pull():
        try:
            images.pull(wanted.official, owner=BASE_NOTEBOOK)
            return done(wanted.official, "pulled")
        except ImageUnavailable as exc:
            tried.append(f"pull {wanted.official}: {exc.message}")
    else:
        tried.append("pull skipped (COURSE_NO_PULL)")

    archive_dir = settings.image_archive_dir()
    if archive_dir is not None:
        archive = archive_dir / f"{key}.tar"
        if archive.is_file():
            try:
                images.load(archive, owner=BASE_NOTEBOOK)
            except ImageUnavailable as exc:
                tried.append(f"load {archive}: {exc.message}")
            for reference in (wanted.official, wanted.standin):
                if images.inspect(reference) is not None:
                    return done(reference, "archive")
        else:
            tried.append(f"no {archive.name} in {archive_dir}")

    if allow_build:
        try:
            return done(standins.build(key), "stand-in")
        except CourseError as exc:
            tried.append(f"stand-in: {exc.message}")
    raise ImageUnavailable(f"No way to get the {key} image ({wanted.official}).",
                           hint="connect to a registry, set COURSE_IMAGE_ARCHIVE to a folder "
                                "made by `make images-archive`, or install debootstrap.",
                           log_tail="\n".join(tried))


def resolvable(key: str) -> tuple[bool, str]:
    """For preflight: can ``key`` be had without building? (present, or a source to try)."""
    wanted = catalog.get(key)
    for reference in (wanted.official, wanted.standin):
        if images.inspect(reference) is not None:
            return True, f"present ({reference})"
    archive_dir = settings.image_archive_dir()
    if archive_dir is not None and (archive_dir / f"{key}.tar").is_file():
        return True, f"in archive {archive_dir}"
    from . import rootfs  # local import: only preflight needs it

    if key in ("python", "database") and rootfs.can_build():
        return True, "will pull, or build a stand-in with debootstrap"
    return settings.allow_pull(), "will pull " + wanted.official
