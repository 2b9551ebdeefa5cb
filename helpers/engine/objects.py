"""Volumes and networks: create (labelled), inspect, list, remove."""

from __future__ import annotations

from dataclasses import dataclass

from .. import journal, labels
from ..display import FactsView
from ..errors import CourseError
from .client import client
from .sdk import docker


@dataclass(frozen=True)
class VolumeInfo(FactsView):
    name: str
    driver: str
    mountpoint: str
    notebook: str


@dataclass(frozen=True)
class NetworkInfo(FactsView):
    name: str
    id: str
    driver: str
    subnet: str
    containers: tuple[str, ...]
    notebook: str


def _owned(attrs_labels: dict | None) -> bool:
    return (attrs_labels or {}).get(labels.COURSE_KEY) == labels.COURSE_VALUE


def create_volume(name: str) -> VolumeInfo:
    """``docker volume create``; an existing volume the course did not make is left alone."""
    engine = client()
    try:
        existing = engine.volumes.get(name)
    except docker.errors.NotFound:
        existing = None
    if existing is not None:
        if not _owned(existing.attrs.get("Labels")):
            raise CourseError(f"A volume named {name!r} already exists and the course did not "
                              "create it, so the course will not touch it.",
                              hint="choose another volume name.")
        return volume_info(existing)
    volume = engine.volumes.create(name=name, labels=labels.for_new_object())
    journal.record(f"docker volume create {name}")
    return volume_info(volume)


def volume_info(volume) -> VolumeInfo:
    attrs = volume.attrs
    return VolumeInfo(name=volume.name, driver=str(attrs.get("Driver", "")),
                      mountpoint=str(attrs.get("Mountpoint", "")),
                      notebook=(attrs.get("Labels") or {}).get(labels.NOTEBOOK_KEY, ""))


def volume_is_ours(name: str) -> bool:
    """True when a volume of that name exists and the course made it."""
    try:
        volume = client().volumes.get(name)
    except docker.errors.NotFound:
        return False
    return _owned(volume.attrs.get("Labels"))


def network_is_ours(name: str) -> bool:
    """True when a network of that name exists and the course made it."""
    found = [n for n in client().networks.list(names=[name]) if n.name == name]
    return bool(found) and _owned(found[0].attrs.get("Labels"))


def remove_volume(name: str) -> bool:
    """``docker volume rm`` a course volume; False when there is none.

    Raises :class:`CourseError` (touching nothing) for a volume the course did not make.
    """
    try:
        volume = client().volumes.get(name)
    except docker.errors.NotFound:
        return False
    if not _owned(volume.attrs.get("Labels")):
        raise CourseError(f"Volume {name!r} was not made by the course; not removing it.")
    volume.remove(force=True)
    journal.record(f"docker volume rm {name}")
    return True


def create_network(name: str, *, internal: bool = False) -> NetworkInfo:
    """``docker network create`` (a user-defined bridge); reused when the course made it."""
    engine = client()
    found = [n for n in engine.networks.list(names=[name]) if n.name == name]
    if found:
        if not _owned(found[0].attrs.get("Labels")):
            raise CourseError(f"A network named {name!r} already exists and the course did not "
                              "create it.", hint="choose another network name.")
        return network_info(found[0])
    network = engine.networks.create(name, driver="bridge", internal=internal,
                                     labels=labels.for_new_object())
    journal.record(f"docker network create {'--internal ' if internal else ''}{name}")
    return network_info(network)


def network_info(network) -> NetworkInfo:
    network.reload()
    attrs = network.attrs
    configs = (attrs.get("IPAM") or {}).get("Config") or [{}]
    members = tuple(sorted(c.get("Name", "") for c in (attrs.get("Containers") or {}).values()))
    return NetworkInfo(name=network.name, id=network.id, driver=str(attrs.get("Driver", "")),
                       subnet=str(configs[0].get("Subnet", "")) if configs else "",
                       containers=members,
                       notebook=(attrs.get("Labels") or {}).get(labels.NOTEBOOK_KEY, ""))


def remove_network(name: str) -> bool:
    """``docker network rm`` a course network; False when there is none.

    Raises :class:`CourseError` (touching nothing) for a network the course did not make.
    """
    found = [n for n in client().networks.list(names=[name]) if n.name == name]
    if not found:
        return False
    if not _owned(found[0].attrs.get("Labels")):
        raise CourseError(f"Network {name!r} was not made by the course; not removing it.")
    found[0].remove()
    journal.record(f"docker network rm {name}")
    return True
