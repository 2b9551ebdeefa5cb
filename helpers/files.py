"""Writing files so that a failure (a full disk, an interrupt) leaves no half-written file.

Everything the course writes for a learner (image archives, SBOMs, state files) goes to a
temporary name in the same folder and is renamed into place only once complete; on any
failure the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "wb", *,
                  encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``, else it is gone.

    The file gets the mode a plain ``open()`` would give it (0o666 less the umask: 0o644 by
    default), not mkstemp's 0o600: an images archive is read by other users (a classroom's
    shared folder, a hub's volume). Raises what the writing raised (``OSError`` for a full disk
    or a read-only folder).
    """
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                         dir=target.parent)
    try:
        if hasattr(os, "fchmod"):  # not on Windows
            os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, mode, encoding=encoding) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def current_umask() -> int:
    """The process's umask (e.g. 0o022), read without changing it where Linux shows it
    (/proc/self/status, Linux 4.7+); elsewhere set and restored at once (``os.umask``)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    """``path.write_text(text)`` through :func:`atomic_output` (UTF-8)."""
    with atomic_output(path, "w", encoding="utf-8") as out:
        out.write(text)
    return Path(path)


def write_json(document: object, path: str | Path) -> Path:
    """Write stable, diff-friendly JSON (keys in their order, indent 2, UTF-8, final newline)
    through :func:`atomic_output`, creating the folder if needed; returns the path."""
    import json

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_text(target, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def os_error_text(exc: OSError) -> str:
    """``No space left on device (/media/usb/python.tar)``: the reason, then the file."""
    reason = exc.strerror or (errno.errorcode.get(exc.errno or 0, "") if exc.errno else "") \
        or str(exc) or type(exc).__name__
    where = exc.filename
    return f"{reason} ({where})" if where else reason


def os_error_hint(exc: OSError) -> str:
    """What to do about an OS error, by its kind."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space on that disk (or choose a folder on another disk), then retry."
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "check the permissions of that file or folder (`ls -l`), then retry."
    if exc.errno == errno.EROFS:
        return "that folder is on a read-only file system: choose another one."
    if exc.errno == errno.ENOENT:
        return "check the path."
    return "check the file or folder named above, then retry."
