"""``python -m helpers …``: a thin command line over the same functions the notebooks call."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .errors import CourseError

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Command, str]] = {}


def command(name: str, help_text: str,
            arguments: Callable[[argparse.ArgumentParser], None] = lambda _: None):
    """Register a sub-command; modules add their own (layers, scan, report …)."""
    def decorate(func: Command) -> Command:
        _COMMANDS[name] = (arguments, func, help_text)
        return func
    return decorate


@command("preflight", "check that this machine is ready for the course (exit 0 when ready)")
def _preflight(_: argparse.Namespace) -> int:
    from . import preflight

    checks = preflight.run_checks()
    print(preflight.render(checks))
    problem = preflight.blocking_line(checks)
    print("Ready." if problem is None else problem)
    return 0 if problem is None else 1


def _cleanup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notebook", help="only what this notebook made (e.g. 02)")
    parser.add_argument("--keep-images", action="store_true", help="remove no images")
    parser.add_argument("--include-bases", action="store_true",
                        help="also remove the stand-in base images (slow to rebuild)")


@command("cleanup", "remove everything the course created (never your own objects)",
         _cleanup_arguments)
def _cleanup(args: argparse.Namespace) -> int:
    from .engine.cleanup import cleanup

    report = cleanup(args.notebook, images=not args.keep_images,
                     include_bases=args.include_bases)
    for kind, count, names in report.as_rows():
        print(f"{kind:<11} {count:>3}  {names}")
    return 0


@command("leftovers", "list containers, volumes and networks the course left (exit 1 if any)")
def _leftovers(_: argparse.Namespace) -> int:
    from . import labels
    from .engine.client import client

    engine = client()
    found = ([f"container {c.name}" for c in engine.containers.list(all=True,
                                                                     filters=labels.filters())]
             + [f"volume {v.name}" for v in engine.volumes.list(filters=labels.filters())]
             + [f"network {n.name}" for n in engine.networks.list(filters=labels.filters())])
    for line in found:
        print(line)
    print(f"{len(found)} course objects left over.")
    return 1 if found else 0


def _archive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="where to write one <key>.tar per course image")
    parser.add_argument("--only", nargs="*", help="catalog keys (default: all)")


@command("images-archive", "save the course's images to a folder, for offline classrooms",
         _archive_arguments)
def _images_archive(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import catalog, resolver
    from .engine import images

    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    for key in args.only or list(catalog.CATALOG):
        resolved = resolver.resolve(key)
        target = folder / f"{key}.tar"
        partial = target.with_suffix(".partial")
        with partial.open("wb") as out:
            for chunk in images.export_stream(resolved.reference):
                out.write(chunk)
        partial.replace(target)
        print(f"{key:<9} {resolved.reference} -> {target} ({target.stat().st_size:,} bytes)")
    print(f"Use it with: COURSE_IMAGE_ARCHIVE={folder.resolve()} make lab")
    return 0


def _record_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebooks", nargs="*", help="notebook numbers (default: all)")


@command("record", "run notebooks live, save recordings, then save their replayed outputs",
         _record_arguments)
def _record(args: argparse.Namespace) -> int:
    from . import notebook_runner

    notebook_runner.record(args.notebooks or None)
    return 0


def _load_plugins(wanted: str | None = None) -> None:
    """Sub-commands that live beside their feature (image anatomy, scanning).

    Once the ``wanted`` command is registered the rest are not imported: start-up stays quick.
    """
    import importlib

    for module in ("helpers.anatomy.cli", "helpers.scan.cli"):
        if wanted in _COMMANDS:
            return
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not module.startswith(str(exc.name)):  # a feature not installed: skip its command
                raise


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    _load_plugins(given[0] if given and not given[0].startswith("-") else None)
    parser = argparse.ArgumentParser(prog="python -m helpers",
                                     description="Helpers of the Docker course.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (arguments, _, help_text) in _COMMANDS.items():
        arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command][1](args)
    except CourseError as exc:
        hint = f" What to do: {exc.hint}" if exc.hint else ""
        print(f"error: {exc.message}{hint}", file=sys.stderr)
        if exc.log_tail:
            print(exc.log_tail, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
