"""Removing the learner's own task objects, by name, when the learner asks for it.

The course never labels what a learner makes for a "Your turn" task, and its cleanup never
removes it. A notebook's cleanup cell may offer this, naming each object: nothing else calls it.
"""

from __future__ import annotations

from .. import journal
from .client import client
from .sdk import docker


def remove_by_name(kind: str, name: str) -> bool:
    """Remove the container, volume, network, image or Compose project ``name`` (``kind``).

    A ``project`` goes with ``docker compose -p NAME down -v`` (its containers, networks and
    named volumes). False if absent.
    """
    if kind == "project":
        from .compose import remove_project

        return remove_project(name)
    engine = client()
    try:
        if kind == "container":
            engine.containers.get(name).remove(force=True)
            journal.record(f"docker rm -f {name}")
        elif kind == "volume":
            engine.volumes.get(name).remove(force=True)
            journal.record(f"docker volume rm {name}")
        elif kind == "network":
            found = [n for n in engine.networks.list(names=[name]) if n.name == name]
            if not found:
                return False
            found[0].remove()
            journal.record(f"docker network rm {name}")
        elif kind == "image":
            engine.images.remove(name)
            journal.record(f"docker image rm {name}")
        else:
            raise ValueError(f"unknown kind {kind!r}")
    except docker.errors.NotFound:
        return False
    return True
