"""How results look in a notebook: the CLI lines, tables with readable sizes, banners.

Display code takes plain data and knows nothing of Docker.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .units import human_bytes, human_seconds

if TYPE_CHECKING:  # pandas is imported where a table is made: CLI start-up stays quick
    import pandas as pd
    from matplotlib.figure import Figure

CLI_STYLE = ("background:#1e1e1e;color:#d4d4d4;padding:6px 10px;border-radius:4px;"
             "font-family:monospace;font-size:90%;margin:4px 0;white-space:pre-wrap")


def _publish(html_text: str, plain: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(plain)
        return
    if get_ipython() is None:
        print(plain)
        return
    display({"text/html": html_text, "text/plain": plain}, raw=True)


_shown: list[list[dict[str, Any]]] = []


@contextmanager
def capture_shown() -> Iterator[list[dict[str, Any]]]:
    """Collect the notes and CLI blocks shown inside the block (they are still shown).

    A recorded helper call keeps them, so that replay shows the same notes and warnings.
    """
    shown: list[dict[str, Any]] = []
    _shown.append(shown)
    try:
        yield shown
    finally:
        _shown.remove(shown)


def _keep(item: dict[str, Any]) -> None:
    for shown in _shown:
        shown.append(item)


def show_cli(lines: Sequence[str]) -> None:
    """The equivalent commands, as a terminal would show them."""
    _keep({"cli": list(lines)})
    plain = "\n".join(f"$ {line}" for line in lines)
    # <pre> and the ignore classes keep JupyterLab's MathJax from reading "$(...)" as maths
    _publish(f'<pre class="course-cli mathjax_ignore tex2jax_ignore" style="{CLI_STYLE}">'
             f"{html.escape(plain)}</pre>", plain)


NOTE_COLOURS = {"info": "#e8f0fe", "ok": "#e6f4ea", "warn": "#fef7e0", "offline": "#eef1f6",
                "task": "#eef1f6"}
NOTE_ICONS = {"info": "ℹ", "ok": "✔", "warn": "⚠", "offline": "⊘", "task": "⊘"}


def note(text: str, *, kind: str = "info") -> None:
    """A one-line message: info, ok, warn, offline (replay has no result for this), or task
    (a learner's task, which replay never checks by design)."""
    _keep({"note": text, "kind": kind})
    icon = NOTE_ICONS[kind]
    _publish(f'<div class="course-note course-{kind}" style="background:{NOTE_COLOURS[kind]};'
             f'padding:6px 10px;border-radius:4px">{icon} {html.escape(text)}</div>',
             f"{icon} {text}")


def _nothing_missing(condition: object) -> str:
    return ""


# What a check's condition rests on that replay has no result for: the note to show instead of
# a verdict, or "". The session (helpers.session.missing, which sits above this module) sets it.
_replay_gap: Callable[[object], str] = _nothing_missing


def explain_replay_gaps(explain: Callable[[object], str]) -> None:
    """Let :func:`check` ask ``explain(condition)`` for the note to show instead of a verdict
    when the condition rests on a result replay does not have ("" when it does not)."""
    global _replay_gap
    _replay_gap = explain


def check(condition: bool, success: str, failure: str) -> None:
    """A "check yourself" verdict: a green line, or an AssertionError that says what to fix.

    In replay, a check on a result the recording does not have (changed arguments, an
    exercise) says it needs a live engine: never a ✔ for a result it did not get.
    """
    gap = _replay_gap(condition)
    if gap:
        note(gap, kind="offline")
        return
    if not condition:
        raise AssertionError(failure)
    note(success, kind="ok")


def key_value_table(rows: Iterable[tuple[str, object]], *, columns: tuple[str, str] = (
        "fact", "value")) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame([(k, str(v)) for k, v in rows], columns=list(columns))
    return frame.set_index(columns[0])


def humanize(frame: pd.DataFrame, *, byte_columns: Iterable[str] = (),
             second_columns: Iterable[str] = ()) -> pd.DataFrame:
    """A copy for display: byte counts as "12.3 MB", durations as "1.2 s"."""
    shown = frame.copy()
    for column in byte_columns:
        if column in shown:
            shown[column] = shown[column].map(human_bytes)
    for column in second_columns:
        if column in shown:
            shown[column] = shown[column].map(human_seconds)
    return shown


MIB = 1 << 20


def _cell(name: str, value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int) and name.endswith("bytes") and value >= MIB and not value % MIB:
        # a size given in MiB (``--memory 64m``) reads back in MiB, not as "67.1 MB"
        return f"{value // MIB:,} MiB ({value:,} bytes)"
    if isinstance(value, (int, float)) and name.endswith("bytes"):
        return f"{human_bytes(value)} ({value:,} bytes)"
    if isinstance(value, float) and name.endswith("seconds"):
        return human_seconds(value)
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{len(value)} items"
    if isinstance(value, dict) and not value:
        return "–"
    text = str(value)
    return text if len(text) <= 160 else text[:157] + "…"


class FactsView:
    """Mixin for result dataclasses: show them as a two-column table instead of a repr."""

    def __init_subclass__(cls, **kwargs) -> None:
        # IPython prefers a class's own __repr__ (which @dataclass writes) over an inherited
        # _repr_pretty_; putting it on each subclass keeps text/plain outputs compact.
        super().__init_subclass__(**kwargs)
        cls._repr_pretty_ = FactsView._repr_pretty_  # type: ignore[method-assign]  # on purpose

    def _repr_html_(self) -> str:
        import dataclasses

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(f.name.replace('_', ' '))}</th>"
            f"<td style='text-align:left'>{html.escape(_cell(f.name, getattr(self, f.name)))}"
            "</td></tr>"
            for f in dataclasses.fields(self) if f.repr and f.name != "cli")  # type: ignore[arg-type]
        title = html.escape(type(self).__name__)
        return f"<table><caption style='text-align:left'><b>{title}</b></caption>{rows}</table>"


    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """Plain-text form (IPython's text/plain): the same compact table, not the full repr."""
        import dataclasses

        if cycle:
            printer.text(f"{type(self).__name__}(...)")
            return
        shown = [(f.name.replace("_", " "), _cell(f.name, getattr(self, f.name)))
                 for f in dataclasses.fields(self) if f.repr and f.name != "cli"]  # type: ignore[arg-type]
        width = max((len(name) for name, _ in shown), default=0)
        printer.text("\n".join([type(self).__name__]
                                + [f"  {name.ljust(width)}  {value}" for name, value in shown]))


def enable_figures() -> None:
    """Show ``matplotlib.figure.Figure`` results as PNG without importing pyplot.

    Registered by the class's name, so matplotlib is imported by the first chart, not here.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def to_png(figure: Figure) -> bytes:
        import io

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        return buffer.getvalue()

    shell.display_formatter.formatters["image/png"].for_type_by_name("matplotlib.figure", "Figure",
                                                                     to_png)


def enable_tables() -> None:
    """Show every DataFrame whole in this kernel: all rows, all columns, every character.

    pandas' defaults cut cells at 50 characters and long tables to 10 rows, with "…" where the
    text was: a Dockerfile step, a path or a definition cut that way says nothing. The helpers
    hand notebooks tables of a readable length (top-N where a table could be long).
    """
    import pandas as pd

    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_columns", None)


def show_file(path, *, language: str = "") -> None:
    """A source file as a highlighted block, with its path as the caption."""
    from pathlib import Path

    from IPython.display import Markdown, display

    from . import settings

    file = Path(path)
    try:
        shown = file.resolve().relative_to(settings.PROJECT_ROOT)
    except ValueError:
        shown = file
    language = language or {"Dockerfile": "dockerfile", ".py": "python", ".yml": "yaml",
                            ".yaml": "yaml", ".txt": "text", ".sql": "sql"}.get(
        file.name if file.name.startswith("Dockerfile") else file.suffix, "text")
    if file.name.startswith("Dockerfile"):
        language = "dockerfile"
    display(Markdown(f"`{shown}`\n```{language}\n{file.read_text(encoding='utf-8')}\n```"))


class WholeTable:
    """A DataFrame shown whole: every row and every character of every cell, no "…".

    Plain HTML and text without random ids (unlike a pandas ``Styler``), so a replayed output
    matches the recorded one.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def _repr_html_(self) -> str:
        import pandas as pd

        with pd.option_context("display.max_colwidth", None):
            return self.frame.to_html(max_rows=None, max_cols=None, notebook=True, border=0)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(self.frame.to_string(max_rows=None, max_cols=None, max_colwidth=None))


def whole(frame: pd.DataFrame) -> WholeTable:
    """Show ``frame`` with all its rows and full cell text (definitions, command examples)."""
    return WholeTable(frame)
