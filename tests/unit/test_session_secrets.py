"""Passwords a kernel makes for what it starts: made once, the same on every later call,
forgotten with the object."""

from __future__ import annotations

from helpers.session import secrets as kept


def test_passwords_are_made_once_and_kept() -> None:
    first = kept.passwords("unit-db", "root", "user")
    assert set(first) == {"root", "user"} and first["root"] != first["user"]
    assert len(first["root"]) >= 24  # token_urlsafe(18): 24 characters
    assert kept.passwords("unit-db", "root", "user") == first
    assert kept.passwords("unit-db") == first  # asking for no role reads what is kept
    kept.mark_initialised("unit-db")
    assert kept.initialised("unit-db")
    kept.forget("unit-db")
    assert not kept.initialised("unit-db")
    assert kept.passwords("unit-db", "root")["root"] != first["root"]
    kept.forget("unit-db")
