"""Read-only views of engine objects by name, for the checks of the "Your turn" tasks.

The learner makes these objects with the docker CLI; the course never labels them. Each
function answers one question about one object (None when it does not exist) and changes
nothing, except :func:`read_volume_file`, which reads a volume through a throw-away
container labelled for the running notebook (removed at once).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from .. import labels
from .client import client
from .sdk import docker


@dataclass(frozen=True)
class Mount:
    """One mount of a container: ``volume``/``bind``/``tmpfs``, its source name, path, rw."""

    type: str
    name: str
    destination: str
    rw: bool


@dataclass(frozen=True)
class ContainerState:
    """What a check needs to know about a container, read from ``docker inspect``."""

    name: str
    status: str  # created, running, paused, restarting, exited, dead
    image: str  # the image as the container was created from (Config.Image)
    exit_code: int
    user: str  # Config.User ("" = the image's default)
    memory_bytes: int  # HostConfig.Memory (0 = no limit)
    restart_policy: str
    restart_retries: int
    restart_count: int
    # "8080/tcp" → [(host address, host port)]
    ports: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    networks: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    health: str = ""  # State.Health.Status: starting, healthy, unhealthy ("" = no health check)
    health_output: str = ""  # the last health probe's output (State.Health.Log[-1].Output)
    image_id: str = ""  # the id of the image it was created from ("sha256:…")


def container(name: str) -> ContainerState | None:
    """The container called ``name`` (``docker inspect NAME``), or None."""
    try:
        attrs = client().api.inspect_container(name)
    except docker.errors.NotFound:
        return None
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    policy = host.get("RestartPolicy") or {}
    health = state.get("Health") or {}
    ports = {port: [(b.get("HostIp", ""), b.get("HostPort", "")) for b in (bindings or [])]
             for port, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports")
                                    or {}).items()}
    mounts = tuple(Mount(type=str(m.get("Type", "")), name=str(m.get("Name") or m.get("Source")
                                                                   or ""),
                         destination=str(m.get("Destination", "")), rw=bool(m.get("RW")))
                   for m in attrs.get("Mounts") or [])
    networks = tuple(sorted((attrs.get("NetworkSettings") or {}).get("Networks") or {}))
    return ContainerState(
        name=str(attrs.get("Name", "")).lstrip("/"), status=str(state.get("Status", "")),
        image=str(config.get("Image", "")), exit_code=int(state.get("ExitCode") or 0),
        user=str(config.get("User") or ""), memory_bytes=int(host.get("Memory") or 0),
        restart_policy=str(policy.get("Name") or "no"),
        restart_retries=int(policy.get("MaximumRetryCount") or 0),
        restart_count=int(attrs.get("RestartCount") or 0), ports=ports, mounts=mounts,
        networks=networks, labels=dict(config.get("Labels") or {}),
        health=str(health.get("Status") or ""),
        health_output=str((health.get("Log") or [{}])[-1].get("Output") or ""),
        image_id=str(attrs.get("Image") or ""))


def volume_exists(name: str) -> bool:
    """True when a volume called ``name`` exists (``docker volume inspect NAME``)."""
    try:
        client().api.inspect_volume(name)
    except docker.errors.NotFound:
        return False
    return True


@dataclass(frozen=True)
class NetworkState:
    """A network by name: its driver, whether it is ``--internal``, its containers' names."""

    name: str
    driver: str
    internal: bool
    containers: tuple[str, ...]


def network(name: str) -> NetworkState | None:
    """The network called exactly ``name`` (``docker network inspect NAME``), or None."""
    try:
        attrs = client().api.inspect_network(name)
    except docker.errors.NotFound:
        return None
    if attrs.get("Name") != name:  # the API also matches an id prefix
        return None
    members = tuple(sorted(str(c.get("Name", ""))
                           for c in (attrs.get("Containers") or {}).values()))
    return NetworkState(name=name, driver=str(attrs.get("Driver", "")),
                        internal=bool(attrs.get("Internal")), containers=members)


def image_exists(reference: str) -> bool:
    """True when the engine has an image called ``reference`` (``docker image inspect``)."""
    try:
        client().api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


@dataclass(frozen=True)
class ImageState:
    """What a check needs to know about an image's config, read from ``docker image inspect``.

    ``healthcheck`` is the HEALTHCHECK test (``["CMD", "python", "check.py"]``; empty when the
    image has none, ``["NONE"]`` when it was switched off); ``user`` is Config.User ("" = root).
    """

    reference: str
    id: str
    user: str
    healthcheck: tuple[str, ...]
    exposed_ports: tuple[str, ...]  # "5000/tcp" …


def image(reference: str) -> ImageState | None:
    """The image called ``reference`` (``docker image inspect REFERENCE``), or None."""
    try:
        attrs = client().api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return None
    config = attrs.get("Config") or {}
    test = (config.get("Healthcheck") or {}).get("Test") or []
    return ImageState(reference=reference, id=str(attrs.get("Id", "")),
                      user=str(config.get("User") or ""), healthcheck=tuple(map(str, test)),
                      exposed_ports=tuple(sorted(config.get("ExposedPorts") or {})))


def exec_output(name: str, argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` in the running container ``name`` (``docker exec``): exit code, output.

    The checks only run commands that read (``id -u``, a ``wget`` of a neighbour).
    """
    result = client().containers.get(name).exec_run(argv)
    output = result.output if isinstance(result.output, bytes) else b"".join(result.output or ())
    return int(result.exit_code or 0), output.decode("utf-8", "replace")


def read_volume_file(volume: str, path: str, image: str) -> str | None:
    """The text of ``path`` (relative to the volume's root) in ``volume``, or None if absent.

    Read by a throw-away container that mounts the volume read-only (``docker run --rm
    -v VOLUME:/v:ro IMAGE cat /v/PATH``), labelled for the running notebook.
    """
    target = "/v/" + path.lstrip("/")
    try:
        output = client().containers.run(
            image, ["sh", "-c", f'cat "{target}" 2>/dev/null || echo "__missing__"'],
            volumes={volume: {"bind": "/v", "mode": "ro"}}, remove=True,
            labels=labels.for_new_object(), network_disabled=True)
    except docker.errors.ContainerError:
        return None
    text = output.decode("utf-8", "replace")
    return None if text.strip() == "__missing__" else text


def repo_digests(reference: str) -> list[str] | None:
    """The image's RepoDigests (``REPOSITORY@sha256:…`` it is known by), None without an image.

    ``docker image inspect --format '{{.RepoDigests}}' REFERENCE``; ``reference`` may itself
    be a digest reference (``host:port/name@sha256:…``).
    """
    try:
        attrs = client().api.inspect_image(reference)
    except (docker.errors.ImageNotFound, docker.errors.NotFound):
        return None
    return [str(d) for d in attrs.get("RepoDigests") or []]


def run_probe(image: str, script: str, *, timeout: float = 60) -> tuple[int, str]:
    """Run ``sh -c SCRIPT`` in a throw-away container of ``image``: exit code, output.

    The image's ENTRYPOINT is replaced by ``sh -c`` (``docker run --rm --network none
    --entrypoint sh IMAGE -c SCRIPT``); the container is labelled for the running notebook and
    removed at once. Checks only run scripts that read (``command -v gcc``, an import).
    """
    engine = client()
    container = engine.containers.create(image, ["-c", script], entrypoint=["sh"],
                                         labels=labels.for_new_object(), network_disabled=True)
    try:
        container.start()
        code = int(container.wait(timeout=timeout).get("StatusCode", -1))
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    except docker.errors.APIError as exc:  # no sh in the image, for one
        code, output = 127, str(exc.explanation or exc)
    finally:
        container.remove(force=True)
    return code, output


def serve_probe(image: str, container_port: int, path: str = "/",
                timeout: float = 30) -> tuple[int | None, str]:
    """Start ``image`` with its own command and ask it for ``path`` over HTTP.

    The container (``docker run -d -p 127.0.0.1::PORT IMAGE``: a free host port on loopback,
    labelled for the running notebook) is removed afterwards. Returns the HTTP status of the
    first answer within ``timeout`` seconds (None: no answer) and the tail of its log.
    """
    import time
    import urllib.error
    import urllib.request

    engine = client()
    published: dict[str, Any] = {f"{container_port}/tcp": ("127.0.0.1", None)}  # a free port
    try:
        container = engine.containers.run(image, detach=True, labels=labels.for_new_object(),
                                          ports=published)
    except docker.errors.APIError as exc:  # no command at all, or one that cannot start
        with contextlib.suppress(docker.errors.APIError):
            for left in engine.containers.list(all=True, filters={"ancestor": image,
                                                                  "status": "created"}):
                if labels.for_new_object().items() <= left.labels.items():
                    left.remove(force=True)
        return None, str(exc.explanation or exc)
    status: int | None = None
    try:
        deadline = time.monotonic() + timeout
        while status is None and time.monotonic() < deadline:
            container.reload()
            if container.status not in ("created", "running"):
                break
            bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(
                f"{container_port}/tcp") or []
            if bindings:
                url = f"http://127.0.0.1:{bindings[0]['HostPort']}{path}"
                try:
                    with urllib.request.urlopen(url, timeout=3) as answer:
                        status = int(answer.status)
                except urllib.error.HTTPError as error:
                    status = int(error.code)
                except OSError:
                    pass
            if status is None:
                time.sleep(0.5)
        log = container.logs(stdout=True, stderr=True, tail=5).decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    return status, log.strip()
