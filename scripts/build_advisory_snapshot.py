"""Write data/advisories/osv-snapshot.json, the advisories the built-in scanner matches against.

Offline (default): from copies of the PyPA advisory database and GitHub-reviewed advisories in
``../shared/advisories`` (``--pypa`` and ``--ghsa`` point elsewhere). Python packages only.
Online (``--refresh-online``): from the OSV API, for the course's Python packages and the OS
packages (Debian dpkg, Alpine apk) of the course's images: those of ``--image REF`` images
on the engine when given, else the list in data/advisories/os-packages.txt (written by
``--write-os-list`` from images on the engine). Add any ``--package ECOSYSTEM/NAME[@VERSION]``.
Without network the online path stops with one clear message and leaves the shipped snapshot
as it was.

    python scripts/build_advisory_snapshot.py
    python scripts/build_advisory_snapshot.py --refresh-online
    python scripts/build_advisory_snapshot.py --refresh-online --image registry:2
    python scripts/build_advisory_snapshot.py --write-os-list --image python:3.12-slim
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from helpers.errors import CourseError  # noqa: E402
from helpers.scan import snapshot  # noqa: E402
from helpers.scan.advisories import ADVISORY_DIR, DEFAULT_SNAPSHOT  # noqa: E402

SHARED_ADVISORIES = ROOT.parent / "shared" / "advisories"
OS_LIST = ADVISORY_DIR / "os-packages.txt"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pypa", type=Path, default=SHARED_ADVISORIES / "pypa",
                        help="copy of pypa/advisory-database (holds vulns/<package>/*.yaml)")
    parser.add_argument("--ghsa", type=Path, default=SHARED_ADVISORIES / "ghsa",
                        help="folder of GitHub-reviewed advisories (GHSA-*.json)")
    parser.add_argument("--output", type=Path, default=DEFAULT_SNAPSHOT,
                        help="where to write the snapshot (default: %(default)s)")
    parser.add_argument("--refresh-online", action="store_true",
                        help="fetch current advisories from the OSV API instead")
    parser.add_argument("--package", action="append", default=[],
                        metavar="ECOSYSTEM/NAME[@VERSION]",
                        help="extra package to refresh online (repeatable), e.g. Debian:12/openssl")
    parser.add_argument("--image", action="append", default=[], metavar="REF",
                        help="an image on the engine whose OS packages to refresh (repeatable)")
    parser.add_argument("--os-list", type=Path, default=OS_LIST,
                        help="OS packages to refresh when no --image is given "
                             "(default: %(default)s)")
    parser.add_argument("--write-os-list", action="store_true",
                        help="write the OS packages of the --image images to --os-list, then stop")
    parser.add_argument("--api-url", default=snapshot.OSV_API,
                        help="OSV API base URL (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    return parser.parse_args(argv)


def image_os_queries(references: list[str]) -> list[tuple[str, ...]]:
    """The (ecosystem, source package, version) of every dpkg/apk package of engine images."""
    from helpers.engine import images
    from helpers.scan.scanner import scan_source

    queries: dict[tuple[str, ...], None] = {}
    for reference in references:
        result = scan_source(images.export_stream(reference), target=reference)
        queries.update(dict.fromkeys(snapshot.os_queries(result.packages)))
    return sorted(queries)


def write_os_list(queries: list[tuple[str, ...]], path: Path, references: list[str]) -> Path:
    lines = ["# OS packages of the course's images (source package @ source version), one",
             "# ECOSYSTEM/NAME@VERSION a line: what `--refresh-online` asks OSV about.",
             f"# Written by scripts/build_advisory_snapshot.py --write-os-list from: "
             f"{', '.join(references)}",
             *(snapshot.query_text(q) for q in queries)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def online_queries(args: argparse.Namespace) -> list[tuple[str, ...]]:
    queries: list[tuple[str, ...]] = [("PyPI", name) for name in snapshot.COURSE_PYTHON_PACKAGES]
    if args.image:
        queries += image_os_queries(args.image)
    elif args.os_list.is_file():
        queries += snapshot.read_query_list(args.os_list)
    queries += [snapshot.parse_query(text) for text in args.package]
    return list(dict.fromkeys(queries))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.write_os_list:
            if not args.image:
                raise CourseError("--write-os-list needs at least one --image REF.",
                                  hint="e.g. --image docker-course/python-standin:3.11-bookworm")
            path = write_os_list(image_os_queries(args.image), args.os_list, args.image)
            print(f"wrote the OS packages of {', '.join(args.image)} to {path}")
            return 0
        if args.refresh_online:
            document = snapshot.refresh_online(online_queries(args), api_url=args.api_url,
                                               timeout=args.timeout)
        else:
            document = snapshot.build_from_copies(args.pypa, args.ghsa)
    except CourseError as error:
        print(error.render(), file=sys.stderr)
        return 2
    if snapshot.cvss_severity("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N") is None:
        print("note: the cvss package is not installed; advisories rated only by a CVSS vector "
              "are marked UNKNOWN (pip install cvss)", file=sys.stderr)
    path = snapshot.write_snapshot(document, args.output)
    print(f"wrote {document['advisory_count']} advisories to {path} "
          f"({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
