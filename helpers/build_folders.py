"""Build folders that stay: copies of an app folder, and edits to them, as lines a learner types.

Some lessons build from a changed copy of an app folder (an edited app.py, a Dockerfile with its
first line commented out, a requirements file with one more package) or with throwaway secret
files. Those folders live in the course's state folder (``settings.state_dir()/builds/NAME``),
not in a temporary folder, so the ``docker build`` line the notebook prints still works when a
learner types it afterwards. Each file operation here does the work in Python and records the
shell line that does the same (``rm -rf … && mkdir -p … && cp -r …``, ``printf … >> FILE``,
``sed -i …``), so a learner who types the printed lines in order gets the same folder.

Errors: every function raises :class:`~helpers.errors.CourseError` (with a hint) when a file
cannot be read or written; a folder it was making is left as far as it got, and the next call
makes it anew.
"""

from __future__ import annotations

import base64
import re
import secrets
import shlex
import shutil
import textwrap
from pathlib import Path

from . import journal, settings
from .errors import CourseError

ROOT = "builds"  # below settings.state_dir()


def folder(name: str) -> Path:
    """``settings.state_dir()/builds/NAME`` (not created); ``name`` may be an image tag: every
    character other than letters, digits, ``.``, ``_`` and ``-`` becomes ``-``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "build"
    return settings.state_dir() / ROOT / safe


def _q(path: Path | str) -> str:
    return shlex.quote(str(path))


def _failed(what: str, exc: OSError) -> CourseError:
    from .files import os_error_hint

    return CourseError(f"Could not {what}: {str(exc)[:300]}.",
                       hint=os_error_hint(exc) if exc.errno else
                       "check that the files are readable and that the state folder "
                       f"({settings.state_dir()}) is writable and has space.")


def fresh_copy(source: Path, name: str) -> Path:
    """Make ``folder(name)`` anew as a copy of ``source``'s files; returns the folder.

    Printed: ``rm -rf DEST && mkdir -p DEST && cp -r SOURCE/. DEST``.
    """
    destination = folder(name)
    try:
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        shutil.copytree(source, destination, dirs_exist_ok=True)
    except OSError as exc:  # shutil.Error too
        raise _failed(f"copy {source} to {destination}", exc) from None
    journal.record(f"rm -rf {_q(destination)} && mkdir -p {_q(destination)} && "
                   f"cp -r {_q(source)}/. {_q(destination)}")
    return destination


def fresh_folder(name: str, files: tuple[Path, ...] = ()) -> Path:
    """Make ``folder(name)`` anew, empty or holding a copy of each of ``files``.

    Printed: ``rm -rf DEST && mkdir -p DEST`` (and ``&& cp FILE… DEST/``).
    """
    destination = folder(name)
    try:
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        for file in files:
            shutil.copy(file, destination / file.name)
    except OSError as exc:
        raise _failed(f"make the folder {destination}", exc) from None
    line = f"rm -rf {_q(destination)} && mkdir -p {_q(destination)}"
    if files:
        line += " && cp " + " ".join(_q(f) for f in files) + f" {_q(destination)}/"
    journal.record(line)
    return destination


def append_line(path: Path, line: str) -> None:
    """Add ``line`` at the end of the file ``path`` (after a newline when the file lacks one).

    Printed: ``printf '%s\\n' LINE >> FILE`` (``printf '\\n%s\\n'`` after a missing newline).
    Raises :class:`CourseError` for a missing file.
    """
    if not path.is_file():
        raise CourseError(f"{path.parent.name} has no file {path.name} to edit.",
                          hint="pass the name of a file of the app folder, e.g. app.py.")
    try:
        text = path.read_text(encoding="utf-8")
        newline = "" if not text or text.endswith("\n") else "\n"
        with path.open("a", encoding="utf-8") as out:
            out.write(f"{newline}{line}\n")
    except OSError as exc:
        raise _failed(f"edit {path}", exc) from None
    form = "'\\n%s\\n'" if newline else "'%s\\n'"
    journal.record(f"printf {form} {_q(line)} >> {_q(path)}")


def write_joined(path: Path, head: Path, lines: list[str]) -> None:
    """Write ``path``: the file ``head`` as it is, then ``lines``, one per line.

    Printed: ``{ cat HEAD; printf '%s\\n' LINE…; } > FILE``.
    """
    try:
        path.write_text(head.read_text(encoding="utf-8") + "".join(f"{line}\n" for line in lines),
                        encoding="utf-8")
    except OSError as exc:
        raise _failed(f"write {path}", exc) from None
    shown = " ".join(_q(line) for line in lines)
    journal.record(f"{{ cat {_q(head)}; printf '%s\\n' {shown}; }} > {_q(path)}")


def comment_out_first_line(path: Path) -> None:
    """Turn the first line of ``path`` into a comment (``# `` in front), unless it is empty or
    a comment already (then nothing changes and nothing is printed).

    Printed: ``sed -i '1s/^/# /' FILE``.
    """
    try:
        text = path.read_text(encoding="utf-8")
        first = text.partition("\n")[0]
        if not first or first.startswith("#"):
            return
        path.write_text(f"# {text}", encoding="utf-8")
    except OSError as exc:
        raise _failed(f"edit {path}", exc) from None
    journal.record(f"sed -i '1s/^/# /' {_q(path)}")


# --- throwaway secrets: random, worthless, never printed ------------------------------------

KEY_BYTES = 380  # random bytes after the openssh-key-v1 magic (a key file's usual length)
PASSWORD_BYTES = 18  # 24 characters of base64url


def throwaway_key() -> str:
    """A private key file that looks real to a scanner and unlocks nothing (random body)."""
    body = base64.b64encode(b"openssh-key-v1\0" + secrets.token_bytes(KEY_BYTES)).decode()
    lines = textwrap.wrap(body, 70)
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) \
        + "\n-----END OPENSSH PRIVATE KEY-----\n"


def throwaway_env() -> str:
    """A ``.env`` file with a user and a random password (base64url, 24 characters)."""
    return f"DB_USER=deploy\nDB_PASSWORD={secrets.token_urlsafe(PASSWORD_BYTES)}\n"


def write_throwaway_secrets(destination: Path) -> dict[str, Path]:
    """A throwaway deploy key (``id_rsa``, mode 600) and ``.env`` file in ``destination``:
    secret id → file. The values are random and never printed: the printed lines make files
    of the same form from ``/dev/urandom`` (so a learner's are as worthless, and their own)."""
    key, env = destination / "id_rsa", destination / ".env"
    try:
        key.write_text(throwaway_key(), encoding="utf-8")
        key.chmod(0o600)
        env.write_text(throwaway_env(), encoding="utf-8")
    except OSError as exc:
        raise _failed(f"write throwaway secrets into {destination}", exc) from None
    journal.record(
        "{ echo '-----BEGIN OPENSSH PRIVATE KEY-----'; "
        f"{{ printf 'openssh-key-v1\\0'; head -c {KEY_BYTES} /dev/urandom; }} | base64 -w 70; "
        f"echo '-----END OPENSSH PRIVATE KEY-----'; }} > {_q(key)} && chmod 600 {_q(key)}")
    journal.record(
        f"printf 'DB_USER=deploy\\nDB_PASSWORD=%s\\n' \"$(head -c {PASSWORD_BYTES} /dev/urandom"
        f" | base64 | tr '+/' '-_')\" > {_q(env)}")
    return {"deploy_key": key, "app_env": env}
