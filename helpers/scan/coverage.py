"""What a scan judged: per package type, how many packages were listed and how many were
looked up in an advisory source, which source, and of what date.

A scanner's silence means "nothing known *in what I looked at*". The built-in scanner lists
every package of an image (dpkg, apk, Python), but it can only judge a package whose
ecosystem it has version rules for and whose advisories its snapshot holds: offline, the
shipped snapshot has Python advisories only, so 118 Debian packages of a ``python`` base image
are listed and not judged. Every result of the built-in scanner carries a :class:`Coverage`,
and every summary, chart title and check quotes it, so "no known vulnerabilities" is never
said without its scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import ecosystems
from .advisories import AdvisoryIndex
from .model import Package
from .versions import scheme_for

if TYPE_CHECKING:
    import pandas as pd

#: The order of package types in tables: language packages first (what an app installs).
KIND_ORDER = ("python", "javascript", "go", "java", "ruby", "dpkg", "apk", "rpm")
COLUMNS = ["ecosystem", "listed", "judged", "not judged", "advisory source", "data as of",
           "why not judged"]


def package_kind(package: Package) -> str:
    """The package type a person names: ``python``, ``dpkg``, ``apk``, ``rpm`` ...

    Language packages keep the table's ``type`` (``python``); OS packages are named by their
    package manager, told from the database they were read from, else from their package URL.
    """
    if package.type != "os":
        return package.type
    location = package.location or ""
    if location.startswith("var/lib/dpkg/"):
        return "dpkg"
    if location == "lib/apk/db/installed":
        return "apk"
    purl = ecosystems.parse_purl(package.purl) if package.purl else None
    purl_type = purl.type if purl else ""
    if purl_type == "deb":
        return "dpkg"
    if purl_type:
        return purl_type
    family = package.ecosystem.split(":", 1)[0].lower()
    return {"debian": "dpkg", "ubuntu": "dpkg", "alpine": "apk"}.get(family, "os")


def _names(package: Package) -> list[str]:
    names = [package.name]
    if package.type == "os" and package.source_name and package.source_name != package.name:
        names.append(package.source_name)
    return names


def _version(package: Package) -> str:
    """The version an advisory query names: the source version for OS packages."""
    if package.type == "os":
        return package.source_version or package.version
    return package.version


def why_not_judged(package: Package, index: AdvisoryIndex) -> str:
    """``""`` when the package is judged against ``index``, else the reason in a few words."""
    if scheme_for(package.ecosystem) is None:
        return f"the built-in matcher has no version rules for {package.ecosystem}"
    if not index.has_ecosystem(package.ecosystem):
        return (f"the advisory snapshot has no {package.ecosystem} advisories "
                "(refresh it online to judge them)")
    if index.covers(package.ecosystem, _names(package), _version(package)):
        return ""
    if index.covers(package.ecosystem, _names(package)):
        return "the snapshot was refreshed for another version of it"
    return "not in the snapshot's package list"


def is_judged(package: Package, index: AdvisoryIndex) -> bool:
    """Was the package looked up in the snapshot, so that no finding means none known there?"""
    return not why_not_judged(package, index)


def short_source(source: dict[str, Any]) -> str:
    """``GitHub Advisory Database`` for ``GitHub Advisory Database (GitHub-reviewed …)``."""
    return str(source.get("name") or source.get("url") or "?").split(" (", 1)[0].strip()


@dataclass
class CoverageRow:
    """One package type of one scan: how many packages were listed and judged, and against what.

    ``source`` names the advisory databases (``PyPA Advisory Database + GitHub Advisory
    Database``), ``as_of`` the date of their data (``YYYY-MM-DD``); ``why_not`` says why the
    ``listed - judged`` others were not judged, ``not_judged_names`` names a few of them.
    """

    kind: str
    ecosystem: str
    listed: int = 0
    judged: int = 0
    source: str = ""
    as_of: str = ""
    why_not: str = ""
    not_judged_names: list[str] = field(default_factory=list)

    @property
    def not_judged(self) -> int:
        return self.listed - self.judged

    def judged_text(self) -> str:
        """``15 python packages judged against PyPA … (data as of 2024-09-13)``."""
        return (f"{self.judged} {self.kind} package{'s' if self.judged != 1 else ''} judged "
                f"against {self.source or 'the snapshot'}"
                + (f" (data as of {self.as_of})" if self.as_of else ""))

    def not_judged_text(self) -> str:
        """``118 dpkg packages listed, not judged: the advisory snapshot has no …``."""
        count = self.not_judged
        names = ""
        if self.not_judged_names and count <= 5:
            names = f" ({', '.join(self.not_judged_names)})"
        return (f"{count} {self.kind} package{'s' if count != 1 else ''}{names} listed, not "
                f"judged: {self.why_not}")

    def to_json(self) -> dict[str, Any]:
        """``{ecosystem, listed, judged, not_judged, source, as_of, why_not_judged}``."""
        return {"ecosystem": self.ecosystem, "listed": self.listed, "judged": self.judged,
                "not_judged": self.not_judged, "source": self.source, "as_of": self.as_of,
                "why_not_judged": self.why_not if self.not_judged else ""}


@dataclass
class Coverage:
    """Per package type, what a scan listed and judged; see :func:`coverage_of`.

    ``snapshot`` is the advisory snapshot's file name and ``as_of`` the date of its data.
    """

    rows: list[CoverageRow] = field(default_factory=list)
    snapshot: str = ""
    as_of: str = ""

    @property
    def listed(self) -> int:
        return sum(r.listed for r in self.rows)

    @property
    def judged(self) -> int:
        return sum(r.judged for r in self.rows)

    @property
    def not_judged(self) -> int:
        return self.listed - self.judged

    def row(self, kind: str) -> CoverageRow | None:
        """The row of one package type (``python``, ``dpkg`` ...), None if none was listed."""
        return next((r for r in self.rows if r.kind == kind), None)

    def scope(self) -> str:
        """What was judged, in one clause: ``15 python packages judged against … (data as of
        …)``, or ``no package judged`` when nothing was."""
        parts = [r.judged_text() for r in self.rows if r.judged]
        return "; ".join(parts) if parts else "no package judged"

    def gaps(self) -> list[str]:
        """One sentence per package type with packages listed but not judged."""
        return [r.not_judged_text() for r in self.rows if r.not_judged]

    def sentence(self) -> str:
        """The scope and the gaps in one line, for a summary."""
        return "; ".join([self.scope(), *self.gaps()])

    def to_json(self) -> dict[str, Any]:
        """``{"snapshot", "as_of", "listed", "judged", "not_judged", "types": {kind: {...}}}``."""
        return {"snapshot": self.snapshot, "as_of": self.as_of, "listed": self.listed,
                "judged": self.judged, "not_judged": self.not_judged,
                "types": {r.kind: r.to_json() for r in self.rows}}

    def to_frame(self) -> pd.DataFrame:
        """One row per package type (index ``type``), in :data:`COLUMNS`; packages counted."""
        import pandas as pd

        rows = [{"type": r.kind, "ecosystem": r.ecosystem, "listed": r.listed,
                 "judged": r.judged, "not judged": r.not_judged,
                 "advisory source": r.source or "—", "data as of": r.as_of or "—",
                 "why not judged": r.why_not if r.not_judged else ""} for r in self.rows]
        return pd.DataFrame(rows, columns=["type", *COLUMNS]).set_index("type")


def _kind_rank(kind: str) -> tuple[int, str]:
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)


def coverage_of(packages: Iterable[Package], index: AdvisoryIndex) -> Coverage:
    """Count, per package type, the packages listed and those judged against ``index``."""
    rows: dict[str, CoverageRow] = {}
    reasons: dict[str, dict[str, None]] = {}
    for package in packages:
        kind = package_kind(package)
        row = rows.get(kind)
        if row is None:
            sources = index.sources_for(package.ecosystem)
            row = rows[kind] = CoverageRow(
                kind=kind, ecosystem=package.ecosystem,
                source=" + ".join(dict.fromkeys(short_source(s) for s in sources)),
                as_of=index.as_of)
        elif package.ecosystem not in row.ecosystem.split(", "):
            row.ecosystem = ", ".join(sorted({*row.ecosystem.split(", "), package.ecosystem}))
        row.listed += 1
        why = why_not_judged(package, index)
        if why:
            reasons.setdefault(kind, {})[why] = None
            if package.name not in row.not_judged_names:
                row.not_judged_names.append(package.name)
        else:
            row.judged += 1
    for kind, row in rows.items():
        row.why_not = "; ".join(reasons.get(kind, {}))
        row.not_judged_names.sort(key=str.lower)
        if not row.judged:
            row.source, row.as_of = "", ""
    ordered = [rows[kind] for kind in sorted(rows, key=_kind_rank)]
    return Coverage(rows=ordered, snapshot=index.name, as_of=index.as_of)
