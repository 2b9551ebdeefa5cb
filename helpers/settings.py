"""Where the course keeps its state, and the few knobs a classroom may need to turn.

Everything is read from environment variables at call time (never at import), so a notebook or a
test can change them without reloading the package.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
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


def build_network() -> str | None:
    """Network mode for ``docker build`` RUN steps.

    Behind a TLS-inspecting proxy only host networking reaches the package indexes, so ``host``
    is the default; ``COURSE_BUILD_NETWORK=default`` gives the engine's normal bridge.
    """
    value = os.environ.get("COURSE_BUILD_NETWORK", "host").strip()
    return None if value in ("", "default", "bridge") else value


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
