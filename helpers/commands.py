"""The registry of ``python -m helpers`` sub-commands, apart from the command line itself.

A feature registers its own sub-commands (image anatomy: ``layers``; scanning: ``scan``,
``report``) with :func:`command`; :mod:`helpers.cli` imports those modules on demand and reads
:data:`REGISTERED`. Kept in a module of its own so that the features never import the command
line that imports them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Command = Callable[[argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]

# name -> (adds the arguments to its parser, runs it and returns the exit code, one-line help)
REGISTERED: dict[str, tuple[Arguments, Command, str]] = {}


def _no_arguments(_: argparse.ArgumentParser) -> None:
    """A sub-command without arguments of its own."""


def command(name: str, help_text: str,
            arguments: Arguments = _no_arguments) -> Callable[[Command], Command]:
    """Register a sub-command ``name``: a decorator for the function that runs it."""
    def decorate(func: Command) -> Command:
        REGISTERED[name] = (arguments, func, help_text)
        return func
    return decorate
