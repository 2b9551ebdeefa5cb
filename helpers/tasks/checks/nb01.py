"""The checks of notebook 01's "Your turn" tasks."""

from __future__ import annotations

from collections.abc import Mapping

from ...engine import state
from ..registry import Verdict, register
from ._common import MIB, _missing, _task


@register("01.memory-limit",
          goal="Run a container my-limited in the background (sleep 3600) with a 64 MiB "
               "memory limit.",
          names={"container": "my-limited"}, objects=(("container", "container"),),
          solution=("docker run -d --name {container} --memory 64m <shell-image> sleep 3600",
                    "docker stats --no-stream {container}"))
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
