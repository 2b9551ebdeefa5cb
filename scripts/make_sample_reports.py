"""Write the format examples in data/reports/ from the course's own scanner, no tool needed.

Three small synthetic image archives (layers built in memory, never a real image) stand for the
course app before, half-way and after upgrading its requirements. The built-in scanner scans
them against the shipped advisory snapshot, and our writers save each result as Trivy JSON,
Grype JSON and Docker Scout SARIF, plus a CycloneDX SBOM of the "before" image. They are format
examples: each file says in a ``docker-course`` field that the course made it and no tool ran,
so equal rows across the three formats show that the readers work, never that tools agree.
Notebook 09 reads them when no scanner can run here; the unit tests read them back.

    python scripts/make_sample_reports.py [--output data/reports]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from helpers.files import write_json  # noqa: E402
from helpers.scan import scan_archive, write_report, write_sbom  # noqa: E402
from helpers.scan.model import ScanResult  # noqa: E402
from helpers.scan.reports import load_document  # noqa: E402

MADE_BY = ("Format example written by docker-course's scripts/make_sample_reports.py from a "
           "synthetic image and the course's advisory snapshot: no scanner produced this file.")

SITE = "usr/local/lib/python3.12/site-packages"

#: Debian packages of the base layer (listed in the inventory and the SBOM).
BASE_DEBIAN = (
    ("base-files", "12.4+deb12u8", "", "amd64"),
    ("libc6", "2.36-9+deb12u9", "glibc", "amd64"),
    ("libssl3", "3.0.15-1~deb12u1", "openssl", "amd64"),
    ("zlib1g", "1:1.2.13.dfsg-1", "zlib", "amd64"),
    ("ca-certificates", "20230311", "", "all"),
)

#: Python packages of the base image's interpreter layer.
_OLD_BASE = (("pip", "23.0.1"), ("setuptools", "65.5.0"), ("wheel", "0.38.4"))
BASE_PYTHON = {"before": _OLD_BASE, "partial": _OLD_BASE,
               "after": (("pip", "24.3.1"), ("setuptools", "75.8.0"), ("wheel", "0.45.1"))}

#: The app's requirements: pinned in 2021 (``before``); half upgraded, with a new database
#: driver (``partial``: some rows fixed, some still open, one new); pinned today (``after``).
_OLD_PINS = (("Flask", "2.0.1"), ("Werkzeug", "2.2.2"), ("Jinja2", "3.0.1"),
             ("itsdangerous", "2.0.1"), ("click", "8.0.1"), ("MarkupSafe", "2.0.1"),
             ("requests", "2.26.0"), ("urllib3", "1.26.6"), ("idna", "3.2"),
             ("certifi", "2021.5.30"), ("charset-normalizer", "2.0.4"), ("gunicorn", "20.1.0"))
APP_PYTHON = {
    "before": _OLD_PINS,
    "partial": (("Flask", "2.3.2"), ("Werkzeug", "3.0.0"), ("Jinja2", "3.1.2"),
                ("itsdangerous", "2.1.2"), ("click", "8.1.3"), ("MarkupSafe", "2.1.3"),
                ("blinker", "1.6.2"), *_OLD_PINS[6:], ("PyMySQL", "1.0.2")),
    "after": (("Flask", "3.1.0"), ("Werkzeug", "3.1.3"), ("Jinja2", "3.1.5"),
              ("itsdangerous", "2.2.0"), ("click", "8.1.8"), ("MarkupSafe", "3.0.2"),
              ("blinker", "1.9.0"), ("requests", "2.32.3"), ("urllib3", "2.3.0"),
              ("idna", "3.10"), ("certifi", "2024.12.14"), ("charset-normalizer", "3.4.1"),
              ("gunicorn", "23.0.0"), ("PyMySQL", "1.1.1")),
}
STATES = tuple(APP_PYTHON)


@dataclass
class SampleLayer:
    """A layer in the shape the archive reader hands to the scanner."""

    index: int
    created_by: str
    files: dict[str, bytes] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    @property
    def diff_id(self) -> str:
        digest = hashlib.sha256(f"docker-course sample layer {self.index} "
                                f"{self.created_by}".encode()).hexdigest()
        return f"sha256:{digest}"


@dataclass
class SampleArchive:
    name: str
    layers: list[SampleLayer]


def dpkg_status() -> bytes:
    paragraphs = []
    for name, version, source, arch in BASE_DEBIAN:
        lines = [f"Package: {name}", "Status: install ok installed", f"Architecture: {arch}",
                 f"Version: {version}"]
        if source:
            lines.insert(3, f"Source: {source}")
        paragraphs.append("\n".join(lines))
    return ("\n\n".join(paragraphs) + "\n").encode()


def dist_info(name: str, version: str) -> tuple[str, bytes]:
    folder = f"{SITE}/{name.replace('-', '_')}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    return f"{folder}/METADATA", metadata.encode()


def sample_archive(state: str) -> SampleArchive:
    """The course app image in one of :data:`STATES` of upgrading its requirements."""
    os_release = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
    base = SampleLayer(0, "# debian.sh --arch 'amd64' out/ 'bookworm' '@1736726400'",
                       {"var/lib/dpkg/status": dpkg_status(), "etc/os-release": os_release})
    python = SampleLayer(1, "RUN /bin/sh -c set -eux; ./configure; make install # buildkit",
                         dict(dist_info(n, v) for n, v in BASE_PYTHON[state]))
    app = SampleLayer(2, "RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt "
                         "# buildkit", dict(dist_info(n, v) for n, v in APP_PYTHON[state]))
    return SampleArchive(name=f"course-app:{state}", layers=[base, python, app])


def mark_as_example(path: Path) -> Path:
    """Say in the file itself that the course made it (a field every reader ignores): SARIF
    in the run's ``properties``, JSON at the top level."""
    document = load_document(path)
    if isinstance(document.get("runs"), list):
        for run in document["runs"]:
            run.setdefault("properties", {})["docker-course"] = MADE_BY
    else:
        document["docker-course"] = MADE_BY
    return write_json(document, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "data" / "reports")
    args = parser.parse_args(argv)
    for state in STATES:
        archive = sample_archive(state)
        result: ScanResult = scan_archive(archive)
        stem = f"course-app-{state}"
        for suffix, fmt in (("trivy.json", "trivy-json"), ("grype.json", "grype-json"),
                            ("scout.sarif", "scout-sarif")):
            mark_as_example(write_report(result, args.output / f"{stem}.{suffix}", fmt))
        if state == "before":
            write_sbom(result.packages, args.output / f"{stem}.cdx.json", image=archive.name,
                       timestamp=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        print(result.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
