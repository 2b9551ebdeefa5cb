"""Read any saved scanner report by looking at its content, and write ours in each format.

Learners bring whatever file their tool wrote, named however they liked, so the format is told
from the content: SARIF (Trivy, Grype or Docker Scout by the driver), Trivy JSON (``Results``),
Grype JSON (``matches``) or this package's own findings JSON. Every way a file can be wrong
(missing, empty, cut short, another tool's schema) ends in one :class:`ReportError` that says
which file and what to do, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import CourseError
from ..files import write_json
from . import grype, scout, trivy
from .model import Finding, ScanResult

#: The sample reports written by scripts/make_sample_reports.py (readable without any tool).
SAMPLE_REPORTS = settings.DATA_DIR / "reports"


class ReportError(CourseError):
    """A report file that cannot be read as any vulnerability report we know."""


def _parse_findings_json(data: dict[str, Any], *, name: str = "") -> ScanResult:
    findings = [Finding.from_dict(row) for row in data["findings"]]
    sources = {f.source for f in findings if f.source}
    return ScanResult(target=name, findings=findings,
                      source=sources.pop() if len(sources) == 1 else "")


#: Format name -> parser of the decoded JSON document.
PARSERS: dict[str, Callable[..., ScanResult]] = {
    "trivy-json": trivy.parse_trivy_json,
    "trivy-sarif": trivy.parse_trivy_sarif,
    "grype-json": grype.parse_grype_json,
    "grype-sarif": grype.parse_grype_sarif,
    "scout-sarif": scout.parse_scout_sarif,
    "findings-json": _parse_findings_json,
}

#: Format name -> writer of a ScanResult to a file.
WRITERS: dict[str, Callable[[ScanResult, Path], Path]] = {
    "trivy-json": trivy.write_trivy_json,
    "grype-json": grype.write_grype_json,
    "scout-sarif": scout.write_scout_sarif,
    "findings-json": lambda result, path: write_json(result.to_json(), path),
}

_KNOWN = ("Trivy JSON (trivy image --format json), Trivy SARIF, Grype JSON (grype -o json), "
          "Grype SARIF, Docker Scout SARIF (docker scout cves --format sarif)")


def load_document(path: str | Path) -> dict[str, Any]:
    """The decoded JSON object in ``path``, or a :class:`ReportError` saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise ReportError(f"No report at {path}.",
                          hint="Check the path; save a report with e.g. "
                               "`trivy image --format json --output report.json IMAGE`.")
    if path.is_dir():
        raise ReportError(f"{path} is a folder, not a report file.",
                          hint="Pass the report file inside it.")
    raw = path.read_bytes()
    text = _decode(raw, path.name)
    if not text.strip():
        raise ReportError(f"The report {path.name} is empty.",
                          hint="The scanner probably failed before writing; run it again and "
                               "check its output.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        _explain_leading_text(text, path.name)
        raise ReportError(
            f"The report {path.name} is not valid JSON (line {error.lineno}, column "
            f"{error.colno}): it may be cut short or not a JSON report at all.",
            hint="Write the report again and let the scanner finish; table output "
                 "(the default) cannot be read back, ask for JSON or SARIF.",
            log_tail=error.msg) from None
    if isinstance(data, list):
        raise ReportError(f"The report {path.name} is a JSON list, not a report we know.",
                          hint="An old Trivy (schema v1) writes a list; use Trivy 0.20 or later. "
                               f"Expected one of: {_KNOWN}.")
    if not isinstance(data, dict):
        raise ReportError(f"The report {path.name} holds a bare JSON value, not a report.",
                          hint=f"Expected one of: {_KNOWN}.")
    return data


#: Magic numbers of files people mistake for a report, and what to do with them.
_BINARY_KINDS = ((b"\x1f\x8b", "a gzip file", "decompress it first (gunzip)"),
                 (b"PK\x03\x04", "a zip file", "unzip it first"),
                 (b"\x28\xb5\x2f\xfd", "a zstd file", "decompress it first (zstd -d)"),
                 (b"%PDF", "a PDF document", "give the JSON or SARIF file instead"),
                 (b"\x89PNG", "a PNG image", "give the JSON or SARIF file instead"))
_WRITE_AGAIN = ("Write the report to a file with the scanner's own option, e.g. "
                "`grype IMAGE -o json --file report.json`, "
                "`trivy image --format json --output report.json IMAGE` or "
                "`docker scout cves --format sarif --output report.sarif IMAGE`.")


def _decode(raw: bytes, name: str) -> str:
    """The report's text: UTF-8 (with or without a byte-order mark), UTF-16 or UTF-32.

    Windows PowerShell 5.1 writes ``tool > report.json`` as UTF-16LE with a byte-order mark,
    and RFC 8259 allows the UTF-16/32 forms of JSON too, so they are read, not refused. Raises
    :class:`ReportError` for bytes that are not text in any of these encodings.
    """
    encoding = json.detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        detail = (f"byte 0x{raw[error.start]:02x} at offset {error.start} is not valid "
                  f"{encoding.removesuffix('-sig').upper()}")
    else:
        text = text.removeprefix("\ufeff")
        detail = f"it decodes as {encoding.upper()} but does not start like JSON"
        if encoding.startswith("utf-8") or text.lstrip()[:1] in ("{", "[", ""):
            return text
    for magic, kind, what_to_do in _BINARY_KINDS:
        if raw.startswith(magic):
            raise ReportError(f"The report {name} is not text: it is {kind}.",
                              hint=f"{what_to_do.capitalize()}, then read the report inside.")
    raise ReportError(f"The report {name} is not text ({detail}).",
                      hint="A report is a JSON or SARIF text file in UTF-8 (UTF-16 from "
                           "PowerShell is read too). " + _WRITE_AGAIN)


def _explain_leading_text(text: str, name: str) -> None:
    """Log lines saved in front of the JSON (``tool ... > file 2>&1``): say so, by name."""
    if text.lstrip()[:1] in ("{", "["):
        return  # it starts as JSON: broken further on, not preceded by a log
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith(("{", "["))),
                 None)
    if not start:
        return
    first = lines[0].strip()[:60]
    raise ReportError(
        f"The report {name} starts with {start} line{'s' if start > 1 else ''} of other text "
        f"before the JSON (the first: {first!r}): the scanner's log was saved into the file.",
        hint="Save only the report: redirect standard output alone, or better, use the "
             "scanner's output-file option. " + _WRITE_AGAIN)


def detect_format(data: dict[str, Any]) -> str:
    """The format name of a decoded report (a key of :data:`PARSERS`), or ``""``."""
    if isinstance(data.get("runs"), list) and ("version" in data or "$schema" in data):
        runs = [run for run in data["runs"] if isinstance(run, dict)]
        if any(scout.looks_like_scout(run) for run in runs):
            return "scout-sarif"
        names = " ".join(str(run.get("tool", {}).get("driver", {}).get("name", ""))
                         for run in runs).lower()
        if "trivy" in names:
            return "trivy-sarif"
        if "grype" in names or "anchore" in names:  # older Grype: "Anchore Container …"
            return "grype-sarif"
        return "sarif-unknown"
    if "SchemaVersion" in data and "Results" in data:
        return "trivy-json"
    if "SchemaVersion" in data and "ArtifactName" in data:
        return "trivy-json"  # a clean scan may omit Results
    matches = data.get("matches")
    if isinstance(matches, list) and (
            "descriptor" in data or "source" in data
            or (matches and isinstance(matches[0], dict) and "vulnerability" in matches[0])):
        return "grype-json"
    if isinstance(data.get("findings"), list) and isinstance(data.get("summary"), dict):
        return "findings-json"
    if data.get("bomFormat") == "CycloneDX" or "spdxVersion" in data:
        return "sbom"
    return ""


def read_report(path: str | Path) -> ScanResult:
    """Any saved report as a :class:`ScanResult`, the format told from the content."""
    path = Path(path)
    return parse_report(load_document(path), name=path.name)


def parse_report(data: dict[str, Any], *, name: str = "report") -> ScanResult:
    """A decoded report (a dict, e.g. from a recording) as a :class:`ScanResult`."""
    if not isinstance(data, dict):
        raise ReportError(f"{name} is not a JSON object, so not a report we know.",
                          hint=f"Expected one of: {_KNOWN}.")
    kind = detect_format(data)
    if kind == "sbom":
        raise ReportError(f"{name} is an SBOM (a package list), not a vulnerability report.",
                          hint="Scan the SBOM with a scanner (e.g. `grype sbom:FILE -o json`) "
                               "and read that report.")
    if kind == "sarif-unknown":
        raise ReportError(f"{name} is SARIF, but not from Trivy, Grype or Docker Scout.",
                          hint=f"Expected one of: {_KNOWN}.")
    if not kind:
        keys = ", ".join(sorted(map(str, data))[:8]) or "none"
        raise ReportError(f"{name} is JSON, but not a vulnerability report we know "
                          f"(top-level keys: {keys}).", hint=f"Expected one of: {_KNOWN}.")
    try:
        result = PARSERS[kind](data, name=name)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ReportError(f"{name} looks like {kind} but its content is not as expected.",
                          hint="The file may be edited by hand or from a newer tool version; "
                               "write it again with the scanner.",
                          log_tail=f"{type(error).__name__}: {error}") from None
    if not result.target:
        result.target = name
    return result


def write_report(result: ScanResult, path: str | Path, fmt: str = "findings-json") -> Path:
    """Write ``result`` as ``fmt``: ``trivy-json``, ``grype-json``, ``scout-sarif`` or
    ``findings-json`` (the course's own table JSON)."""
    if fmt not in WRITERS:
        raise CourseError(f"Unknown report format {fmt!r}.",
                          hint="Use one of: " + ", ".join(sorted(WRITERS)) + ".")
    return WRITERS[fmt](result, Path(path))
