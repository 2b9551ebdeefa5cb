"""Small engine calls for the issue-13 topics: PID 1 and signals, restart policies, ports,
``docker system df``, anonymous volumes.

Every container made here carries the course's labels and is noted as the course's at
creation, so the notebook's cleanup removes it. Each call journals the CLI line built from the
arguments that ran.
"""

from __future__ import annotations

import contextlib
import shlex
import time

from .. import journal, labels, ports
from . import ownership
from .client import client
from .sdk import docker


def run_cli(image: str, name: str, command: list[str] | str | None = None, *,
            init: bool = False, restart: str | None = None, user: str | None = None,
            network: str | None = None, volumes: list[str] | None = None,
            publish: list[str] | None = None, publish_all: bool = False,
            add_hosts: dict[str, str] | None = None, entrypoint: list[str] | None = None,
            stop_signal: str | None = None) -> str:
    """The ``docker run -d …`` line for :func:`run` (pure: no engine)."""
    parts = ["docker", "run", "-d", "--name", name]
    if init:
        parts.append("--init")
    if restart:
        parts += ["--restart", restart]
    if user:
        parts += ["--user", user]
    if network:
        parts += ["--network", network]
    for volume in volumes or []:
        parts += ["-v", volume]
    for spec in publish or []:
        parts += ["-p", spec]
    if publish_all:
        parts.append("-P")
    for host, address in (add_hosts or {}).items():
        parts += ["--add-host", f"{host}:{address}"]
    if stop_signal:
        parts += ["--stop-signal", stop_signal]
    if entrypoint:
        parts += ["--entrypoint", entrypoint[0]]
    parts.append(image)
    rest = list(entrypoint[1:]) if entrypoint else []
    if isinstance(command, str):
        rest.append(command)
    elif command:
        rest += command
    return shlex.join(parts) + ("" if not rest else " " + shlex.join(rest))


def port_bindings(publish: list[str]) -> dict[str, list[tuple]]:
    """``-p`` specs (``IP:HOST:CONTAINER[/proto]``, ``IP::CONTAINER``) as SDK port bindings
    (pure): ``(IP, PORT)``, or ``(IP,)`` for a port the engine chooses."""
    bindings: dict[str, list[tuple]] = {}
    for spec in publish:
        address, host, inner = spec.split(":")
        key = inner if "/" in inner else f"{inner}/tcp"
        bindings.setdefault(key, []).append((address or ports.LOOPBACK, int(host)) if host
                                            else (address or ports.LOOPBACK,))
    return bindings


def run(image: str, name: str, command: list[str] | str | None = None, **options) -> str:
    """``docker run -d`` with the options of :func:`run_cli`; returns the container id.

    A course container of the same name is replaced; anyone else's raises ``CourseError``.
    """
    from .containers import remove_if_ours

    remove_if_ours(name)
    cli = run_cli(image, name, command, **options)
    kwargs: dict = {"image": image, "name": name, "command": command, "detach": True,
                    "labels": labels.for_new_object(), "init": options.get("init") or None,
                    "user": options.get("user"), "network": options.get("network"),
                    "stop_signal": options.get("stop_signal"),
                    "entrypoint": options.get("entrypoint")}
    if options.get("restart"):
        policy, _, retries = options["restart"].partition(":")
        kwargs["restart_policy"] = {"Name": policy, "MaximumRetryCount": int(retries or 0)}
    named = [v for v in options.get("volumes") or [] if ":" in v]
    anonymous = [v for v in options.get("volumes") or [] if ":" not in v]
    if named:
        kwargs["volumes"] = named
    if anonymous:  # `-v /path`: a volume Docker creates and names itself
        kwargs["mounts"] = [docker.types.Mount(target=path, source=None, type="volume")
                            for path in anonymous]
    if options.get("publish"):
        kwargs["ports"] = port_bindings(options["publish"])
    if options.get("publish_all"):
        kwargs["publish_all_ports"] = True
    if options.get("add_hosts"):
        kwargs["extra_hosts"] = dict(options["add_hosts"])
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    container = client().containers.create(**kwargs)
    assert container.id is not None, "the engine answers a create with the container's id"
    ownership.note_container(container.id, name)
    try:
        container.start()
    except docker.errors.APIError:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=True)
        journal.record(cli, ok=False)
        raise
    journal.record(cli)
    return container.id


def state(name: str) -> dict:
    """The container's ``State`` and restart facts, as ``docker inspect`` shows them."""
    attrs = client().api.inspect_container(name)
    status = attrs.get("State") or {}
    policy = (attrs.get("HostConfig") or {}).get("RestartPolicy") or {}
    return {"status": status.get("Status", ""), "exit_code": status.get("ExitCode"),
            "restart_count": int(attrs.get("RestartCount") or 0),
            "policy": policy.get("Name") or "no",
            "max_retries": int(policy.get("MaximumRetryCount") or 0),
            "pid": status.get("Pid"), "oom_killed": bool(status.get("OOMKilled"))}


def timed_stop(name: str, timeout: int = 10) -> tuple[float, int]:
    """``docker stop -t TIMEOUT NAME``, timed: (seconds it took, the exit code)."""
    started = time.monotonic()
    client().api.stop(name, timeout=timeout)
    seconds = time.monotonic() - started
    journal.record(f"time docker stop -t {timeout} {name}", seconds=seconds)
    return seconds, int(state(name)["exit_code"] or 0)


def port_lines(name: str) -> list[str]:
    """``docker port NAME``: one ``CONTAINER/proto -> ADDRESS:PORT`` line per binding."""
    journal.record(f"docker port {name}")
    attrs = client().api.inspect_container(name)
    found = ((attrs.get("NetworkSettings") or {}).get("Ports")) or {}
    lines = []
    for key, bindings in sorted(found.items()):
        for binding in bindings or []:
            lines.append(f"{key} -> {binding.get('HostIp')}:{binding.get('HostPort')}")
    return lines


def image_platform(reference: str) -> dict:
    """``docker image inspect``: the platform (os/architecture/variant) of a local image."""
    journal.record(f"docker image inspect --format '{{{{.Os}}}}/{{{{.Architecture}}}}' "
                   f"{reference}")
    attrs = client().api.inspect_image(reference)
    return {"os": attrs.get("Os", ""), "architecture": attrs.get("Architecture", ""),
            "variant": attrs.get("Variant", "")}


def mounts(name: str) -> list[dict]:
    """``docker inspect --format '{{json .Mounts}}'``: the container's mounts, raw."""
    journal.record(f"docker inspect --format '{{{{json .Mounts}}}}' {name}")
    return list(client().api.inspect_container(name).get("Mounts") or [])


def volume_present(name: str) -> bool:
    """``docker volume inspect NAME`` succeeds (the one lookup lives in :mod:`.state`)."""
    from .state import volume_exists

    return volume_exists(name)


def system_df() -> dict:
    """``docker system df``: the engine's raw disk-usage report (images, containers, volumes,
    build cache)."""
    journal.record("docker system df")
    return retry_on_vanished(client().api.df)


def network_gateway(network: str) -> str:
    """``docker network inspect``: the network's (first) gateway address."""
    journal.record(f"docker network inspect {network} "
                   "--format '{{(index .IPAM.Config 0).Gateway}}'")
    config = (client().api.inspect_network(network).get("IPAM") or {}).get("Config") or []
    return str(config[0].get("Gateway", "")) if config else ""


def engine_platform() -> str:
    """``docker version --format '{{.Server.Os}}/{{.Server.Arch}}'``: the engine's platform."""
    journal.record("docker version --format '{{.Server.Os}}/{{.Server.Arch}}'")
    version = client().api.version()
    return f"{version.get('Os', '')}/{version.get('Arch', '')}"


def retry_on_vanished(call, *args, attempts: int = 4, **kwargs):
    """Call ``call(*args, **kwargs)`` again (up to ``attempts`` times, 1 s apart) when the
    engine answers 404 because an object vanished meanwhile: ``docker system df`` fails so
    when another client removes an image or build snapshot while the engine sums up sizes."""
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except docker.errors.NotFound:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    return None
