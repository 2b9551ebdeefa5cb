"""The checks of notebook 03's "Your turn" tasks."""

from __future__ import annotations

from collections.abc import Mapping

from ...engine import state
from ..registry import Verdict, register
from ._common import _missing, _task

NEXT_STEP = {"created": "docker start {n}, then docker pause {n}",
             "running": "docker pause {n}",
             "exited": "docker start {n}, then docker pause {n} (its command must keep running: "
                       "sleep 3600)",
             "restarting": "docker update --restart no {n}; docker stop {n}; then start and "
                           "pause it"}


@register("03.paused",
          goal="Walk a container my-box (sleep 3600) through created → running → paused: "
               "docker create, docker start, docker pause.",
          names={"container": "my-box"}, objects=(("container", "container"),),
          solution=("docker create --name {container} <shell-image> sleep 3600",
                    "docker start {container}",
                    "docker pause {container}",
                    "docker ps -a --filter name={container}"))
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
          names={"container": "my-retry"}, objects=(("container", "container"),),
          solution=("docker run -d --name {container} --restart on-failure:3 <shell-image> "
                    "sh -c \"exit 1\"",
                    # the engine waits 100 ms, 200 ms, 400 ms … before each restart
                    "for i in $(seq 30); do [ \"$(docker inspect --format "
                    "'{{.State.Status}} {{.RestartCount}}' {container})\" = 'exited 3' ] "
                    "&& break; sleep 1; done",
                    "docker inspect {container} | grep -E '\"(Status|RestartCount)\":'"))
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
