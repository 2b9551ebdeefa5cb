"""Where each finding came from: the layer (its Dockerfile step) and the requirement behind it.

A finding names a package; the inventory knows which layer added that package, and the image
history names the step that made the layer (``RUN pip install -r requirements-2021.txt``). For
Python packages the requirements file says whether the package was asked for by name, and the
packages' own metadata (``Requires-Dist``) says which other package needs it: ``urllib3`` is
in the image *via* ``requests``. Pure functions over a :class:`ScanResult`: no engine.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .model import Finding, Package, ScanResult

if TYPE_CHECKING:
    import pandas as pd

ORIGIN_COLUMNS = ["severity", "id", "package", "installed", "fixed", "layer", "step",
                  "requirement", "brought in by"]

_BUILD_ARGS = re.compile(r"^\|(\d+)\s+")
_SHELL = re.compile(r"^(?:/bin/)?sh -c\s+")
_NOP = re.compile(r"^#\(nop\)\s*")
_HASHED_SOURCE = re.compile(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b")


def describe_step(created_by: str) -> str:
    """A history ``created_by`` as the Dockerfile line a person wrote.

    ``|1 REQUIREMENTS=requirements-2021.txt /bin/sh -c pip install -r ${REQUIREMENTS}`` (the
    classic builder) and ``RUN |1 REQUIREMENTS=… /bin/sh -c … # buildkit`` both become
    ``RUN pip install -r requirements-2021.txt``: build arguments are put in their place.
    ``/bin/sh -c #(nop) COPY file:<hash> in ./`` becomes ``COPY file:<short hash> in ./``.
    An empty text (an imported root filesystem) stays empty.
    """
    text = (created_by or "").strip()
    text = text.removesuffix("# buildkit").strip()
    buildkit_run = text.startswith("RUN ")
    if buildkit_run:
        text = text[4:].lstrip()
    args: dict[str, str] = {}
    match = _BUILD_ARGS.match(text)
    if match:
        count = int(match.group(1))
        parts = text[match.end():].split(" ", count)
        for part in parts[:count]:
            name, _, value = part.partition("=")
            args[name] = value
        text = parts[count] if len(parts) > count else ""
    shell = _SHELL.match(text)
    if shell:
        text = text[shell.end():]
    nop = _NOP.match(text)
    if nop:
        text = text[nop.end():].strip()
    elif shell or buildkit_run:
        text = "RUN " + text
    for name, value in args.items():
        text = text.replace("${" + name + "}", value)
        text = re.sub(r"\$" + re.escape(name) + r"\b", value.replace("\\", "\\\\"), text)
    text = _HASHED_SOURCE.sub(lambda m: f"{m.group(1)}:{m.group(2)}…", text)
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class RequirementLine:
    """One requirement in a requirements file: where it is and what it says."""

    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.text}"


def parse_requirements(text: str, *, file: str = "requirements.txt"
                       ) -> dict[str, RequirementLine]:
    """PEP 503 name -> the line asking for it; options (``-r``, ``--hash``) and comments skipped.

    Line continuations (``\\``) are joined, as pip does; unparsable lines are skipped (this is
    for explaining findings, not for installing).
    """
    found: dict[str, RequirementLine] = {}
    logical, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not logical:
            start = number
        if raw.rstrip().endswith("\\"):
            logical += raw.rstrip()[:-1] + " "
            continue
        logical += raw
        line = re.sub(r"(^|\s)#.*$", "", logical).strip()
        logical = ""
        if not line or line.startswith("-"):
            continue
        requirement_text = line.split(" --", 1)[0].strip()
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement:
            continue
        found.setdefault(canonicalize_name(requirement.name),
                         RequirementLine(file=file, line=start, text=requirement_text))
    return found


def _site(package: Package) -> str:
    """The folder a Python package is installed in (its dist-info's parent)."""
    return posixpath.dirname(posixpath.dirname(package.location))


def needed_by(package: Package, packages: Iterable[Package]) -> list[str]:
    """Names of the installed packages (same site-packages) whose metadata requires this one."""
    if package.type != "python":
        return []
    wanted = canonicalize_name(package.name)
    site = _site(package)
    return sorted({other.name for other in packages
                   if other.type == "python" and other is not package
                   and _site(other) == site and wanted in other.requires},
                  key=str.lower)


def package_of(finding: Finding, packages: Iterable[Package]) -> Package | None:
    """The inventoried package a finding is about (same name, version and type)."""
    same = [p for p in packages if p.type == finding.type and p.version == finding.installed
            and (canonicalize_name(p.name) == canonicalize_name(finding.package)
                 if p.type == "python" else p.name == finding.package)]
    for package in same:
        if finding.layer and package.layer == finding.layer:
            return package
    return same[0] if same else None


def brought_in_by(package: Package | None, packages: list[Package], *,
                  base_layers: int = 0) -> str:
    """``base image``, ``direct``, ``via requests`` or ``""`` (OS packages, unknown)."""
    if package is None:
        return ""
    if 0 <= package.layer_index < base_layers:
        return "base image"
    if package.type != "python":
        return ""
    via = needed_by(package, packages)
    return f"via {', '.join(via)}" if via else "direct"


def _base(result: ScanResult, base_layers: int | None, base: str | None) -> tuple[int, str]:
    """The base layer count and name given, else those the scan found, else (0, "")."""
    layers = base_layers if base_layers is not None else max(result.base_layers, 0)
    return layers, (base if base is not None else result.base_image)


def origins(result: ScanResult, *, requirements: Mapping[str, str] | None = None,
            base_layers: int | None = None, base: str | None = None
            ) -> list[dict[str, object]]:
    """One row per finding: the layer and step that added the package, the requirement line
    naming it (``requirements`` maps a file name to its text), and why it is there.

    ``base_layers`` is how many of the image's first layers come from its base image ``base``
    (a name, shown in the step of those layers), so packages the base brought are told apart
    from the app's own; both default to what the scan found (``result.base_layers``,
    ``result.base_image``).
    """
    base_layers, base = _base(result, base_layers, base)
    lines: dict[str, RequirementLine] = {}
    for file, text in (requirements or {}).items():
        for name, line in parse_requirements(text, file=file).items():
            lines.setdefault(name, line)
    rows = []
    for finding in result.sorted_findings():
        package = package_of(finding, result.packages)
        requirement = lines.get(canonicalize_name(finding.package)) \
            if finding.type == "python" else None
        in_base = package is not None and 0 <= package.layer_index < base_layers
        rows.append({
            "severity": finding.severity,
            "id": finding.id,
            "package": finding.package,
            "installed": finding.installed,
            "fixed": finding.fixed,
            "layer": package.layer_index if package else -1,
            "step": (describe_step(package.step) if package else "")
            or ((f"(base image {base})" if base else "(base image)") if in_base else ""),
            "requirement": str(requirement) if requirement and not in_base else "",
            "brought in by": brought_in_by(package, result.packages, base_layers=base_layers),
        })
    return rows


def origins_frame(result: ScanResult, *, requirements: Mapping[str, str] | None = None,
                  base_layers: int | None = None, base: str | None = None) -> pd.DataFrame:
    """:func:`origins` as a DataFrame (severity an ordered category, worst first)."""
    import pandas as pd

    from .model import SEVERITIES

    frame = pd.DataFrame(origins(result, requirements=requirements, base_layers=base_layers,
                                 base=base), columns=ORIGIN_COLUMNS)
    frame["severity"] = pd.Categorical(frame["severity"], categories=list(SEVERITIES),
                                       ordered=True)
    return frame


SPLIT_COLUMNS = ["image", "layers", "packages",
                 *("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"), "findings"]


def base_split(result: ScanResult, *, base_layers: int | None = None,
               base: str | None = None) -> pd.DataFrame:
    """Findings per severity, split between the base image's layers and the image's own: what
    Docker Scout's ``--only-base`` and ``--ignore-base`` show, by the course's layer attribution.

    Two rows, ``base image`` and ``your layers``; columns :data:`SPLIT_COLUMNS` (the image the
    layers are from, their numbers, the packages listed in them, findings per severity, all
    findings). Packages the scan cannot place in a layer count with neither.
    """
    import pandas as pd

    from .model import SEVERITIES

    base_layers, base = _base(result, base_layers, base)
    last = max([p.layer_index for p in result.packages] + [base_layers - 1, 0])
    sides = {"base image": (base or "unknown", 0, base_layers - 1),
             "your layers": (result.target, base_layers, last)}
    rows = []
    for label, (image, first, end) in sides.items():
        inside = [p for p in result.packages if first <= p.layer_index <= end]
        counts = dict.fromkeys(SEVERITIES, 0)
        for finding in result.findings:
            package = package_of(finding, result.packages)
            if package is not None and first <= package.layer_index <= end:
                counts[finding.severity] += 1
        layers = f"{first}–{end}" if end > first else (str(first) if end == first else "none")
        rows.append({"where": label, "image": image, "layers": layers,
                     "packages": len(inside), **counts,
                     "findings": sum(counts.values())})
    return pd.DataFrame(rows, columns=["where", *SPLIT_COLUMNS]).set_index("where")
