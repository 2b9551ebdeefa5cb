"""What the checks share: the running task, an HTTP probe, the "no such object" verdict."""

from __future__ import annotations

from ..registry import TASKS, Verdict

MIB = 1 << 20
ROOT_USERS = ("0", "root")


def _task(check_name: str):  # the task whose check is running
    return TASKS[check_name]


def _http_status(port: str, path: str = "/") -> int | None:
    """The HTTP status 127.0.0.1:``port`` answers ``path`` with (None: no answer at all)."""
    import urllib.error  # here: urllib.request pulls in ssl (~40 ms), and only a check needs it
    import urllib.request

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
    from ... import resolver

    return resolver.resolve("shell").reference


def _is_root(user: str) -> bool:
    return user.split(":", 1)[0].strip() in ROOT_USERS


def _loopback_problem(task_id: str, found, container_port: int, host_port: str,
                      again: str) -> Verdict | None:
    """What is wrong with how ``found`` (a ContainerState) publishes ``container_port``.

    None when it is published on 127.0.0.1:``host_port`` only; else a "not yet" verdict that
    names the fault (not published, every interface, another host port), with ``again`` (the
    commands that fix it) as the hint.
    """
    task, name, key = _task(task_id), found.name, f"{container_port}/tcp"
    bindings = found.ports.get(key) or []
    if not bindings:
        elsewhere = [p for p, b in found.ports.items() if b]
        where = f" (it publishes {', '.join(elsewhere)})" if elsewhere else ""
        return task.verdict(False, f"{name} does not publish its port {container_port}{where}.",
                            f"ports are fixed at creation, `-p 127.0.0.1:{host_port}:"
                            f"{container_port}` (address:host port:container port): {again}")
    if any(ip != "127.0.0.1" for ip, _ in bindings):
        shown = ", ".join(sorted({ip or "0.0.0.0" for ip, _ in bindings}))
        return task.verdict(False, f"{name} publishes {container_port} on {shown}: every "
                                   "interface, so other machines may connect.",
                            f"put the address first, `-p 127.0.0.1:{host_port}:"
                            f"{container_port}`: {again}")
    host_ports = sorted({p for _, p in bindings})
    if host_ports != [str(host_port)]:
        return task.verdict(False, f"{name} publishes {container_port} on host port "
                                   f"{', '.join(host_ports)}, not {host_port}.", again)
    return None


def _running(task_id: str, name: str, image: str, run: str, again: str):
    """The container ``name`` when it exists, was created from ``image`` and runs.

    Returns ``(ContainerState, None)``, or ``(None, verdict)`` saying what is wrong: no such
    container (hint: ``run``), another image or not running (hint: ``again``).
    """
    from ...engine import state

    task, found = _task(task_id), state.container(name)
    if found is None:
        return None, _missing(task_id, "container", name, f"`{run}`.")
    if found.image != image:
        return None, task.verdict(False, f"{name} runs {found.image}, not {image}.",
                                  f"a container keeps the image it was created from: {again}")
    if found.status != "running":
        return None, task.verdict(False, f"{name} is {found.status}, not running.",
                                  f"`docker logs {name}` says why; {again}")
    return found, None
