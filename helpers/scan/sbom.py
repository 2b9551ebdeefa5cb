"""Export an image's package inventory as a CycloneDX SBOM (JSON), with cyclonedx-python-lib.

An SBOM is the inventory without the judgement: which packages at which versions, each with a
package URL (``pkg:pypi/flask@2.0.1``, ``pkg:deb/debian/libc6@2.36-9``), so any scanner can
match it later against newer advisories. The library writes and validates the document, so the
output follows the schema rather than our reading of it.

The serial number is derived from the content, and a fixed ``timestamp`` can be passed, so
exporting the same image twice can give the same file (recorded notebook outputs stay stable).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from pathlib import Path

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from .model import Package

SCHEMA_VERSION = SchemaVersion.V1_6
PROPERTY_PREFIX = "docker-course"


def _component(package: Package) -> Component:
    purl = PackageURL.from_string(package.purl) if package.purl else None
    properties = [Property(name=f"{PROPERTY_PREFIX}:type", value=package.type),
                  Property(name=f"{PROPERTY_PREFIX}:ecosystem", value=package.ecosystem)]
    if package.layer:
        properties.append(Property(name=f"{PROPERTY_PREFIX}:layer_diff_id",
                                   value=package.layer))
    if package.location:
        properties.append(Property(name=f"{PROPERTY_PREFIX}:location", value=package.location))
    reference = package.purl or f"{package.type}:{package.name}@{package.version}"
    if package.location and package.type != "os":
        reference = f"{reference}#{package.location}"  # one project in two site-packages
    return Component(name=package.name, version=package.version, type=ComponentType.LIBRARY,
                     purl=purl, bom_ref=reference, properties=properties)


def build_bom(packages: Iterable[Package], *, image: str = "image",
              timestamp: dt.datetime | None = None) -> Bom:
    """A :class:`Bom` whose top component is the image and whose components are its packages."""
    packages = sorted(packages, key=lambda p: (p.type, p.name.lower(), p.version, p.location))
    identity = json.dumps([image] + [[p.purl, p.name, p.version, p.location] for p in packages])
    serial = uuid.uuid5(uuid.NAMESPACE_URL, identity)
    top = Component(name=image, type=ComponentType.CONTAINER, bom_ref=f"image:{image}")
    metadata = BomMetaData(
        component=top,
        timestamp=timestamp or dt.datetime.now(dt.UTC),
    )
    bom = Bom(serial_number=serial, metadata=metadata)
    seen: set[str] = set()
    components = []
    for package in packages:
        component = _component(package)
        if str(component.bom_ref) in seen:
            continue
        seen.add(str(component.bom_ref))
        bom.components.add(component)
        components.append(component)
    bom.register_dependency(top, components)
    return bom


def to_cyclonedx_json(packages: Iterable[Package], *, image: str = "image",
                      timestamp: dt.datetime | None = None) -> str:
    """The SBOM as CycloneDX 1.6 JSON text."""
    bom = build_bom(packages, image=image, timestamp=timestamp)
    return make_outputter(bom, OutputFormat.JSON, SCHEMA_VERSION).output_as_string(indent=2)


def write_sbom(packages: Iterable[Package], path: str | Path, *, image: str = "image",
               timestamp: dt.datetime | None = None) -> Path:
    """Write the CycloneDX SBOM to ``path``: complete, or not at all.

    The text goes to a temporary file that replaces ``path`` only when fully written, so a
    full disk leaves no empty or truncated SBOM. Raises :class:`~helpers.errors.CourseError`
    naming the file and the reason when it cannot be written.
    """
    from ..errors import CourseError
    from ..files import os_error_hint, os_error_text, write_text

    path = Path(path)
    text = to_cyclonedx_json(packages, image=image, timestamp=timestamp) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, text)
    except OSError as exc:
        raise CourseError(f"Could not write the SBOM to {path}: {os_error_text(exc)}; no file "
                          "was left there.", hint=os_error_hint(exc)) from None
    return path


def validation_errors(document: str) -> str | None:
    """The schema validator's complaint about a CycloneDX JSON text, None when it is valid.

    Uses the schemas bundled with cyclonedx-python-lib (no network needed).
    """
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SCHEMA_VERSION).validate_str(document)
    return None if error is None else str(error)
