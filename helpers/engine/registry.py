"""The course's own registry on loopback, and ``docker push`` / ``docker pull``.

The registry runs in a container with htpasswd authentication and two labelled volumes; push
and pull go through the engine (the docker SDK), their JSON streams folded into one status per
blob. Who may push (endpoints, credentials, login) is :mod:`.registry_auth`; the registry's HTTP
API is :mod:`.registry_api`; manifests and indexes are :mod:`helpers.manifests`.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field

from .. import journal, labels, ports, references
from ..display import FactsView
from ..errors import (
    CourseError,
    NotReady,
    PullFailed,
    PushFailed,
    RegistryError,
    first_line,
    tail,
)
from ..manifests import platform_text
from ..progress import Progress
from . import containers, images, objects
from . import registry_auth as auth
from .client import client
from .registry_auth import Credentials, Endpoint
from .sdk import docker, requests

INNER_PORT = 5000
AUTH_DIR = "/auth"
HTPASSWD_FILE = f"{AUTH_DIR}/htpasswd"
DATA_DIR = "/var/lib/registry"
REALM = "docker-course"
BCRYPT_COST = 10
# The registry image's own htpasswd (apache2-utils; the course stand-in has it) writes the file.
HTPASSWD_COMMAND = ["sh", "-c", f'htpasswd -Bbc -C {BCRYPT_COST} {HTPASSWD_FILE} '
                                '"$REGISTRY_USER" "$REGISTRY_PASSWORD"']
# The official registry:2 has no htpasswd since 2.7: any Debian-based Python image can do it
# with the system's libcrypt (bcrypt), which needs no package from an index.
HTPASSWD_PYTHON = (
    "import ctypes, os\n"
    "c = ctypes.CDLL('libcrypt.so.1')\n"
    "c.crypt_gensalt.restype = c.crypt.restype = ctypes.c_char_p\n"
    "c.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]\n"
    "c.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]\n"
    f"salt = c.crypt_gensalt(b'$2b$', {BCRYPT_COST}, None, 0)\n"
    "hashed = c.crypt(os.environ['REGISTRY_PASSWORD'].encode(), salt).decode()\n"
    "assert hashed.startswith('$2b$'), 'libcrypt has no bcrypt'\n"
    f"open('{HTPASSWD_FILE}', 'w').write(os.environ['REGISTRY_USER'] + ':' + hashed + '\\n')\n"
)


def _volume_flags(volumes: dict[str, dict[str, str]]) -> list[str]:
    return [f"-v {name}:{spec['bind']}{':ro' if spec.get('mode') == 'ro' else ''}"
            for name, spec in volumes.items()]


def _run_tool(image: str, command: list[str], *, env: dict[str, str],
              volumes: dict[str, dict[str, str]], shown: str) -> tuple[int, str]:
    """``docker run --rm`` a short job; its anonymous volumes go with it (``--rm`` does that)."""
    cli = " ".join(["docker run --rm", *_volume_flags(volumes),
                    *(f"-e {k}={'***' if 'PASSWORD' in k else v}" for k, v in env.items()),
                    image, shown])
    engine = client()
    container = None
    started = time.monotonic()
    try:
        container = engine.containers.create(image, command, environment=env, volumes=volumes,
                                             labels=labels.for_new_object())
        container.start()
        code = int(container.wait(timeout=120).get("StatusCode", -1))
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    except docker.errors.ImageNotFound:
        journal.record(cli, ok=False)
        raise CourseError(f"There is no image called {image!r} on this engine.",
                          hint="resolve it first (course.ensure_image).") from None
    except (docker.errors.APIError, requests.RequestException) as exc:
        journal.record(cli, ok=False)
        raise CourseError(f"Running a job in {image} failed: {str(exc).splitlines()[0][:200]}"
                          ) from None
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True, v=True)
    journal.record(cli, ok=code == 0, seconds=time.monotonic() - started)
    return code, output


def write_htpasswd(volume: str, credentials: Credentials, *, tool_image: str,
                   tool: str = "htpasswd") -> None:
    """Write ``htpasswd`` (bcrypt) for ``credentials`` into ``volume``, made inside a container.

    ``tool`` is ``"htpasswd"`` (an image that has apache2-utils, like the course stand-in) or
    ``"python"`` (any Debian-based Python image: bcrypt from the system's libcrypt).
    """
    env = {"REGISTRY_USER": credentials.username, "REGISTRY_PASSWORD": credentials.password}
    volumes = {volume: {"bind": AUTH_DIR, "mode": "rw"}}
    if tool == "htpasswd":
        command = HTPASSWD_COMMAND
        shown = f"sh -c '{HTPASSWD_COMMAND[2]}'"
    elif tool == "python":
        command = ["python3", "-c", HTPASSWD_PYTHON]
        shown = "python3 -c '<bcrypt with libcrypt: see helpers/engine/registry.py>'"
    else:
        raise ValueError(f"unknown htpasswd tool {tool!r}")
    code, output = _run_tool(tool_image, command, env=env, volumes=volumes, shown=shown)
    if code != 0:
        raise RegistryError(f"Making the password file in {tool_image} failed (exit {code}).",
                            hint="the image needs htpasswd (apache2-utils) or a Debian-based "
                                 "python3; see the log below.",
                            log_tail=tail(output.replace(credentials.password, "***")))


def registry_env() -> dict[str, str]:
    """Switch on htpasswd authentication: the same variables work for registry:2 and stand-in."""
    return {"REGISTRY_AUTH": "htpasswd", "REGISTRY_AUTH_HTPASSWD_REALM": REALM,
            "REGISTRY_AUTH_HTPASSWD_PATH": HTPASSWD_FILE,
            "REGISTRY_STORAGE_DELETE_ENABLED": "true"}


def start_local(image: str, *, name: str, host_port: int | None, tool_image: str,
                tool: str, username: str = "student", namespace: str = "course",
                timeout: float = 60) -> Endpoint:
    """Run a registry on 127.0.0.1 with htpasswd auth and fresh storage; its Endpoint.

    Two labelled volumes: ``NAME-data`` (the registry's storage) and ``NAME-auth`` (the
    password file, mounted read-only). Any failure removes what this call created.
    """
    containers.remove_if_ours(name)
    data_volume, auth_volume = f"{name}-data", f"{name}-auth"
    for volume in (data_volume, auth_volume):  # a re-run starts from an empty registry
        objects.remove_volume(volume)
    credentials = auth.new_credentials(username)
    made_volumes: list[str] = []
    try:
        for volume in (data_volume, auth_volume):
            objects.create_volume(volume)
            made_volumes.append(volume)
        write_htpasswd(auth_volume, credentials, tool_image=tool_image, tool=tool)
        volumes = {data_volume: {"bind": DATA_DIR, "mode": "rw"},
                   auth_volume: {"bind": AUTH_DIR, "mode": "ro"}}
        info = containers.run(image, name=name, ports_wanted={INNER_PORT: host_port},
                              env=registry_env(), volumes=volumes,
                              extra_cli=_volume_flags(volumes))
        _wait_until_serving(info, timeout)
    except BaseException:  # a half-made registry helps nobody: remove what this call made
        containers.remove(name)
        for volume in made_volumes:
            with contextlib.suppress(CourseError, docker.errors.APIError):
                objects.remove_volume(volume)
        raise
    port = info.ports[INNER_PORT]
    address = f"{ports.LOOPBACK}:{port}"
    auth.remember_generated(address, credentials)
    auth.forget_login(address)
    password_file = auth.write_password_file(address, credentials)
    return Endpoint(kind="local", address=address, api_url=f"http://{address}",
                    namespace=namespace, username=username, container=name, image=image,
                    host_port=port, auth=f"htpasswd (bcrypt, cost {BCRYPT_COST})",
                    password_file=str(password_file), note=info.note)


def running_local(name: str, *, username: str = "student",
                  namespace: str = "course") -> Endpoint | None:
    """The course's registry running in container ``name``, as an Endpoint; None if not running.

    Read-only: the address comes from the container's port binding (``docker port NAME``), the
    credentials from this process (the notebook that started it) or else from the password
    file :func:`start_local` wrote (``password_file`` stays "" when neither has them).
    """
    try:
        attrs = client().api.inspect_container(name)
    except docker.errors.NotFound:
        return None
    if (attrs.get("State") or {}).get("Status") != "running":
        return None
    bindings = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(
        f"{INNER_PORT}/tcp") or []
    port = next((int(b["HostPort"]) for b in bindings if b.get("HostPort")), 0)
    if not port:
        return None
    address = f"{ports.LOOPBACK}:{port}"
    path = auth.password_file_path(address)
    if auth.generated_credentials(address) is None and path.is_file():
        password = path.read_text(encoding="utf-8").strip()
        if password:
            auth.remember_generated(address, Credentials(username=username, password=password))
    return Endpoint(kind="local", address=address, api_url=f"http://{address}",
                    namespace=namespace, username=username, container=name,
                    host_port=port,
                    password_file=str(path) if auth.generated_credentials(address) else "")


def _wait_until_serving(info: containers.ContainerInfo, timeout: float) -> None:
    """Ready when ``/v2/`` answers 401: up, and asking for credentials."""
    try:
        containers.wait_http(info, "/v2/", container_port=INNER_PORT, timeout=timeout,
                             expect_status=401)
    except NotReady as exc:
        raise NotReady(f"The registry {info.name} did not start: {exc.message}",
                       hint="read its log below; a port clash or a bad password file are the "
                            "usual causes.", log_tail=exc.log_tail) from None


def port_bindings(name: str) -> list[dict[str, str]]:
    """Where the container's ports are published: host address and port, as the engine says."""
    try:
        attrs = client().containers.get(name).attrs
    except docker.errors.NotFound:
        raise CourseError(f"No container called {name!r}.",
                          hint="start the registry first.") from None
    journal.record(f"docker port {name}")
    rows = []
    for key, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        for binding in bindings or []:
            rows.append({"container port": key, "host address": binding.get("HostIp", ""),
                         "host port": binding.get("HostPort", "")})
    return rows


@dataclass
class LayerEvent:
    """One blob's statuses in a push or pull stream.

    ``id`` is the 12 hex digits the engine prints: for a push on the classic store the layer's
    diff id (uncompressed digest); otherwise (pulls, and the containerd store) the blob digest
    (compressed, as in the manifest), where the containerd store also lists non-layer blobs
    such as an attestation (Engine 28, both seen). ``status`` is the last decisive
    status, ``history`` every distinct status in order (the containerd store reports a layer it
    still had as ``Already exists`` and then ``Pull complete``).
    """

    id: str
    status: str
    total_bytes: int = 0  # bytes the engine reported for the transfer, when it did
    history: list[str] = field(default_factory=list)


@dataclass
class TransferResult(FactsView):
    """What a push or pull did: the reference, the manifest digest, and each layer's fate."""

    reference: str
    digest: str
    seconds: float
    layers: list[LayerEvent] = field(default_factory=list)
    status: str = ""
    cli: str = ""
    note: str = ""  # what the engine chose on its own (a manifest pushed instead of an index)


def split_reference(reference: str) -> tuple[str, str]:
    """``host:5001/ns/name:tag`` → (``host:5001/ns/name``, ``tag``): what the engine's push and
    pull APIs take; the tag is ``latest`` when none is named, the digest for a reference by
    digest (:func:`helpers.references.parse` splits)."""
    parsed = references.parse(reference)
    return parsed.repository, parsed.pull_tag


PASSING_STATUSES = ("Pushing", "Downloading", "Extracting", "Waiting", "Pulling layer fs")
# "1.0: digest: sha256:… size: 855": the containerd store's only report of the pushed digest
PUSHED_DIGEST = re.compile(r"^(?P<tag>[^:\s]+): digest: (?P<digest>sha256:[0-9a-f]{64}) "
                           r"size: (?P<size>\d+)$")


def pushed_digest(aux: dict, statuses: list[str], tag: str) -> tuple[str, int]:
    """The digest and size (bytes) of what a push put under ``tag``; ("", 0) when not reported.

    The classic store sends an ``aux`` record ``{"Tag", "Digest", "Size"}``; the containerd
    store (Engine 28) sends only the status line ``TAG: digest: sha256:… size: N``.
    """
    if aux.get("Digest"):
        return str(aux["Digest"]), int(aux.get("Size") or 0)
    for status in reversed(statuses):
        found = PUSHED_DIGEST.match(status.strip())
        if found and found["tag"] == tag:
            return found["digest"], int(found["size"])
    return "", 0


def _fold(events, progress: Progress) -> tuple[dict[str, LayerEvent], list[str], dict, list[str]]:
    """Fold a push/pull JSON stream: per-layer last status, errors, the aux record, statuses."""
    layers: dict[str, LayerEvent] = {}
    errors: list[str] = []
    aux: dict = {}
    statuses: list[str] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        if event.get("error") or event.get("errorDetail"):
            detail = event.get("errorDetail") or {}
            errors.append(str(detail.get("message") or event.get("error")))
            continue
        if isinstance(event.get("aux"), dict):
            aux.update(event["aux"])
            continue
        status = str(event.get("status", ""))
        layer_id = event.get("id")
        if layer_id and status and not status.startswith(("Pulling from", "The push refers")):
            entry = layers.setdefault(layer_id, LayerEvent(id=layer_id, status=status))
            total = (event.get("progressDetail") or {}).get("total")
            if total:
                entry.total_bytes = max(entry.total_bytes, int(total))
            if status not in PASSING_STATUSES:
                entry.status = status
                if status not in entry.history:
                    entry.history.append(status)
            progress.update(f"{layer_id}: {status}")
        elif status:
            statuses.append(status)
    return layers, errors, aux, statuses


def push(local: str, target: str, endpoint: Endpoint, *, quiet: bool = False) -> TransferResult:
    """``docker tag LOCAL TARGET`` then ``docker push TARGET``; per-blob statuses and the digest.

    ``digest`` is the digest of what the tag now points at in the registry: a Docker v2
    manifest (classic store) or an OCI image index (containerd store). Raises
    :class:`PushFailed` (refused: no login, wrong password, no such registry; the message says
    which, the hint what to do) and removes the tag this call made, so nothing is left behind.
    """
    images.require(local)
    images.check_can_leave(local, endpoint.address)  # host CA certificates stay on this machine
    existed = images.inspect(target) is not None
    if target != local:
        images.tag(local, target)
    repository, tag = split_reference(target)
    cli = f"docker push {target}"
    started = time.monotonic()
    with Progress(cli, quiet=quiet) as progress:
        try:
            stream = client().api.push(repository, tag=tag, stream=True, decode=True,
                                       auth_config=auth.auth_config_for(endpoint))
            layers, errors, aux, statuses = _fold(stream, progress)
        except docker.errors.APIError as exc:
            layers, errors, aux, statuses = {}, [str(exc.explanation or exc)], {}, []
        seconds = time.monotonic() - started
        digest, size = pushed_digest(aux, statuses, tag)
        if errors or not digest:
            journal.record(cli, ok=False, seconds=seconds)
            if not existed and target != local:
                with contextlib.suppress(docker.errors.APIError):
                    client().images.remove(target)
                journal.record(f"docker rmi {target}")
            reason = errors[-1] if errors else "the engine reported no digest"
            raise PushFailed(f"Pushing {target} failed: {refusal_reason(reason)}",
                             hint=_push_hint(reason, endpoint),
                             log_tail="\n".join([*(f"{layer.id}: {layer.status}"
                                                   for layer in layers.values()),
                                                 f"engine: {first_line(reason)}"]))
    journal.record(cli, seconds=seconds)
    return TransferResult(reference=target, digest=digest, seconds=round(seconds, 2),
                          layers=list(layers.values()), status=f"pushed, {size} byte manifest",
                          cli=cli, note=substitution_note(aux))


def substitution_note(aux: dict) -> str:
    """The containerd store's ``manifestPushedInsteadOfIndex`` aux record, in words; or "".

    Engine 28 (containerd store) pushes the whole index when it holds all of its content; an
    image that came from a pull holds only this platform's manifest (no attestations), so the
    engine pushes that manifest alone and says so in this record.
    """
    if not aux.get("manifestPushedInsteadOfIndex"):
        return ""
    original = str((aux.get("originalIndex") or {}).get("digest", ""))
    selected = aux.get("selectedManifest") or {}
    platform = platform_text(selected.get("platform")) if selected.get("platform") else \
        "platform"
    return (f"the engine holds only part of the image index {original[:19]}… (a pull keeps "
            f"one platform and no attestations), so it pushed the {platform} manifest "
            f"{str(selected.get('digest', ''))[:19]}… instead: the tag now has that digest")


def refusal_reason(reason: str) -> str:
    """The engine's push/pull error in a few plain words, keeping the registry's own phrase.

    Engine 28 says ``no basic auth credentials`` when nothing was sent (both stores); a wrong
    password shows as ``401 Unauthorized`` inside a long line (containerd store:
    ``unexpected status from HEAD request to …/blobs/…: 401 Unauthorized``).
    """
    lowered = reason.lower()
    if "no basic auth credentials" in lowered:
        return "the registry wants a login and none was sent (no basic auth credentials)"
    if "401" in lowered or "unauthorized" in lowered:
        return "the registry did not accept the credentials (401 Unauthorized)"
    if "denied" in lowered or "403" in lowered:
        return f"access denied: {first_line(reason)}"
    return first_line(reason)


def _push_hint(reason: str, endpoint: Endpoint) -> str:
    lowered = reason.lower()
    if "no basic auth credentials" in lowered or "unauthorized" in lowered or \
            "authentication required" in lowered or "denied" in lowered or "401" in lowered:
        if not auth.logged_in(endpoint.address):
            return f"log in first (`docker login {endpoint.address}`): the registry wants a " \
                   "user name and password."
        return "log in again (`docker login`): the registry refused these credentials, or " \
               "they do not allow this repository name."
    if "connection refused" in lowered or "no such host" in lowered:
        return "is the registry running? (`docker ps` should list it)"
    return "read the message above; `docker push` prints the same."


def pull(reference: str, endpoint: Endpoint, *, quiet: bool = False) -> TransferResult:
    """``docker pull REFERENCE`` with the login (if any); per-blob statuses and the digest.

    ``digest`` is what ``docker pull`` prints after ``Digest:``: the digest of what the tag
    points at (index or manifest). Raises :class:`PullFailed` (no such tag, refused login).
    """
    repository, tag = split_reference(reference)
    cli = f"docker pull {reference}"
    started = time.monotonic()
    with Progress(cli, quiet=quiet) as progress:
        try:
            stream = client().api.pull(repository, tag=tag, stream=True, decode=True,
                                       auth_config=auth.auth_config_for(endpoint))
            layers, errors, _, statuses = _fold(stream, progress)
        except docker.errors.APIError as exc:
            layers, errors, statuses = {}, [str(exc.explanation or exc)], []
        seconds = time.monotonic() - started
        if errors:
            journal.record(cli, ok=False, seconds=seconds)
            raise PullFailed(f"Pulling {reference} failed: {refusal_reason(errors[-1])}",
                             hint=_push_hint(errors[-1], endpoint).replace("push", "pull"))
    journal.record(cli, seconds=seconds)
    digest = next((s.split(":", 1)[1].strip() for s in statuses if s.startswith("Digest:")), "")
    final = next((s for s in reversed(statuses) if s.startswith("Status:")), "")
    return TransferResult(reference=reference, digest=digest, seconds=round(seconds, 2),
                          layers=list(layers.values()), status=final.removeprefix("Status: "),
                          cli=cli)


def repo_digests(reference: str) -> list[str]:
    """``docker image inspect --format '{{.RepoDigests}}'``: where this image is known by digest."""
    journal.record(f"docker image inspect --format '{{{{.RepoDigests}}}}' {reference}")
    try:
        return list(client().images.get(reference).attrs.get("RepoDigests") or [])
    except docker.errors.ImageNotFound:
        return []


def diff_ids(reference: str) -> list[str]:
    """The image's layers (uncompressed content digests), bottom first."""
    facts = client().images.get(reference).attrs
    return list((facts.get("RootFS") or {}).get("Layers") or [])
