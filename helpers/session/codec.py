"""Plain data to JSON and back, so recorded helper results replay as the same Python objects.

Only what helpers return is supported: dataclasses of the course, DataFrames, containers of
those, and JSON scalars. Anything else is a bug in a helper (it returned a handle, not data).

Dataclasses and errors are stored under a **stable type name**, not a module path: the class's
name (``EngineFacts``), the name the class declares (``RECORDED_AS = "RegistryEndpoint"``, for
a class whose name another course class also has), or the name it was registered with
(:func:`register`). A result class can move to another module without breaking a recording.
The module is kept beside the name only as a hint. A renamed class stays readable by declaring
its old name (``RECORDED_ALIASES = ("Endpoint",)``) or registering it as an alias. A unit test
keeps the stable names unique.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import math
import pkgutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

TAG = "__type__"
PACKAGE = __name__.split(".")[0]  # "helpers": the package whose classes are found by name
T = TypeVar("T", bound=type)

_registered: dict[str, type] = {}
_names: dict[type, str] = {}
_index: dict[str, set[type]] = {}
_indexed_modules = 0
_imported_all = False
_found: dict[tuple[str, str], type] = {}  # (name, module hint) -> class, once looked up


def register(cls: T | None = None, *, name: str | None = None,
             aliases: tuple[str, ...] = ()) -> Any:
    """Store ``cls`` under ``name`` (default: its class name); ``aliases`` still decode to it.

    Needed only for a class whose name another course class also has, for a class outside the
    ``helpers`` package (a test's), and when a class is renamed (its old name as an alias).
    Usable as ``@register`` or ``@register(name=..., aliases=(...))``.
    """
    def apply(klass: T) -> T:
        stored = name or klass.__qualname__
        _found.clear()
        _registered[stored] = klass
        _names[klass] = stored
        for alias in aliases:
            _registered[alias] = klass
        return klass

    return apply(cls) if cls is not None else apply


def type_name(cls: type) -> str:
    """The stable name a class is recorded under."""
    return _names.get(cls) or str(vars(cls).get("RECORDED_AS") or cls.__qualname__)


def _index_names(cls: type) -> list[str]:
    """The names a class is found under: its stable name, and the old names it declares."""
    return [type_name(cls), *vars(cls).get("RECORDED_ALIASES", ())]


def _is_recordable_class(value: Any, module: str) -> bool:
    return (isinstance(value, type) and value.__module__ == module
            and (dataclasses.is_dataclass(value) or issubclass(value, BaseException)))


def _refresh_index() -> None:
    """Index the dataclasses and exceptions of every loaded ``helpers`` module by name."""
    global _indexed_modules
    modules = [(n, m) for n, m in list(sys.modules.items())
               if m is not None and (n == PACKAGE or n.startswith(PACKAGE + "."))]
    if len(modules) == _indexed_modules:
        return
    _index.clear()
    for module_name, module in modules:
        for value in list(vars(module).values()):
            if _is_recordable_class(value, module_name):
                for name in _index_names(value):
                    _index.setdefault(name, set()).add(value)
                for inner in vars(value).values():  # nested classes: Outer.Inner
                    if _is_recordable_class(inner, module_name):
                        for name in _index_names(inner):
                            _index.setdefault(name, set()).add(inner)
    _indexed_modules = len(modules)


def _import_everything() -> None:
    """Import every module of the package once (slow: only when a name is still unknown)."""
    global _imported_all
    if _imported_all:
        return
    _imported_all = True
    package = importlib.import_module(PACKAGE)
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
        if info.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except Exception:  # an optional feature missing: its classes are not needed
            continue


def _from_module(name: str, module: str) -> type | None:
    if not module:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) else None


def find_type(name: str, module: str = "") -> type:
    """The class recorded as ``name``; ``module`` (where it was) only breaks a tie.

    Raises ValueError when no class, or more than one, has that name.
    """
    if name in _registered:
        return _registered[name]
    cached = _found.get((name, module))
    if cached is not None:
        return cached
    found = _find_type(name, module)
    _found[(name, module)] = found
    return found


def _find_type(name: str, module: str) -> type:
    for attempt in range(2):
        _refresh_index()
        candidates = {c for c in _index.get(name, set()) if c not in _names}
        if len(candidates) == 1:
            only = next(iter(candidates))
            if not module or only.__module__ == module:
                return only
            # the one loaded class of that name may not be the recorded one: a class of the
            # same name in the recorded module (not imported yet) wins
            hinted = _from_module(name, module)
            return hinted if hinted is not None and hinted not in _names else only
        if len(candidates) > 1:
            chosen = [c for c in candidates if c.__module__ == module]
            if len(chosen) == 1:
                return chosen[0]
            raise ValueError(f"the recorded type {name!r} is ambiguous: "
                             + ", ".join(sorted(f"{c.__module__}.{c.__qualname__}"
                                                for c in candidates))
                             + "; register one of them under another name (codec.register)")
        hinted = _from_module(name, module)
        if hinted is not None:
            return hinted
        if attempt == 0:
            _import_everything()
    raise ValueError(f"unknown recorded type {name!r} (was in {module or 'an unknown module'})")


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data; raises TypeError for anything helpers must not return."""
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
        return {TAG: "dataclass", "type": type_name(cls), "module": cls.__module__,
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


def _recorded_class(value: dict) -> type:
    if "type" in value:
        return find_type(value["type"], value.get("module", ""))
    module, _, qualname = value["class"].partition(":")  # recordings before type names
    return find_type(qualname, module)


def decode(value: Any) -> Any:
    """The Python value :func:`encode` wrote; ValueError for a type no class answers to."""
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
        cls = _recorded_class(value)
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"the recorded type {cls.__qualname__} is no longer a dataclass")
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        fields = {k: decode(v) for k, v in value["fields"].items() if k in known}
        try:
            made = cls(**fields)
        except TypeError as exc:
            raise ValueError(f"the recorded {cls.__qualname__} does not fit the class any "
                             f"more ({exc}): re-record") from None
        for f in dataclasses.fields(cls):
            if not f.init and f.name in value["fields"]:
                object.__setattr__(made, f.name, decode(value["fields"][f.name]))
        return made
    raise ValueError(f"unknown recorded type {kind!r}")


_ERROR_BASICS = ("message", "hint", "log_tail")


def encode_error(error: BaseException) -> dict[str, Any]:
    """A CourseError (or subclass) with its own fields (``BuildFailed.step`` …) as JSON data."""
    cls = type(error)
    fields: dict[str, Any] = {}
    for key, value in vars(error).items():
        if key in _ERROR_BASICS or key.startswith("_"):
            continue
        try:
            fields[key] = encode(value)
        except TypeError:
            continue  # a handle kept on an error is not part of what it says
    return {"type": type_name(cls), "module": cls.__module__,
            "message": getattr(error, "message", str(error)), "hint": getattr(error, "hint", ""),
            "log_tail": getattr(error, "log_tail", ""), "fields": fields}


def decode_error(data: dict[str, Any], base: type[Exception]) -> Exception:
    """The error :func:`encode_error` wrote, as its own class when that is a ``base``.

    ``base`` is the course's error class (CourseError): a recorded name that no longer names one
    of its subclasses comes back as ``base`` itself, with the same message.
    """
    try:
        cls: type = find_type(data.get("type") or data.get("class", ""), data.get("module", ""))
    except ValueError:
        cls = base
    if not (isinstance(cls, type) and issubclass(cls, base)):
        cls = base
    error = base.__new__(cls)
    init: Callable[..., None] = base.__init__
    init(error, data.get("message", ""), hint=data.get("hint", ""),
         log_tail=data.get("log_tail", ""))
    for key, value in (data.get("fields") or {}).items():
        try:
            setattr(error, key, decode(value))
        except (ValueError, TypeError, AttributeError):
            setattr(error, key, value)
    return error
