"""The checks of notebook 07's "Your turn" tasks."""

from __future__ import annotations

from collections.abc import Mapping

from ...engine import state
from ..registry import Verdict, register
from ._common import _http_status, _loopback_problem, _missing, _task

WEB_COMMAND = "httpd -f -p 8080"


@register("07.reach-by-name",
          goal="Create a network my-net; run a web server my-web (httpd on port 8080) and a "
               "container my-client (sleep 3600) on it; my-client must reach my-web by name.",
          names={"network": "my-net", "server": "my-web", "client": "my-client"},
          objects=(("container", "client"), ("container", "server"), ("network", "network")),
          solution=("docker network create {network}",
                    "docker run -d --name {server} --network {network} <shell-image> "
                    + WEB_COMMAND,
                    "docker run -d --name {client} --network {network} <shell-image> sleep 3600",
                    # the server has no page: a 404 is the answer that proves it was reached
                    "docker exec {client} wget -qO- http://{server}:8080/ 2>&1 "
                    "| grep '404 Not Found'"))
def reach_by_name(names: Mapping[str, str]) -> Verdict:
    """my-net is a user-defined bridge with both containers; my-client reaches my-web:8080."""
    from ...engine import networking

    task = _task("07.reach-by-name")
    net, server, client = names["network"], names["server"], names["client"]
    found = state.network(net)
    if found is None:
        return _missing(task.id, "network", net, f"`docker network create {net}`.")
    for name, command in ((server, WEB_COMMAND), (client, "sleep 3600")):
        container = state.container(name)
        run = f"docker run -d --name {name} --network {net} <shell-image> {command}"
        if container is None:
            return _missing(task.id, "container", name, f"`{run}`.")
        if container.status != "running":
            return task.verdict(False, f"{name} is {container.status}, not running.",
                                f"`docker logs {name}` says why; `docker rm -f {name}`, then "
                                f"`{run}`.")
        if net not in container.networks:
            on = ", ".join(container.networks) or "no network"
            return task.verdict(False, f"{name} is on {on}, not on {net}.",
                                f"`docker network connect {net} {name}`.")
    code, output = state.exec_output(client, ["sh", "-c", networking.probe_script(
        [(server, 8080)], timeout=2)])
    outcomes = networking.parse_probe_output(client, output)
    outcome = outcomes[0].outcome if outcomes else f"no probe result (exit {code})"
    if outcome != "reachable":
        return task.verdict(False, f"{client} cannot reach {server}:8080 by name: {outcome}.",
                            f"is httpd listening on 8080 in {server} (`docker logs {server}`, "
                            f"`docker exec {server} netstat -ltn`)?")
    return task.verdict(True, f"{client} reached {server}:8080 by name over {net} "
                              "(the network's embedded DNS, 127.0.0.11).")


@register("07.publish-loopback",
          goal="Run a web server my-site (httpd on port 8080 inside) published on "
               "127.0.0.1:8097 only.",
          names={"container": "my-site", "port": "8097"}, objects=(("container", "container"),),
          solution=("docker run -d --name {container} -p 127.0.0.1:{port}:8080 <shell-image> "
                    + WEB_COMMAND,
                    "docker port {container}"))
def publish_loopback(names: Mapping[str, str]) -> Verdict:
    """my-site publishes 8080/tcp on 127.0.0.1:8097 exactly, and something answers HTTP there."""
    task, name, port = _task("07.publish-loopback"), names["container"], names["port"]
    run = f"docker run -d --name {name} -p 127.0.0.1:{port}:8080 <shell-image> {WEB_COMMAND}"
    found = state.container(name)
    if found is None:
        return _missing(task.id, "container", name, f"`{run}`.")
    if found.status != "running":
        return task.verdict(False, f"{name} is {found.status}, not running.",
                            f"`docker logs {name}` says why; `docker rm -f {name}`, then `{run}`.")
    problem = _loopback_problem(task.id, found, 8080, str(port),
                                f"`docker rm -f {name}`, then `{run}`.")
    if problem is not None:
        return problem
    status = _http_status(str(port))
    if status is None:
        return task.verdict(False, f"nothing answers HTTP on 127.0.0.1:{port}.",
                            f"does the container run `{WEB_COMMAND}` (`docker logs {name}`)?")
    return task.verdict(True, f"{name} answers on 127.0.0.1:{port} (HTTP {status}) and on no "
                              "other interface.")
