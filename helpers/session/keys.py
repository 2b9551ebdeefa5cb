"""The key of a helper call: its name and a fingerprint of its arguments.

Replay looks a call up by this key, so the fingerprint must come out the same on the machine
that recorded and on the one replaying:

* arguments are bound to the helper's parameters, defaults filled in, so ``f(x)`` and
  ``f(x, runs=10)`` (10 being the default) are the same call;
* a value that an earlier helper returned is named by that call (its *token*), not by its
  content: the decoded copy replay hands out fingerprints like the live original;
* numbers are compared as numbers (5 and 5.0 alike), paths inside the course folder relative
  to it, DataFrames by their cells.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import inspect
import json
import math
import weakref
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from .. import settings
from . import codec

SHORT = 120  # a canonical argument longer than this (as JSON) is summarised by its hash

_tokens: dict[int, tuple[weakref.ref, str]] = {}


def tag(value: Any, token: str) -> None:
    """Remember that ``value`` is the result of the call ``token`` (for later fingerprints)."""
    if value is None or isinstance(value, (bool, int, float, str, tuple)):
        return  # immutable values may be shared: their content is their identity
    identity = id(value)
    try:
        ref = weakref.ref(value, lambda _: _tokens.pop(identity, None))
    except TypeError:
        return  # dicts and lists cannot be weakly referenced: fingerprinted by content
    _tokens[identity] = (ref, token)


def token_of(value: Any) -> str | None:
    """The call that returned ``value``, if it came from a helper."""
    found = _tokens.get(id(value))
    if found is None or found[0]() is not value:
        return None
    return found[1]


def forget_tokens() -> None:
    """Drop every token (tests; a fresh session)."""
    _tokens.clear()


def bind(func: Callable[..., Any], args: tuple, kwargs: dict) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults filled in."""
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {"args": list(args), "kwargs": dict(kwargs)}
    bound.apply_defaults()
    return dict(bound.arguments)


def _number(value: float) -> Any:
    if not math.isfinite(value):
        return repr(value)
    if value == int(value) and abs(value) < 2 ** 53:
        return int(value)
    return float(f"{value:.9g}")


def _path(text: str) -> str:
    root = str(settings.PROJECT_ROOT)
    if text == root:
        return "<course>"
    if text.startswith(root + "/"):
        return "<course>/" + text[len(root) + 1:]
    return text


def _scalar(value: Any) -> Any:
    """One DataFrame cell, the same whatever its dtype (int, float, numpy, str, missing)."""
    if value is None:
        return None
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str):
        with contextlib.suppress(ValueError, TypeError):
            value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else _number(float(value))
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value)


def canonical(value: Any) -> Any:
    """``value`` as JSON data that is the same on the recording and the replaying machine."""
    token = token_of(value)
    if token is not None:
        return {"ref": token}
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return _path(value)
    if isinstance(value, PurePath):
        return {"path": _path(str(value))}
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": hashlib.sha256(bytes(value)).hexdigest()[:16]}
    if getattr(value, "_course_missing", False):
        return {"missing": str(getattr(value, "origin", ""))}
    import pandas as pd

    if isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        return {"frame": [str(c) for c in frame.columns],
                "index": [_scalar(i) for i in frame.index],
                "cells": [[_scalar(c) for c in row] for row in frame.itertuples(index=False)]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"type": codec.type_name(type(value)),
                "fields": {f.name: canonical(getattr(value, f.name))
                           for f in dataclasses.fields(value)}}
    if isinstance(value, Mapping):
        items = [(canonical(k), canonical(v)) for k, v in value.items()]
        if all(isinstance(k, str) for k, _ in items):
            return {"dict": dict(sorted(items))}
        return {"items": sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))}
    if isinstance(value, (set, frozenset)):
        return {"set": sorted((canonical(v) for v in value),
                              key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        try:
            return canonical(value.item())
        except (ValueError, TypeError):
            pass
    if callable(value):
        return {"callable": getattr(value, "__qualname__", type(value).__qualname__)}
    return {"object": type(value).__qualname__}


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def fingerprint(helper: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The call's key (16 hex digits) and a short, readable form of its arguments.

    The readable form keeps scalars as they are and replaces anything long by its hash; the
    recording stores it so that people (and ``python -m helpers layers``) can read it.
    """
    canon = {name: canonical(value) for name, value in arguments.items()}
    key = hashlib.sha256(_dump({"helper": helper, "args": canon}).encode()).hexdigest()[:16]
    summary = {}
    for name, value in canon.items():
        text = _dump(value)
        summary[name] = value if len(text) <= SHORT else {
            "hash": hashlib.sha256(text.encode()).hexdigest()[:12]}
    return key, summary


def _shown(value: Any, width: int = 48) -> str:
    if getattr(value, "_course_missing", False):
        return "<not recorded>"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, (str, PurePath)):
        text = repr(_path(str(value)))
        return text if len(text) <= width else text[: width - 2] + "…" + text[0]
    if isinstance(value, (list, tuple)) and len(value) <= 3:
        inner = ", ".join(_shown(v, 30) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner}{',' if len(value) == 1 else ''})"
    return f"<{type(value).__name__}>"


def describe(helper: str, func: Callable[..., Any], args: tuple, kwargs: dict) -> str:
    """The call as a learner typed it, short: ``isolation.memory_limit(…, limit_mb=512)``."""
    module = getattr(func, "__module__", "") or ""
    owner = module.rsplit(".", 1)[-1]
    prefix = f"{owner}." if owner and owner not in ("__main__", "course_helpers") else ""
    parts = [_shown(a) for a in args] + [f"{k}={_shown(v)}" for k, v in kwargs.items()]
    return f"{prefix}{helper}({', '.join(parts)})"
