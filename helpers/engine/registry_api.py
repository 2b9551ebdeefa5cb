"""The registry's HTTP API (distribution spec): catalog, tags, manifests, read the way the
journal's ``curl`` lines read them.

Requests go through ``urllib3`` so that each ``Accept`` value goes out as its own header line,
exactly as the ``curl -H …`` line the journal shows. Basic authentication for an htpasswd
registry; a bearer token (asked for with the same credentials) when the registry says so, as
Docker Hub does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field

from .. import journal
from ..display import FactsView
from ..errors import RegistryError
from ..manifests import (
    MANIFEST_TYPES,
    OCI_MANIFEST,
    IndexEntry,
    accept_headers,
    index_entries,
    is_index,
    media_type_of,
    pick_platform,
    platform_text,
    predicate_types,
)
from .client import client
from .registry_auth import Credentials, Endpoint, api_credentials
from .sdk import requests, urllib3


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
    credentials = api_credentials(endpoint, anonymous)
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
    credentials = api_credentials(endpoint, anonymous)
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
