"""Is this machine ready for the course? One table, and a yes/no a script can use."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from . import catalog, ports, resolver
from .engine import client as client_mod
from .errors import CourseError
from .units import human_bytes

MIN_FREE_BYTES = 5 * 10**9  # images, build cache and a database: a few GB
COURSE_PORTS = (5000, 5001, 5050, 8080)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True

    @property
    def mark(self) -> str:
        return "✔" if self.ok else ("✘" if self.required else "!")


def run_checks() -> list[Check]:
    """Engine first: without it the other checks cannot be asked."""
    try:
        facts = client_mod.engine_facts()
    except CourseError as exc:
        return [Check("Docker Engine", False, f"{exc.message} What to do: {exc.hint}")]
    checks = [Check("Docker Engine", True, f"{facts.server_version} (API {facts.api_version}, "
                                           f"{facts.storage_driver}, {facts.os_type}/"
                                           f"{facts.architecture})")]
    checks.append(_disk_check())
    checks.append(Check("Compose", facts.compose != "not installed", facts.compose,
                        required=False))
    for key in catalog.CATALOG:
        ok, detail = resolver.resolvable(key)
        checks.append(Check(f"image: {key}", ok, detail))
    for port in COURSE_PORTS:
        free = ports.is_free(port)
        checks.append(Check(f"port 127.0.0.1:{port}", free,
                            "free" if free else "in use (the course will pick another)",
                            required=False))
    return checks


def _disk_check() -> Check:
    info = client_mod.client().api.info()
    root = str(info.get("DockerRootDir", "/var/lib/docker"))
    path = root if os.path.exists(root) else None
    if path is None:
        return Check("disk free", True, f"engine data in {root} (remote engine: not checked)",
                     required=False)
    free = shutil.disk_usage(path).free
    return Check("disk free", free >= MIN_FREE_BYTES,
                 f"{human_bytes(free)} free under {root} (want {human_bytes(MIN_FREE_BYTES)})")


def ready(checks: list[Check]) -> bool:
    return all(check.ok for check in checks if check.required)


def render(checks: list[Check]) -> str:
    width = max(len(check.name) for check in checks)
    return "\n".join(f"{check.mark} {check.name.ljust(width)}  {check.detail}" for check in checks)
