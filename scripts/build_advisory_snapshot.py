"""Write data/advisories/osv-snapshot.json, the advisories the built-in scanner matches against.

Offline (default): from copies of the PyPA advisory database and GitHub-reviewed advisories in
``../shared/advisories`` (``--pypa`` and ``--ghsa`` point elsewhere).
Online (``--refresh-online``): from the OSV API, for the course's Python packages plus any
``--package ECOSYSTEM/NAME`` (e.g. ``--package Debian:12/openssl``). Without network the online
path stops with a clear message and leaves the shipped snapshot as it was.

    python scripts/build_advisory_snapshot.py
    python scripts/build_advisory_snapshot.py --refresh-online --package Debian:12/openssl
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
from helpers.scan.advisories import DEFAULT_SNAPSHOT  # noqa: E402

SHARED_ADVISORIES = ROOT.parent / "shared" / "advisories"


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
    parser.add_argument("--package", action="append", default=[], metavar="ECOSYSTEM/NAME",
                        help="extra package to refresh online (repeatable), e.g. Debian:12/openssl")
    parser.add_argument("--api-url", default=snapshot.OSV_API,
                        help="OSV API base URL (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.refresh_online:
            queries = [("PyPI", name) for name in snapshot.COURSE_PYTHON_PACKAGES]
            queries += [snapshot.parse_query(text) for text in args.package]
            document = snapshot.refresh_online(queries, api_url=args.api_url,
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
