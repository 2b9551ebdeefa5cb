"""Networks beyond create/remove: attach and detach containers, and probe who reaches whom.

Probes run *inside* containers with busybox ``nc`` (present in the official busybox image and
in the course's stand-in), because reachability is a property of the container's network
namespace, not of the host. One exec per source container runs all its probes in parallel, so
a blocked target costs one timeout, not one per target.

The script builder and the output parser are pure (unit-tested without an engine).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import ClassVar

from .. import journal, labels
from ..display import FactsView
from ..errors import CourseError
from .client import client
from .sdk import docker

PROBE_MARK = "PROBE"
OUTCOMES = ("reachable", "refused", "no answer", "name not resolved")


@dataclass(frozen=True)
class Endpoint(FactsView):
    """One container's attachment to one network, as ``docker inspect`` shows it."""

    RECORDED_AS: ClassVar[str] = "NetworkEndpoint"  # its name in recordings

    container: str
    network: str
    ip: str
    gateway: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeOutcome(FactsView):
    """Could ``source`` open a TCP connection to ``target:port``, and if not, why not."""

    source: str
    target: str
    port: int
    outcome: str  # one of OUTCOMES
    detail: str = ""

    @property
    def reachable(self) -> bool:
        return self.outcome == "reachable"


@dataclass(frozen=True)
class PortBinding:
    container_port: str
    host_ip: str
    host_port: str


# --- pure parts ------------------------------------------------------------------------------

def probe_script(targets: list[tuple[str, int]], *, timeout: int = 2) -> str:
    """A POSIX sh script that probes every ``(host, port)`` in parallel, one line per probe.

    Each probe sends a minimal HTTP request through ``nc`` (an HTTP server answers, any other
    TCP server at least accepts the connection) and prints
    ``PROBE|host|port|exit code|last line of output`` (an error, or the page's last line).
    """
    if not targets:
        raise ValueError("no targets to probe")
    for host, port in targets:
        if not host or any(ch in host for ch in " '\"$`;|&<>\\\n") or not 0 < int(port) < 65536:
            raise ValueError(f"not a host name or address to probe: {host!r}:{port!r}")
    hard_limit = timeout + 3  # nc -w covers the connect; `timeout` also covers a slow DNS answer
    lines = [
        "probe() {",
        f'  out=$(printf "GET / HTTP/1.0\\r\\n\\r\\n" | timeout {hard_limit} nc -w {timeout} '
        '"$1" "$2" 2>&1)',
        "  rc=$?",
        f'  echo "{PROBE_MARK}|$1|$2|$rc|$(echo "$out" | tail -n 1 | tr -cd " -~")"',
        "}",
    ]
    lines += [f"probe {host} {int(port)} &" for host, port in targets]
    lines.append("wait")
    return "\n".join(lines)


def readable_probe_cli(source: str, targets: list[tuple[str, int]], *, timeout: int = 2) -> str:
    """The same probes as a learner would type them (sequential, one ``nc`` per target)."""
    pairs = " ".join(f"{host}:{port}" for host, port in targets)
    loop = (f'for t in {pairs}; do printf "GET / HTTP/1.0\\r\\n\\r\\n" | '
            f'nc -w {timeout} ${{t%:*}} ${{t#*:}} | tail -n 1; done')
    return f"docker exec {source} sh -c {shlex.quote(loop)}"


def classify(exit_code: int, last_line: str) -> str:
    """What a probe's exit code and last output line mean for a learner."""
    text = last_line.lower()
    if "bad address" in text or "unknown host" in text or "name or service" in text:
        return "name not resolved"
    if exit_code == 0:
        return "reachable"
    if "refused" in text:
        return "refused"
    return "no answer"


def parse_probe_output(source: str, output: str) -> list[ProbeOutcome]:
    """The ``PROBE|…`` lines of :func:`probe_script`'s output, in the order they appear."""
    found = []
    for line in output.splitlines():
        if not line.startswith(PROBE_MARK + "|"):
            continue
        parts = line.split("|", 4)
        if len(parts) < 5:
            continue
        _, host, port, code, last = parts
        try:
            exit_code, port_number = int(code), int(port)
        except ValueError:
            continue
        found.append(ProbeOutcome(source=source, target=host, port=port_number,
                                  outcome=classify(exit_code, last), detail=last.strip()[:120]))
    return found


# --- engine parts ----------------------------------------------------------------------------

def _container(name_or_id: str):
    try:
        return client().containers.get(name_or_id)
    except docker.errors.NotFound:
        raise CourseError(f"No container called {name_or_id!r}.",
                          hint="`docker ps -a` lists the containers you have.") from None


def _network(name: str):
    found = [n for n in client().networks.list(names=[name]) if n.name == name]
    if not found:
        raise CourseError(f"No network called {name!r}.",
                          hint="`docker network ls` lists the networks you have.")
    return found[0]


def endpoints(name_or_id: str) -> list[Endpoint]:
    """Every network the container is attached to, with its address there."""
    container = _container(name_or_id)
    networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    short_id = container.id[:12]
    return [Endpoint(container=container.name, network=network, ip=str(data.get("IPAddress", "")),
                     gateway=str(data.get("Gateway", "")),
                     aliases=tuple(a for a in (data.get("Aliases") or [])
                                   if a not in (short_id, container.name)))
            for network, data in sorted(networks.items())]


def ip_address(name_or_id: str, network: str | None = None) -> str:
    """The container's address on ``network`` (or on its first network)."""
    for endpoint in endpoints(name_or_id):
        if network is None or endpoint.network == network:
            return endpoint.ip
    raise CourseError(f"Container {name_or_id!r} is not attached to network {network!r}.")


def connect(network: str, container: str, *, aliases: list[str] | None = None) -> None:
    """``docker network connect``: one more network for a running container."""
    net = _network(network)
    if (net.attrs.get("Labels") or {}).get(labels.COURSE_KEY) != labels.COURSE_VALUE \
            and network not in ("bridge",):
        raise CourseError(f"Network {network!r} was not made by the course; not changing it.")
    target = _container(container)
    if network in {e.network for e in endpoints(container)}:
        return
    try:
        net.connect(target, aliases=list(aliases or []) or None)
    except docker.errors.APIError as exc:
        raise CourseError(f"docker network connect {network} {container} failed: "
                          f"{exc.explanation or exc}") from None
    alias_flags = "".join(f"--alias {alias} " for alias in aliases or [])
    journal.record(f"docker network connect {alias_flags}{network} {container}")


def disconnect(network: str, container: str) -> None:
    """``docker network disconnect``: the container loses that interface (and its DNS)."""
    if network not in {e.network for e in endpoints(container)}:
        return
    try:
        _network(network).disconnect(_container(container))
    except docker.errors.APIError as exc:
        raise CourseError(f"docker network disconnect {network} {container} failed: "
                          f"{exc.explanation or exc}") from None
    journal.record(f"docker network disconnect {network} {container}")


def exec_quiet(name_or_id: str, command: list[str] | str, *,
               environment: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``docker exec`` without a journal line: (exit code, stdout, stderr).

    For polling loops and probes, where the caller journals one readable line itself.
    A container that is not running gives exit code -1 and the engine's reason.
    """
    container = _container(name_or_id)
    try:
        result = container.exec_run(command, environment=environment, demux=True)
    except docker.errors.APIError as exc:
        return -1, "", str(exc.explanation or exc)
    stdout, stderr = result.output if isinstance(result.output, tuple) else (result.output, b"")
    return (int(result.exit_code if result.exit_code is not None else -1),
            (stdout or b"").decode("utf-8", "replace"), (stderr or b"").decode("utf-8", "replace"))


def probe_from_container(source: str, targets: list[tuple[str, int]], *,
                         timeout: int = 2) -> list[ProbeOutcome]:
    """From inside ``source``: which ``(host, port)`` targets accept a TCP connection."""
    code, out, err = exec_quiet(source, ["sh", "-c", probe_script(targets, timeout=timeout)])
    journal.record(readable_probe_cli(source, targets, timeout=timeout))
    found = parse_probe_output(source, out)
    if not found:
        raise CourseError(f"The probe inside {source} printed nothing usable (exit {code}).",
                          hint="the source container needs a shell and busybox `nc` and "
                               "`timeout` (the course's shell image has them).",
                          log_tail=(err or out)[-800:])
    return found


def nameservers(name_or_id: str) -> list[str]:
    """The DNS servers in the container's /etc/resolv.conf (127.0.0.11: Docker's own)."""
    _, out, _ = exec_quiet(name_or_id, ["cat", "/etc/resolv.conf"])
    journal.record(f"docker exec {name_or_id} cat /etc/resolv.conf")
    return [line.split()[1] for line in out.splitlines()
            if line.startswith("nameserver") and len(line.split()) > 1]


def published_bindings(name_or_id: str) -> list[PortBinding]:
    """Where the container's ports are published on the host (empty: none published)."""
    attrs = _container(name_or_id).attrs
    live = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    asked = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    found = []
    for port, bindings in sorted((live or asked).items()):
        for binding in bindings or []:
            found.append(PortBinding(container_port=port, host_ip=str(binding.get("HostIp", "")),
                                     host_port=str(binding.get("HostPort", ""))))
    return found


def restart_count(name_or_id: str) -> int:
    return int(_container(name_or_id).attrs.get("RestartCount", 0) or 0)


def started_at(name_or_id: str) -> str:
    return str((_container(name_or_id).attrs.get("State") or {}).get("StartedAt", ""))


def env_keys(name_or_id: str) -> list[str]:
    """The names (never the values) of the container's environment variables."""
    env = (_container(name_or_id).attrs.get("Config") or {}).get("Env") or []
    return [item.split("=", 1)[0] for item in env]


def volume_exists(name: str) -> bool:
    """Is there a volume of exactly that name (anyone's)? objects.py looks up none by name."""
    found = client().volumes.list(filters={"name": name})
    return any(v.name == name for v in found)


@dataclass(frozen=True)
class NetworkRow:
    name: str
    driver: str
    scope: str
    subnet: str
    internal: bool
    containers: int
    notebook: str = ""


def network_rows(names: list[str] | None = None, *,
                 notebook: str | None = None) -> list[NetworkRow]:
    """``docker network ls`` + ``inspect``: the named networks and/or one notebook's."""
    engine = client()
    found = []
    if names:
        found += [n for n in engine.networks.list(names=names) if n.name in names]
    if notebook:
        found += engine.networks.list(filters=labels.filters(notebook))
    rows, seen = [], set()
    for network in found:
        if network.id in seen:
            continue
        seen.add(network.id)
        network.reload()
        attrs = network.attrs
        configs = (attrs.get("IPAM") or {}).get("Config") or []
        rows.append(NetworkRow(
            name=network.name or "", driver=str(attrs.get("Driver", "")),
            scope=str(attrs.get("Scope", "")),
            subnet=", ".join(str(c.get("Subnet", "")) for c in configs if c.get("Subnet")),
            internal=bool(attrs.get("Internal")), containers=len(attrs.get("Containers") or {}),
            notebook=(attrs.get("Labels") or {}).get(labels.NOTEBOOK_KEY, "")))
    return rows
