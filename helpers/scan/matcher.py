"""Match an inventory against the advisory snapshot: the core of the built-in scanner.

A package is looked up by its PEP 503 name (PyPI: ``Flask``, ``flask`` and ``FLASK`` are one
project) or, for Debian and Ubuntu, by binary *and* source package name, since those
advisories are filed per source package (``openssl`` covers ``libssl3``). An advisory that
several databases publish (a PYSEC and a GHSA record for one CVE) was merged into one record when
the snapshot was built, so it gives one row.
"""

from __future__ import annotations

from collections.abc import Iterable

from .advisories import Advisory, AdvisoryIndex
from .model import Finding, Package
from .versions import is_affected, newer_fixes, scheme_for, sort_versions

SOURCE = "built-in"


def _lookups(package: Package) -> list[tuple[str, str]]:
    """(name, version) pairs to look advisories up by: the binary, then its source package."""
    pairs = [(package.name, package.version)]
    if package.type == "os" and package.source_name and package.source_name != package.name:
        pairs.append((package.source_name, package.source_version or package.version))
    return pairs


def match_package(package: Package, index: AdvisoryIndex) -> list[Finding]:
    """The findings for one installed package (one row per advisory)."""
    scheme = scheme_for(package.ecosystem)
    if scheme is None:
        return []
    # fixed versions in a dict (insertion order), not a set: a set of strings iterates in an
    # order that changes with every run's hash seed
    verdicts: dict[str, tuple[Advisory, dict[str, None]]] = {}
    hit: set[str] = set()
    for name, version in _lookups(package):
        for advisory, affected in index.candidates(package.ecosystem, [name]):
            entry = verdicts.setdefault(advisory.id, (advisory, {}))
            entry[1].update(dict.fromkeys(newer_fixes(scheme, version, affected.ranges)))
            if is_affected(scheme, version, affected.ranges, affected.versions):
                hit.add(advisory.id)
    findings = []
    for advisory_id in sorted(hit):
        advisory, fixes = verdicts[advisory_id]
        findings.append(Finding(
            id=advisory.display_id(),
            aliases=advisory.other_ids(),
            severity=advisory.severity,
            package=package.name,
            type=package.type,
            installed=package.version,
            fixed=", ".join(sort_versions(scheme, fixes)),
            layer=package.layer,
            source=SOURCE,
        ))
    return findings


def match(packages: Iterable[Package], index: AdvisoryIndex) -> list[Finding]:
    """Findings for every package; one row per (advisory, package, version, type)."""
    findings: dict[tuple[str, str, str, str], Finding] = {}
    for package in packages:
        for finding in match_package(package, index):
            findings.setdefault(finding.key(), finding)
    return list(findings.values())
