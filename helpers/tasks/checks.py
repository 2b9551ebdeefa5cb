"""The checks of the "Your turn" tasks: each reads the engine state the learner made.

Each check gets the task's names (``names["container"]`` …) and returns a
:class:`~.registry.Verdict` that says what is wrong, specifically, and what to do.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping

from ..engine import state
from .registry import Verdict, get, register

MIB = 1 << 20
ROOT_USERS = ("0", "root")


def _task(check_name: str):  # the task whose check is running
    return get(check_name)


def _http_status(port: str, path: str = "/") -> int | None:
    """The HTTP status 127.0.0.1:``port`` answers ``path`` with (None: no answer at all)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def _missing(task_id: str, kind: str, name: str, hint: str) -> Verdict:
    return _task(task_id).verdict(False, f"there is no {kind} named {name}.", hint)


def _shell_image() -> str:
    from .. import resolver

    return resolver.resolve("shell").reference


def _is_root(user: str) -> bool:
    return user.split(":", 1)[0].strip() in ROOT_USERS


# --- 01 -------------------------------------------------------------------------------------

@register("01.memory-limit",
          goal="Run a container my-limited in the background (sleep 3600) with a 64 MiB "
               "memory limit.",
          names={"container": "my-limited"}, objects=(("container", "container"),))
def memory_limit(names: Mapping[str, str]) -> Verdict:
    """my-limited exists, runs, and its cgroup limit is exactly 64 MiB."""
    task, name = _task("01.memory-limit"), names["container"]
    run = f"docker run -d --name {name} --memory 64m <shell-image> sleep 3600"
    found = state.container(name)
    if found is None:
        return _missing(task.id, "container", name, f"`{run}`.")
    if found.memory_bytes == 0:
        return task.verdict(False, f"{name} has no memory limit.",
                            f"a limit is set when the container is created: `docker rm -f "
                            f"{name}`, then `{run}`.")
    if found.memory_bytes != 64 * MIB:
        return task.verdict(False, f"{name}'s memory limit is {found.memory_bytes / MIB:g} MiB, "
                                   "not 64 MiB.",
                            f"`docker rm -f {name}`, then run it again with `--memory 64m`.")
    if found.status != "running":
        return task.verdict(False, f"{name} is {found.status}, not running.",
                            f"its command must keep running (`sleep 3600`); `docker logs {name}`"
                            f" says why it ended, `docker start {name}` starts it again.")
    return task.verdict(True, f"{name} runs with a 64 MiB memory limit (docker inspect: "
                              f"HostConfig.Memory = {found.memory_bytes:,}).")


# --- 03 -------------------------------------------------------------------------------------

NEXT_STEP = {"created": "docker start {n}, then docker pause {n}",
             "running": "docker pause {n}",
             "exited": "docker start {n}, then docker pause {n} (its command must keep running: "
                       "sleep 3600)",
             "restarting": "docker update --restart no {n}; docker stop {n}; then start and "
                           "pause it"}


@register("03.paused",
          goal="Walk a container my-box (sleep 3600) through created → running → paused: "
               "docker create, docker start, docker pause.",
          names={"container": "my-box"}, objects=(("container", "container"),))
def paused(names: Mapping[str, str]) -> Verdict:
    """my-box is paused (so it was created and started before)."""
    task, name = _task("03.paused"), names["container"]
    found = state.container(name)
    if found is None:
        return _missing(task.id, "container", name,
                        f"`docker create --name {name} <shell-image> sleep 3600`.")
    if found.status == "paused":
        return task.verdict(True, f"{name} is paused: its processes are frozen by the cgroup "
                                  "freezer (`docker unpause` thaws them).")
    step = NEXT_STEP.get(found.status, "docker rm -f {n} and start over").format(n=name)
    return task.verdict(False, f"{name} is {found.status}, not paused.", f"`{step}`.")


@register("03.restart-policy",
          goal="Run a container my-retry whose command fails (sh -c \"exit 1\") with the "
               "restart policy on-failure:3, and let the engine give up after 3 restarts.",
          names={"container": "my-retry"}, objects=(("container", "container"),))
def restart_policy(names: Mapping[str, str]) -> Verdict:
    """my-retry has on-failure:3, a failing command, and ended exited after 3 restarts."""
    task, name = _task("03.restart-policy"), names["container"]
    run = f"docker run -d --name {name} --restart on-failure:3 <shell-image> sh -c \"exit 1\""
    found = state.container(name)
    if found is None:
        return _missing(task.id, "container", name, f"`{run}`.")
    if found.restart_policy != "on-failure":
        return task.verdict(False, f"{name}'s restart policy is {found.restart_policy!r}, "
                                   "not on-failure.",
                            f"`docker rm -f {name}`, then `{run}`.")
    if found.restart_retries != 3:
        return task.verdict(False, f"{name} may restart {found.restart_retries or 'unlimited'} "
                                   "times, not 3.",
                            "write the limit after a colon: `--restart on-failure:3`.")
    if found.status in ("running", "restarting") or (
            found.status == "exited" and found.exit_code != 0 and found.restart_count < 3):
        return task.verdict(False, f"{name} is still {found.status} ({found.restart_count} "
                                   "restarts so far).",
                            "the engine waits longer before each restart: check again in a "
                            "few seconds. If it keeps running, its command does not fail.")
    if found.exit_code == 0:
        return task.verdict(False, f"{name}'s command exited with 0, so on-failure never "
                                   "restarted it.",
                            f"give it a failing command: `sh -c \"exit 1\"` "
                            f"(`docker rm -f {name}` first).")
    return task.verdict(True, f"{name} failed, was restarted {found.restart_count} times, then "
                              f"the engine gave up: exited ({found.exit_code}).")


# --- 06 -------------------------------------------------------------------------------------

@register("06.keep-a-file",
          goal="In a named volume mydata, have a container my-writer write hello.txt "
               "(containing hello) at /data, then remove my-writer: the file must stay.",
          names={"volume": "mydata", "container": "my-writer"},
          objects=(("container", "container"), ("volume", "volume")))
def keep_a_file(names: Mapping[str, str]) -> Verdict:
    """The volume holds hello.txt with "hello", and its writer container is gone."""
    task, volume, writer = _task("06.keep-a-file"), names["volume"], names["container"]
    run = (f"docker run --name {writer} -v {volume}:/data <shell-image> "
           "sh -c 'echo hello > /data/hello.txt'")
    if not state.volume_exists(volume):
        return _missing(task.id, "volume", volume,
                        f"`docker volume create {volume}` (or let `-v {volume}:/data` make it).")
    text = state.read_volume_file(volume, "hello.txt", _shell_image())
    if text is None:
        return task.verdict(False, f"hello.txt is not in the volume {volume}.",
                            f"mount the volume where you write: `{run}`. A file written "
                            "anywhere else stays in the container's writable layer.")
    if "hello" not in text:
        return task.verdict(False, f"hello.txt in {volume} holds {text.strip()[:40]!r}, "
                                   "not hello.",
                            f"write it again: `{run}`.")
    if state.container(writer) is not None:
        return task.verdict(False, f"{writer} still exists, so nothing shows yet that the "
                                   "file outlives it.", f"`docker rm {writer}`.")
    return task.verdict(True, f"{writer} is gone and {volume} still holds hello.txt.")


@register("06.read-only",
          goal="Run a container my-reader (sleep 3600) that mounts the volume mydata "
               "read-only at /data.",
          names={"volume": "mydata", "container": "my-reader"},
          objects=(("container", "container"), ("volume", "volume")))
def read_only(names: Mapping[str, str]) -> Verdict:
    """my-reader runs with mydata mounted at /data, read-only."""
    task, volume, name = _task("06.read-only"), names["volume"], names["container"]
    run = f"docker run -d --name {name} -v {volume}:/data:ro <shell-image> sleep 3600"
    found = state.container(name)
    if found is None:
        return _missing(task.id, "container", name, f"`{run}`.")
    mounts = [m for m in found.mounts if m.type == "volume" and m.name == volume]
    if not mounts:
        return task.verdict(False, f"{name} does not mount the volume {volume}.",
                            f"mounts are fixed at creation: `docker rm -f {name}`, then `{run}`.")
    mount = mounts[0]
    if mount.destination != "/data":
        return task.verdict(False, f"{name} mounts {volume} at {mount.destination}, not /data.",
                            f"`docker rm -f {name}`, then `{run}`.")
    if mount.rw:
        return task.verdict(False, f"{name} mounts {volume} read-write.",
                            f"add `:ro` after the target (`-v {volume}:/data:ro`): "
                            f"`docker rm -f {name}`, then `{run}`.")
    if found.status != "running":
        return task.verdict(False, f"{name} is {found.status}, not running.",
                            f"give it a command that keeps running (`sleep 3600`), or "
                            f"`docker start {name}`.")
    return task.verdict(True, f"{name} reads {volume} at /data, and cannot write to it.")


# --- 07 -------------------------------------------------------------------------------------

WEB_COMMAND = "httpd -f -p 8080"


@register("07.reach-by-name",
          goal="Create a network my-net; run a web server my-web (httpd on port 8080) and a "
               "container my-client (sleep 3600) on it; my-client must reach my-web by name.",
          names={"network": "my-net", "server": "my-web", "client": "my-client"},
          objects=(("container", "client"), ("container", "server"), ("network", "network")))
def reach_by_name(names: Mapping[str, str]) -> Verdict:
    """my-net is a user-defined bridge with both containers; my-client reaches my-web:8080."""
    from ..engine import networking

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
          names={"container": "my-site", "port": "8097"}, objects=(("container", "container"),))
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
    bindings = found.ports.get("8080/tcp") or []
    if not bindings:
        elsewhere = [p for p, b in found.ports.items() if b]
        where = f" (it publishes {', '.join(elsewhere)})" if elsewhere else ""
        return task.verdict(False, f"{name} does not publish its port 8080{where}.",
                            f"`-p 127.0.0.1:{port}:8080` (host address:host port:container "
                            f"port): `docker rm -f {name}`, then `{run}`.")
    addresses = sorted({ip for ip, _ in bindings})
    if any(ip not in ("127.0.0.1",) for ip in addresses):
        shown = ", ".join(ip or "0.0.0.0" for ip in addresses)
        return task.verdict(False, f"{name} publishes 8080 on {shown}: every interface, so "
                                   "other machines may connect.",
                            f"put the address first: `-p 127.0.0.1:{port}:8080` "
                            f"(`docker rm -f {name}` first).")
    host_ports = sorted({p for _, p in bindings})
    if host_ports != [str(port)]:
        return task.verdict(False, f"{name} publishes 8080 on host port "
                                   f"{', '.join(host_ports)}, not {port}.",
                            f"`docker rm -f {name}`, then `{run}`.")
    status = _http_status(str(port))
    if status is None:
        return task.verdict(False, f"nothing answers HTTP on 127.0.0.1:{port}.",
                            f"does the container run `{WEB_COMMAND}` (`docker logs {name}`)?")
    return task.verdict(True, f"{name} answers on 127.0.0.1:{port} (HTTP {status}) and on no "
                              "other interface.")


# --- 09 -------------------------------------------------------------------------------------

BASE_PACKAGES = {"pip", "setuptools", "wheel"}
SERIOUS = ("CRITICAL", "HIGH")


@register("09.fixed-image",
          goal="Build my-app:fixed from data/apps/flask-app with pins that leave no HIGH or "
               "CRITICAL finding in the app's Python packages.",
          names={"image": "my-app:fixed"}, objects=(("image", "image"),))
def fixed_image(names: Mapping[str, str]) -> Verdict:
    """The built-in scanner finds no HIGH/CRITICAL advisory in my-app:fixed's app packages."""
    from ..engine import images
    from ..scan.scanner import scan_source

    task, image = _task("09.fixed-image"), names["image"]
    build = (f"docker build -t {image} --build-arg REQUIREMENTS=requirements-bumped.txt "
             "--build-arg PYTHON_IMAGE=<python-image> data/apps/flask-app")
    if not state.image_exists(image):
        return _missing(task.id, "image", image, f"`{build}`.")
    result = scan_source(images.export_stream(image), target=image)
    serious = sorted({(f.package, f.installed, f.id, f.severity, f.fixed)
                      for f in result.findings
                      if f.severity in SERIOUS and f.package.lower() not in BASE_PACKAGES})
    judged = result.coverage.judged if result.coverage is not None else 0
    if not judged:
        return task.verdict(False, f"the scanner judged no package of {image}: is it the "
                                   "flask-app image?", f"`{build}`.")
    if serious:
        shown = "; ".join(f"{p} {v} {i} ({s}, fixed in {fx or 'no release yet'})"
                          for p, v, i, s, fx in serious[:4])
        more = f" and {len(serious) - 4} more" if len(serious) > 4 else ""
        return task.verdict(False, f"{image} still has {shown}{more}.",
                            "pin each at or above its fixed version (requirements-bumped.txt "
                            f"does), then rebuild: `{build}`.")
    return task.verdict(True, f"{image}: no HIGH or CRITICAL finding in the app's packages "
                              f"({judged} packages judged; the base image's pip/setuptools "
                              "aside).")


@register("09.run-non-root",
          goal="Run my-app:fixed as container my-app, published on 127.0.0.1:5019 (the app "
               "listens on 5000), as the image's non-root user; /health must answer 200.",
          names={"container": "my-app", "image": "my-app:fixed", "port": "5019"},
          objects=(("container", "container"),))
def run_non_root(names: Mapping[str, str]) -> Verdict:
    """my-app runs my-app:fixed, not as root, on 127.0.0.1:5019, and /health answers 200."""
    task = _task("09.run-non-root")
    name, image, port = names["container"], names["image"], names["port"]
    run = f"docker run -d --name {name} -p 127.0.0.1:{port}:5000 {image}"
    found = state.container(name)
    if found is None:
        return _missing(task.id, "container", name, f"`{run}`.")
    if found.image != image:
        return task.verdict(False, f"{name} runs {found.image}, not {image}.",
                            f"`docker rm -f {name}`, then `{run}`.")
    if found.status != "running":
        return task.verdict(False, f"{name} is {found.status}, not running.",
                            f"`docker logs {name}` says why; `docker rm -f {name}`, then `{run}`.")
    if _is_root(found.user):
        return task.verdict(False, f"{name} runs as root (--user {found.user}): a flaw in the "
                                   "app would own the whole container.",
                            f"leave out --user: the image runs as uid 10001. "
                            f"`docker rm -f {name}`, then `{run}`.")
    code, uid = state.exec_output(name, ["id", "-u"])
    if code == 0 and uid.strip() == "0":
        return task.verdict(False, f"{name}'s processes run as uid 0 (root).",
                            f"use the image's own user: `docker rm -f {name}`, then `{run}`.")
    bindings = found.ports.get("5000/tcp") or []
    if not bindings:
        return task.verdict(False, f"{name} does not publish the app's port 5000.",
                            f"`docker rm -f {name}`, then `{run}`.")
    if any(ip != "127.0.0.1" for ip, _ in bindings):
        return task.verdict(False, f"{name} publishes 5000 on every interface.",
                            f"bind to loopback: `-p 127.0.0.1:{port}:5000`.")
    if sorted({p for _, p in bindings}) != [str(port)]:
        return task.verdict(False, f"{name} publishes 5000 on host port "
                                   f"{', '.join(sorted({p for _, p in bindings}))}, not {port}.",
                            f"`docker rm -f {name}`, then `{run}`.")
    status = _http_status(str(port), "/health")
    if status != 200:
        return task.verdict(False, f"http://127.0.0.1:{port}/health answered "
                                   f"{status or 'nothing'}, not 200.",
                            "the app needs a few seconds to start: check again; else "
                            f"`docker logs {name}`.")
    return task.verdict(True, f"{name} answers /health on 127.0.0.1:{port} as uid "
                              f"{uid.strip() or found.user}, not root.")
