"""Notebook 05: tag, push, pull back, prove it is the same image; layer reuse; digests; what a
tag points at (an OCI image index with its platform and attestation manifests, or a single
manifest) and the Accept headers that fetch it.

The target is Docker Hub when ``COURSE_DOCKERHUB_USER`` and ``COURSE_DOCKERHUB_TOKEN`` are set
(never required), otherwise a private registry the course starts on 127.0.0.1 with a generated
htpasswd login. Every function here returns plain data; the engine work is in
``helpers.engine.registry``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from .. import display, journal, manifests, resolver
from ..display import FactsView
from ..engine import images
from ..engine import registry as reg
from ..engine import registry_api as api
from ..engine import registry_auth as auth
from ..engine.registry import TransferResult
from ..engine.registry_auth import Endpoint
from ..session import action

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CONTAINER_NAME = "course-05-registry"
PREFERRED_PORT = 5001  # 5000 is the sample app's (and, on macOS, AirPlay's)
HUB_USER_ENV = "COURSE_DOCKERHUB_USER"
HUB_TOKEN_ENV = "COURSE_DOCKERHUB_TOKEN"

SENT = "Pushed"
REUSED_STATUSES = ("Layer already exists", "Mounted from")


def hub_credentials() -> tuple[str, str] | None:
    """Docker Hub user and access token from the environment, when both are set."""
    user = os.environ.get(HUB_USER_ENV, "").strip()
    token = os.environ.get(HUB_TOKEN_ENV, "").strip()
    return (user, token) if user and token else None


@action
def use_registry(port: int = PREFERRED_PORT, *, name: str = CONTAINER_NAME) -> Endpoint:
    """Docker Hub with the learner's token, or a private registry started on 127.0.0.1:PORT.

    The local one runs the official ``registry:2`` when it can be had, else the course's
    stand-in; storage and the generated password file live in two labelled volumes.
    """
    hub = hub_credentials()
    if hub is not None:
        return auth.hub_endpoint(*hub)
    image = resolver.resolve("registry")
    if image.is_official:  # registry:2 has no htpasswd: a Debian-based Python image makes it
        tool, tool_image = "python", resolver.resolve("python").reference
    else:
        tool, tool_image = "htpasswd", image.reference
    endpoint = reg.start_local(image.reference, name=name, host_port=port,
                               tool_image=tool_image, tool=tool)
    if endpoint.note:
        display.note(endpoint.note, kind="warn")
    return endpoint


@action
def port_table(endpoint: Endpoint) -> pd.DataFrame:
    """``docker port``: where the registry is published (127.0.0.1 only, never 0.0.0.0)."""
    if endpoint.kind != "local":
        return pd.DataFrame([{"container port": "-", "host address": "Docker Hub",
                              "host port": "443"}]).set_index("container port")
    rows = reg.port_bindings(endpoint.container)
    return pd.DataFrame(rows, columns=["container port", "host address", "host port"]) \
        .set_index("container port")


@action
def ask_without_login(endpoint: Endpoint) -> pd.DataFrame:
    """``curl /v2/`` with no credentials: the registry answers 401 and names its login scheme."""
    answer = api.api_request(endpoint, "/v2/", anonymous=True)
    rows = [("URL", answer.url), ("HTTP status", answer.status),
            *((name, value) for name, value in answer.headers.items())]
    return display.key_value_table(rows, columns=("answer", "value"))


@dataclass
class LoginResult(FactsView):
    """What ``docker login`` said, and where the credentials are kept (not on disk)."""

    registry: str
    username: str
    status: str
    kept: str


@action
def login(endpoint: Endpoint, password: str | None = None) -> LoginResult:
    """``docker login``; without ``password`` the registry's generated one is used."""
    status = auth.login(endpoint, password)
    return LoginResult(registry=endpoint.address, username=endpoint.username, status=status,
                       kept="in this notebook's memory only; ~/.docker/config.json is untouched")


@action
def logout(endpoint: Endpoint) -> bool:
    """``docker logout``; for the course's own registry also forget the generated password."""
    was_logged_in = auth.logout(endpoint)
    if endpoint.kind == "local":
        auth.forget(endpoint)
    return was_logged_in


@dataclass
class LayerRow:
    """One layer of a pushed image: its place, what the push did with it, its size."""

    position: int
    layer: str
    status: str
    size_bytes: int  # compressed, as stored in the registry (the manifest's size)
    sent: bool


@dataclass
class PushReport(FactsView):
    """A push: the reference, the digest the tag now has, and the bytes it sent or found there.

    ``digest`` names what the tag points at: an OCI image index (containerd image store) or a
    Docker v2 manifest (classic store), said by ``pushed``; ``platform_manifest`` is the
    digest of the manifest that lists the layers (the same as ``digest`` without an index).
    Byte counts are compressed layer sizes (bytes); attestation blobs are not layers and not
    counted.
    """

    reference: str
    digest: str
    seconds: float
    layers_sent: int
    layers_reused: int
    bytes_sent: int
    bytes_reused: int
    # Not in the summary view: push_table(report) shows the layers as a table.
    layers: list[LayerRow] = field(default_factory=list, repr=False)
    pushed: str = ""
    platform_manifest: str = ""
    note: str = ""


def layer_rows(diff_ids: list[str], manifest: dict, events: list[reg.LayerEvent]) -> \
        list[LayerRow]:
    """Join the image's layers, the manifest's blob sizes and the push stream's statuses.

    The manifest lists the compressed blobs in the same order as the image's diff ids. The
    stream names a layer by 12 hex digits: of its diff id (classic store pushes) or of its blob
    digest (pulls, containerd store); either is matched. Other blobs in the stream (an
    attestation) are not layers and get no row.
    """
    statuses = {event.id: event.status for event in events}
    blobs = list(manifest.get("layers") or [])
    rows = []
    for position, diff_id in enumerate(diff_ids, start=1):
        blob = blobs[position - 1] if position <= len(blobs) else {}
        names = [manifests.short_layer_id(diff_id)]
        if blob.get("digest"):
            names.append(manifests.short_layer_id(str(blob["digest"])))
        shown = next((name for name in names if name in statuses), names[0])
        status = statuses.get(shown, "?")
        rows.append(LayerRow(position=position, layer=shown, status=status,
                             size_bytes=int(blob.get("size", 0)), sent=status == SENT))
    return rows


@action
def push(endpoint: Endpoint, local: str, name: str) -> PushReport:
    """``docker tag LOCAL REGISTRY/…/NAME`` + ``docker push``; what was sent, what was there.

    Raises :class:`~helpers.engine.registry.PushFailed` (refused, nothing left behind) and
    :class:`~helpers.errors.ImageUnavailable` (no image LOCAL).
    """
    target = endpoint.repository(name)
    result = reg.push(local, target, endpoint)
    view = api.read_manifest(endpoint, endpoint.api_name(name), reg.split_reference(name)[1],
                             journal_it=False)
    rows = layer_rows(reg.diff_ids(target), view.manifest, result.layers)
    sent = [r for r in rows if r.sent]
    reused = [r for r in rows if r.status.startswith(REUSED_STATUSES)]
    return PushReport(reference=target, digest=result.digest, seconds=result.seconds,
                      layers_sent=len(sent), layers_reused=len(reused),
                      bytes_sent=sum(r.size_bytes for r in sent),
                      bytes_reused=sum(r.size_bytes for r in reused), layers=rows,
                      pushed=manifests.MEDIA_TYPE_NAMES.get(view.media_type, view.media_type),
                      platform_manifest=view.platform_digest, note=result.note)


def push_table(report: PushReport) -> pd.DataFrame:
    """One row per layer, bottom first: what the push did with it and its compressed size."""
    frame = pd.DataFrame([{"layer": r.position, "id": r.layer, "what the push did": r.status,
                           "size_bytes": r.size_bytes} for r in report.layers],
                         columns=["layer", "id", "what the push did", "size_bytes"])
    return frame.set_index("layer")


def reuse_frame(reports: dict[str, PushReport]) -> pd.DataFrame:
    """Bytes sent vs bytes the registry already had, per push."""
    rows = [{"push": label, "bytes_sent": r.bytes_sent, "bytes_already_there": r.bytes_reused,
             "layers_sent": r.layers_sent, "layers_already_there": r.layers_reused}
            for label, r in reports.items()]
    return pd.DataFrame(rows).set_index("push")


def reuse_chart(frame: pd.DataFrame, **options: str) -> Figure:
    """The pushes as stacked bars of bytes: :func:`helpers.charts.reuse_chart`."""
    from .. import charts

    return charts.reuse_chart(frame, **options)


@action
def catalog(endpoint: Endpoint) -> pd.DataFrame:
    """``GET /v2/_catalog``: the repositories in the registry, with their tag count."""
    answer = api.api_request(endpoint, "/v2/_catalog")
    if endpoint.kind == "docker-hub" and answer.status >= 400:
        return pd.DataFrame({"repository": [], "tags": []}).set_index("repository")
    api.require_ok(answer, "Listing the catalog")
    names = list((answer.body or {}).get("repositories") or []) \
        if isinstance(answer.body, dict) else []
    rows = []
    for name in names:
        tags = api.api_request(endpoint, f"/v2/{name}/tags/list", journal_it=False)
        found = (tags.body or {}).get("tags") if isinstance(tags.body, dict) else None
        rows.append({"repository": name, "tags": len(found or [])})
    return pd.DataFrame(rows, columns=["repository", "tags"]).set_index("repository")


@action
def tags(endpoint: Endpoint, name: str) -> pd.DataFrame:
    """``GET /v2/NAME/tags/list``, and each tag's manifest digest (``HEAD …/manifests/TAG``)."""
    repository = endpoint.api_name(name)
    answer = api.require_ok(api.api_request(endpoint, f"/v2/{repository}/tags/list",
                                            scope=f"repository:{repository}:pull"),
                            f"Listing the tags of {repository}")
    found = sorted((answer.body or {}).get("tags") or []) if isinstance(answer.body, dict) else []
    accept = manifests.MANIFEST_TYPES  # what the printed loop sends is what runs here
    if found:
        head_line = api.curl_line(endpoint, f"/v2/{repository}/manifests/$tag", method="HEAD",
                                  accept=accept)
        journal.record(f"for tag in {' '.join(found)}; do {head_line}; done")
    rows = []
    for tag in found:
        head = api.api_request(endpoint, f"/v2/{repository}/manifests/{tag}", method="HEAD",
                               accept=accept, journal_it=False,
                               scope=f"repository:{repository}:pull")
        rows.append({"tag": tag, "digest": head.headers.get("Docker-Content-Digest", "")})
    return pd.DataFrame(rows, columns=["tag", "digest"]).set_index("tag")


@action
def manifest_layers(endpoint: Endpoint, name: str) -> pd.DataFrame:
    """The platform manifest of NAME: its config and layer blobs, media types, sizes (bytes).

    ``GET /v2/NAME/manifests/TAG`` accepting every manifest type; when that is an index, the
    platform manifest for this engine's platform is fetched by its digest.
    """
    view = api.read_manifest(endpoint, endpoint.api_name(name), reg.split_reference(name)[1])
    body = view.manifest
    config = body.get("config") or {}
    rows = [{"part": "config", "media type": config.get("mediaType", ""),
             "digest": config.get("digest", ""), "size_bytes": int(config.get("size", 0))}]
    rows += [{"part": f"layer {n}", "media type": layer.get("mediaType", ""),
              "digest": layer.get("digest", ""), "size_bytes": int(layer.get("size", 0))}
             for n, layer in enumerate(body.get("layers") or [], start=1)]
    return pd.DataFrame(rows).set_index("part")


ENTRY_COLUMNS = ["entry", "media type", "platform", "what it is", "digest", "size_bytes"]


def _entry_row(number: int, entry: manifests.IndexEntry, view: api.ManifestView) -> dict:
    if entry.kind == "attestation":
        what = "attestation of " + (entry.refers_to[:19] + "…" if entry.refers_to
                                    else "the image")
        predicates = view.attestations.get(entry.digest) or []
        if predicates:
            what += ": " + ", ".join(predicates)
    elif entry.kind == "image":
        what = "platform manifest" + (" (a pull here uses this one)"
                                      if entry.digest == view.platform_digest else "")
    else:
        what = "not an image (ignored by pulls)"
    return {"entry": number, "media type": manifests.MEDIA_TYPE_NAMES.get(entry.media_type,
                                                                     entry.media_type),
            "platform": entry.platform, "what it is": what, "digest": entry.digest,
            "size_bytes": entry.size_bytes}


@action
def index_table(endpoint: Endpoint, name: str) -> pd.DataFrame:
    """What the tag NAME points at, one row per manifest: the index's entries, or the manifest.

    Columns: entry number, media type, platform (``unknown/unknown`` for attestations), what
    it is (platform manifest, or attestation manifest with its in-toto predicate types),
    digest, size_bytes. Without an index (classic store) one row: the manifest itself.
    """
    view = api.read_manifest(endpoint, endpoint.api_name(name), reg.split_reference(name)[1],
                             with_attestations=True)
    if not view.entries:
        rows = [{"entry": 0, "media type": manifests.MEDIA_TYPE_NAMES.get(view.media_type,
                                                                     view.media_type),
                 "platform": "(in its config)",
                 "what it is": "the tag points at this manifest directly: no index",
                 "digest": view.digest, "size_bytes": view.size_bytes}]
    else:
        rows = [_entry_row(n, e, view) for n, e in enumerate(view.entries, start=1)]
    return pd.DataFrame(rows, columns=ENTRY_COLUMNS).set_index("entry")


ACCEPT_TRIES = (("Docker v2 manifest only", (manifests.DOCKER_MANIFEST,)),
                ("all four manifest types", manifests.MANIFEST_TYPES))


@action
def accept_trial(endpoint: Endpoint, name: str) -> pd.DataFrame:
    """The same ``GET …/manifests/TAG`` twice: accepting Docker v2 only, then all four types.

    Shows, per request: HTTP status, the media type the registry answered with, and its error
    (``MANIFEST_UNKNOWN: OCI index found, but accept header does not support OCI indexes`` is
    what distribution 2.8 says when the stored format is not among the accepted ones).
    """
    repository = endpoint.api_name(name)
    path = f"/v2/{repository}/manifests/{reg.split_reference(name)[1]}"
    rows = []
    for label, accept in ACCEPT_TRIES:
        answer = api.api_request(endpoint, path, accept=accept,
                                 scope=f"repository:{repository}:pull")
        rows.append({"request accepts": label, "HTTP status": answer.status,
                     "answered with": manifests.MEDIA_TYPE_NAMES.get(answer.media_type, "")
                     if answer.status < 400 else "",
                     "registry error": answer.error})
    return pd.DataFrame(rows).set_index("request accepts")


@action
def remove_local(references: list[str]) -> list[str]:
    """``docker rmi`` each reference; the ones that were there."""
    return [reference for reference in references if images.remove(reference)]


@dataclass
class PullReport(FactsView):
    """A pull: the reference, the digest it reported, and what happened to each image layer.

    ``rows`` has one entry per layer of the pulled platform manifest, bottom first
    (``size_bytes`` compressed; ``sent`` True when the layer was downloaded); ``layers`` keeps
    the engine's raw per-blob statuses. A layer the engine did not mention at all (the
    containerd store stays silent about content it already holds) counts as already here.
    """

    reference: str
    digest: str
    status: str
    seconds: float
    layers_downloaded: int
    layers_already_here: int
    image_id: str
    layers: list[reg.LayerEvent] = field(default_factory=list)
    rows: list[LayerRow] = field(default_factory=list)


DOWNLOADED = "Pull complete"
HELD = "Already exists"
NOT_LISTED = "Already exists (not listed by the engine)"


def pull_outcome(event: reg.LayerEvent) -> str:
    """What a pull did with one blob: ``Already exists`` if it said so at any point, else its
    last status (``Pull complete`` for a downloaded and unpacked layer)."""
    return HELD if HELD in (event.history or [event.status]) else event.status


def pull_rows(diff_ids: list[str], manifest: dict, events: list[reg.LayerEvent]) -> \
        list[LayerRow]:
    """One row per layer of the pulled image: the pull's outcome for it, its compressed size.

    Layers are matched like :func:`layer_rows` (diff id or blob digest); a layer missing from
    the stream gets :data:`NOT_LISTED`.
    """
    outcomes = {event.id: pull_outcome(event) for event in events}
    rows = layer_rows(diff_ids, manifest, [reg.LayerEvent(k, v) for k, v in outcomes.items()])
    blobs = list(manifest.get("layers") or [])
    for row in rows:
        if row.status == "?":
            row.status = NOT_LISTED
            if row.position <= len(blobs) and blobs[row.position - 1].get("digest"):
                # pull streams name blobs by their (compressed) digest, on both stores
                row.layer = manifests.short_layer_id(str(blobs[row.position - 1]["digest"]))
        row.sent = row.status == DOWNLOADED
    return rows


@action
def pull(endpoint: Endpoint, name: str) -> PullReport:
    """``docker pull REGISTRY/…/NAME`` with the login; raises PullFailed (no such tag, refused)."""
    result: TransferResult = reg.pull(endpoint.repository(name), endpoint)
    facts = images.require(result.reference)
    view = api.read_manifest(endpoint, endpoint.api_name(name), reg.split_reference(name)[1],
                             journal_it=False)
    rows = pull_rows(reg.diff_ids(result.reference), view.manifest, result.layers)
    return PullReport(reference=result.reference, digest=result.digest, status=result.status,
                      seconds=result.seconds,
                      layers_downloaded=sum(r.sent for r in rows),
                      layers_already_here=sum(r.status.startswith(HELD) for r in rows),
                      image_id=facts.id, layers=result.layers, rows=rows)


def pull_table(report: PullReport) -> pd.DataFrame:
    """One row per layer of the pulled image, bottom first: what the pull did, compressed size."""
    frame = pd.DataFrame([{"layer": r.position, "id": r.layer, "what the pull did": r.status,
                           "size_bytes": r.size_bytes} for r in report.rows],
                         columns=["layer", "id", "what the pull did", "size_bytes"])
    return frame.set_index("layer")


@action
def digest_evidence(endpoint: Endpoint, name: str, pushed: PushReport,
                    pulled: PullReport) -> pd.DataFrame:
    """Every place the digest of NAME shows up, side by side with the one the push reported.

    Rows: what push and pull printed, the registry's ``Docker-Content-Digest``, the sha256 of
    the manifest bytes computed here, and the pulled image's ``RepoDigests``; column
    ``same as pushed`` (bool). Every request accepts all manifest types, so the same rows
    hold for a Docker v2 manifest (classic store) and an OCI image index (containerd store).
    """
    repository = endpoint.api_name(name)
    tag = reg.split_reference(name)[1]
    path = f"/v2/{repository}/manifests/{tag}"
    scope = f"repository:{repository}:pull"
    accept = manifests.MANIFEST_TYPES  # whatever was pushed (index or manifest) comes back as is
    head = api.api_request(endpoint, path, method="HEAD", accept=accept, scope=scope)
    body = api.api_request(endpoint, path, accept=accept, scope=scope, journal_it=False)
    repo_digests = reg.repo_digests(pulled.reference)
    wanted_prefix = pulled.reference.rsplit(":", 1)[0] + "@"
    local = next((d.split("@", 1)[1] for d in repo_digests if d.startswith(wanted_prefix)), "")
    journal.record(api.curl_line(endpoint, path, accept=accept) + " | sha256sum")
    rows = [("docker push said", pushed.digest),
            ("registry header Docker-Content-Digest", head.headers.get("Docker-Content-Digest",
                                                                       "")),
            ("sha256 of the manifest bytes (computed here)", body.digest_of_body),
            ("docker pull said", pulled.digest),
            ("RepoDigests of the pulled image", local)]
    frame = pd.DataFrame([{"where": w, "digest": d, "same as pushed": d == pushed.digest}
                          for w, d in rows])
    return frame.set_index("where")
