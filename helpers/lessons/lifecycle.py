"""Notebook 03: the key terms on live objects, and a container's life observed state by state."""

from __future__ import annotations

import time

import pandas as pd

from .. import journal
from ..engine import client as client_mod
from ..engine import containers, images, objects
from ..session import action


@action
def observe_lifecycle(image: str, name: str = "course-03-lifecycle") -> pd.DataFrame:
    """Walk one container through create → start → pause → unpause → stop → start → rm."""
    rows: list[dict[str, object]] = []

    def note(cli: str, state: str) -> None:
        journal.record(cli)
        rows.append({"step": len(rows) + 1, "command": cli, "state afterwards": state,
                     "at_seconds": round(time.monotonic() - started, 2)})

    started = time.monotonic()
    containers.create(image, name=name, command=["sleep", "300"])
    try:
        note(f"docker create --name {name} {image} sleep 300", containers.container_state(name))
        for action in ("start", "pause", "unpause", "stop", "start", "kill"):
            cli = f"docker stop -t 1 {name}" if action == "stop" else f"docker {action} {name}"
            note(cli, containers.change_state(name, action, timeout=1))
    finally:
        containers.remove(name, journal_it=False)
    note(f"docker rm {name}", containers.container_state(name))
    return pd.DataFrame(rows).set_index("step")


@action
def key_terms_live(image: str, prefix: str = "course-03") -> pd.DataFrame:
    """One live example of each key term, read back from the engine."""
    volume = objects.create_volume(f"{prefix}-data")
    network = objects.create_network(f"{prefix}-net")
    info = containers.run(image, name=f"{prefix}-demo", command=["sleep", "300"],
                          network=network.name,
                          volumes={volume.name: {"bind": "/data", "mode": "rw"}},
                          extra_cli=[f"--network {network.name}", f"-v {volume.name}:/data"])
    facts = images.require(image)
    version, api_version = client_mod.server_version()
    journal.record("docker version --format '{{.Server.Version}}'")
    rows = [
        ("Image", f"{image} (id {facts.short_id}, {facts.layers} layers)",
         "read-only template: layers of files plus a config (command, env, user)"),
        ("Container", f"{info.name} (id {info.short_id}, {info.status})",
         "a running (or stopped) instance of an image, with its own writable layer"),
        ("Dockerfile", "data/apps/flask-app/Dockerfile",
         "the recipe `docker build` follows to make an image, one layer per file-changing step"),
        ("Volume", f"{volume.name} (driver {volume.driver}) mounted at /data",
         "storage managed by Docker that outlives containers"),
        ("Network", f"{network.name} ({network.driver}, subnet {network.subnet})",
         "a virtual network; containers on one user network find each other by name"),
        ("Engine", f"dockerd {version} (API {api_version})",
         "the daemon that builds images and runs containers"),
        ("CLI", "docker", "the client that turns commands into Engine API calls"),
        ("Registry", "Docker Hub, or a private registry (notebook 05)",
         "a server that stores images for push and pull"),
    ]
    return pd.DataFrame(rows, columns=["term", "live example", "in one line"]).set_index("term")


# --- restart policies side by side -------------------------------------------------------------

#: (policy, the exit code its container's command ends with)
RESTART_CASES = [("no", 1), ("on-failure:3", 1), ("on-failure", 0), ("always", 0),
                 ("unless-stopped", 0)]


def restart_case_name(prefix: str, policy: str, exit_code: int) -> str:
    """``course-03-restart-on-failure-3-exit1``: a container name for one case (pure)."""
    return f"{prefix}-{policy.replace(':', '-')}-exit{exit_code}"


@action
def restart_policies(image: str, *, watch_seconds: float = 9.0,
                     prefix: str = "course-03-restart") -> pd.DataFrame:
    """One container per restart policy, each running ``sh -c 'sleep 1; exit N'``.

    After ``watch_seconds`` the engine says how often it restarted each one and its state now.
    """
    from ..engine import inspect_more

    names = {}
    for policy, code in RESTART_CASES:
        name = restart_case_name(prefix, policy, code)
        inspect_more.run(image, name, ["sh", "-c", f"sleep 1; exit {code}"], restart=policy)
        names[name] = (policy, code)
    time.sleep(watch_seconds)
    rows = []
    for name, (policy, code) in names.items():
        seen = inspect_more.state(name)
        rows.append({"policy": policy, "command ends with": f"exit {code}", "container": name,
                     "restarts": seen["restart_count"], "state now": seen["status"]})
    journal.record(f"docker inspect --format '{{{{.HostConfig.RestartPolicy.Name}}}} "
                   f"{{{{.RestartCount}}}} {{{{.State.Status}}}}' {' '.join(names)}")
    return pd.DataFrame(rows).set_index("policy")


@action
def stop_restarting(names: list[str]) -> pd.DataFrame:
    """``docker stop`` each container: a stop by you ends every restart policy's loop."""
    from ..engine import inspect_more

    rows = []
    for name in names:
        containers.stop(name, timeout=1)
        time.sleep(1.5)  # long enough for a policy that ignored the stop to start it again
        seen = inspect_more.state(name)
        rows.append({"container": name, "policy": seen["policy"], "state after stop":
                     seen["status"], "restarts": seen["restart_count"]})
    return pd.DataFrame(rows).set_index("container")


# --- housekeeping: docker system df ------------------------------------------------------------

def disk_usage_rows(report: dict, course_key: str, image_key: str) -> list[dict]:
    """``docker system df`` rows (pure): per kind, how many, how many in use, bytes, bytes a
    prune could reclaim, and how many of them the course made."""
    def size(value) -> int:
        return max(int(value or 0), 0)

    images = report.get("Images") or []
    found = [{"kind": "images", "total": len(images),
              "in use": sum(1 for i in images if int(i.get("Containers") or 0) > 0),
              "size_bytes": size(report.get("LayersSize")) or sum(size(i.get("Size"))
                                                                for i in images),
              "reclaimable_bytes": sum(size(i.get("Size")) - size(i.get("SharedSize"))
                                       for i in images if int(i.get("Containers") or 0) <= 0),
              "made by the course": sum(1 for i in images
                                        if (i.get("Labels") or {}).get(image_key) == "true")}]
    boxes = report.get("Containers") or []
    found.append({"kind": "containers", "total": len(boxes),
                  "in use": sum(1 for c in boxes if c.get("State") == "running"),
                  "size_bytes": sum(size(c.get("SizeRw")) for c in boxes),
                  "reclaimable_bytes": sum(size(c.get("SizeRw")) for c in boxes
                                           if c.get("State") != "running"),
                  "made by the course": sum(1 for c in boxes
                                            if (c.get("Labels") or {}).get(course_key))})
    volumes = report.get("Volumes") or []
    usage = [(v, v.get("UsageData") or {}) for v in volumes]
    found.append({"kind": "local volumes", "total": len(volumes),
                  "in use": sum(1 for _, u in usage if int(u.get("RefCount") or 0) > 0),
                  "size_bytes": sum(size(u.get("Size")) for _, u in usage),
                  "reclaimable_bytes": sum(size(u.get("Size")) for _, u in usage
                                           if int(u.get("RefCount") or 0) <= 0),
                  "made by the course": sum(1 for v, _ in usage
                                            if (v.get("Labels") or {}).get(course_key))})
    cache = report.get("BuildCache") or []
    found.append({"kind": "build cache", "total": len(cache),
                  "in use": sum(1 for b in cache if b.get("InUse")),
                  "size_bytes": sum(size(b.get("Size")) for b in cache),
                  "reclaimable_bytes": sum(size(b.get("Size")) for b in cache
                                           if not b.get("InUse") and not b.get("Shared")),
                  "made by the course": None})
    return found


@action
def disk_usage() -> pd.DataFrame:
    """``docker system df``: what images, containers, volumes and build cache take on disk."""
    from .. import labels
    from ..engine import inspect_more

    rows = disk_usage_rows(inspect_more.system_df(), labels.COURSE_KEY, labels.IMAGE_KEY)
    frame = pd.DataFrame(rows).set_index("kind")
    frame["made by the course"] = frame["made by the course"].astype("Int64")
    return frame


@action
def image_platform(image: str) -> pd.DataFrame:
    """The platform a local image was built for, next to the engine's own."""
    from ..engine import inspect_more

    platform = inspect_more.image_platform(image)
    engine = inspect_more.engine_platform()
    shown = "/".join(part for part in (platform["os"], platform["architecture"],
                                       platform["variant"]) if part)
    return pd.DataFrame([{"what": f"image {image}", "platform": shown},
                         {"what": "this engine", "platform": engine}]).set_index("what")
