"""Python stand-in: a debootstrapped Debian with a venv on PATH, like ``python:*-slim``."""

from __future__ import annotations

from .. import catalog, rootfs
from ..engine import images
from . import base_labels, register

ENV_CHANGES = [
    "ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    # pip bundles its own CA list; point it at the system store, which trusts the host's CAs.
    "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
    "ENV PIP_DISABLE_PIP_VERSION_CHECK=1",
    "ENV PIP_ROOT_USER_ACTION=ignore",
    'CMD ["python3"]',
]


@register("python")
def build_python_standin() -> str:
    reference = catalog.get("python").standin
    tarball = rootfs.python_rootfs_tar()
    description = ("LABEL org.opencontainers.image.description="
                   "'Course stand-in for python:3.12-slim: Debian bookworm, python 3.11, venv'")
    images.import_rootfs(tarball, reference, [*ENV_CHANGES, description, *base_labels()])
    return reference
