"""What is installed in an image, read from the image's own package databases, layer by layer.

Sources: the dpkg status file (``var/lib/dpkg/status``) and distroless's one-file-per-package
``var/lib/dpkg/status.d/*``, Alpine's ``lib/apk/db/installed``, and Python's package metadata in
every place installers leave it: ``*.dist-info/METADATA`` (wheels), ``*.egg-info/PKG-INFO`` and
``*.egg-info/METADATA`` (setuptools; the AWS CLI bundle ships the latter), ``*.egg-info`` as a
single file (distutils, Debian's ``python3-*`` packages) and ``*.egg/EGG-INFO/PKG-INFO``
(easy_install eggs). ``etc/os-release`` says which distribution release the OS packages belong
to, because OS advisories are filed per release (``Debian:12``).

Input contract (the archive reader): ``archive.layers`` in order, each with ``index``,
``diff_id``, ``created_by`` and either the reader's ``content`` (every entry, whiteouts, opaque
whiteouts, hard links) or, for test doubles, ``files`` (path -> bytes) and ``deleted`` (paths
whited out; an opaque whiteout of directory ``D`` appears as ``"D/"``). ``files`` holds the
kept files added or changed in that layer; call the reader with ``keep=wants`` so it keeps only
the files this module reads.

Which files are visible comes from :class:`~helpers.anatomy.filesystem.FinalFilesystem`, the
same model the layer analysis uses: whiteouts, opaque whiteouts, a directory replaced by a file
or symlink, hard links. Each package is credited to the layer that *added* it: the first layer
from which that package@version stays visible to the end. A package removed by a later layer is
not listed.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from email.parser import HeaderParser
from typing import TYPE_CHECKING, Any, Protocol

from debian.deb822 import Deb822
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..anatomy.filesystem import FinalFilesystem
from ..anatomy.layerscan import normalise
from . import ecosystems
from .model import Package

if TYPE_CHECKING:
    import pandas as pd

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_DIR = "var/lib/dpkg/status.d/"
APK_INSTALLED = "lib/apk/db/installed"
OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")

NOTHING_TO_INVENTORY = (
    "Nothing to inventory: the image has no package database (no dpkg status, no apk database, "
    "no Python package metadata), as in a scratch or single static binary image. The built-in "
    "scanner only sees packages installed through those, so it has nothing to match."
)


class Layer(Protocol):
    """What the inventory needs from one layer of the archive reader."""

    index: int
    diff_id: str
    created_by: str
    files: dict[str, bytes]
    deleted: set[str]


def _clean(path: str) -> str:
    path = path.lstrip("/")
    while path.startswith("./"):
        path = path[2:].lstrip("/")
    return path


def wants(path: str) -> bool:
    """True for the files the scanner reads; pass as ``keep=`` to the archive reader.

    Keeping only these (a few hundred KB even in a big image) is what lets a ``docker save``
    stream be scanned without unpacking it.
    """
    path = _clean(path)
    if path in (DPKG_STATUS, APK_INSTALLED) or path in OS_RELEASE_PATHS:
        return True
    if path.startswith(DPKG_STATUS_DIR):
        rest = path[len(DPKG_STATUS_DIR):]
        return bool(rest) and "/" not in rest and not rest.endswith(".md5sums")
    parent, base = posixpath.split(path)
    if base == "METADATA":
        return parent.endswith((".dist-info", ".egg-info"))
    if base == "PKG-INFO":
        return parent.endswith(".egg-info") or parent.endswith(".egg/EGG-INFO")
    # distutils-era single-file metadata, e.g. Debian's python3-* packages
    return base.endswith(".egg-info") and ("-packages/" in path)


#: The predicate under the name the archive reader's callers expect.
KEEP = wants


@dataclass(frozen=True)
class OsRelease:
    """The distribution of an image, as ``etc/os-release`` tells it."""

    id: str = ""
    version_id: str = ""
    pretty_name: str = ""

    def ecosystem(self) -> str:
        """The OSV ecosystem of this release's packages (``Debian:12``, ``Alpine:v3.19``)."""
        family = {"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine"}.get(
            self.id, self.id.capitalize())
        if not self.version_id:
            return family
        if self.id == "alpine":
            major_minor = ".".join(self.version_id.split(".")[:2])
            return f"Alpine:v{major_minor}"
        if self.id == "debian":
            return f"Debian:{self.version_id.split('.')[0]}"
        return f"{family}:{self.version_id}"


def parse_os_release(data: bytes) -> OsRelease:
    values: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    return OsRelease(id=values.get("ID", "").lower(), version_id=values.get("VERSION_ID", ""),
                     pretty_name=values.get("PRETTY_NAME", ""))


#: dpkg states in which the package's files are on disk.
_DPKG_PRESENT = {"installed", "half-configured", "unpacked", "half-installed",
                 "triggers-awaited", "triggers-pending"}
_SOURCE_FIELD = re.compile(r"^\s*(\S+)(?:\s+\((\S+)\))?\s*$")


def parse_dpkg_status(data: bytes, *, location: str, os_release: OsRelease) -> list[Package]:
    """Installed packages of a dpkg status file (or one distroless ``status.d`` entry)."""
    packages = []
    text = data.decode("utf-8", "replace")
    for paragraph in Deb822.iter_paragraphs(io.StringIO(text), use_apt_pkg=False):
        name = paragraph.get("Package", "").strip()
        version = paragraph.get("Version", "").strip()
        if not name or not version:
            continue
        status = paragraph.get("Status", "install ok installed").split()
        if status and status[-1] not in _DPKG_PRESENT:
            continue
        source_name, source_version = name, version
        match = _SOURCE_FIELD.match(paragraph.get("Source", "") or "")
        if match:
            source_name = match.group(1)
            source_version = match.group(2) or version
        arch = paragraph.get("Architecture", "").strip()
        packages.append(_os_package(name, version, location, os_release, arch=arch,
                                    source_name=source_name, source_version=source_version))
    return packages


def parse_apk_installed(data: bytes, *, location: str, os_release: OsRelease) -> list[Package]:
    """Installed packages of Alpine's ``lib/apk/db/installed`` (``P:`` name, ``V:`` version)."""
    packages = []
    for block in re.split(r"\n\s*\n", data.decode("utf-8", "replace")):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":":
                fields.setdefault(line[0], line[2:].strip())
        if fields.get("P") and fields.get("V"):
            packages.append(_os_package(
                fields["P"], fields["V"], location, os_release, arch=fields.get("A", ""),
                source_name=fields.get("o", fields["P"]), source_version=fields["V"]))
    return packages


def _os_package(name: str, version: str, location: str, os_release: OsRelease, *, arch: str,
                source_name: str, source_version: str) -> Package:
    family = os_release.id or ("alpine" if location == APK_INSTALLED else "debian")
    qualifiers = {}
    if arch:
        qualifiers["arch"] = arch
    if os_release.id and os_release.version_id:
        qualifiers["distro"] = f"{os_release.id}-{os_release.version_id}"
    ecosystem = os_release.ecosystem() if os_release.id else (
        "Alpine" if family == "alpine" else "Debian")
    return Package(
        name=name, version=version, type="os", ecosystem=ecosystem,
        purl=ecosystems.purl_for("os", name, version, os_namespace=family,
                                 qualifiers=qualifiers),
        location=location, source_name=source_name, source_version=source_version)


def parse_python_metadata(data: bytes, *, location: str) -> list[Package]:
    """The one package a ``METADATA`` / ``PKG-INFO`` file describes (name and version).

    Only the header block is parsed: the body is the project's README, sometimes megabytes.
    """
    text = data.decode("utf-8", "replace")
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    headers = HeaderParser().parsestr(head)
    name = (headers.get("Name") or "").strip()
    version = (headers.get("Version") or "").strip()
    if not (name and version):
        name, version = _name_version_from_dir(location)
    if not (name and version):
        return []
    requires = _requirements(headers.get_all("Requires-Dist") or [])
    return [Package(name=name, version=version, type="python", ecosystem="PyPI",
                    purl=ecosystems.purl_for("python", name, version), location=location,
                    requires=requires)]


def _requirements(lines: Iterable[str]) -> tuple[str, ...]:
    """PEP 503 names of ``Requires-Dist`` lines, leaving out those only an extra asks for.

    Other markers (``python_version < "3.10"``) are kept: if the package is installed next to
    this one, this one is a likely reason it is there.
    """
    names: dict[str, None] = {}
    for line in lines:
        try:
            requirement = Requirement(str(line))
        except InvalidRequirement:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        names[canonicalize_name(requirement.name)] = None
    return tuple(sorted(names))


def _name_version_from_dir(location: str) -> tuple[str, str]:
    """``flask-2.0.1.dist-info/METADATA`` -> (flask, 2.0.1): a fallback for bare metadata.

    Also ``six-1.16.0.egg-info`` (a single file) and ``foo-1.0-py3.8.egg/EGG-INFO/PKG-INFO``.
    """
    folder = _metadata_folder(location)
    stem = re.sub(r"\.(dist-info|egg-info|egg)$", "", folder)
    name, _, rest = stem.partition("-")
    version = rest.split("-")[0]
    return name, version


def _metadata_folder(location: str) -> str:
    """The ``*.dist-info`` / ``*.egg-info`` / ``*.egg`` name that identifies the package."""
    parent, base = posixpath.split(location)
    if base.endswith(".egg-info"):
        return base  # single-file metadata
    if posixpath.basename(parent) == "EGG-INFO":
        parent = posixpath.dirname(parent)
    return posixpath.basename(parent)


def parse_file(path: str, data: bytes, os_release: OsRelease) -> list[Package]:
    """The packages one kept file declares (empty for files that declare none)."""
    if path == DPKG_STATUS or path.startswith(DPKG_STATUS_DIR):
        return parse_dpkg_status(data, location=path, os_release=os_release)
    if path == APK_INSTALLED:
        return parse_apk_installed(data, location=path, os_release=os_release)
    if path in OS_RELEASE_PATHS:
        return []
    return parse_python_metadata(data, location=path)


def _package_key(package: Package) -> tuple[str, ...]:
    """What "the same package" means across layers.

    OS packages: name, version and type (the status file is rewritten by every apt layer).
    Python packages: also the folder they sit in, so a copy in a virtualenv is its own package.
    """
    if package.type == "python":
        return (package.type, _site_of(package.location), canonicalize_name(package.name),
                package.version)
    return (package.type, package.name, package.version)


def _site_of(location: str) -> str:
    """The folder a Python package's metadata sits in (site-packages, a bundle's dist/…)."""
    if location.endswith("/EGG-INFO/PKG-INFO"):
        return posixpath.dirname(location.removesuffix("/EGG-INFO/PKG-INFO"))
    if location.endswith(".egg-info"):
        return posixpath.dirname(location)  # single-file metadata
    return posixpath.dirname(posixpath.dirname(location))


@dataclass
class Inventory:
    """The packages of an image, each credited to the layer that added it."""

    packages: list[Package] = field(default_factory=list)
    os_release: OsRelease = field(default_factory=OsRelease)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.packages

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame: name, version, type, ecosystem, layer index, step, purl."""
        import pandas as pd

        columns = ["name", "version", "type", "ecosystem", "layer_index", "step", "layer",
                   "purl", "location"]
        rows = [{c: getattr(p, c) for c in columns} for p in self.packages]
        return pd.DataFrame(rows, columns=columns)


def _visible_os_release(visible: dict[str, tuple[bytes, int]]) -> OsRelease:
    for path in OS_RELEASE_PATHS:
        if path in visible:
            return parse_os_release(visible[path][0])
    return OsRelease()


def _iter_layers(archive: Any) -> Iterator[Any]:
    layers = getattr(archive, "layers", None)
    if layers is None:
        raise TypeError("expected an archive object with a .layers list")
    return iter(sorted(layers, key=lambda layer: getattr(layer, "index", 0)))


def inventory(archive: Any) -> Inventory:
    """Every package visible in the final image, credited to the layer that added it.

    ``archive`` has ``layers`` (see the module's input contract). Raises
    :class:`~helpers.errors.CourseError` when the layers cannot be stacked (a hard link to a
    file that no layer holds).
    """
    filesystem = FinalFilesystem()
    kept_by_layer: dict[int, dict[str, bytes]] = {}
    kept_paths: dict[str, None] = {}  # every kept path seen so far, in order
    cache: dict[tuple[str, int, OsRelease], list[Package]] = {}
    credited: dict[tuple[str, ...], Package] = {}
    os_release = OsRelease()
    for layer in _iter_layers(archive):
        filesystem.apply(layer)
        kept = {}
        for raw_path, content in (getattr(layer, "files", {}) or {}).items():
            path = normalise(raw_path)
            if wants(path):
                kept[path] = content
                kept_paths[path] = None
        kept_by_layer[int(layer.index)] = kept
        visible: dict[str, tuple[bytes, int]] = {}
        for path in kept_paths:
            written_in = filesystem.layer_of(path)
            if written_in is not None and path in kept_by_layer.get(written_in, {}):
                visible[path] = (kept_by_layer[written_in][path], written_in)
        os_release = _visible_os_release(visible)
        now: dict[tuple[str, ...], Package] = {}
        for path in sorted(visible):
            content, written_in = visible[path]
            cache_key = (path, written_in, os_release)
            if cache_key not in cache:
                cache[cache_key] = parse_file(path, content, os_release)
            for package in cache[cache_key]:
                key = _package_key(package)
                if key in now:
                    continue
                now[key] = credited.get(key) or replace(
                    package, layer=str(getattr(layer, "diff_id", "")),
                    layer_index=int(layer.index), step=str(getattr(layer, "created_by", "")))
        credited = now
    packages = sorted(credited.values(), key=lambda p: (p.type != "os", p.name.lower(),
                                                         p.version, p.location))
    notes = [] if packages else [NOTHING_TO_INVENTORY]
    return Inventory(packages=packages, os_release=os_release, notes=notes)
