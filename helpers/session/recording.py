"""Recordings: one JSON file per notebook, its helper calls looked up by key.

``data/recordings/<nn>.json`` (format 2)::

    {"format": 2, "notebook": "01", "notebook_file": "01_containers_vs_vms.ipynb",
     "recorded_at": "2026-11-28", "engine": "28.5.1", "code_hash": "…",
     "calls": [{"helper": "memory_limit", "key": "3f…", "n": 0, "cell": "0adbd5e4",
                "args": {"image": "…", "limit_mb": 64, "wanted_mb": 256},
                "journal": [{"cli": "docker run …", …}], "shown": [{"note": "…", "kind": "warn"}],
                "result": {…} | "error": {…}}]}

``key`` fingerprints the helper's name and arguments (:mod:`.keys`); ``n`` counts earlier calls
with the same key; ``cell`` is the notebook cell that made the call. A replayed call takes the
entry with its key recorded in the same cell (re-running a cell shows its result again), else
the next one in recorded order.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import settings

FORMAT = 2
NOTEBOOK_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")


def recordings_dir() -> Path:
    """``COURSE_RECORDINGS_DIR`` when set (tests, a scratch recording), else data/recordings."""
    value = os.environ.get("COURSE_RECORDINGS_DIR", "").strip()
    return Path(value) if value else settings.RECORDINGS_DIR


def recording_path(notebook: str) -> Path:
    """Where the recording of notebook ``notebook`` ("01") lives."""
    return recordings_dir() / f"{notebook}.json"


def notebooks_dir() -> Path:
    """The course's notebooks folder."""
    return settings.PROJECT_ROOT / "notebooks"


def notebook_file(notebook: str) -> Path | None:
    """The course's own file of notebook ``notebook``, by exact name, never a learner's copy.

    The name its recording was made from, when that file exists; otherwise the one file named
    ``NN_words.ipynb`` (lower-case words: ``01_…-Copy1.ipynb`` or ``Untitled.ipynb`` never
    match). None when there is no such file, or more than one.
    """
    folder = notebooks_dir()
    path = recording_path(notebook)
    if path.exists():
        try:
            name = json.loads(path.read_text(encoding="utf-8")).get("notebook_file", "")
        except (ValueError, OSError, AttributeError):
            name = ""
        if name and Path(name).name == name and (folder / name).is_file():
            return folder / name
    if not folder.is_dir():
        return None
    matches = [p for p in folder.iterdir()
               if (m := NOTEBOOK_NAME.match(p.name)) and m.group(1) == notebook]
    return matches[0] if len(matches) == 1 else None


def code_hash(path: Path | None) -> str:
    """A fingerprint of a notebook's code cells: a recording is stale once they change."""
    if path is None or not path.is_file():
        return ""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    code = "\n\0".join("".join(c.get("source", "")) for c in cells
                       if c.get("cell_type") == "code")
    return hashlib.sha256(code.encode()).hexdigest()[:16]


@dataclass
class Recording:
    """One notebook's recorded helper calls, with where and when they were recorded."""

    notebook: str
    notebook_file: str = ""
    recorded_at: str = ""
    engine: str = ""
    code_hash: str = ""
    format: int = FORMAT
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, str], list[int]] = {}
        for position, entry in enumerate(self.calls):
            self._index.setdefault((entry.get("helper", ""), entry.get("key", "")),
                                   []).append(position)

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append a call; sets its occurrence number ``n``."""
        positions = self._index.setdefault((entry["helper"], entry["key"]), [])
        entry["n"] = len(positions)
        positions.append(len(self.calls))
        self.calls.append(entry)
        return entry

    def positions(self, helper: str, key: str) -> list[int]:
        """Where calls with this helper and key are, in recorded order."""
        return self._index.get((helper, key), [])

    def find(self, helper: str, key: str, *, cell: str | None = None, index_in_cell: int = 0,
             after: int = -1) -> int | None:
        """The position of the entry a replayed call gets, or None when it was not recorded.

        Recorded in the same cell: that cell's ``index_in_cell``-th such call (the last one if
        the cell now makes more). Otherwise the first such call after position ``after`` (the
        last one replayed), else the last one before it.
        """
        positions = self.positions(helper, key)
        if not positions:
            return None
        if cell:
            mine = [p for p in positions if self.calls[p].get("cell") == cell]
            if mine:
                return mine[min(index_in_cell, len(mine) - 1)]
        later = [p for p in positions if p > after]
        return later[0] if later else positions[-1]

    def images(self) -> list[str]:
        """The images the recorded session used (what ``ensure_image`` resolved)."""
        found: list[str] = []
        for entry in self.calls:
            result = entry.get("result")
            if isinstance(result, dict) and result.get("type", "") == "ResolvedImage":
                reference = result.get("fields", {}).get("reference")
                if reference and reference not in found:
                    found.append(reference)
        return found

    def to_json(self) -> dict[str, Any]:
        """The recording as the JSON document written to disk."""
        data = asdict(self)
        return {key: data[key] for key in ("format", "notebook", "notebook_file", "recorded_at",
                                           "engine", "code_hash", "calls")}

    def save(self, path: Path | None = None) -> Path:
        """Write the recording (to its usual place unless ``path`` is given)."""
        path = path or recording_path(self.notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n",
                           encoding="utf-8")
        partial.replace(path)
        return path


def load(notebook: str) -> tuple[Recording | None, str]:
    """The recording of ``notebook``, or None and one line saying why there is none."""
    path = recording_path(notebook)
    if not path.exists():
        return None, f"there is no recording of notebook {notebook} ({path.name})"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        return None, f"the recording {path.name} is unreadable ({exc})"
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        return None, (f"the recording {path.name} was made by an older version of the course "
                      "(its calls have no keys): it must be recorded again")
    try:
        known = {"notebook", "notebook_file", "recorded_at", "engine", "code_hash", "format",
                 "calls"}
        recording = Recording(**{k: v for k, v in raw.items() if k in known})
    except TypeError as exc:
        return None, f"the recording {path.name} is unreadable ({exc})"
    return recording, ""


def all_recordings() -> list[Path]:
    """Every recording file, by notebook number."""
    folder = recordings_dir()
    return sorted(folder.glob("[0-9][0-9].json")) if folder.is_dir() else []


def recorded_results(helper: str) -> list[tuple[Recording, dict[str, Any]]]:
    """Every recorded successful call of ``helper``, in every recording (newest notebook first).

    The command line answers from these in replay: ``python -m helpers layers IMAGE`` shows the
    analysis a notebook recorded.
    """
    found = []
    for path in reversed(all_recordings()):
        recording, _ = load(path.stem)
        if recording is None:
            continue
        found += [(recording, entry) for entry in recording.calls
                  if entry.get("helper") == helper and "result" in entry]
    return found
