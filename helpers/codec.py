"""Plain data to JSON and back, so recorded helper results replay as the same Python objects.

Only what helpers return is supported: dataclasses of the course, DataFrames, containers of
those, and JSON scalars. Anything else is a bug in a helper (it returned a handle, not data).
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import math
from typing import Any

import pandas as pd

TAG = "__type__"


def encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {TAG: "float", "repr": repr(value)}
    if isinstance(value, pd.DataFrame):
        return {TAG: "DataFrame", "json": value.to_json(orient="table", date_unit="ns",
                                                        default_handler=str)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        cls = type(value)
        return {TAG: "dataclass", "class": f"{cls.__module__}:{cls.__qualname__}",
                "fields": fields}
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {TAG: "set", "items": sorted((encode(v) for v in value), key=repr)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {k: encode(v) for k, v in value.items()}
        return {TAG: "dict", "items": [[encode(k), encode(v)] for k, v in value.items()]}
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return encode(value.item())
    raise TypeError(f"cannot record a {type(value).__name__}: helpers must return plain data")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(TAG)
    if kind is None:
        return {k: decode(v) for k, v in value.items()}
    if kind == "float":
        return float(value["repr"])
    if kind == "DataFrame":
        return pd.read_json(io.StringIO(value["json"]), orient="table")
    if kind == "tuple":
        return tuple(decode(v) for v in value["items"])
    if kind == "set":
        return {decode(v) for v in value["items"]}
    if kind == "dict":
        return {decode(k): decode(v) for k, v in value["items"]}
    if kind == "dataclass":
        module_name, _, qualname = value["class"].partition(":")
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        fields = {k: decode(v) for k, v in value["fields"].items() if k in known}
        made = cls(**fields)
        for f in dataclasses.fields(cls):
            if not f.init and f.name in value["fields"]:
                object.__setattr__(made, f.name, decode(value["fields"][f.name]))
        return made
    raise ValueError(f"unknown recorded type {kind!r}")
