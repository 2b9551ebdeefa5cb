"""Notebook 01: what a container shares with its host and what it does not, measured."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass

import pandas as pd

from .. import journal
from ..display import FactsView
from ..engine import client as client_mod
from ..engine import containers, images
from ..session import action

# Typical disk sizes of small VMs, for comparison with image sizes. These are reference values
# (minimal server installs and cloud images), not measurements of this machine.
VM_REFERENCE_DISKS = {
    "Debian 12 cloud image (qcow2, minimal)": 360_000_000,
    "Ubuntu Server 24.04 minimal install": 2_500_000_000,
    "Windows Server Core VM": 9_000_000_000,
}


@action
def start_latency(image: str, runs: int = 10) -> pd.DataFrame:
    """Time ``docker run --rm IMAGE true`` several times: create, start, run, exit, remove."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    rows = [{"run": number, "seconds": round(seconds, 3)} for number, seconds
            in enumerate(containers.time_runs(image, ["true"], runs), start=1)]
    journal.record(f"for i in $(seq {runs}); do time docker run --rm {image} true; done")
    return pd.DataFrame(rows).set_index("run")


@dataclass
class KernelComparison(FactsView):
    """The engine host's kernel and the kernel a container reports: the same one."""

    host_kernel: str
    container_kernel: str

    @property
    def shared(self) -> bool:
        return self.host_kernel == self.container_kernel


@action
def kernel_inside_vs_host(image: str) -> KernelComparison:
    host = client_mod.engine_info("KernelVersion")
    journal.record("docker info --format '{{.KernelVersion}}'")
    _, output, _ = containers.run_once(image, ["uname", "-r"])
    return KernelComparison(host_kernel=host, container_kernel=output.strip())


@dataclass
class PidView(FactsView):
    """Process IDs seen from inside a container and from the host."""

    pid_inside: int
    processes_visible_inside: int
    pid_on_host: int


@action
def pid_namespace(image: str, name: str = "course-01-pid") -> PidView:
    """A container's main process is PID 1 inside, an ordinary PID on the host."""
    info = containers.run(image, name=name, command=["sleep", "60"])
    try:
        host_pid = containers.host_pid(info.id)
        journal.record(f"docker inspect --format '{{{{.State.Pid}}}}' {name}")
        _, listing = containers.exec_in(name, ["ps", "-o", "pid"])
    finally:
        containers.remove(name)
    pids = [int(word) for word in listing.split() if word.isdigit()]
    return PidView(pid_inside=min(pids) if pids else -1,
                   processes_visible_inside=len(pids), pid_on_host=host_pid)


@dataclass
class MemoryLimitResult(FactsView):
    """What happened to a process that wanted more memory than its cgroup allows."""

    limit_bytes: int
    wanted_bytes: int
    exit_code: int
    oom_killed: bool
    output: str


@action
def memory_limit(image: str, limit_mb: int = 64, wanted_mb: int = 256) -> MemoryLimitResult:
    """Run a process that allocates ``wanted_mb`` under a ``limit_mb`` cgroup limit."""
    # bytearray() may not touch its pages; writing one byte per 4 KiB page makes them real.
    program = (f'data = bytearray({wanted_mb} * 2**20); data[::4096] = b"x" * len(data[::4096]); '
               'print("allocated")')
    code, output, final = containers.run_once(
        image, ["python3", "-c", program], mem_limit=f"{limit_mb}m",
        memswap_limit=f"{limit_mb}m",
        extra_cli=[f"--memory {limit_mb}m", f"--memory-swap {limit_mb}m"])
    return MemoryLimitResult(limit_bytes=limit_mb * 2**20, wanted_bytes=wanted_mb * 2**20,
                             exit_code=code, oom_killed=final.oom_killed,
                             output=output.strip()[-300:])


@action
def image_vs_vm_sizes(references: list[str]) -> pd.DataFrame:
    """Image sizes from the engine next to typical VM disk sizes."""
    rows = []
    for reference in references:
        facts = images.require(reference)
        rows.append({"what": f"image {reference}", "kind": "container image",
                     "size_bytes": facts.size_bytes})
    # `docker image ls` takes one REPOSITORY[:TAG]; several reference filters list any of them
    journal.record(" ".join(["docker image ls", *(f"--filter reference={shlex.quote(r)}"
                                                   for r in references)]))
    for name, size in VM_REFERENCE_DISKS.items():
        rows.append({"what": name, "kind": "VM disk (typical)", "size_bytes": size})
    return pd.DataFrame(rows)


# --- PID 1 and signals: what `docker stop` does to each form of CMD/ENTRYPOINT ---------------

SIGNALS_APP = "signals"


def exit_meaning(exit_code: int) -> str:
    """What an exit code after ``docker stop`` says (pure)."""
    if exit_code == 0:
        return "0: the app caught SIGTERM and exited cleanly"
    if exit_code == 137:
        return "137 = 128 + 9: SIGKILL after the timeout"
    if exit_code == 143:
        return "143 = 128 + 15: SIGTERM ended it (default action)"
    if exit_code > 128:
        return f"{exit_code} = 128 + {exit_code - 128}: ended by signal {exit_code - 128}"
    return f"{exit_code}: the app's own exit code"


@action
def stop_timings(shell_form: str, exec_form: str, *, timeout: int = 10,
                 prefix: str = "course-01-stop") -> pd.DataFrame:
    """Start the same app three ways and time ``docker stop -t TIMEOUT`` on each.

    ``shell_form`` is an image whose CMD is in shell form (PID 1 is ``/bin/sh -c``),
    ``exec_form`` one whose ENTRYPOINT is in exec form (PID 1 is the app); the third run is
    the shell-form image with ``--init`` (PID 1 is docker-init, tini, which passes signals on).
    """
    from ..engine import inspect_more

    runs = [("shell form", shell_form, False), ("exec form", exec_form, False),
            ("shell form + --init", shell_form, True)]
    rows = []
    for number, (form, image, init) in enumerate(runs, start=1):
        name = f"{prefix}{number}"
        inspect_more.run(image, name, init=init)
        try:
            _wait_for_output(name)
            _, pid1 = containers.exec_in(name, ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"])
            seconds, code = inspect_more.timed_stop(name, timeout=timeout)
            last_log = containers.logs(name, lines=1, journal_it=False).strip()
        finally:
            containers.remove(name)
        rows.append({"how it runs": form, "PID 1 inside": pid1.strip(),
                     "stop seconds": round(seconds, 2), "exit code": code,
                     "meaning": exit_meaning(code), "app's last log line": last_log})
    return pd.DataFrame(rows).set_index("how it runs")


def _wait_for_output(name: str, timeout: float = 20) -> None:
    """Wait until the app has printed its first line (its signal handler is installed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "running as PID" in containers.logs(name, lines=5, journal_it=False):
            return
        time.sleep(0.2)
