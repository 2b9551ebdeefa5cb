"""Vulnerability scans as one table, whatever produced them.

* :func:`read_report` reads a saved Trivy, Grype or Docker Scout report (format told from the
  content) into a :class:`ScanResult`; :func:`write_report` writes one in those formats.
* :func:`scan_archive` is the built-in offline scanner: the image's own package databases
  (:mod:`.inventory`, whose :func:`wants` is the archive reader's ``keep=`` filter) matched
  against the advisory snapshot in ``data/advisories``; :func:`scan_source` does the same
  straight from a ``docker save`` stream or file.
* :func:`origins_frame` says where each finding came from: layer, Dockerfile step,
  requirement line, and whether the package is direct, "via" another one, or the base's.
* :func:`compare` is the before/after table; :func:`write_sbom` the CycloneDX export.
* ``python -m helpers scan`` / ``report`` (:mod:`.cli`) print the same table in a terminal.
"""

from __future__ import annotations

from .advisories import AdvisoryIndex, load_snapshot
from .compare import Comparison, compare
from .inventory import KEEP, Inventory, inventory, wants
from .model import SEVERITIES, Finding, Package, ScanResult, findings_frame, normalize_severity
from .origins import describe_step, origins_frame
from .reports import (
    SAMPLE_REPORTS,
    ReportError,
    detect_format,
    parse_report,
    read_report,
    write_report,
)
from .sbom import to_cyclonedx_json, write_sbom
from .scanner import scan_archive, scan_packages, scan_source

__all__ = [
    "KEEP",
    "SAMPLE_REPORTS",
    "SEVERITIES",
    "AdvisoryIndex",
    "Comparison",
    "Finding",
    "Inventory",
    "Package",
    "ReportError",
    "ScanResult",
    "compare",
    "describe_step",
    "detect_format",
    "findings_frame",
    "inventory",
    "load_snapshot",
    "normalize_severity",
    "origins_frame",
    "parse_report",
    "read_report",
    "scan_archive",
    "scan_packages",
    "scan_source",
    "to_cyclonedx_json",
    "wants",
    "write_report",
    "write_sbom",
]
