"""The built-in offline scanner: inventory an image's own files, match the advisory snapshot.

It needs no network, no scanner binary and no engine (it reads a ``docker save`` archive), so
it runs the same in a classroom without internet, on Binder, and in CI. It only knows what the
shipped snapshot knows: the result's :class:`~helpers.scan.coverage.Coverage` says, per package
type, what was listed, what was judged against which advisory source of which date, and why
the rest was not. Only judged packages are matched, so every finding is inside that scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import matcher
from .advisories import AdvisoryIndex, load_snapshot
from .coverage import coverage_of, is_judged
from .inventory import NOTHING_TO_INVENTORY, inventory, wants
from .model import Package, ScanResult


def _index(snapshot: AdvisoryIndex | str | Path | None) -> AdvisoryIndex:
    if isinstance(snapshot, AdvisoryIndex):
        return snapshot
    return load_snapshot(snapshot)


def scan_packages(packages: Iterable[Package], *, target: str = "image",
                  snapshot: AdvisoryIndex | str | Path | None = None) -> ScanResult:
    """Match already inventoried packages (e.g. from a test or a saved inventory).

    Only the packages the snapshot covers are matched (:func:`~.coverage.is_judged`); the
    result's ``coverage`` counts them per package type. Raises :class:`CourseError` when the
    snapshot file is missing or unreadable.
    """
    packages = list(packages)
    index = _index(snapshot)
    findings = matcher.match([p for p in packages if is_judged(p, index)], index)
    notes = [NOTHING_TO_INVENTORY] if not packages else []
    result = ScanResult(target=target, findings=findings, source=matcher.SOURCE, notes=notes,
                        packages=packages, coverage=coverage_of(packages, index))
    result.findings = result.sorted_findings()  # worst first, stable across runs
    return result


def scan_archive(archive: Any, *, target: str | None = None,
                 snapshot: AdvisoryIndex | str | Path | None = None) -> ScanResult:
    """Scan an image archive read with ``keep=inventory.wants``: inventory, then match.

    An image without any package database gives an empty result whose note says "nothing to
    inventory", not an error: a scratch image is a valid (and instructive) case.
    """
    found = inventory(archive)
    tags = list(getattr(archive, "repo_tags", None) or [])
    name = target or str(getattr(archive, "name", "") or getattr(archive, "tag", "")
                         or (tags[0] if tags else "") or "image")
    result = scan_packages(found.packages, target=name, snapshot=snapshot)
    result.notes = [*(getattr(archive, "notes", None) or []), *result.notes]
    return result


def scan_source(source: Any, *, target: str | None = None,
                snapshot: AdvisoryIndex | str | Path | None = None, tag: str | None = None,
                platform: str | None = None) -> ScanResult:
    """Scan a ``docker save`` archive given as a path, bytes, a file object or byte chunks
    (``images.export_stream(reference)``): read once as a stream, keeping only the files the
    inventory reads, so nothing is unpacked to disk.

    ``tag`` and ``platform`` choose within an archive holding several images or platforms. A
    damaged, truncated or non-image archive is a :class:`~helpers.errors.CourseError` from
    the archive reader; an image without package databases a result that says so.
    """
    from ..anatomy.archive import read_image

    archive = read_image(source, keep=wants, tag=tag, platform=platform)
    return scan_archive(archive, target=target, snapshot=snapshot)
