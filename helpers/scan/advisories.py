"""The advisory snapshot shipped in ``data/advisories/``, loaded for matching.

The snapshot is a list of OSV records reduced to facts (ids, aliases, affected ranges and
versions, severity, published date, source URL), so the built-in scanner works offline and gives
the same answer on every run. ``scripts/build_advisory_snapshot.py`` writes it; see
:mod:`helpers.scan.snapshot`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import CourseError
from .model import normalize_severity
from .versions import Scheme, ecosystem_family, ecosystems_match, scheme_for

ADVISORY_DIR = settings.DATA_DIR / "advisories"
DEFAULT_SNAPSHOT = ADVISORY_DIR / "osv-snapshot.json"
SNAPSHOT_FORMAT = "osv-snapshot"

_CVE = re.compile(r"^CVE-\d{4}-\d+$")


@dataclass(frozen=True)
class AffectedPackage:
    """One ``affected`` entry: a package in an ecosystem, its ranges and listed versions."""

    ecosystem: str
    name: str
    ranges: tuple[dict[str, Any], ...] = ()
    versions: tuple[str, ...] = ()

    @property
    def scheme(self) -> Scheme | None:
        return scheme_for(self.ecosystem)


@dataclass(frozen=True)
class Advisory:
    """One advisory (duplicates across databases already merged into it)."""

    id: str
    aliases: tuple[str, ...] = ()
    severity: str = "UNKNOWN"
    affected: tuple[AffectedPackage, ...] = ()
    published: str = ""
    source_urls: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()

    def display_id(self) -> str:
        """The CVE id when there is one: what Trivy, Grype and Scout show, so rows line up."""
        for candidate in (self.id, *sorted(self.aliases), *sorted(self.upstream)):
            if _CVE.match(candidate):
                return candidate
        return self.id

    def other_ids(self) -> list[str]:
        """Every id of this advisory except :meth:`display_id`, primary id first."""
        shown = self.display_id()
        ids = [self.id, *sorted(self.aliases)]
        return [i for i in dict.fromkeys(ids) if i != shown]


def advisory_from_osv(record: dict[str, Any]) -> Advisory:
    """An :class:`Advisory` from an OSV record (ours, or one straight from OSV)."""
    database = record.get("database_specific") or {}
    affected = []
    for entry in record.get("affected") or []:
        package = entry.get("package") or {}
        if not package.get("name") or not package.get("ecosystem"):
            continue
        affected.append(AffectedPackage(
            ecosystem=str(package["ecosystem"]),
            name=str(package["name"]),
            ranges=tuple(entry.get("ranges") or ()),
            versions=tuple(str(v) for v in entry.get("versions") or ()),
        ))
    urls = [ref.get("url", "") for ref in record.get("references") or []
            if ref.get("type") == "ADVISORY" and ref.get("url")]
    return Advisory(
        id=str(record["id"]),
        aliases=tuple(str(a) for a in record.get("aliases") or ()),
        severity=normalize_severity(database.get("severity")),
        affected=tuple(affected),
        published=str(record.get("published") or ""),
        source_urls=tuple(urls),
        upstream=tuple(str(u) for u in record.get("upstream") or ()),
    )


@dataclass
class AdvisoryIndex:
    """Advisories looked up by (ecosystem family, normalised package name)."""

    advisories: list[Advisory] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    _by_name: dict[tuple[str, str], list[tuple[Advisory, AffectedPackage]]] = field(
        default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for advisory in self.advisories:
            for affected in advisory.affected:
                scheme = affected.scheme
                if scheme is None:
                    continue
                key = (ecosystem_family(affected.ecosystem), scheme.normalize_name(affected.name))
                self._by_name.setdefault(key, []).append((advisory, affected))

    def __len__(self) -> int:
        return len(self.advisories)

    def __iter__(self) -> Iterator[Advisory]:
        return iter(self.advisories)

    def candidates(self, ecosystem: str, names: Iterable[str]
                   ) -> list[tuple[Advisory, AffectedPackage]]:
        """Advisory entries for any of ``names`` that apply to a package of ``ecosystem``."""
        scheme = scheme_for(ecosystem)
        if scheme is None:
            return []
        family = ecosystem_family(ecosystem)
        found: list[tuple[Advisory, AffectedPackage]] = []
        for name in dict.fromkeys(scheme.normalize_name(n) for n in names if n):
            for advisory, affected in self._by_name.get((family, name), []):
                if ecosystems_match(ecosystem, affected.ecosystem):
                    found.append((advisory, affected))
        return found

    def ecosystems(self) -> list[str]:
        return sorted({a.ecosystem for adv in self.advisories for a in adv.affected})


def records_from_document(data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(OSV records, source notes) from a snapshot, a list of OSV records or one record."""
    if isinstance(data, dict) and isinstance(data.get("advisories"), list):
        return data["advisories"], list(data.get("sources") or [])
    if isinstance(data, list):
        return data, []
    if isinstance(data, dict) and "id" in data and "affected" in data:
        return [data], []
    raise ValueError("not an OSV snapshot, list of OSV records, or OSV record")


def load_snapshot(path: str | Path | None = None) -> AdvisoryIndex:
    """The advisory index from ``path`` (default: the snapshot shipped in data/advisories)."""
    path = Path(path) if path else DEFAULT_SNAPSHOT
    if not path.is_file():
        raise CourseError(f"No advisory snapshot at {path}.",
                          hint="Build it with `python scripts/build_advisory_snapshot.py`.")
    try:
        records, sources = records_from_document(json.loads(path.read_text(encoding="utf-8")))
        advisories = [advisory_from_osv(record) for record in records]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CourseError(f"The advisory snapshot {path.name} cannot be read.",
                          hint="Rebuild it with `python scripts/build_advisory_snapshot.py`.",
                          log_tail=f"{type(error).__name__}: {error}") from None
    return AdvisoryIndex(advisories=advisories, sources=sources)
