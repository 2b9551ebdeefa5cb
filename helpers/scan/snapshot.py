"""Build the advisory snapshot: facts from OSV-form advisories, duplicates merged, severity set.

Two ways in, one format out:

* offline, from copies of the PyPA advisory database (YAML, ``vulns/<package>/*.yaml``) and of
  GitHub-reviewed advisories (JSON), both CC-BY-4.0;
* online, from the OSV API (``/v1/querybatch`` for the ids, ``/v1/vulns/{id}`` for each record),
  which also serves the Debian and Alpine advisories (taken by OSV from Debian's security
  tracker and Alpine's secdb) for the OS packages of the course's images. Those are asked for
  per source package *at the version installed* (``Debian:12/glibc@2.36-9+deb12u14``): a
  package's full history is large, and the scanner needs only what affects that version.

Only facts are kept (ids, aliases, affected ranges and versions, severity, dates, the source
URL); summaries and details are dropped. One issue is often published twice (a PYSEC and a GHSA
record naming the same CVE): such records are merged into one with every id as an alias, so
the scanner reports the issue once. Severity comes from GitHub's reviewed rating (MODERATE is
shown as MEDIUM) where the advisory or an alias has one, else from the CVSS vector's base score
(computed with the ``cvss`` library), else UNKNOWN.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import CourseError
from .model import normalize_severity, severity_rank
from .versions import ecosystem_family, ecosystems_match, scheme_for

#: The Python packages the course images install (app, its dependencies, the build tools).
COURSE_PYTHON_PACKAGES: tuple[str, ...] = (
    "flask", "werkzeug", "jinja2", "itsdangerous", "click", "markupsafe", "blinker",
    "requests", "urllib3", "idna", "certifi", "charset-normalizer", "pymysql", "mysqlclient",
    "gunicorn", "pip", "setuptools", "wheel", "cryptography", "cffi", "pycparser", "packaging",
)

#: A package the snapshot is asked for: (ecosystem, name) or (ecosystem, name, version).
Query = tuple[str, ...]

OSV_API = "https://api.osv.dev"
SNAPSHOT_FORMAT = "osv-snapshot"
FORMAT_VERSION = 1

PYPA_SOURCE = {
    "name": "PyPA Advisory Database",
    "url": "https://github.com/pypa/advisory-database",
    "license": "CC-BY-4.0",
    "ecosystems": ["PyPI"],
}
GHSA_SOURCE = {
    "name": "GitHub Advisory Database (GitHub-reviewed advisories)",
    "url": "https://github.com/github/advisory-database",
    "license": "CC-BY-4.0",
    "ecosystems": ["PyPI"],
}
OSV_SOURCE = {
    "name": "OSV.dev API (records from the databases it aggregates)",
    "url": "https://osv.dev",
    "license": "each record under its source database's licence (PyPA and GitHub: CC-BY-4.0)",
}
#: What OSV serves for each ecosystem family, named in the refreshed snapshot's sources.
OSV_ORIGINS = {
    "pypi": "OSV.dev: PyPA and GitHub advisories (PyPI)",
    "debian": "OSV.dev: Debian Security Tracker",
    "ubuntu": "OSV.dev: Ubuntu CVE Tracker",
    "alpine": "OSV.dev: Alpine secdb",
}

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class _StringTimestampLoader(yaml.SafeLoader):
    """A safe YAML loader that leaves timestamps as the strings they were written as.

    Some PyPA files quote their dates and some do not; both must come out the same.
    """


_StringTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StringTimestampLoader)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not an OSV record")
    return data


def _canonical(ecosystem: str, name: str) -> str:
    scheme = scheme_for(ecosystem)
    return scheme.normalize_name(name) if scheme else name


def facts_only(record: dict[str, Any], *, source_url: str,
               wanted: Sequence[tuple[str, str]] | None = None) -> dict[str, Any] | None:
    """The record reduced to facts, or None when withdrawn or about none of ``wanted``.

    ``wanted`` holds (ecosystem, name) pairs; affected entries for other packages are dropped.
    GIT ranges (commit hashes) are dropped too: the matcher compares released versions.
    """
    if record.get("withdrawn"):
        return None
    affected = []
    for entry in record.get("affected") or []:
        package = entry.get("package") or {}
        ecosystem, name = str(package.get("ecosystem", "")), str(package.get("name", ""))
        if not ecosystem or not name:
            continue
        if wanted is not None and not any(
                ecosystems_match(w_eco, ecosystem)
                and _canonical(ecosystem, name) == _canonical(w_eco, w_name)
                for w_eco, w_name in wanted):
            continue
        ranges = []
        for version_range in entry.get("ranges") or []:
            kind = str(version_range.get("type", "")).upper()
            if kind not in ("ECOSYSTEM", "SEMVER"):
                continue
            events = [{k: str(v) for k, v in event.items() if k in _EVENT_KINDS}
                      for event in version_range.get("events") or []]
            ranges.append({"type": kind, "events": [e for e in events if e]})
        versions = [str(v) for v in entry.get("versions") or []]
        if not ranges and not versions:
            continue
        canonical = _canonical(ecosystem, name)
        kept_package = {"ecosystem": ecosystem, "name": canonical}
        if ecosystem == "PyPI":
            kept_package["purl"] = f"pkg:pypi/{canonical}"
        affected.append({"package": kept_package, "ranges": ranges, "versions": versions})
    if not affected:
        return None
    facts: dict[str, Any] = {
        "id": str(record["id"]),
        "aliases": sorted({str(a) for a in record.get("aliases") or []}),
        "published": str(record.get("published") or ""),
        "modified": str(record.get("modified") or ""),
        "affected": affected,
        "severity": [{"type": str(s.get("type", "")), "score": str(s.get("score", ""))}
                     for s in record.get("severity") or [] if s.get("score")],
        "references": [{"type": "ADVISORY", "url": source_url}],
    }
    if record.get("upstream"):
        facts["upstream"] = sorted({str(u) for u in record["upstream"]})
    rated = (record.get("database_specific") or {}).get("severity")
    if rated:
        facts["database_specific"] = {"severity": normalize_severity(rated),
                                      "severity_from": f"{record['id']} reviewed rating"}
    return facts


def cvss_severity(vector: str) -> tuple[str, float] | None:
    """(rating, base score) of a CVSS v3 or v4 vector, computed by the ``cvss`` library.

    None when the library is not installed or the vector does not parse: the caller then says
    UNKNOWN instead of guessing.
    """
    try:
        from cvss import CVSS3, CVSS4
    except ImportError:
        return None
    try:
        if vector.startswith("CVSS:4"):
            score4 = CVSS4(vector)
            return normalize_severity(score4.severity), float(score4.base_score)
        score3 = CVSS3(vector)
        return normalize_severity(score3.severities()[0]), float(score3.scores()[0])
    except Exception:  # the library raises its own error classes for every malformed vector
        return None


def _severity(group: list[dict[str, Any]]) -> dict[str, str]:
    """Reviewed rating (worst of the group), else the worst CVSS base rating, else UNKNOWN."""
    rated = [r["database_specific"] for r in group if r.get("database_specific")]
    if rated:
        return min(rated, key=lambda d: severity_rank(d["severity"]))
    scored = []
    for record in group:
        for entry in record.get("severity") or []:
            if entry["type"] in ("CVSS_V3", "CVSS_V4"):
                result = cvss_severity(entry["score"])
                if result:
                    scored.append((result[1], result[0], record["id"], entry["type"]))
    if scored:
        score, rating, record_id, kind = max(scored)
        return {"severity": rating,
                "severity_from": f"{record_id} {kind} base score {score:.1f}"}
    return {"severity": "UNKNOWN", "severity_from": "no rating or CVSS vector"}


def _primary(ids: Iterable[str]) -> str:
    """PYSEC (the PyPI ecosystem's own database) first, then GHSA, then the rest."""
    def rank(advisory_id: str) -> tuple[int, str]:
        for position, prefix in enumerate(("PYSEC-", "GHSA-")):
            if advisory_id.startswith(prefix):
                return (position, advisory_id)
        return (2 if not advisory_id.startswith("CVE-") else 3, advisory_id)
    return min(ids, key=rank)


def merge(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per issue: records sharing any id or alias are joined (transitively)."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for record in records:
        for alias in record["aliases"]:
            parent[find(alias)] = find(record["id"])
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(find(record["id"]), []).append(record)

    merged = []
    for group in groups.values():
        ids = {r["id"] for r in group}
        primary = _primary(ids)
        aliases = sorted({*ids, *(a for r in group for a in r["aliases"])} - {primary})
        affected: list[dict[str, Any]] = []
        for record in sorted(group, key=lambda r: r["id"]):
            for entry in record["affected"]:
                if entry not in affected:
                    affected.append(entry)
        sources = sorted({ref["url"] for r in group for ref in r["references"]})
        published = sorted(r["published"] for r in group if r["published"])
        modified = sorted(r["modified"] for r in group if r["modified"])
        severity_vectors = []
        for record in group:
            for entry in record["severity"]:
                if entry not in severity_vectors:
                    severity_vectors.append(entry)
        out: dict[str, Any] = {
            "id": primary,
            "aliases": aliases,
            "published": published[0] if published else "",
            "modified": modified[-1] if modified else "",
            "affected": affected,
            "severity": severity_vectors,
            "database_specific": _severity(group),
            "references": [{"type": "ADVISORY", "url": url} for url in sources],
        }
        upstream = sorted({u for r in group for u in r.get("upstream", [])})
        if upstream:
            out["upstream"] = upstream
        merged.append(out)
    return sorted(merged, key=lambda r: (r["affected"][0]["package"]["name"], r["id"]))


def query_text(query: Sequence[str]) -> str:
    """``PyPI/flask`` or ``Debian:12/glibc@2.36-9+deb12u14``: how the snapshot lists a query."""
    ecosystem, name, *version = query
    return f"{ecosystem}/{name}" + (f"@{version[0]}" if version and version[0] else "")


def _document(advisories: list[dict[str, Any]], *, sources: list[dict[str, Any]],
              packages: Sequence[Query], extra: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "format_version": FORMAT_VERSION,
        "note": ("Facts only (ids, aliases, affected ranges and versions, severity, dates, "
                 "source URL), reduced from the sources below; descriptions are not included. "
                 "See README.md in this folder for attribution."),
        "sources": sources,
        "packages": [query_text(query) for query in packages],
    }
    document.update(extra or {})
    document["advisory_count"] = len(advisories)
    document["advisories"] = advisories
    return document


def build_from_copies(pypa_dir: Path, ghsa_dir: Path,
                      packages: Sequence[str] = COURSE_PYTHON_PACKAGES) -> dict[str, Any]:
    """The snapshot from local copies of the PyPA (YAML) and GitHub (JSON) advisory databases.

    ``pypa_dir`` is the folder holding ``vulns/<package>/``; ``ghsa_dir`` holds ``GHSA-*.json``.
    """
    wanted = [("PyPI", name) for name in packages]
    vulns_dir = pypa_dir / "vulns" if (pypa_dir / "vulns").is_dir() else pypa_dir
    if not vulns_dir.is_dir():
        raise CourseError(f"No PyPA advisories at {pypa_dir}.",
                          hint="Point --pypa at a copy of the pypa/advisory-database folder.")
    records = []
    for name in packages:
        folder = vulns_dir / _canonical("PyPI", name)
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            record = read_yaml(path)
            url = (f"{PYPA_SOURCE['url']}/blob/main/vulns/{folder.name}/{path.name}")
            facts = facts_only(record, source_url=url, wanted=wanted)
            if facts:
                records.append(facts)
    for path in sorted(ghsa_dir.glob("*.json")) if ghsa_dir.is_dir() else []:
        record = json.loads(path.read_text(encoding="utf-8"))
        url = f"https://github.com/advisories/{record['id']}"
        facts = facts_only(record, source_url=url, wanted=wanted)
        if facts:
            records.append(facts)
    sources = [PYPA_SOURCE] + ([GHSA_SOURCE] if ghsa_dir.is_dir() else [])
    merged = merge(records)
    return _document(merged, sources=sources, packages=wanted,
                     extra={"data_as_of": _newest(merged)})


def _newest(records: Iterable[dict[str, Any]]) -> str:
    """The newest ``modified`` (else ``published``) date of the records, ``YYYY-MM-DD``: the
    date an offline snapshot's data is from (not the day it was built, which says nothing)."""
    dates = [str(r.get("modified") or r.get("published") or "") for r in records]
    return max((d for d in dates if d), default="")[:10]


# --- online refresh -----------------------------------------------------------------------


def parse_query(text: str) -> Query:
    """``flask`` -> (PyPI, flask); ``Debian:12/openssl`` -> (Debian:12, openssl);
    ``Debian:12/glibc@2.36-9`` -> (Debian:12, glibc, 2.36-9): only what affects that version."""
    ecosystem, sep, rest = text.strip().rpartition("/")
    name, at, version = rest.partition("@")
    query = (ecosystem, name) if sep and ecosystem else ("PyPI", name)
    return (*query, version) if at and version else query


def os_queries(packages: Iterable[Any]) -> list[Query]:
    """(ecosystem, source package, source version) of every dpkg/apk package of an inventory.

    Debian and Alpine advisories are filed per source package (``glibc`` for ``libc6``), so
    that is what is asked for, at the installed source version; duplicates once.
    """
    found: dict[Query, None] = {}
    for package in packages:
        if getattr(package, "type", "") != "os" or scheme_for(package.ecosystem) is None:
            continue
        name = package.source_name or package.name
        version = package.source_version or package.version
        found[(package.ecosystem, name, version)] = None
    return sorted(found)


def read_query_list(path: Path) -> list[Query]:
    """Queries from a text file, one ``ECOSYSTEM/NAME[@VERSION]`` a line; ``#`` comments."""
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            queries.append(parse_query(line))
    return queries


def _request(session: Any, method: str, url: str, timeout: float, **kwargs: Any) -> Any:
    import requests

    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as error:
        raise CourseError(
            f"Could not reach the OSV API at {url}.",
            hint="Refreshing needs network access to the OSV API (through HTTPS_PROXY if you "
                 "are behind a proxy). The shipped snapshot was left unchanged and still works "
                 "offline.",
            log_tail=f"{type(error).__name__}: {error}") from None
    if response.status_code >= 400:
        raise CourseError(f"The OSV API answered {response.status_code} for {url}.",
                          hint="Try again later; the shipped snapshot was left unchanged.",
                          log_tail=response.text[:500])
    try:
        return response.json()
    except ValueError:
        raise CourseError(f"The OSV API at {url} did not answer with JSON.",
                          hint="A proxy may have answered instead; the shipped snapshot was "
                               "left unchanged.", log_tail=response.text[:500]) from None


def _osv_query(query: Sequence[str]) -> dict[str, Any]:
    ecosystem, name, *version = query
    asked: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if version and version[0]:
        asked["version"] = version[0]
    return asked


def query_ids(session: Any, queries: Sequence[Query], *, api_url: str,
              timeout: float) -> list[str]:
    """Every advisory id OSV knows for the packages (affecting the version, when a query names
    one), following its page tokens; 1000 queries per request, OSV's limit."""
    ids: list[str] = []
    asked = [_osv_query(q) for q in queries]
    for start in range(0, len(asked), 1000):
        ids.extend(_query_page(session, asked[start:start + 1000], api_url=api_url,
                               timeout=timeout))
    return list(dict.fromkeys(ids))


def _query_page(session: Any, pending: list[dict[str, Any]], *, api_url: str,
                timeout: float) -> list[str]:
    ids: list[str] = []
    while pending:
        answer = _request(session, "POST", f"{api_url}/v1/querybatch", timeout,
                          json={"queries": pending})
        next_round = []
        for query, result in zip(pending, answer.get("results") or [], strict=False):
            ids.extend(v["id"] for v in result.get("vulns") or [] if v.get("id"))
            if result.get("next_page_token"):
                next_round.append({**query, "page_token": result["next_page_token"]})
        pending = next_round
    return ids


def refresh_online(queries: Sequence[Query], *, api_url: str = OSV_API,
                   timeout: float = 20.0, session: Any = None) -> dict[str, Any]:
    """A fresh snapshot from the OSV API for (ecosystem, name[, version]) queries.

    Raises :class:`CourseError` (with a hint that the shipped snapshot is unchanged) when the
    API cannot be reached or answers with something else than JSON. Nothing is written here:
    the caller replaces the shipped file only after everything came back, so a half-finished
    refresh never leaves a half-written snapshot.
    """
    import requests

    api_url = api_url.rstrip("/")
    session = session or requests.Session()
    wanted = [(q[0], q[1]) for q in queries]
    records = []
    for advisory_id in query_ids(session, queries, api_url=api_url, timeout=timeout):
        record = _request(session, "GET", f"{api_url}/v1/vulns/{advisory_id}", timeout)
        facts = facts_only(record, source_url=f"https://osv.dev/vulnerability/{advisory_id}",
                           wanted=wanted)
        if facts:
            records.append(facts)
    retrieved = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    return _document(merge(records), sources=osv_sources(queries), packages=queries,
                     extra={"retrieved": retrieved, "api": api_url})


def osv_sources(queries: Sequence[Query]) -> list[dict[str, Any]]:
    """The refreshed snapshot's sources: OSV, once per ecosystem family asked for, each naming
    the database OSV took those records from and the ecosystems it covers."""
    by_family: dict[str, list[str]] = {}
    for query in queries:
        family = ecosystem_family(query[0])
        if query[0] not in by_family.setdefault(family, []):
            by_family[family].append(query[0])
    return [{**OSV_SOURCE, "name": OSV_ORIGINS.get(family, f"OSV.dev ({family})"),
             "ecosystems": ecosystems} for family, ecosystems in by_family.items()]


def write_snapshot(document: dict[str, Any], path: Path) -> Path:
    """Write atomically (temp file, then rename) so a reader never sees half a snapshot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    temporary.replace(path)
    return path
