"""Registries: a private one on loopback, or Docker Hub; login, tag, push, pull, digests.

The one place the course talks to a registry: through the engine for ``docker login``, ``push``
and ``pull`` (the docker SDK), and to the registry's HTTP API for the catalog, tags and
manifests (``urllib3``, so that each ``Accept`` value goes out as its own header line, exactly
as the ``curl -H …`` line the journal shows). Passwords stay in this process: they never appear
in a returned value, a journal line, or the user's ``~/.docker/config.json``.

What a tag points at depends on the engine's image store (Engine 28, checked against the Docker
docs "containerd image store" and BuildKit's "attestation storage"): the classic store
(overlay2) pushes one Docker v2 manifest; the containerd image store (the default of fresh
Engine 29 and Docker Desktop installs) pushes the image as built, an OCI image index whose
entries are the platform manifest and, because BuildKit adds a provenance attestation by
default, an attestation manifest with platform ``unknown/unknown``. The pure functions below
(media types, Accept headers, index entries, platform choice, curl lines) handle both.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import secrets
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import journal, labels, ports, references, settings
from ..display import FactsView
from ..errors import CourseError, NotReady, tail
from ..progress import Progress
from . import containers, images, objects
from .client import client
from .sdk import docker, requests, urllib3

INNER_PORT = 5000
AUTH_DIR = "/auth"
HTPASSWD_FILE = f"{AUTH_DIR}/htpasswd"
DATA_DIR = "/var/lib/registry"
REALM = "docker-course"
BCRYPT_COST = 10

HUB_ADDRESS = "docker.io"
HUB_API = "https://registry-1.docker.io"
HUB_LOGIN_SERVER = "https://index.docker.io/v1/"

# Manifest media types (OCI image-spec media-types.md; Docker's "Image Manifest V2, Schema 2").
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_V2 = DOCKER_MANIFEST  # the name older course code used
# What a client that can read every current image must accept, indexes first (the order is
# only a preference; a registry answers with the one format the stored manifest has).
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MEDIA_TYPE_NAMES = {OCI_INDEX: "OCI image index", OCI_MANIFEST: "OCI image manifest",
                    DOCKER_MANIFEST_LIST: "Docker manifest list",
                    DOCKER_MANIFEST: "Docker v2 manifest (schema 2)"}
# BuildKit's attestation manifests (docs: "Image attestation storage")
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST = "attestation-manifest"
PREDICATE_TYPE = "in-toto.io/predicate-type"

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


class RegistryError(CourseError):
    """A registry refused or failed a request."""


class LoginFailed(RegistryError):
    """``docker login`` was refused: wrong user name or password, or no credentials at all."""


class PushFailed(RegistryError):
    """``docker push`` was refused or broke off."""


class PullFailed(RegistryError):
    """``docker pull`` was refused or broke off."""


@dataclass(frozen=True)
class Credentials:
    """A user name and its password; the password is never shown (not even in a repr)."""

    username: str
    password: str = field(repr=False)

    def auth_config(self, server: str) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "serveraddress": server}


def new_credentials(username: str = "student") -> Credentials:
    """A fresh random password (about 190 bits), made at run time, never written in the repo."""
    return Credentials(username=username, password=secrets.token_urlsafe(24))


# address -> credentials the course generated for a registry it started
_GENERATED: dict[str, Credentials] = {}
# address -> credentials of a successful login (what `docker login` would store)
_SESSIONS: dict[str, Credentials] = {}


@dataclass
class Endpoint(FactsView):
    """Where images are pushed: a local registry the course started, or Docker Hub."""

    kind: str  # "local" or "docker-hub"
    address: str  # as it appears in image references: 127.0.0.1:5001, docker.io
    api_url: str  # the HTTP API's base URL
    namespace: str  # first part of the repository name: course, or the Hub user name
    username: str
    container: str = ""
    image: str = ""
    host_port: int = 0
    auth: str = ""
    password_file: str = ""
    name_prefix: str = ""  # Docker Hub: course repositories are named docker-course-*
    note: str = ""

    @property
    def login_server(self) -> str:
        return HUB_LOGIN_SERVER if self.kind == "docker-hub" else self.address

    def repository(self, name: str) -> str:
        """The full reference of ``name`` (``hello:1.0``) in this registry."""
        if self.kind == "docker-hub":
            return f"{self.namespace}/{self.name_prefix}{name}"
        return f"{self.address}/{self.namespace}/{self.name_prefix}{name}"

    def api_name(self, name: str) -> str:
        """The repository name the HTTP API uses (no host, no tag)."""
        return f"{self.namespace}/{self.name_prefix}{references.parse(name).repository}"


def hub_endpoint(username: str, token: str) -> Endpoint:
    """Docker Hub as the target: the user's own namespace; credentials kept in this process."""
    _GENERATED[HUB_ADDRESS] = Credentials(username=username, password=token)
    return Endpoint(kind="docker-hub", address=HUB_ADDRESS, api_url=HUB_API, namespace=username,
                    username=username, auth="Docker Hub account (access token)",
                    name_prefix="docker-course-",
                    note="images pushed here stay on Docker Hub until you delete them there")


# ---------------------------------------------------------------------------------------------
# starting a local registry


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


def password_file_path(address: str) -> Path:
    """Where the password of the course's registry at ``address`` is kept for a terminal
    ``docker login --password-stdin``: ``STATE_DIR/registry-127.0.0.1-5001.password``."""
    return settings.state_dir() / f"registry-{address.replace(':', '-')}.password"


def _password_file(address: str, credentials: Credentials) -> Path:
    """The password for a terminal ``docker login --password-stdin``: readable by you only."""
    path = password_file_path(address)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(credentials.password + "\n")
    return path


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
    credentials = new_credentials(username)
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
    _GENERATED[address] = credentials
    _SESSIONS.pop(address, None)
    password_file = _password_file(address, credentials)
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
    path = password_file_path(address)
    if address not in _GENERATED and path.is_file():
        password = path.read_text(encoding="utf-8").strip()
        if password:
            _GENERATED[address] = Credentials(username=username, password=password)
    return Endpoint(kind="local", address=address, api_url=f"http://{address}",
                    namespace=namespace, username=username, container=name,
                    host_port=port, password_file=str(path) if address in _GENERATED else "")


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


# ---------------------------------------------------------------------------------------------
# login and logout


def generated_credentials(address: str) -> Credentials | None:
    return _GENERATED.get(address)


def logged_in(address: str) -> bool:
    return address in _SESSIONS


def login(endpoint: Endpoint, password: str | None = None) -> str:
    """``docker login``: the engine checks the credentials against the registry.

    The check uses a client of its own, discarded afterwards, and nothing is written to
    ``~/.docker/config.json``; the course keeps the credentials in this process for its pushes
    and pulls (what ``docker login`` stores, ``logout`` forgets).
    """
    known = _GENERATED.get(endpoint.address)
    if password is None:
        if known is None:
            raise LoginFailed(f"No credentials known for {endpoint.address}.",
                              hint="start the registry with the course, which generates them.")
        password = known.password
    credentials = Credentials(username=endpoint.username, password=password)
    server = endpoint.login_server
    cli = f"docker login {endpoint.address} -u {credentials.username} --password-stdin"
    started = time.monotonic()
    client()  # a clear EngineUnavailable first, when there is no engine at all
    probe = docker.from_env(timeout=60)
    try:
        answer = probe.login(username=credentials.username, password=credentials.password,
                             registry=server, reauth=True)
    except docker.errors.APIError as exc:
        journal.record(cli, ok=False, seconds=time.monotonic() - started)
        reason = str(exc.explanation or exc).replace(credentials.password, "***")
        _SESSIONS.pop(endpoint.address, None)
        raise LoginFailed(f"The registry at {endpoint.address} refused the login of "
                          f"{credentials.username!r}: {_first_line(reason)}",
                          hint="check the user name and password; for the course's registry "
                               "call login(reg) without a password to use the generated one."
                          ) from None
    except (docker.errors.DockerException, requests.RequestException) as exc:
        journal.record(cli, ok=False, seconds=time.monotonic() - started)
        raise LoginFailed(f"Logging in to {endpoint.address} failed: "
                          f"{_first_line(str(exc)).replace(credentials.password, '***')}",
                          hint="is the registry running? (`docker ps` should list it)") from None
    finally:
        probe.close()
    journal.record(cli, seconds=time.monotonic() - started)
    _SESSIONS[endpoint.address] = credentials
    return str((answer or {}).get("Status") or "Login Succeeded")


def logout(endpoint: Endpoint) -> bool:
    """``docker logout``: forget the login; True if there was one."""
    journal.record(f"docker logout {endpoint.address}")
    return _SESSIONS.pop(endpoint.address, None) is not None


def forget(endpoint: Endpoint) -> None:
    """Forget everything about a registry's credentials, and delete the password file."""
    _SESSIONS.pop(endpoint.address, None)
    _GENERATED.pop(endpoint.address, None)
    if endpoint.password_file:
        Path(endpoint.password_file).unlink(missing_ok=True)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "no reason given"


# ---------------------------------------------------------------------------------------------
# push and pull


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


def _auth_for(endpoint: Endpoint) -> dict[str, str]:
    """What the engine sends: the logged-in credentials, or none at all (not even config.json)."""
    session = _SESSIONS.get(endpoint.address)
    return session.auth_config(endpoint.login_server) if session else {}


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
                                       auth_config=_auth_for(endpoint))
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
                                                 f"engine: {_first_line(reason)}"]))
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
        return f"access denied: {_first_line(reason)}"
    return _first_line(reason)


def _push_hint(reason: str, endpoint: Endpoint) -> str:
    lowered = reason.lower()
    if "no basic auth credentials" in lowered or "unauthorized" in lowered or \
            "authentication required" in lowered or "denied" in lowered or "401" in lowered:
        if not logged_in(endpoint.address):
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
                                       auth_config=_auth_for(endpoint))
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


def short_layer_id(digest: str) -> str:
    """How push and pull streams name a layer: 12 hex digits, no algorithm."""
    return digest.split(":")[-1][:12]


# ---------------------------------------------------------------------------------------------
# manifests and indexes: pure functions on the JSON a registry returns


@dataclass
class IndexEntry:
    """One entry (descriptor) of an image index: a manifest, for a platform or an attestation.

    ``platform`` is ``os/architecture[/variant]`` (``unknown/unknown`` for attestations);
    ``kind`` is ``"image"`` (a runnable platform manifest), ``"attestation"`` (BuildKit's
    attestation manifest: annotation ``vnd.docker.reference.type: attestation-manifest``) or
    ``"other"``; ``refers_to`` is the digest an attestation describes; ``size_bytes`` the
    manifest's size in bytes.
    """

    digest: str
    media_type: str
    platform: str
    kind: str
    size_bytes: int = 0
    refers_to: str = ""


def media_type_of(body: object, content_type: str = "") -> str:
    """The document's media type: its ``mediaType`` field, else the HTTP Content-Type."""
    if isinstance(body, dict) and body.get("mediaType"):
        return str(body["mediaType"])
    return content_type.split(";", 1)[0].strip()


def is_index(media_type: str) -> bool:
    """True for an OCI image index or a Docker manifest list (both list manifests)."""
    return media_type in INDEX_TYPES


def platform_text(platform: dict | None) -> str:
    """``{"os": "linux", "architecture": "arm64", "variant": "v8"}`` → ``linux/arm64/v8``."""
    platform = platform or {}
    parts = [str(platform.get("os") or "?"), str(platform.get("architecture") or "?")]
    if platform.get("variant"):
        parts.append(str(platform["variant"]))
    return "/".join(parts)


def index_entries(index: dict) -> list[IndexEntry]:
    """The entries of an image index (or manifest list), in the order the index lists them.

    An entry is an attestation when its ``vnd.docker.reference.type`` annotation says
    ``attestation-manifest`` (BuildKit sets it, with platform ``unknown/unknown``); an entry
    with platform ``unknown/unknown`` and no such annotation is ``other``, never runnable.
    """
    entries = []
    for item in index.get("manifests") or []:
        annotations = item.get("annotations") or {}
        platform = platform_text(item.get("platform"))
        if annotations.get(REFERENCE_TYPE) == ATTESTATION_MANIFEST:
            kind = "attestation"
        elif platform.startswith("unknown/unknown") or REFERENCE_TYPE in annotations:
            kind = "other"
        else:
            kind = "image"
        entries.append(IndexEntry(digest=str(item.get("digest", "")),
                                  media_type=str(item.get("mediaType", "")), platform=platform,
                                  kind=kind, size_bytes=int(item.get("size") or 0),
                                  refers_to=str(annotations.get(REFERENCE_DIGEST, ""))))
    return entries


def pick_platform(entries: list[IndexEntry], os_name: str, architecture: str,
                  variant: str = "") -> IndexEntry:
    """The platform manifest a pull on ``os_name/architecture[/variant]`` would use.

    Attestations and other non-image entries are never picked. An entry without a variant
    matches any variant. Raises :class:`RegistryError` when no entry fits.
    """
    for entry in entries:
        if entry.kind != "image":
            continue
        parts = entry.platform.split("/")
        if parts[:2] != [os_name, architecture]:
            continue
        if variant and len(parts) > 2 and parts[2] != variant:
            continue
        return entry
    offered = ", ".join(e.platform for e in entries if e.kind == "image") or "none"
    wanted = "/".join(p for p in (os_name, architecture, variant) if p)
    raise RegistryError(f"The image index has no manifest for {wanted} (it offers: {offered}).",
                        hint="build or push the image for this platform (`docker buildx build "
                             "--platform …`).")


def predicate_types(manifest: dict) -> list[str]:
    """What an attestation manifest holds: the in-toto predicate type of each of its layers."""
    return [str((layer.get("annotations") or {}).get(PREDICATE_TYPE) or layer.get("mediaType"))
            for layer in manifest.get("layers") or []]


def accept_headers(accept: tuple[str, ...]) -> list[tuple[str, str]]:
    """One ``("Accept", media type)`` header per accepted type, in order.

    Sent as separate header lines, as the engine's own registry client does and as
    ``curl -H 'Accept: …' -H 'Accept: …'`` does; HTTP treats them as one comma-joined list.
    """
    return [("Accept", media_type) for media_type in accept]


# ---------------------------------------------------------------------------------------------
# the registry's HTTP API


@dataclass
class ApiAnswer:
    """One HTTP API answer, with only the headers a learner looks at.

    ``digest_of_body`` is ``sha256:`` + the hash of the body bytes (empty for HEAD);
    ``accept`` the media types the request accepted (each sent as its own Accept line).
    """

    url: str
    status: int
    headers: dict[str, str]
    body: object
    digest_of_body: str = ""
    accept: tuple[str, ...] = ()
    method: str = "GET"

    @property
    def media_type(self) -> str:
        return media_type_of(self.body, self.headers.get("Content-Type", ""))

    @property
    def error(self) -> str:
        """The registry's error ``CODE: message`` (first of its ``errors`` list), or ``""``."""
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        if not errors:
            return ""
        first = errors[0] or {}
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")


BEARER = re.compile(r'(\w+)="([^"]*)"')
SHOWN_HEADERS = ("Content-Type", "Docker-Content-Digest", "Docker-Distribution-Api-Version",
                 "WWW-Authenticate", "Content-Length", "RateLimit-Limit", "RateLimit-Remaining")
CURL_DEFAULT_ACCEPT = "*/*"


@functools.cache
def _http() -> urllib3.PoolManager:
    """One connection pool for the registry API: no retries (a failure is shown as it is),
    redirects followed (blob downloads), 30 s per request."""
    return urllib3.PoolManager(retries=urllib3.Retry(total=None, connect=0, read=0, status=0,
                                                     other=0, redirect=5),
                               timeout=urllib3.Timeout(total=30))


def request_headers(accept: tuple[str, ...], credentials: Credentials | None = None, *,
                    bearer: str = "") -> urllib3.HTTPHeaderDict:
    """The exact request headers of an API call: each Accept value, then the authorization.

    With no ``accept``, ``Accept: */*``: what curl sends on its own, so that the printed line
    and this request ask for the same thing.
    """
    headers = urllib3.HTTPHeaderDict()
    for name, value in accept_headers(accept) or [("Accept", CURL_DEFAULT_ACCEPT)]:
        headers.add(name, value)
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    elif credentials is not None:
        headers.update(urllib3.util.make_headers(
            basic_auth=f"{credentials.username}:{credentials.password}"))
    return headers


def api_request(endpoint: Endpoint, path: str, *, method: str = "GET",
                accept: tuple[str, ...] = (), anonymous: bool = False,
                scope: str | None = None, journal_it: bool = True) -> ApiAnswer:
    """Call the registry's HTTP API exactly as the journaled ``curl`` line does.

    ``path`` starts with ``/v2/``; ``accept`` are manifest media types, each sent as its own
    ``Accept`` header. Basic authentication for an htpasswd registry; a bearer token (asked for
    with the same credentials) when the registry says so, as Docker Hub does. HTTP errors come
    back as an answer (``status`` >= 400, see :func:`require_ok`); an unreachable registry
    raises :class:`RegistryError`.
    """
    url = endpoint.api_url.rstrip("/") + path
    credentials = _api_credentials(endpoint, anonymous)
    if journal_it:
        journal.record(curl_line(endpoint, path, method=method, accept=accept,
                                 anonymous=anonymous))
    try:
        answer = _http().request(method, url, headers=request_headers(accept, credentials))
        challenge = answer.headers.get("WWW-Authenticate", "")
        if answer.status == 401 and challenge.lower().startswith("bearer") and not anonymous:
            basic = (credentials.username, credentials.password) if credentials else None
            token = _bearer_token(challenge, basic, scope)
            if token:
                answer = _http().request(method, url, headers=request_headers(accept,
                                                                            bearer=token))
    except (urllib3.exceptions.HTTPError, requests.RequestException) as exc:
        raise RegistryError(f"{method} {url} failed: {_transport_error(exc)}",
                            hint="is the registry running and reachable?") from None
    content = answer.data or b""
    body: object = ""
    if method != "HEAD" and content:
        try:
            body = json.loads(content)
        except ValueError:
            body = content.decode("utf-8", "replace")[:2000]
    shown = {k: answer.headers[k] for k in SHOWN_HEADERS if k in answer.headers}
    digest = "sha256:" + hashlib.sha256(content).hexdigest() if content else ""
    return ApiAnswer(url=url, status=answer.status, headers=shown, body=body,
                     digest_of_body=digest, accept=tuple(accept), method=method)


def _transport_error(exc: Exception) -> str:
    """``ConnectionError`` / ``Timeout`` / the exception's name: what went wrong on the wire."""
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, (urllib3.exceptions.NewConnectionError, ConnectionError,
                           requests.ConnectionError)):
        return "ConnectionError"
    if isinstance(reason, (urllib3.exceptions.TimeoutError, TimeoutError, requests.Timeout)):
        return "Timeout"
    return type(reason).__name__


def _api_credentials(endpoint: Endpoint, anonymous: bool) -> Credentials | None:
    if anonymous:
        return None
    return _SESSIONS.get(endpoint.address) or _GENERATED.get(endpoint.address)


def curl_arguments(url: str, *, method: str = "GET", accept: tuple[str, ...] = (),
                   username: str = "") -> list[str]:
    """The ``curl`` argv for an API call; ``-u USER:***`` stands for the password.

    Built from the same ``accept`` tuple the request sends: one ``-H 'Accept: …'`` per type,
    in the same order, so the line sends exactly the helper's headers.
    """
    argv = ["curl", "-sS"]
    if method == "HEAD":
        argv.append("-I")
    elif method != "GET":
        argv += ["-X", method]
    if username:
        argv += ["-u", f"{username}:***"]
    for name, value in accept_headers(accept):
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    return argv


def curl_line(endpoint: Endpoint, path: str, *, method: str = "GET",
              accept: tuple[str, ...] = (), anonymous: bool = False) -> str:
    """The ``curl`` a learner would type for this API call; the password shown as ``***``."""
    credentials = _api_credentials(endpoint, anonymous)
    argv = curl_arguments(endpoint.api_url.rstrip("/") + path, method=method, accept=accept,
                          username=credentials.username if credentials else "")
    return " ".join(_shell_word(arg) for arg in argv)


def _shell_word(word: str) -> str:
    """Quote for a POSIX shell, but leave ``$tag`` loops and plain words readable."""
    if re.fullmatch(r"[\w@%+=:,./*$-]+", word) and "'" not in word:
        return word
    return shlex.quote(word)


def _bearer_token(challenge: str, basic: tuple[str, str] | None, scope: str | None) -> str:
    """The token-auth dance: ask the realm the registry named for a token for this scope."""
    fields = dict(BEARER.findall(challenge))
    realm = fields.pop("realm", "")
    if not realm:
        return ""
    if scope:
        fields["scope"] = scope
    answer = requests.get(realm, params=fields, auth=basic, timeout=30)
    if answer.status_code != 200:
        return ""
    data = answer.json()
    return str(data.get("token") or data.get("access_token") or "")


def require_ok(answer: ApiAnswer, what: str) -> ApiAnswer:
    """``answer`` when its status is below 400, else :class:`RegistryError` with the reason."""
    if answer.status >= 400:
        reason = f": {answer.error}" if answer.error else ""
        raise RegistryError(f"{what}: the registry answered HTTP {answer.status}{reason} "
                            f"({answer.url}).",
                            hint="log in first, and check the repository and tag names.",
                            log_tail=str(answer.body)[:500])
    return answer


# ---------------------------------------------------------------------------------------------
# reading what a tag points at


@dataclass
class ManifestView(FactsView):
    """What ``REPOSITORY:REFERENCE`` points at, read with every manifest type accepted.

    ``digest``/``media_type`` describe the top document (an index, or directly a manifest);
    ``entries`` the index's entries (empty without an index); ``platform_digest`` and
    ``manifest`` the platform manifest a pull on ``platform`` uses (config and layers);
    ``attestations`` maps an attestation manifest's digest to its predicate types.
    """

    repository: str
    reference: str
    digest: str
    media_type: str
    platform: str
    platform_digest: str
    manifest: dict = field(default_factory=dict)
    entries: list[IndexEntry] = field(default_factory=list)
    attestations: dict[str, list[str]] = field(default_factory=dict)
    size_bytes: int = 0  # of the top document, as the registry sent it


def engine_platform() -> tuple[str, str, str]:
    """The engine's own platform: (os, architecture, variant), as ``docker version`` says."""
    facts = client().version()
    arch = str(facts.get("Arch") or "amd64")
    variant = "v8" if arch == "arm64" else ""
    return str(facts.get("Os") or "linux"), arch, variant


def read_manifest(endpoint: Endpoint, repository: str, reference: str, *,
                  platform: tuple[str, str, str] | None = None, journal_it: bool = True,
                  with_attestations: bool = False) -> ManifestView:
    """``GET /v2/REPOSITORY/manifests/REFERENCE`` with all of :data:`MANIFEST_TYPES`.

    An index is followed to the platform manifest for ``platform`` (default: the engine's),
    fetched by digest; ``with_attestations`` also reads each attestation manifest. Raises
    :class:`RegistryError` (HTTP error, or no manifest for the platform).
    """
    scope = f"repository:{repository}:pull"
    top = require_ok(api_request(endpoint, f"/v2/{repository}/manifests/{reference}",
                                 accept=MANIFEST_TYPES, scope=scope, journal_it=journal_it),
                     f"Reading the manifest of {repository}:{reference}")
    body = top.body if isinstance(top.body, dict) else {}
    media_type = top.media_type
    digest = top.headers.get("Docker-Content-Digest") or top.digest_of_body
    size = int(top.headers.get("Content-Length") or 0)
    if not is_index(media_type):
        return ManifestView(repository=repository, reference=reference, digest=digest,
                            media_type=media_type, platform=platform_text(None),
                            platform_digest=digest, manifest=body, size_bytes=size)
    entries = index_entries(body)
    wanted = platform or engine_platform()
    chosen = pick_platform(entries, *wanted)
    manifest = _child(endpoint, repository, chosen, scope, journal_it)
    attestations = {}
    if with_attestations:
        for entry in entries:
            if entry.kind == "attestation":
                attestations[entry.digest] = predicate_types(
                    _child(endpoint, repository, entry, scope, journal_it))
    return ManifestView(repository=repository, reference=reference, digest=digest,
                        media_type=media_type, platform=chosen.platform,
                        platform_digest=chosen.digest, manifest=manifest, entries=entries,
                        attestations=attestations, size_bytes=size)


def _child(endpoint: Endpoint, repository: str, entry: IndexEntry, scope: str,
           journal_it: bool) -> dict:
    """A manifest listed in an index, by digest, accepting exactly its listed media type."""
    answer = require_ok(api_request(endpoint, f"/v2/{repository}/manifests/{entry.digest}",
                                    accept=(entry.media_type or OCI_MANIFEST,), scope=scope,
                                    journal_it=journal_it),
                        f"Reading manifest {entry.digest[:19]}… of {repository}")
    if answer.digest_of_body != entry.digest:
        raise RegistryError(f"The manifest {entry.digest[:19]}… of {repository} does not hash "
                            f"to its digest (got {answer.digest_of_body[:19]}…).",
                            hint="the registry's storage is damaged: push the image again.")
    return answer.body if isinstance(answer.body, dict) else {}
