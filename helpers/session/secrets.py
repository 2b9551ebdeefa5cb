"""Secrets this kernel made for the objects it started, kept in memory only.

A database container's passwords, and whether this kernel initialised its data volume with
them. They are never in a result, a notebook output, a journal line or a recording: a replayed
notebook never needs them, and a restarted kernel has forgotten them (the helper that starts
the object again says that it makes it afresh).
"""

from __future__ import annotations

import secrets

_passwords: dict[str, dict[str, str]] = {}
_initialised: set[str] = set()


def passwords(owner: str, *names: str) -> dict[str, str]:
    """The passwords of ``owner`` (a container name) by role (``root``, ``user``), made on first
    use (``secrets.token_urlsafe(18)``: 144 random bits each); later calls return the same."""
    kept = _passwords.setdefault(owner, {})
    for name in names:
        if name not in kept:
            kept[name] = secrets.token_urlsafe(18)
    return dict(kept)


def initialised(owner: str) -> bool:
    """Whether this kernel initialised ``owner``'s data with its passwords."""
    return owner in _initialised


def mark_initialised(owner: str, done: bool = True) -> None:
    """Note that ``owner``'s data was (or, ``done=False``, was not) initialised here."""
    if done:
        _initialised.add(owner)
    else:
        _initialised.discard(owner)


def forget(owner: str) -> None:
    """Drop everything kept for ``owner`` (it was removed)."""
    _passwords.pop(owner, None)
    _initialised.discard(owner)
