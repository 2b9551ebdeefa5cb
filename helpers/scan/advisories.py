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


@dataclass(frozen=True)
class QueriedPackage:
    """A package the snapshot was built for: its advisories were asked for, found or not.

    ``version`` is set when only the advisories affecting that one version were asked for (the
    online refresh does so for OS packages, whose full histories are large).
    """

    ecosystem: str
    name: str
    version: str = ""

    @classmethod
    def parse(cls, text: str) -> QueriedPackage:
        """``PyPI/flask``, ``Debian:12/glibc@2.36-9+deb12u14`` -> a QueriedPackage."""
        ecosystem, _, rest = str(text).rpartition("/")
        name, _, version = rest.partition("@")
        return cls(ecosystem or "PyPI", name, version)

    def __str__(self) -> str:
        return f"{self.ecosystem}/{self.name}" + (f"@{self.version}" if self.version else "")


@dataclass
class AdvisoryIndex:
    """Advisories looked up by (ecosystem family, normalised package name), plus what the
    snapshot was built from: its ``sources`` (name, URL, licence, ``ecosystems``), the packages
    it ``queried`` and the date its data is ``as_of`` (``YYYY-MM-DD``)."""

    advisories: list[Advisory] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    queried: list[QueriedPackage] = field(default_factory=list)
    as_of: str = ""
    name: str = ""
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
        """Every ecosystem an advisory of the snapshot names (``PyPI``, ``Debian:12`` ...)."""
        return sorted({a.ecosystem for adv in self.advisories for a in adv.affected})

    def has_ecosystem(self, ecosystem: str) -> bool:
        """Was anything of ``ecosystem`` asked for or found (``Debian:12`` takes ``Debian:12``
        advisories only; see :func:`~helpers.scan.versions.ecosystems_match`)?"""
        asked = [q.ecosystem for q in self.queried] or self.ecosystems()
        return any(ecosystems_match(ecosystem, other) for other in asked)

    def covers(self, ecosystem: str, names: Iterable[str], version: str = "") -> bool:
        """Was the snapshot built for this package, so that finding nothing means something?

        True when one of ``names`` (a binary and its source package name) of ``ecosystem`` is
        among the queried packages, at ``version`` when the query named a version. A snapshot
        that does not list what it queried covers every package of an ecosystem it holds
        advisories for.
        """
        scheme = scheme_for(ecosystem)
        if scheme is None:
            return False
        if not self.queried:
            return self.has_ecosystem(ecosystem)
        wanted = {scheme.normalize_name(n) for n in names if n}
        for query in self.queried:
            if not ecosystems_match(ecosystem, query.ecosystem):
                continue
            if scheme.normalize_name(query.name) in wanted and (
                    not query.version or not version or query.version == version):
                return True
        return False

    def sources_for(self, ecosystem: str) -> list[dict[str, Any]]:
        """The sources whose advisories cover ``ecosystem`` (all of them when the snapshot does
        not say which source covers what)."""
        tagged = [s for s in self.sources if s.get("ecosystems")]
        if not tagged:
            return list(self.sources)
        return [s for s in tagged if any(ecosystems_match(ecosystem, e) or
                                         ecosystem_family(e) == ecosystem_family(ecosystem)
                                         for e in s["ecosystems"])]


def records_from_document(data: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(OSV records, source notes) from a snapshot, a list of OSV records or one record."""
    if isinstance(data, dict) and isinstance(data.get("advisories"), list):
        return data["advisories"], list(data.get("sources") or [])
    if isinstance(data, list):
        return data, []
    if isinstance(data, dict) and "id" in data and "affected" in data:
        return [data], []
    raise ValueError("not an OSV snapshot, list of OSV records, or OSV record")


def data_as_of(document: Any, records: Iterable[dict[str, Any]] = ()) -> str:
    """The date (``YYYY-MM-DD``) a snapshot's data is from: when it was fetched online
    (``retrieved``), else the date it records (``data_as_of``), else its newest ``modified``."""
    if isinstance(document, dict):
        for key in ("retrieved", "data_as_of"):
            if document.get(key):
                return str(document[key])[:10]
    dates = [str(r.get("modified") or r.get("published") or "") for r in records]
    dates = [d for d in dates if d]
    return max(dates)[:10] if dates else ""


def load_snapshot(path: str | Path | None = None) -> AdvisoryIndex:
    """The advisory index from ``path`` (default: the snapshot shipped in data/advisories).

    Raises :class:`CourseError` when the file is missing or is not a snapshot / OSV records.
    """
    path = Path(path) if path else DEFAULT_SNAPSHOT
    if not path.is_file():
        raise CourseError(f"No advisory snapshot at {path}.",
                          hint="Build it with `python scripts/build_advisory_snapshot.py`.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        records, sources = records_from_document(document)
        advisories = [advisory_from_osv(record) for record in records]
        queried = [QueriedPackage.parse(text) for text in
                   (document.get("packages") or [] if isinstance(document, dict) else [])]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CourseError(f"The advisory snapshot {path.name} cannot be read.",
                          hint="Rebuild it with `python scripts/build_advisory_snapshot.py`.",
                          log_tail=f"{type(error).__name__}: {error}") from None
    return AdvisoryIndex(advisories=advisories, sources=sources, queried=queried,
                         as_of=data_as_of(document, records), name=path.name)
