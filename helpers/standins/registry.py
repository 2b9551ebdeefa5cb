"""Registry stand-in: Debian's docker-registry (the distribution registry 2.8) on the Python base.

The official ``registry:2`` and this stand-in run the same way: config at
/etc/docker/registry/config.yml, storage in /var/lib/registry, port 5000 inside, an entrypoint
that takes the config file, and authentication switched on by ``REGISTRY_AUTH_*`` variables.
The stand-in also carries ``htpasswd`` (apache2-utils) to make bcrypt password files.
"""

from __future__ import annotations

from .. import catalog, labels, resolver, settings
from ..engine import build as build_mod
from ..engine.cleanup import BASE_NOTEBOOK
from . import register

CONTEXT = settings.APPS_DIR / "registry" / "standin"


@register("registry")
def build_registry_standin() -> str:
    """``docker build`` the stand-in FROM the Python base; labelled as a course base image."""
    reference = catalog.get("registry").standin
    python = resolver.resolve("python")
    previous = labels.current_notebook()
    labels.set_notebook(BASE_NOTEBOOK)  # base images survive a notebook's cleanup
    try:
        build_mod.build(CONTEXT, reference, build_args={"PYTHON_IMAGE": python.reference})
    finally:
        labels.set_notebook(previous)
    return reference
