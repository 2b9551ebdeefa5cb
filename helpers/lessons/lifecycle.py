"""Notebook 03: the key terms on live objects, and a container's life observed state by state."""

from __future__ import annotations

import time

import pandas as pd

from .. import journal
from ..engine import client as client_mod
from ..engine import containers, images, objects
from ..replay import action


def _state(container) -> str:
    container.reload()
    return str(container.attrs["State"]["Status"])


@action
def observe_lifecycle(image: str, name: str = "course-03-lifecycle") -> pd.DataFrame:
    """Walk one container through create → start → pause → unpause → stop → start → rm."""
    from .. import labels

    engine = client_mod.client()
    containers.remove_if_ours(name)
    rows = []

    def note(cli: str, state: str) -> None:
        journal.record(cli)
        rows.append({"step": len(rows) + 1, "command": cli, "state afterwards": state,
                     "at_seconds": round(time.monotonic() - started, 2)})

    started = time.monotonic()
    container = engine.containers.create(image, ["sleep", "300"], name=name,
                                         labels=labels.for_new_object())
    try:
        note(f"docker create --name {name} {image} sleep 300", _state(container))
        container.start()
        note(f"docker start {name}", _state(container))
        container.pause()
        note(f"docker pause {name}", _state(container))
        container.unpause()
        note(f"docker unpause {name}", _state(container))
        container.stop(timeout=1)
        note(f"docker stop {name}", _state(container))
        container.start()
        note(f"docker start {name}", _state(container))
        container.kill()
        container.wait(timeout=10)
        note(f"docker kill {name}", _state(container))
    finally:
        container.remove(force=True)
    note(f"docker rm {name}", containers.container_state(name))
    return pd.DataFrame(rows).set_index("step")


@action
def key_terms_live(image: str, prefix: str = "course-03") -> pd.DataFrame:
    """One live example of each key term, read back from the engine."""
    volume = objects.create_volume(f"{prefix}-data")
    network = objects.create_network(f"{prefix}-net")
    info = containers.run(image, name=f"{prefix}-demo", command=["sleep", "300"],
                          network=network.name,
                          volumes={volume.name: {"bind": "/data", "mode": "rw"}})
    facts = images.require(image)
    version = client_mod.client().api.version()
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
        ("Engine", f"dockerd {version.get('Version')} (API {version.get('ApiVersion')})",
         "the daemon that builds images and runs containers"),
        ("CLI", "docker", "the client that turns commands into Engine API calls"),
        ("Registry", "Docker Hub, or a private registry (notebook 05)",
         "a server that stores images for push and pull"),
    ]
    return pd.DataFrame(rows, columns=["term", "live example", "in one line"]).set_index("term")
