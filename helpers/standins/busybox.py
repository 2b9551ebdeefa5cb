"""Shell stand-in: Debian's statically linked busybox, alone in an image ``FROM scratch``."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .. import catalog
from ..engine import images
from ..engine.cleanup import BASE_NOTEBOOK
from ..errors import ImageUnavailable
from . import base_labels, register

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


def _static_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            described = subprocess.run(["file", "-b", str(path)], capture_output=True, text=True,
                                       check=False).stdout if shutil.which("file") else "static"
            if "dynamically" not in described:
                return path
    raise ImageUnavailable("No statically linked busybox on this machine.",
                           hint="install Debian's busybox-static package "
                                "(`sudo apt-get install busybox-static`).")


def rootfs_tar(busybox: Path) -> bytes:
    """A root filesystem: /bin/busybox, one symlink per applet, and the usual empty folders."""
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in ("bin", "etc", "tmp", "root", "home", "proc", "sys", "dev", "var"):
            entry = tarfile.TarInfo(folder)
            entry.type = tarfile.DIRTYPE
            entry.mode = 0o1777 if folder == "tmp" else 0o755
            tar.addfile(entry)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                          "nobody:x:65534:65534:nobody:/home:/bin/false\n"),
                           ("etc/group", "root:x:0:\nnogroup:x:65534:\n")):
            data = text.encode()
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            entry.mode = 0o644
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


@register("shell")
def build_busybox_standin() -> str:
    reference = catalog.get("shell").standin
    with tempfile.TemporaryDirectory() as folder:
        tarball = Path(folder) / "busybox-rootfs.tar"
        tarball.write_bytes(rootfs_tar(_static_busybox()))
        description = ("LABEL org.opencontainers.image.description="
                       "'Course stand-in for busybox: Debian busybox-static FROM scratch'")
        images.import_rootfs(tarball, reference,
                             ["ENV PATH=/bin", 'CMD ["sh"]', description, *base_labels()],
                             owner=BASE_NOTEBOOK)
    return reference
