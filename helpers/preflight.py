"""Is this machine ready for the course? One table, and a yes/no a script can use."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

from . import catalog, ports, resolver
from .engine import client as client_mod
from .errors import CourseError
from .units import human_bytes

MIN_FREE_BYTES = 5 * 10**9  # images, build cache and a database: a few GB
MIN_ENGINE = (25, 0)      # Engine 25 = API 1.44; older engines are end of life
MIN_API = (1, 44)
MIN_COMPOSE = (2, 0)
INSTALL = ("install a current Docker Engine (28 or newer) with the buildx and Compose v2 "
           "plugins: Docker Desktop, or docker-ce + docker-buildx-plugin + "
           "docker-compose-plugin from Docker's apt/yum repository (README, 'Getting a Docker "
           "Engine')")
COURSE_PORTS = (5000, 5001, 5050, 8080)
# Notebooks that reach a published port on 127.0.0.1, or bind-mount a folder of this machine:
# both need the engine on this machine (see remote_check).
NEEDS_LOCAL_PORTS = ("02", "05", "07", "08")
NEEDS_LOCAL_FOLDERS = ("06", "07", "08")


@dataclass
class Check:
    """One line of the preflight table; ``fix`` says what to do when a required check fails."""

    name: str
    ok: bool
    detail: str
    required: bool = True
    fix: str = ""

    @property
    def mark(self) -> str:
        return "✔" if self.ok else ("✘" if self.required else "!")


def run_checks() -> list[Check]:
    """Engine first: without it the other checks cannot be asked.

    The first line names the engine address the course uses and where it came from
    (DOCKER_HOST, a Docker context, or the default socket), as the ``docker`` CLI would pick it.
    """
    try:
        where = client_mod.endpoint()
    except CourseError as exc:
        return [Check("Docker Engine", False, exc.message, fix=exc.hint)]
    address = Check("engine address", True, where.label)
    try:
        facts = client_mod.engine_facts()
    except CourseError as exc:
        return [address, Check("Docker Engine", False, exc.message, fix=exc.hint)]
    engine_ok = _version_tuple(facts.server_version) >= MIN_ENGINE and \
        _version_tuple(facts.api_version) >= MIN_API
    checks = [Check("Docker Engine", engine_ok,
                    f"{facts.server_version} (API {facts.api_version}, {facts.os_type}/"
                    f"{facts.architecture})" + ("" if engine_ok else
                                                ": end of life, Engine ≥ 25 needed"),
                    fix=f"Engine {facts.server_version} is too old: {INSTALL}"),
              Check("image store", True, f"{facts.image_store}, storage driver "
                                         f"{facts.storage_driver}")]
    buildx_ok = facts.buildx != "not installed"
    checks.append(Check("buildx (BuildKit)", buildx_ok,
                        facts.buildx if buildx_ok else "not installed",
                        fix=f"the buildx plugin is missing: {INSTALL}"))
    checks.append(_compose_check(facts.compose))
    checks.append(_disk_check(remote=where.remote))
    for key in catalog.CATALOG:
        ok, detail = resolver.resolvable(key)
        checks.append(Check(f"image: {key}", ok, detail))
    if where.remote:
        checks.append(remote_check(where.host))
    for port in COURSE_PORTS:
        free = ports.is_free(port)
        checks.append(Check(f"port 127.0.0.1:{port}", free,
                            ("free" if free else "in use (the course will pick another)")
                            + (" here; a remote engine publishes on its own host"
                               if where.remote else ""),
                            required=False))
    return [address, *checks]


def remote_check(host: str) -> Check:
    """A warning line for an engine on another machine: which parts need the engine here.

    The engine itself answers, so builds, images, layers, scans and ``docker`` commands work;
    what the course reaches on 127.0.0.1 or shares as a folder of this machine does not.
    """
    return Check("remote engine", False,
                 f"{host} is another machine. Builds, images, layer and scan notebooks work; "
                 "these need the engine on this machine: the HTTP checks on 127.0.0.1 "
                 f"(notebooks {', '.join(NEEDS_LOCAL_PORTS)}), the bind mounts of this "
                 f"machine's folders (notebooks {', '.join(NEEDS_LOCAL_FOLDERS)}), and the "
                 "port and disk checks here. Run the course on the engine's machine, or use a "
                 "local engine (`docker context use default`).",
                 required=False)


def _version_tuple(text: str) -> tuple[int, ...]:
    """``28.5.2+dfsg4`` → (28, 5, 2); ``v2.40.3-3`` → (2, 40, 3); unknown → (0,)."""
    match = re.match(r"\d+(?:\.\d+)*", text.strip().lstrip("v"))
    return tuple(int(part) for part in match.group(0).split(".")) if match else (0,)


def _compose_check(compose: str) -> Check:
    if compose == "not installed":
        why = ("only the retired `docker-compose` (v1, end of life July 2023) is installed"
               if client_mod.compose_v1_only() else "`docker compose` (v2) is not installed")
        return Check("Compose v2", False, why, fix=f"{why}: {INSTALL}")
    version = compose.split()[-1]
    ok = _version_tuple(version) >= MIN_COMPOSE
    return Check("Compose v2", ok, compose if ok else f"{compose}: too old",
                 fix=f"{compose} is too old: {INSTALL}")


def _disk_check(*, remote: bool = False) -> Check:
    root = client_mod.engine_info("DockerRootDir", "/var/lib/docker")
    path = root if os.path.exists(root) and not remote else None
    if path is None:
        return Check("disk free", True, f"engine data in {root} (remote engine: not checked)",
                     required=False)
    free = shutil.disk_usage(path).free
    return Check("disk free", free >= MIN_FREE_BYTES,
                 f"{human_bytes(free)} free under {root} (want {human_bytes(MIN_FREE_BYTES)})")


def ready(checks: list[Check]) -> bool:
    return all(check.ok for check in checks if check.required)


def blocking_line(checks: list[Check]) -> str | None:
    """One line naming what stops the course and what to install, or None when ready."""
    failed = [check for check in checks if check.required and not check.ok]
    if not failed:
        return None
    first = failed[0]
    return f"Not ready: {first.fix or first.name + ' ' + first.detail}"


def render(checks: list[Check]) -> str:
    width = max(len(check.name) for check in checks)
    return "\n".join(f"{check.mark} {check.name.ljust(width)}  {check.detail}" for check in checks)
