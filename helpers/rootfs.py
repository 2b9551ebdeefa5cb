"""A Debian root filesystem for the Python stand-in image, made on the host with debootstrap.

When no registry can be reached, the course still needs a ``python:*-slim``-like base. Debian's
debootstrap makes one from the Debian package mirror (plain http, which works through most
classroom proxies). The result is cached as a tar under the user's cache dir because it takes
about a minute to make; the engine then imports that tar (see ``engine.images.import_rootfs``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import settings
from .errors import ImageUnavailable, tail

PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
PYTHON_PACKAGES = "python3,python3-venv,ca-certificates"
HOST_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def _run(cmd: list[str], what: str, timeout: int = 900) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ImageUnavailable(f"{what}: `{cmd[0]}` is not installed.",
                               hint="install Debian's debootstrap package "
                                    "(`sudo apt-get install debootstrap`).") from None
    except subprocess.TimeoutExpired:
        raise ImageUnavailable(f"{what} took longer than {timeout} s.",
                               hint="check the Debian mirror is reachable "
                                    "(COURSE_DEBIAN_MIRROR).") from None
    if done.returncode != 0:
        raise ImageUnavailable(f"{what} failed (exit {done.returncode}).",
                               hint="check the Debian mirror (COURSE_DEBIAN_MIRROR) and that "
                                    "you run as root.",
                               log_tail=tail(done.stdout + done.stderr))
    return done.stdout


def can_build() -> bool:
    """debootstrap needs Linux, root (for chroot and device nodes) and the tool itself."""
    return (os.name == "posix" and hasattr(os, "geteuid") and os.geteuid() == 0
            and shutil.which("debootstrap") is not None)


def host_extra_certificates(rootfs_bundle: bytes) -> list[bytes]:
    """Certificates the host trusts that a stock Debian does not: a TLS-inspecting proxy's CA.

    Copying only the difference keeps the stand-in honest: it trusts exactly what the host
    trusts, nothing more.
    """
    stock = set(PEM_BLOCK.findall(rootfs_bundle))
    extra: list[bytes] = []
    env_bundle = os.environ.get("SSL_CERT_FILE")
    for candidate in (env_bundle, *HOST_BUNDLES):
        if candidate and Path(candidate).is_file():
            for pem in PEM_BLOCK.findall(Path(candidate).read_bytes()):
                if pem not in stock and pem not in extra:
                    extra.append(pem)
            break
    return extra


HOST_CA_FOLDER = "usr/local/share/ca-certificates/"
HOST_CA_PREFIX = "host-extra-"


def host_ca_count(tarball: Path) -> int:
    """How many of the host's extra CA certificates a stand-in root filesystem tar carries.

    Read from the tar's member names (``usr/local/share/ca-certificates/host-extra-N.crt``,
    written by :func:`_trust_host_certificates`), so an older cached tar is counted too.
    """
    import tarfile

    count = 0
    try:
        with tarfile.open(tarball) as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if name.startswith(HOST_CA_FOLDER + HOST_CA_PREFIX) and member.isfile():
                    count += 1
    except (OSError, tarfile.TarError):
        return 0
    return count


def python_rootfs_tar(suite: str | None = None) -> Path:
    """Path to a cached tar of a minimal Debian with python3, a venv at /opt/venv and CAs."""
    suite = suite or settings.debian_suite()
    cached = settings.cache_dir() / f"rootfs-{suite}-python.tar"
    if cached.exists() and cached.stat().st_size > 0:
        return cached
    if not can_build():
        raise ImageUnavailable("Cannot build the Python stand-in base here: it needs Linux, "
                               "root and debootstrap.",
                               hint="load the images from an archive folder "
                                    "(COURSE_IMAGE_ARCHIVE) or connect to a registry.")
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=settings.cache_dir()))
    try:
        target = work / "root"
        _run(["debootstrap", "--variant=minbase", f"--include={PYTHON_PACKAGES}", suite,
              str(target), settings.debian_mirror()], "debootstrap of Debian " + suite)
        _trust_host_certificates(target)
        _run(["chroot", str(target), "/usr/bin/python3", "-m", "venv", "/opt/venv"],
             "creating the virtualenv in the stand-in")
        _slim(target)
        partial = cached.with_suffix(".partial")
        _run(["tar", "--numeric-owner", "--xattrs", "-C", str(target), "-cf", str(partial), "."],
             "packing the root filesystem")
        partial.replace(cached)
        return cached
    finally:
        _unmount_below(work)
        shutil.rmtree(work, ignore_errors=True)


def _unmount_below(folder: Path) -> None:
    """A failed debootstrap can leave /proc or /sys mounted inside: never delete through them."""
    mounts = Path("/proc/mounts")
    if not mounts.exists():
        return
    prefix = str(folder.resolve()) + "/"
    points = [line.split()[1] for line in mounts.read_text().splitlines() if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _trust_host_certificates(target: Path) -> None:
    bundle = target / "etc/ssl/certs/ca-certificates.crt"
    extra = host_extra_certificates(bundle.read_bytes() if bundle.exists() else b"")
    if not extra:
        return
    folder = target / HOST_CA_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for number, pem in enumerate(extra):
        (folder / f"{HOST_CA_PREFIX}{number}.crt").write_bytes(pem + b"\n")
    _run(["chroot", str(target), "update-ca-certificates"], "trusting the host's extra CAs")


def _slim(target: Path) -> None:
    """Drop what a slim image does not ship: apt lists, caches, docs, man pages."""
    for relative in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc",
                     "usr/share/man", "usr/share/info"):
        path = target / relative
        if path.is_dir():
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                elif child.name != "lock":
                    child.unlink(missing_ok=True)
