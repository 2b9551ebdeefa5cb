"""Notebook 07: the default bridge, user-defined bridges, and who can reach whom.

A small lab of web servers (busybox ``httpd`` on port 8080) on three networks: two containers on
a user-defined bridge A, one on a user-defined bridge B, two on the engine's default bridge.
Every container then tries every other one, by name and by IP address; the result is a
DataFrame and a heatmap. The chart functions here are pure: they take the DataFrame only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .. import journal, labels
from ..charts.style import diagonal_order
from ..display import FactsView
from ..engine import containers, objects
from ..engine import networking as net
from ..engine.networking import ProbeOutcome
from ..session import action

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_BRIDGE = "bridge"
LAB_PORT = 8080
BUILTIN_NETWORKS = ["bridge", "host", "none"]
# The served page names its container, so a probe's answer shows who answered.
SERVER_COMMAND = ['sh', '-c', 'mkdir -p /www && echo "hello from $SERVER_NAME" > /www/index.html'
                  ' && exec httpd -f -p 8080 -h /www']


@dataclass(frozen=True)
class LabMember:
    container: str
    network: str  # "bridge" is the engine's default bridge


def lab_layout(prefix: str = "course-07") -> list[LabMember]:
    """Who sits where: two on bridge A, one on bridge B, two on the default bridge."""
    return [LabMember(f"{prefix}-a1", f"{prefix}-net-a"),
            LabMember(f"{prefix}-a2", f"{prefix}-net-a"),
            LabMember(f"{prefix}-b1", f"{prefix}-net-b"),
            LabMember(f"{prefix}-d1", DEFAULT_BRIDGE),
            LabMember(f"{prefix}-d2", DEFAULT_BRIDGE)]


def _network_label(name: str) -> str:
    return "bridge (default)" if name == DEFAULT_BRIDGE else name


@action
def network_table(notebook: str | None = None) -> pd.DataFrame:
    """``docker network ls``: the three networks every engine has, plus this notebook's."""
    scope = notebook or labels.current_notebook()
    journal.record("docker network ls")
    rows = net.network_rows(BUILTIN_NETWORKS, notebook=scope)
    frame = pd.DataFrame([{"network": r.name, "driver": r.driver, "scope": r.scope,
                           "subnet": r.subnet or "–", "internal": r.internal,
                           "containers attached": r.containers} for r in rows],
                         columns=["network", "driver", "scope", "subnet", "internal",
                                  "containers attached"])
    order = {name: i for i, name in enumerate(BUILTIN_NETWORKS)}
    frame["_order"] = [order.get(name, 9) for name in frame["network"]]
    return frame.sort_values(["_order", "network"]).drop(columns="_order").set_index("network")


def _wait_listening(name: str, port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, _, _ = net.exec_quiet(name, ["nc", "-w", "1", "127.0.0.1", str(port)])
        if code == 0:
            return
        time.sleep(0.2)


@action
def start_lab(image: str, prefix: str = "course-07") -> pd.DataFrame:
    """Create bridges A and B and start the five lab web servers; where each one landed."""
    layout = lab_layout(prefix)
    for network in dict.fromkeys(m.network for m in layout):
        if network != DEFAULT_BRIDGE:
            objects.create_network(network)
    for member in layout:
        extra = [] if member.network == DEFAULT_BRIDGE else [f"--network {member.network}"]
        containers.run(image, name=member.container, command=SERVER_COMMAND,
                       env={"SERVER_NAME": member.container},
                       network=None if member.network == DEFAULT_BRIDGE else member.network,
                       extra_cli=extra)
    for member in layout:
        _wait_listening(member.container, LAB_PORT)
    return endpoints_table([m.container for m in layout], nameserver=True)


@action
def endpoints_table(names: list[str], *, nameserver: bool = False) -> pd.DataFrame:
    """``docker inspect``: each container's networks and addresses (and its DNS server)."""
    journal.record("docker inspect --format '{{json .NetworkSettings.Networks}}' "
                   + " ".join(names))
    rows = []
    for name in names:
        servers = ", ".join(net.nameservers(name)) if nameserver else ""
        for endpoint in net.endpoints(name):
            row = {"container": name, "network": _network_label(endpoint.network),
                   "IP address": endpoint.ip,
                   "aliases": ", ".join(endpoint.aliases) or "–"}
            if nameserver:
                row["DNS server (resolv.conf)"] = servers
            rows.append(row)
    return pd.DataFrame(rows).set_index("container")


def _targets_of(members: list[LabMember], port: int) -> tuple[list[dict], dict[str, str]]:
    """Each target twice: by name and by its IP address on its own network."""
    specs, addresses = [], {}
    for member in members:
        ip = net.ip_address(member.container, member.network)
        addresses[member.container] = ip
        for by, address in (("name", member.container), ("IP", ip)):
            specs.append({"target": member.container, "target network":
                          _network_label(member.network), "by": by, "address": address,
                          "port": port})
    return specs, addresses


def _probe_rows(source: str, source_network: str, specs: list[dict]) -> list[dict]:
    outcomes = net.probe_from_container(source, [(s["address"], s["port"]) for s in specs])
    by_address = {(o.target, o.port): o for o in outcomes}
    rows = []
    for spec in specs:
        outcome = by_address.get((spec["address"], spec["port"]))
        rows.append({"source": source, "source network": source_network, **spec,
                     "outcome": outcome.outcome if outcome else "no answer",
                     "detail": outcome.detail if outcome else "no result"})
    return rows


COLUMNS = ["source", "source network", "target", "target network", "by", "address", "port",
           "outcome", "detail"]


@action
def name_resolution(prefix: str = "course-07") -> pd.DataFrame:
    """One neighbour on a user-defined bridge, one on the default bridge: by name, by IP."""
    layout = {m.container: m for m in lab_layout(prefix)}
    pairs = [(f"{prefix}-a1", f"{prefix}-a2"), (f"{prefix}-d1", f"{prefix}-d2")]
    rows = []
    for source, target in pairs:
        specs, _ = _targets_of([layout[target]], LAB_PORT)
        found = {r["by"]: r for r in _probe_rows(source, layout[source].network, specs)}
        rows.append({"network": _network_label(layout[source].network), "from": source,
                     "to": target, "DNS server": ", ".join(net.nameservers(source)),
                     "by name": found["name"]["outcome"], "by IP": found["IP"]["outcome"],
                     "answer by name": found["name"]["detail"]})
    return pd.DataFrame(rows).set_index("network")


@action
def connectivity_matrix(prefix: str = "course-07") -> pd.DataFrame:
    """Every lab container tries every other one, by name and by IP (one row per attempt)."""
    layout = lab_layout(prefix)
    specs, _ = _targets_of(layout, LAB_PORT)
    rows = []
    for member in layout:
        mine = [s for s in specs if s["target"] != member.container]
        rows += _probe_rows(member.container, _network_label(member.network), mine)
    return pd.DataFrame(rows, columns=COLUMNS)


@action
def probe(source: str, target: str, port: int = LAB_PORT, *, by: str = "name") -> ProbeOutcome:
    """From inside ``source``: does ``target`` (a container name) accept a connection?"""
    address = target if by == "name" else net.ip_address(target)
    return net.probe_from_container(source, [(address, port)])[0]


@action
def connect(container: str, network: str, aliases: list[str] | None = None) -> pd.DataFrame:
    """``docker network connect``: the container gets one more interface; its networks now."""
    net.connect(network, container, aliases=aliases)
    return endpoints_table([container])


@action
def disconnect(container: str, network: str) -> pd.DataFrame:
    """``docker network disconnect``: that interface goes away; the container's networks now."""
    net.disconnect(network, container)
    return endpoints_table([container])


@action
def reachability(image: str, sources: list[str], targets: list[tuple[str, int]], *,
                 prefix: str = "course-07") -> pd.DataFrame:
    """From a fresh container on each network in ``sources``: which targets answer?

    ``targets`` are ``(container name, port)`` pairs, each tried by name and by IP address.
    A probe container is started per source network and removed afterwards.
    """
    specs = []
    for target, port in targets:
        endpoint = net.endpoints(target)[0]
        for by, address in (("name", target), ("IP", endpoint.ip)):
            specs.append({"target": f"{target}:{port}", "target network":
                          _network_label(endpoint.network), "by": by, "address": address,
                          "port": port})
    rows = []
    for number, network in enumerate(sources, start=1):
        name = f"{prefix}-probe{number}"
        extra = [] if network == DEFAULT_BRIDGE else [f"--network {network}"]
        containers.run(image, name=name, command=["sleep", "120"],
                       network=None if network == DEFAULT_BRIDGE else network, extra_cli=extra)
        try:
            for row in _probe_rows(name, _network_label(network), specs):
                row["source"] = f"a container on {row['source network']}"
                rows.append(row)
        finally:
            containers.remove(name)
    return pd.DataFrame(rows, columns=COLUMNS)


# --- pure: tables and charts from the probe DataFrame ----------------------------------------

def matrix_table(frame: pd.DataFrame, by: str = "name") -> pd.DataFrame:
    """Sources as rows, targets as columns, the outcome in each cell ("—": itself)."""
    part = frame[frame["by"] == by]
    table = part.pivot_table(index="source", columns="target", values="outcome",
                             aggfunc="first", sort=False)
    return table.reindex(columns=diagonal_order(list(table.index), list(table.columns))) \
        .fillna("—")


def matrix_chart(frame: pd.DataFrame, **options: str) -> Figure:
    """The probes as a heatmap per way of addressing: :func:`helpers.charts.matrix_chart`."""
    from .. import charts

    return charts.matrix_chart(frame, **options)


# --- port publishing forms ---------------------------------------------------------------------

def published_rows(lines: list[str]) -> list[dict]:
    """``docker port`` lines (``8080/tcp -> 127.0.0.1:49153``) as rows (pure)."""
    rows = []
    for line in lines:
        inner, _, outer = line.partition(" -> ")
        address, _, port = outer.rpartition(":")
        rows.append({"container port": inner, "host address": address,
                     "host port": int(port) if port.isdigit() else None})
    return rows


@action
def publish_forms(image: str, name: str = "course-07-ports") -> pd.DataFrame:
    """One web server published twice: ``-p 127.0.0.1:HOST:8080`` (you choose the host port)
    and ``-p 127.0.0.1::8080`` (the engine chooses one); then an HTTP GET to each."""
    import urllib.request

    from .. import ports
    from ..engine import inspect_more

    chosen = ports.free_port(8088)
    command = ["sh", "-c", f'mkdir -p /www && echo "hello from {name}" > /www/index.html'
               " && exec httpd -f -p 8080 -h /www"]
    inspect_more.run(image, name, command,
                     publish=[f"{ports.LOOPBACK}:{chosen}:8080", f"{ports.LOOPBACK}::8080"])
    _wait_listening(name, LAB_PORT)
    rows = published_rows(inspect_more.port_lines(name))
    for row in rows:
        url = f"http://{row['host address']}:{row['host port']}/"
        journal.record(f"curl {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                row["answer"] = answer.read().decode("utf-8", "replace").strip()
        except OSError as exc:
            row["answer"] = f"no answer ({exc})"
        row["form"] = f"-p {row['host address']}:{chosen}:8080" if row["host port"] == chosen \
            else f"-p {row['host address']}::8080"
    frame = pd.DataFrame(rows, columns=["form", "container port", "host address", "host port",
                                        "answer"])
    return frame.set_index("form")


# --- an internal network: no way out -----------------------------------------------------------

@action
def routes_compared(image: str, networks: list[str],
                    prefix: str = "course-07-route") -> pd.DataFrame:
    """A container on each network prints its routing table (``ip route``): an ``--internal``
    network has no default route, so nothing in it reaches beyond the network."""
    from ..engine import inspect_more

    rows = []
    for number, network in enumerate(networks, start=1):
        name = f"{prefix}{number}"
        inspect_more.run(image, name, ["sleep", "120"], network=network)
        try:
            _, routes = containers.exec_in(name, ["ip", "route"])
        finally:
            containers.remove(name)
        default = [line for line in routes.splitlines() if line.startswith("default")]
        rows.append({"network": network, "default route": default[0] if default else "none",
                     "routes": len([line for line in routes.splitlines() if line.strip()])})
    return pd.DataFrame(rows).set_index("network")


# --- host.docker.internal on Linux -------------------------------------------------------------

@dataclass
class HostGateway(FactsView):
    """What ``--add-host host.docker.internal:host-gateway`` wrote into a container's
    /etc/hosts, next to the default bridge's gateway address."""

    container: str
    hosts_line: str
    address: str
    bridge_gateway: str


@action
def host_gateway(image: str, name: str = "course-07-hostgw") -> HostGateway:
    """Run a container with ``--add-host host.docker.internal:host-gateway`` and read the
    address it got; ``host-gateway`` means the default bridge's gateway (the host's side)."""
    from ..engine import inspect_more

    inspect_more.run(image, name, ["sleep", "60"],
                     add_hosts={"host.docker.internal": "host-gateway"})
    try:
        _, hosts = containers.exec_in(name, ["grep", "host.docker.internal", "/etc/hosts"])
    finally:
        containers.remove(name)
    line = hosts.strip().splitlines()[0] if hosts.strip() else ""
    gateway = inspect_more.network_gateway(DEFAULT_BRIDGE)
    return HostGateway(container=name, hosts_line=line,
                       address=line.split()[0] if line else "", bridge_gateway=gateway)




@action
def create_network(name: str, *, internal: bool = False):
    """``docker network create [--internal] NAME``: a user-defined bridge, labelled."""
    return objects.create_network(name, internal=internal)
