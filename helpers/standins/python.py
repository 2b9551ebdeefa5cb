"""Python stand-in: a debootstrapped Debian with a venv on PATH, like ``python:*-slim``."""

from __future__ import annotations

from .. import catalog, rootfs
from ..engine import images
from ..engine.cleanup import BASE_NOTEBOOK
from ..engine.images import HOST_CA_LABEL
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
    # Behind a TLS-inspecting proxy the stand-in trusts the host's extra CAs: every image built
    # on it carries them. The label says so, and the course refuses to push such an image to
    # a registry off this machine (engine.images.check_can_leave).
    carried = rootfs.host_ca_count(tarball)
    ca_label = [f"LABEL {HOST_CA_LABEL}={carried}"] if carried else []
    images.import_rootfs(tarball, reference,
                         [*ENV_CHANGES, description, *ca_label, *base_labels()],
                         owner=BASE_NOTEBOOK)
    return reference
