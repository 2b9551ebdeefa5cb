"""The Docker SDK for Python (``docker``), ``requests`` and ``urllib3``, imported on first use.

Every module of this package names them through here (``from .sdk import docker``) rather than
importing them itself. The SDK pulls in requests and urllib3, about 0.2 s of imports, and a
replayed notebook never reaches the engine: importing them only when an attribute is first read
(``docker.errors.NotFound`` inside an ``except``, ``docker.DockerClient(...)``) keeps that time
out of every replayed notebook's first cell and out of commands that never reach the engine.
``python -m bench replay`` measures the first cell and shows what it loaded.

Type checkers see the real modules (the ``TYPE_CHECKING`` branch).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

__all__ = ["docker", "requests", "urllib3"]


class _OnFirstUse:
    """Stands for a module until one of its attributes is read, then imports it (once: later
    reads go through ``sys.modules``). A submodule (``docker.errors``) is imported when it is
    not yet an attribute of the package."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attribute: str) -> Any:
        module = self._module()
        try:
            return getattr(module, attribute)
        except AttributeError:
            return importlib.import_module(f"{self._name}.{attribute}")

    def __repr__(self) -> str:
        return f"<{self._name}, imported on first use>"


if TYPE_CHECKING:
    import docker as docker
    import docker.errors
    import docker.tls
    import docker.types
    import docker.utils
    import requests as requests
    import requests.exceptions
    import urllib3 as urllib3
    import urllib3.exceptions
    import urllib3.util
else:
    docker = _OnFirstUse("docker")
    requests = _OnFirstUse("requests")
    urllib3 = _OnFirstUse("urllib3")
