"""Registries: a private one on loopback, or Docker Hub; login, tag, push, pull, digests.

The one place the course talks to a registry: through the engine for ``docker login``, ``push``
and ``pull`` (the docker SDK), and to the registry's HTTP API for the catalog, tags and
manifests (``requests``). Passwords stay in this process: they never appear in a returned
value, a journal line, or the user's ``~/.docker/config.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import requests

from .. import journal, labels, ports, settings
from ..display import FactsView
from ..errors import CourseError, NotReady, tail
from ..progress import Progress
from . import containers, images, objects
from .client import client

INNER_PORT = 5000
AUTH_DIR = "/auth"
HTPASSWD_FILE = f"{AUTH_DIR}/htpasswd"
DATA_DIR = "/var/lib/registry"
REALM = "docker-course"
BCRYPT_COST = 10

HUB_ADDRESS = "docker.io"
HUB_API = "https://registry-1.docker.io"
HUB_LOGIN_SERVER = "https://index.docker.io/v1/"

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (MANIFEST_V2, "application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.oci.image.index.v1+json")

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
        return f"{self.namespace}/{self.name_prefix}{name.split(':')[0].split('@')[0]}"


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


def _password_file(address: str, credentials: Credentials) -> Path:
    """The password for a terminal ``docker login --password-stdin``: readable by you only."""
    path = settings.state_dir() / f"registry-{address.replace(':', '-')}.password"
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
    if password is None and known is None:
        raise LoginFailed(f"No credentials known for {endpoint.address}.",
                          hint="start the registry with the course, which generates them.")
    credentials = Credentials(username=endpoint.username,
                              password=password if password is not None else known.password)
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
    """One layer's last status in a push or pull stream."""

    id: str  # short layer id as the engine prints it (diff id for pushes)
    status: str
    total_bytes: int = 0  # uncompressed bytes the engine reported, when it did


@dataclass
class TransferResult(FactsView):
    """What a push or pull did: the reference, the manifest digest, and each layer's fate."""

    reference: str
    digest: str
    seconds: float
    layers: list[LayerEvent] = field(default_factory=list)
    status: str = ""
    cli: str = ""


def split_reference(reference: str) -> tuple[str, str]:
    """``host:5001/ns/name:tag`` → (``host:5001/ns/name``, ``tag``); tag ``latest`` if none."""
    last = reference.split("/")[-1]
    if ":" in last:
        repository, _, tag = reference.rpartition(":")
        return repository, tag
    return reference, "latest"


def _auth_for(endpoint: Endpoint) -> dict[str, str]:
    """What the engine sends: the logged-in credentials, or none at all (not even config.json)."""
    session = _SESSIONS.get(endpoint.address)
    return session.auth_config(endpoint.login_server) if session else {}


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
            if status not in ("Pushing", "Downloading", "Extracting", "Waiting"):
                entry.status = status
            progress.update(f"{layer_id}: {status}")
        elif status:
            statuses.append(status)
    return layers, errors, aux, statuses


def push(local: str, target: str, endpoint: Endpoint, *, quiet: bool = False) -> TransferResult:
    """``docker tag LOCAL TARGET`` then ``docker push TARGET``; per-layer statuses and digest.

    A refused push removes the tag this call made, so nothing is left behind.
    """
    images.require(local)
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
            layers, errors, aux, _ = _fold(stream, progress)
        except docker.errors.APIError as exc:
            layers, errors, aux = {}, [str(exc.explanation or exc)], {}
        seconds = time.monotonic() - started
        if errors or not aux.get("Digest"):
            journal.record(cli, ok=False, seconds=seconds)
            if not existed and target != local:
                with contextlib.suppress(docker.errors.APIError):
                    client().images.remove(target)
                journal.record(f"docker rmi {target}")
            reason = errors[-1] if errors else "the engine reported no digest"
            raise PushFailed(f"Pushing {target} failed: {_first_line(reason)}",
                             hint=_push_hint(reason, endpoint),
                             log_tail="\n".join(f"{layer.id}: {layer.status}"
                                                for layer in layers.values()))
    journal.record(cli, seconds=seconds)
    return TransferResult(reference=target, digest=str(aux["Digest"]), seconds=round(seconds, 2),
                          layers=list(layers.values()), status=f"pushed, {aux.get('Size')} "
                          "byte manifest", cli=cli)


def _push_hint(reason: str, endpoint: Endpoint) -> str:
    lowered = reason.lower()
    if "no basic auth credentials" in lowered or "unauthorized" in lowered or \
            "authentication required" in lowered or "denied" in lowered:
        if not logged_in(endpoint.address):
            return f"log in first (`docker login {endpoint.address}`): the registry wants a " \
                   "user name and password."
        return "your login does not allow this push: check the repository name and namespace."
    if "connection refused" in lowered or "no such host" in lowered:
        return "is the registry running? (`docker ps` should list it)"
    return "read the message above; `docker push` prints the same."


def pull(reference: str, endpoint: Endpoint, *, quiet: bool = False) -> TransferResult:
    """``docker pull REFERENCE`` with the login (if any); per-layer statuses and the digest."""
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
            raise PullFailed(f"Pulling {reference} failed: {_first_line(errors[-1])}",
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
# the registry's HTTP API


@dataclass
class ApiAnswer:
    """One HTTP API answer, with only the headers a learner looks at."""

    url: str
    status: int
    headers: dict[str, str]
    body: object
    digest_of_body: str = ""


BEARER = re.compile(r'(\w+)="([^"]*)"')
SHOWN_HEADERS = ("Content-Type", "Docker-Content-Digest", "Docker-Distribution-Api-Version",
                 "WWW-Authenticate", "Content-Length", "RateLimit-Limit", "RateLimit-Remaining")


def api_request(endpoint: Endpoint, path: str, *, method: str = "GET",
                accept: tuple[str, ...] = (), anonymous: bool = False,
                scope: str | None = None, journal_it: bool = True) -> ApiAnswer:
    """Call the registry's HTTP API, like ``curl -u USER:*** URL``.

    Basic authentication for an htpasswd registry; a bearer token (asked for with the same
    credentials) when the registry says so, as Docker Hub does.
    """
    url = endpoint.api_url.rstrip("/") + path
    credentials = _api_credentials(endpoint, anonymous)
    headers = {"Accept": ", ".join(accept)} if accept else {}
    if journal_it:
        journal.record(curl_line(endpoint, path, method=method, accept=accept,
                                 anonymous=anonymous))
    basic = (credentials.username, credentials.password) if credentials else None
    try:
        answer = requests.request(method, url, headers=headers, auth=basic, timeout=30)
        challenge = answer.headers.get("WWW-Authenticate", "")
        if answer.status_code == 401 and challenge.lower().startswith("bearer") and not anonymous:
            token = _bearer_token(challenge, basic, scope)
            if token:
                answer = requests.request(method, url, timeout=30,
                                          headers={**headers, "Authorization": f"Bearer {token}"})
    except requests.RequestException as exc:
        raise RegistryError(f"{method} {url} failed: {type(exc).__name__}",
                            hint="is the registry running and reachable?") from None
    body: object = ""
    if method != "HEAD":
        try:
            body = answer.json()
        except ValueError:
            body = answer.text[:2000]
    shown = {k: answer.headers[k] for k in SHOWN_HEADERS if k in answer.headers}
    digest = "sha256:" + hashlib.sha256(answer.content).hexdigest() if answer.content else ""
    return ApiAnswer(url=url, status=answer.status_code, headers=shown, body=body,
                     digest_of_body=digest)


def _api_credentials(endpoint: Endpoint, anonymous: bool) -> Credentials | None:
    if anonymous:
        return None
    return _SESSIONS.get(endpoint.address) or _GENERATED.get(endpoint.address)


def curl_line(endpoint: Endpoint, path: str, *, method: str = "GET",
              accept: tuple[str, ...] = (), anonymous: bool = False) -> str:
    """The ``curl`` a learner would type for this API call; the password shown as ``***``."""
    flags = ["curl", "-sS"]
    if method == "HEAD":
        flags.append("-I")
    credentials = _api_credentials(endpoint, anonymous)
    if credentials:
        flags.append(f"-u {credentials.username}:***")
    flags += [f"-H 'Accept: {a}'" for a in accept[:1]]
    return " ".join([*flags, endpoint.api_url.rstrip("/") + path])


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
    if answer.status >= 400:
        raise RegistryError(f"{what}: the registry answered HTTP {answer.status} ({answer.url}).",
                            hint="log in first, and check the repository and tag names.",
                            log_tail=str(answer.body)[:500])
    return answer
