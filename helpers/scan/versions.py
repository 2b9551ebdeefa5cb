"""Is this installed version inside an advisory's affected range? Per ecosystem, with real parsers.

Version strings only compare within their ecosystem's rules: PEP 440 for PyPI (``2.0.0rc1`` comes
before ``2.0.0``; ``2.0`` equals ``2.0.0``), dpkg's for Debian and Ubuntu (``1:1.0`` beats
``2.0`` by its epoch; ``1.0~rc1`` comes before ``1.0``), apk's for Alpine (``1.2_rc1`` comes
before ``1.2``, ``1.2_p1`` after it, ``-r2`` is the package revision). String or tuple
comparison gets all three wrong, so this module uses ``packaging.version``,
``debian.debian_support.Version`` and :class:`ApkVersion`.

OSV ranges are event lists: ``introduced`` opens an affected interval, ``fixed`` closes it
(the fixed version is safe), ``last_affected`` closes it after that version. An explicit
``versions`` list names affected versions one by one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from debian.debian_support import Version as DebianVersion
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440Version


@dataclass(frozen=True)
class Scheme:
    """How one ecosystem parses versions and spells package names."""

    name: str
    parse: Callable[[str], Any]
    normalize_name: Callable[[str], str]


def _parse_pep440(text: str) -> Pep440Version:
    return Pep440Version(text)


def _parse_dpkg(text: str) -> DebianVersion:
    return DebianVersion(text)


_APK_VERSION = re.compile(
    r"^(?P<numbers>\d+(?:\.\d+)*)(?P<letter>[a-z])?"
    r"(?P<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)"
    r"(?:~(?P<commit>[0-9a-f]+))?(?:-r(?P<revision>\d+))?$")
_APK_SUFFIX = re.compile(r"_(alpha|beta|pre|rc|cvs|svn|git|hg|p)(\d*)")
#: apk's suffix order: pre-releases before the release (rank 0 here), patches after it.
_APK_SUFFIX_RANK = {"alpha": -4, "beta": -3, "pre": -2, "rc": -1,
                    "cvs": 1, "svn": 2, "git": 3, "hg": 4, "p": 5}


@functools.total_ordering
class ApkVersion:
    """An Alpine package version, ordered as ``apk version -t`` orders them.

    ``NUMBERS[LETTER][_SUFFIX[N]]...[~HASH][-rREVISION]``: the dotted numbers compare one by one
    (``1.10`` after ``1.9``; more components after fewer: ``1.2.1`` after ``1.2``), then the
    letter (``1.2a`` after ``1.2``), then the suffixes (``_alpha`` < ``_beta`` < ``_pre`` <
    ``_rc`` < none < ``_cvs`` < ``_svn`` < ``_git`` < ``_hg`` < ``_p``), then the revision
    ``-rN``. Raises ValueError for text that is not an apk version.
    """

    def __init__(self, text: str) -> None:
        text = str(text).strip()
        match = _APK_VERSION.match(text)
        if not match:
            raise ValueError(f"not an apk version: {text!r}")
        self.text = text
        numbers = tuple(int(part) for part in match["numbers"].split("."))
        suffixes = tuple((_APK_SUFFIX_RANK[name], int(number or 0))
                         for name, number in _APK_SUFFIX.findall(match["suffixes"] or ""))
        # "no suffix" sits between the pre-release and the patch suffixes
        self._key = (numbers, match["letter"] or "", (*suffixes, (0, 0)),
                     int(match["revision"] or 0))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApkVersion) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __lt__(self, other: ApkVersion) -> bool:
        if not isinstance(other, ApkVersion):
            return NotImplemented
        return self._key < other._key

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"ApkVersion({self.text!r})"


def _parse_apk(text: str) -> ApkVersion:
    return ApkVersion(text)


PYPI = Scheme("PyPI", _parse_pep440, lambda name: canonicalize_name(name))
DPKG = Scheme("dpkg", _parse_dpkg, lambda name: name.strip().lower())
APK = Scheme("apk", _parse_apk, lambda name: name.strip().lower())

#: OSV ecosystem family (the part before ``:``) -> version scheme.
_SCHEMES = {"pypi": PYPI, "debian": DPKG, "ubuntu": DPKG, "alpine": APK}


def scheme_for(ecosystem: str) -> Scheme | None:
    """The scheme of an OSV ecosystem (``PyPI``, ``Debian:12`` ...), None if unsupported."""
    return _SCHEMES.get(ecosystem.split(":", 1)[0].strip().lower())


def ecosystem_family(ecosystem: str) -> str:
    return ecosystem.split(":", 1)[0].strip().lower()


def ecosystems_match(package_ecosystem: str, advisory_ecosystem: str) -> bool:
    """Does an advisory for ``advisory_ecosystem`` apply to a package of ``package_ecosystem``?

    ``Debian:12`` matches ``Debian:12`` only: a fix in Debian 13 says nothing about 12. A bare
    ``Debian`` (release unknown) takes any Debian release's advisories, which may over-report;
    ``Ubuntu:22.04`` matches OSV's ``Ubuntu:22.04:LTS``.
    """
    pkg, adv = package_ecosystem.strip(), advisory_ecosystem.strip()
    if pkg.lower() == adv.lower():
        return True
    if ecosystem_family(pkg) != ecosystem_family(adv):
        return False
    if ":" not in pkg:
        return True
    return adv.lower().startswith(pkg.lower() + ":")


def safe_parse(scheme: Scheme, text: str) -> Any | None:
    """The parsed version, or None when the string is not valid in this ecosystem."""
    try:
        return scheme.parse(str(text))
    except (InvalidVersion, ValueError, TypeError):
        return None


def _event_sort_key(scheme: Scheme, value: str) -> tuple[int, Any]:
    if value == "0":
        return (0, None)
    return (1, scheme.parse(value))


def _sorted_events(scheme: Scheme, events: Sequence[dict[str, str]]) -> list[tuple[str, str]]:
    """(kind, version) pairs in version order; OSV does not promise the order it lists them in."""
    pairs = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in event:
                pairs.append((kind, str(event[kind])))
    order = {"introduced": 1, "fixed": 0, "last_affected": 2}
    try:
        return sorted(pairs, key=lambda pair: (*_event_sort_key(scheme, pair[1]),
                                               order[pair[0]]))
    except (InvalidVersion, ValueError, TypeError):
        return []


def _bigger(left: tuple[int, Any], right: tuple[int, Any]) -> bool:
    """Compare two sort keys (``0`` below everything) without comparing None to a Version."""
    if left[0] != right[0]:
        return left[0] > right[0]
    if left[0] == 0:
        return False
    return bool(left[1] > right[1])


def in_range(scheme: Scheme, version: Any, events: Sequence[dict[str, str]]) -> bool:
    """The OSV evaluation of one ECOSYSTEM range for an already parsed version.

    Walk the events in version order: at or after ``introduced`` -> affected; at or after
    ``fixed`` -> not; after ``last_affected`` -> not. Unparsable event versions make the range
    unusable (False): a guess would be worse than the explicit ``versions`` list.
    """
    affected = False
    key = (1, version)
    for kind, value in _sorted_events(scheme, events):
        point = _event_sort_key(scheme, value)
        if kind == "introduced":
            if not _bigger(point, key):
                affected = True
        elif kind == "fixed":
            if not _bigger(point, key):
                affected = False
        elif kind == "last_affected" and _bigger(key, point):
            affected = False
    return affected


def fixed_versions(events: Sequence[dict[str, str]]) -> list[str]:
    return [str(event["fixed"]) for event in events if "fixed" in event]


def is_affected(scheme: Scheme, installed: str, ranges: Iterable[dict[str, Any]],
                versions: Iterable[str] = ()) -> bool:
    """Is ``installed`` affected by one OSV ``affected`` entry (its ranges or versions list)?"""
    parsed = safe_parse(scheme, installed)
    if parsed is not None:
        for version_range in ranges:
            if str(version_range.get("type", "")).upper() not in ("ECOSYSTEM", "SEMVER"):
                continue  # GIT ranges name commits, not releases
            if in_range(scheme, parsed, version_range.get("events") or []):
                return True
    return _listed(scheme, installed, parsed, versions)


def newer_fixes(scheme: Scheme, installed: str, ranges: Iterable[dict[str, Any]]) -> list[str]:
    """Every fixed version above ``installed``, ascending.

    All of them, not just the nearest, because each is an upgrade path: "2.2.5, 2.3.2" means
    stay on 2.2.x with 2.2.5, or move to 2.3.2.
    """
    parsed = safe_parse(scheme, installed)
    fixes: list[str] = []
    for version_range in ranges:
        if str(version_range.get("type", "")).upper() not in ("ECOSYSTEM", "SEMVER"):
            continue
        for fixed in fixed_versions(version_range.get("events") or []):
            fixed_parsed = safe_parse(scheme, fixed)
            newer = parsed is None or fixed_parsed is None or fixed_parsed > parsed
            if newer and fixed not in fixes:
                fixes.append(fixed)
    return sort_versions(scheme, fixes)


def _spelling_key(version: Any, text: str) -> tuple[bool, int, str]:
    """Which of several spellings of one version to show: the canonical one (``str`` of the
    parsed version, e.g. PEP 440's ``2022.12.7``), else the shortest, else the first in text
    order. It depends on the spellings only, never on the order they arrive in."""
    return (text != str(version), len(text), text)


def sort_versions(scheme: Scheme, values: Iterable[str]) -> list[str]:
    """Ascending by the ecosystem's rules, equal versions once; as given if any cannot parse.

    Equal versions spelled differently (``2022.12.7`` and ``2022.12.07``) give one entry, spelt
    as :func:`_spelling_key` chooses, so the result does not depend on the input order.
    """
    values = list(dict.fromkeys(values))
    parsed = [(safe_parse(scheme, value), value) for value in values]
    if not all(version is not None for version, _ in parsed):
        return values
    ordered: list[tuple[Any, str]] = []
    for version, value in sorted(parsed, key=lambda pair: (pair[0], *_spelling_key(*pair))):
        if not ordered or version != ordered[-1][0]:
            ordered.append((version, value))
    return [value for _, value in ordered]


def _listed(scheme: Scheme, installed: str, parsed: Any | None, versions: Iterable[str]) -> bool:
    """Exact membership in the ``versions`` list (``2.0`` and ``2.0.0`` are one PyPI version)."""
    for listed in versions:
        if str(listed) == installed:
            return True
        if parsed is not None:
            other = safe_parse(scheme, str(listed))
            if other is not None and other == parsed:
                return True
    return False
