"""The checks of notebook 06's "Your turn" tasks."""

from __future__ import annotations

from collections.abc import Mapping

from ...engine import state
from ..registry import Verdict, register
from ._common import _missing, _shell_image, _task


@register("06.keep-a-file",
          goal="In a named volume mydata, have a container my-writer write hello.txt "
               "(containing hello) at /data, then remove my-writer: the file must stay.",
          names={"volume": "mydata", "container": "my-writer"},
          objects=(("container", "container"), ("volume", "volume")),
          solution=("docker volume create {volume}",
                    "docker run --name {container} -v {volume}:/data <shell-image> "
                    "sh -c 'echo hello > /data/hello.txt'",
                    "docker rm {container}"))
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
          objects=(("container", "container"), ("volume", "volume")),
          solution=("docker run -d --name {container} -v {volume}:/data:ro <shell-image> "
                    "sleep 3600",
                    "docker exec {container} cat /data/hello.txt",
                    # refused (a read-only file system): the `!` says this must fail
                    "! docker exec {container} touch /data/x"))
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
