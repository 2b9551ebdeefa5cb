"""Where the course keeps its state, and the few knobs a classroom may need to turn.

Everything is read from environment variables at call time (never at import), so a notebook or a
test can change them without reloading the package. The one exception is the course folder
(``PROJECT_ROOT``: data/, notebooks/), found once at import by :func:`find_course_root`.
"""

from __future__ import annotations

import os
from pathlib import Path

# A course folder holds these (the package itself may be installed elsewhere, e.g. site-packages)
ROOT_MARKERS = ("data/apps", "data/recordings")


def is_course_root(folder: Path) -> bool:
    """True when ``folder`` holds the course's data (apps and recordings)."""
    return all((folder / marker).is_dir() for marker in ROOT_MARKERS)


def find_course_root() -> Path:
    """The course folder (data/, notebooks/), for any way the package was installed.

    1. ``COURSE_ROOT``, when set (a hub image or a classroom copy says where the course is);
    2. the checkout around the package (``pip install -e .``, or running from the source tree);
    3. the current folder or one above it (a non-editable ``pip install .`` with the notebooks
       run from a clone, nbgitpuller: the kernel starts in ``<course>/notebooks``);
    4. otherwise the folder around the package, so that messages name one place to look.
    """
    explicit = os.environ.get("COURSE_ROOT", "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    around_package = Path(__file__).resolve().parent.parent
    if is_course_root(around_package):
        return around_package
    try:
        here = Path.cwd().resolve()
    except OSError:  # the current folder was deleted
        return around_package
    for folder in (here, *here.parents):
        if is_course_root(folder):
            return folder
    return around_package


PROJECT_ROOT = find_course_root()
DATA_DIR = PROJECT_ROOT / "data"
APPS_DIR = DATA_DIR / "apps"
RECORDINGS_DIR = DATA_DIR / "recordings"


def cache_dir() -> Path:
    """Slow things (the Debian root filesystem) are cached per user, outside the repository."""
    base = os.environ.get("COURSE_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    path = root if os.environ.get("COURSE_CACHE_DIR") else root / "docker-course"
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dir() -> Path:
    """The command journal lives here so notebook 10 can gather every notebook's commands."""
    base = os.environ.get("COURSE_STATE_DIR")
    path = Path(base) if base else cache_dir() / "state"
    path.mkdir(parents=True, exist_ok=True)
    return path


def image_archive_dir() -> Path | None:
    """A folder of ``docker save`` archives (a classroom USB stick), if one is configured."""
    value = os.environ.get("COURSE_IMAGE_ARCHIVE")
    if value:
        return Path(value)
    default = PROJECT_ROOT / "images-archive"
    return default if default.is_dir() else None


def allow_pull() -> bool:
    """``COURSE_NO_PULL=1`` skips registry pulls (saves a long timeout on an offline network)."""
    return os.environ.get("COURSE_NO_PULL", "") not in ("1", "true", "yes")


def require_engine() -> bool:
    """Under CI a missing engine is a failure, not a reason to skip live tests."""
    return os.environ.get("COURSE_REQUIRE_ENGINE", "") in ("1", "true", "yes")


def debian_mirror() -> str:
    return os.environ.get("COURSE_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def debian_suite() -> str:
    return os.environ.get("COURSE_DEBIAN_SUITE", "bookworm")
