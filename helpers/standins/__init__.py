"""Stand-in images made from Debian packages, for when no registry can be reached.

Each recipe module registers one builder under the catalog key it provides. Builders return
the stand-in's reference; the resolver (:mod:`helpers.resolver`) decides when to call them.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ImageUnavailable

Builder = Callable[[], str]
_BUILDERS: dict[str, Builder] = {}


def register(key: str) -> Callable[[Builder], Builder]:
    def decorate(builder: Builder) -> Builder:
        _BUILDERS[key] = builder
        return builder
    return decorate


def build(key: str) -> str:
    """Build the stand-in for catalog ``key``; its reference."""
    _load_recipes()
    if key not in _BUILDERS:
        raise ImageUnavailable(f"The course has no stand-in recipe for {key!r}.")
    return _BUILDERS[key]()


def _load_recipes() -> None:
    """Import recipe modules on first use (not at package import: no side effects)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def base_labels() -> list[str]:
    """``LABEL`` change lines that mark a stand-in as a course base image (kept by cleanup)."""
    from .. import labels
    from ..engine.cleanup import BASE_NOTEBOOK

    return [f"LABEL {key}={value}" for key, value in labels.for_new_image(BASE_NOTEBOOK).items()]
