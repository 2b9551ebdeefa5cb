"""What the checks share: the running task, an HTTP probe, the "no such object" verdict."""

from __future__ import annotations

import urllib.error
import urllib.request

from ..registry import Verdict, get

MIB = 1 << 20
ROOT_USERS = ("0", "root")


def _task(check_name: str):  # the task whose check is running
    return get(check_name)


def _http_status(port: str, path: str = "/") -> int | None:
    """The HTTP status 127.0.0.1:``port`` answers ``path`` with (None: no answer at all)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def _missing(task_id: str, kind: str, name: str, hint: str) -> Verdict:
    return _task(task_id).verdict(False, f"there is no {kind} named {name}.", hint)


def _shell_image() -> str:
    from ... import resolver

    return resolver.resolve("shell").reference


def _is_root(user: str) -> bool:
    return user.split(":", 1)[0].strip() in ROOT_USERS
