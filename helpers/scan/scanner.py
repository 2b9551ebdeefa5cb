"""The built-in offline scanner: inventory an image's own files, match the advisory snapshot.

It needs no network, no scanner binary and no engine (it reads a ``docker save`` archive), so
it runs the same in a classroom without internet, on Binder, and in CI. It only knows what the
shipped snapshot knows: the notes on the result say what it could not judge.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import matcher
from .advisories import AdvisoryIndex, load_snapshot
from .inventory import NOTHING_TO_INVENTORY, inventory, wants
from .model import Package, ScanResult
from .versions import ecosystem_family, scheme_for


def _index(snapshot: AdvisoryIndex | str | Path | None) -> AdvisoryIndex:
    if isinstance(snapshot, AdvisoryIndex):
        return snapshot
    return load_snapshot(snapshot)


def coverage_notes(packages: Iterable[Package], index: AdvisoryIndex) -> list[str]:
    """Sentences about packages the snapshot cannot judge, so silence is not read as safety."""
    notes = []
    known_families = {ecosystem_family(e) for e in index.ecosystems()}
    by_ecosystem: dict[str, int] = {}
    for package in packages:
        by_ecosystem[package.ecosystem] = by_ecosystem.get(package.ecosystem, 0) + 1
    for ecosystem, count in sorted(by_ecosystem.items()):
        if scheme_for(ecosystem) is None:
            notes.append(f"{count} {ecosystem} packages were listed but not matched: the "
                         f"built-in matcher does not compare {ecosystem} versions.")
        elif ecosystem_family(ecosystem) not in known_families:
            notes.append(f"{count} {ecosystem} packages were listed but the advisory snapshot "
                         f"has no {ecosystem} advisories; refresh it online "
                         "(scripts/build_advisory_snapshot.py --refresh-online) to judge them.")
    return notes


def scan_packages(packages: Iterable[Package], *, target: str = "image",
                  snapshot: AdvisoryIndex | str | Path | None = None) -> ScanResult:
    """Match already inventoried packages (e.g. from a test or a saved inventory)."""
    packages = list(packages)
    index = _index(snapshot)
    findings = matcher.match(packages, index)
    notes = [NOTHING_TO_INVENTORY] if not packages else coverage_notes(packages, index)
    result = ScanResult(target=target, findings=findings, source=matcher.SOURCE, notes=notes,
                        packages=packages)
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
