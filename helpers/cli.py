"""``python -m helpers …``: a thin command line over the same functions the notebooks call."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from .commands import REGISTERED, command
from .errors import CourseError


@command("preflight", "check that this machine is ready for the course (exit 0 when ready)")
def _preflight(_: argparse.Namespace) -> int:
    from . import preflight

    checks = preflight.run_checks()
    print(preflight.render(checks))
    problem = preflight.blocking_line(checks)
    print("Ready." if problem is None else problem)
    return 0 if problem is None else 1


def _notebook_argument(value: str) -> str:
    """``--notebook``: refused at once when it can name no notebook (empty, a pattern, an
    unknown number); other names (a test's scope) are checked against the engine later."""
    from .engine.cleanup import notebook_word

    try:
        return notebook_word(value)
    except CourseError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} What to do: {exc.hint}") from None


def _one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Argument errors as one ``error:`` line (exit 2), like every other error of the CLI."""
    def error(message: str) -> NoReturn:
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)

    parser.error = error  # type: ignore[method-assign]


def _cleanup_arguments(parser: argparse.ArgumentParser) -> None:
    _one_line_errors(parser)
    parser.add_argument("--notebook", type=_notebook_argument,
                        help="only what this notebook made (e.g. 02)")
    parser.add_argument("--keep-images", action="store_true", help="remove no images")
    parser.add_argument("--include-bases", action="store_true",
                        help="also remove the stand-in base images (slow to rebuild)")


@command("cleanup", "remove everything the course created (never your own objects)",
         _cleanup_arguments)
def _cleanup(args: argparse.Namespace) -> int:
    from .engine.cleanup import check_notebook, cleanup

    notebook = None if args.notebook is None else check_notebook(args.notebook)
    report = cleanup(notebook, images=not args.keep_images,
                     include_bases=args.include_bases)
    for kind, count, names in report.as_rows():
        print(f"{kind:<11} {count:>3}  {names}")
    return 0


def _progress_arguments(parser: argparse.ArgumentParser) -> None:
    _one_line_errors(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per task, in a list")
    parser.add_argument("--notebook", help="only this notebook's tasks (e.g. 06)")


@command("progress", "the \"Your turn\" tasks passed in this environment, and when",
         _progress_arguments)
def _progress(args: argparse.Namespace) -> int:
    import json

    from .tasks import progress_path, rows

    found = rows(args.notebook)
    if args.json:
        print(json.dumps(found, indent=1))
        return 0
    done = sum(row["status"] == "passed" for row in found)
    print(f"{done} of {len(found)} tasks passed (live checks on this machine, "
          f"{progress_path()})")
    for row in found:
        print(f"{row['task']:<22} {row['status']:<8} {row['passed_at'] or '-':<25} {row['goal']}")
    return 0


@command("leftovers", "list containers, volumes and networks the course left (exit 1 if any)")
def _leftovers(_: argparse.Namespace) -> int:
    from .engine.cleanup import leftovers

    found = [f"{kind} {name}" for kind, name in leftovers()]
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
    from .files import atomic_output, os_error_hint, os_error_text

    unknown = [key for key in args.only or [] if key not in catalog.CATALOG]
    if unknown:
        raise CourseError(f"No course image called {', '.join(map(repr, unknown))}.",
                          hint=f"--only takes catalog keys: {', '.join(catalog.CATALOG)}.")
    folder = Path(args.folder)
    for key in args.only or list(catalog.CATALOG):
        resolved = resolver.resolve(key)
        target = folder / f"{key}.tar"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # a temporary name until complete: a full disk or an interrupt leaves no file
            with atomic_output(target) as out:
                for chunk in images.export_stream(resolved.reference):
                    out.write(chunk)
        except OSError as exc:
            raise CourseError(f"Could not write {target}: {os_error_text(exc)}; nothing was "
                              "left there.", hint=os_error_hint(exc)) from None
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
        if wanted in REGISTERED:
            return
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not module.startswith(str(exc.name)):  # a feature not installed: skip its command
                raise


# --- with no engine: the course replays, and so does its command line ---------------------------

def _no_engine() -> str:
    """Why no Docker Engine answers ("" when one does)."""
    from .engine.client import why_no_engine

    return why_no_engine()


def _recorded(helper: str, matches: Callable[[dict], bool]) -> tuple[object, object] | None:
    """The newest recorded result of ``helper`` whose arguments ``matches``: (recording, value)."""
    from .session import codec
    from .session.recording import recorded_results

    for recording, entry in recorded_results(helper):
        if matches(entry.get("args") or {}):
            return recording, codec.decode(entry["result"])
    return None


def _recorded_names(helper: str, argument: str) -> str:
    from .session.recording import recorded_results

    names = sorted({str((e.get("args") or {}).get(argument)) for _, e in recorded_results(helper)})
    return ", ".join(names) if names else "nothing"


def _replay_note(what: str, recording: object) -> None:
    print(f"note: no Docker Engine here, so this is replay: {what} as recorded in notebook "
          f"{getattr(recording, 'notebook', '?')} on {getattr(recording, 'recorded_at', '?')}.",
          file=sys.stderr)


def _not_in_replay(what: str, hint: str) -> int:
    from .session import live_options

    print(f"error: No Docker Engine here (the course replays a recorded session), and {what}. "
          f"What to do: {hint}{' or ' if hint else ''}{live_options()}.", file=sys.stderr)
    return 2


def _replay_layers(args: argparse.Namespace) -> int | None:
    from pathlib import Path

    from .anatomy.cli import ARCHIVE_SUFFIXES, emit, render

    if args.target == "-" or Path(args.target).exists() or not _no_engine():
        return None
    if args.target.lower().endswith(ARCHIVE_SUFFIXES):
        recorded = _recorded_names("analyse", "reference")
        return _not_in_replay(f"there is no archive {args.target}: `docker save` needs an "
                              "engine", "`python -m helpers layers IMAGE` shows the analyses "
                              f"the notebooks recorded ({recorded}),")
    found = _recorded("analyse", lambda a: a.get("reference") == args.target)
    if found is None:
        return _not_in_replay(f"the recording holds no analysis of {args.target} (it has "
                              f"{_recorded_names('analyse', 'reference')})",
                              "read a saved archive instead (`python -m helpers layers "
                              "image.tar`),")
    recording, anatomy = found
    _replay_note(f"the analysis of {args.target}", recording)
    for note in getattr(anatomy, "notes", []):
        emit(f"note: {note}", stream=sys.stderr)
    if args.json:
        import json

        emit(json.dumps(anatomy.to_json(), indent=2, ensure_ascii=False))  # type: ignore[attr-defined]
    else:
        emit(render(anatomy, top=max(args.top, 1)))  # type: ignore[arg-type]
    return 1 if args.fail_on_secrets and anatomy.secrets else 0  # type: ignore[attr-defined]


def _replay_scan(args: argparse.Namespace) -> int | None:
    from pathlib import Path

    from .scan.cli import ARCHIVE_SUFFIXES

    target = args.target
    if target == "-" or Path(target).exists() or _no_engine() == "":
        return None
    if target.lower().endswith(ARCHIVE_SUFFIXES):  # the `docker save` file a notebook showed
        def stem(reference: str) -> str:  # as notebook 09 names it: flask-app-09_2021
            return reference.split("/")[-1].replace(":", "_")

        name = Path(target).name
        found = _recorded("scan_image", lambda a: any(
            f"{stem(str(a.get('reference')))}{suffix}" == name for suffix in ARCHIVE_SUFFIXES))
        what = f"there is no {target} here (no engine ran `docker save`); the scan of its image"
    else:
        found = _recorded("scan_image", lambda a: a.get("reference") == target)
        what = f"the scan of {target}"
    if found is None:
        return _not_in_replay(f"the recording holds no scan of {target} (it has "
                              f"{_recorded_names('scan_image', 'reference')})",
                              "scan a saved archive instead (`python -m helpers scan image.tar`),")
    recording, result = found
    _replay_note(what, recording)
    from .scan import cli as scan_cli

    if args.sbom:
        from .scan.sbom import write_sbom

        written = write_sbom(result.packages, args.sbom, image=result.target)  # type: ignore[attr-defined]
        print(f"SBOM: {len(result.packages)} packages written to {written}",  # type: ignore[attr-defined]
              file=sys.stderr)
    return scan_cli._emit(result, args)


def _replay_answer(args: argparse.Namespace) -> int | None:
    """What an engine command does when no engine answers: the recorded answer (``layers``,
    ``scan`` of an image a notebook recorded), or one line saying why not. None: run it."""
    if args.command == "layers":
        return _replay_layers(args)
    if args.command == "scan":
        return _replay_scan(args)
    if args.command not in ("cleanup", "leftovers", "images-archive", "record") \
            or not _no_engine():
        return None
    if args.command == "cleanup":
        print("Nothing to clean up: no Docker Engine runs here (replay), so the course created "
              "nothing.")
        return 0
    if args.command == "leftovers":
        print("0 course objects left over (no Docker Engine runs here: replay).")
        return 0
    return _not_in_replay(f"`python -m helpers {args.command}` works on a Docker Engine", "")


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    _load_plugins(given[0] if given and not given[0].startswith("-") else None)
    parser = argparse.ArgumentParser(prog="python -m helpers",
                                     description="Helpers of the Docker course.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (arguments, _, help_text) in REGISTERED.items():
        arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    try:
        answer = _replay_answer(args)
        if answer is not None:
            return answer
        return REGISTERED[args.command][1](args)
    except CourseError as exc:
        hint = f" What to do: {exc.hint}" if exc.hint else ""
        print(f"error: {exc.message}{hint}", file=sys.stderr)
        if exc.log_tail:
            print(exc.log_tail, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a full disk, a permission: one line, never a traceback
        from .engine.failures import translate
        from .files import os_error_hint, os_error_text

        engine_error = translate(exc)
        if engine_error is not None:
            print(f"error: {engine_error.message} What to do: {engine_error.hint}",
                  file=sys.stderr)
        else:
            print(f"error: {os_error_text(exc)}. What to do: {os_error_hint(exc)}",
                  file=sys.stderr)
        return 2
