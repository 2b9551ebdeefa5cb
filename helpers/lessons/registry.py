"""Notebook 05: tag, push, pull back, prove it is the same image; layer reuse; digests.

The target is Docker Hub when ``COURSE_DOCKERHUB_USER`` and ``COURSE_DOCKERHUB_TOKEN`` are set
(never required), otherwise a private registry the course starts on 127.0.0.1 with a generated
htpasswd login. Every function here returns plain data; the engine work is in
``helpers.engine.registry``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from .. import display, journal, resolver
from ..charts import PALETTE, _bytes_axis
from ..display import FactsView
from ..engine import images
from ..engine import registry as reg
from ..engine.registry import Endpoint, TransferResult
from ..replay import action
from ..units import human_bytes

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
        return reg.hub_endpoint(*hub)
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
    answer = reg.api_request(endpoint, "/v2/", anonymous=True)
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
    status = reg.login(endpoint, password)
    return LoginResult(registry=endpoint.address, username=endpoint.username, status=status,
                       kept="in this notebook's memory only; ~/.docker/config.json is untouched")


@action
def logout(endpoint: Endpoint) -> bool:
    """``docker logout``; for the course's own registry also forget the generated password."""
    was_logged_in = reg.logout(endpoint)
    if endpoint.kind == "local":
        reg.forget(endpoint)
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
    """A push: the reference, its manifest digest, and the bytes it sent or found there."""

    reference: str
    digest: str
    seconds: float
    layers_sent: int
    layers_reused: int
    bytes_sent: int
    bytes_reused: int
    layers: list[LayerRow] = field(default_factory=list)


def layer_rows(diff_ids: list[str], manifest: dict, events: list[reg.LayerEvent]) -> \
        list[LayerRow]:
    """Join the image's layers, the manifest's blob sizes and the push stream's statuses.

    The stream names a layer by the first 12 hex digits of its diff id; the manifest lists the
    compressed blobs in the same order as the image's diff ids.
    """
    statuses = {event.id: event.status for event in events}
    blobs = list(manifest.get("layers") or [])
    rows = []
    for position, diff_id in enumerate(diff_ids, start=1):
        short = reg.short_layer_id(diff_id)
        status = statuses.get(short, "?")
        size = int(blobs[position - 1].get("size", 0)) if position <= len(blobs) else 0
        rows.append(LayerRow(position=position, layer=short, status=status, size_bytes=size,
                             sent=status == SENT))
    return rows


@action
def push(endpoint: Endpoint, local: str, name: str) -> PushReport:
    """``docker tag LOCAL REGISTRY/…/NAME`` + ``docker push``; what was sent, what was there."""
    target = endpoint.repository(name)
    result = reg.push(local, target, endpoint)
    repository = endpoint.api_name(name)
    manifest = reg.api_request(endpoint, f"/v2/{repository}/manifests/"
                               f"{reg.split_reference(name)[1]}", accept=(reg.MANIFEST_V2,),
                               scope=f"repository:{repository}:pull", journal_it=False)
    rows = layer_rows(reg.diff_ids(target), manifest.body if isinstance(manifest.body, dict)
                      else {}, result.layers)
    sent = [r for r in rows if r.sent]
    reused = [r for r in rows if r.status.startswith(REUSED_STATUSES)]
    return PushReport(reference=target, digest=result.digest, seconds=result.seconds,
                      layers_sent=len(sent), layers_reused=len(reused),
                      bytes_sent=sum(r.size_bytes for r in sent),
                      bytes_reused=sum(r.size_bytes for r in reused), layers=rows)


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


def _layers(count: int) -> str:
    return f"{count} layer" if count == 1 else f"{count} layers"


def reuse_chart(frame: pd.DataFrame, *, title: str = "What each push sent") -> Figure:
    """Stacked bars per push: bytes uploaded, and bytes of layers the registry already had."""
    figure = Figure(figsize=(8, 0.8 * len(frame) + 2.0), layout="constrained")
    axes = figure.subplots()
    names = [str(n) for n in frame.index]
    sent = frame["bytes_sent"]
    there = frame["bytes_already_there"]
    axes.barh(names, sent, height=0.6, color=PALETTE[2], label="uploaded (layer pushed)")
    axes.barh(names, there, left=sent, height=0.6, color=PALETTE[1],
              label="not uploaded (layer already in the registry)")
    for y, (s, t, ls, lt) in enumerate(zip(sent, there, frame["layers_sent"],
                                           frame["layers_already_there"], strict=True)):
        axes.text(s + t, y, f"  {human_bytes(s)} sent ({_layers(ls)}), {_layers(lt)} reused",
                  va="center", fontsize=8)
    _bytes_axis(axes.xaxis)
    axes.set_xlim(0, max(float((sent + there).max()), 1.0) * 1.7)
    axes.set_xlabel("compressed layer size (bytes, decimal units)")
    axes.invert_yaxis()
    axes.set_title(title)
    figure.legend(loc="outside lower center", ncols=2, fontsize=8)
    return figure


@action
def catalog(endpoint: Endpoint) -> pd.DataFrame:
    """``GET /v2/_catalog``: the repositories in the registry, with their tag count."""
    answer = reg.api_request(endpoint, "/v2/_catalog")
    if endpoint.kind == "docker-hub" and answer.status >= 400:
        return pd.DataFrame({"repository": [], "tags": []}).set_index("repository")
    reg.require_ok(answer, "Listing the catalog")
    names = list((answer.body or {}).get("repositories") or []) \
        if isinstance(answer.body, dict) else []
    rows = []
    for name in names:
        tags = reg.api_request(endpoint, f"/v2/{name}/tags/list", journal_it=False)
        found = (tags.body or {}).get("tags") if isinstance(tags.body, dict) else None
        rows.append({"repository": name, "tags": len(found or [])})
    return pd.DataFrame(rows, columns=["repository", "tags"]).set_index("repository")


@action
def tags(endpoint: Endpoint, name: str) -> pd.DataFrame:
    """``GET /v2/NAME/tags/list``, and each tag's manifest digest (``HEAD …/manifests/TAG``)."""
    repository = endpoint.api_name(name)
    answer = reg.require_ok(reg.api_request(endpoint, f"/v2/{repository}/tags/list",
                                            scope=f"repository:{repository}:pull"),
                            f"Listing the tags of {repository}")
    found = sorted((answer.body or {}).get("tags") or []) if isinstance(answer.body, dict) else []
    if found:
        head_line = reg.curl_line(endpoint, f"/v2/{repository}/manifests/$tag", method="HEAD",
                                  accept=(reg.MANIFEST_V2,))
        journal.record(f"for tag in {' '.join(found)}; do {head_line}; done")
    rows = []
    for tag in found:
        head = reg.api_request(endpoint, f"/v2/{repository}/manifests/{tag}", method="HEAD",
                               accept=reg.MANIFEST_TYPES, journal_it=False,
                               scope=f"repository:{repository}:pull")
        rows.append({"tag": tag, "digest": head.headers.get("Docker-Content-Digest", "")})
    return pd.DataFrame(rows, columns=["tag", "digest"]).set_index("tag")


@action
def manifest_layers(endpoint: Endpoint, name: str) -> pd.DataFrame:
    """``GET /v2/NAME/manifests/TAG``: the config and layer blobs, their types and sizes."""
    repository = endpoint.api_name(name)
    tag = reg.split_reference(name)[1]
    answer = reg.require_ok(reg.api_request(endpoint, f"/v2/{repository}/manifests/{tag}",
                                            accept=(reg.MANIFEST_V2,),
                                            scope=f"repository:{repository}:pull"),
                            f"Reading the manifest of {name}")
    body = answer.body if isinstance(answer.body, dict) else {}
    rows = [{"part": "config", "media type": (body.get("config") or {}).get("mediaType", ""),
             "digest": (body.get("config") or {}).get("digest", ""),
             "size_bytes": int((body.get("config") or {}).get("size", 0))}]
    rows += [{"part": f"layer {n}", "media type": layer.get("mediaType", ""),
              "digest": layer.get("digest", ""), "size_bytes": int(layer.get("size", 0))}
             for n, layer in enumerate(body.get("layers") or [], start=1)]
    return pd.DataFrame(rows).set_index("part")


@action
def remove_local(references: list[str]) -> list[str]:
    """``docker rmi`` each reference; the ones that were there."""
    return [reference for reference in references if images.remove(reference)]


@dataclass
class PullReport(FactsView):
    """A pull: the reference, the digest it reported, and each layer's fate."""

    reference: str
    digest: str
    status: str
    seconds: float
    layers_downloaded: int
    layers_already_here: int
    image_id: str
    layers: list[reg.LayerEvent] = field(default_factory=list)


@action
def pull(endpoint: Endpoint, name: str) -> PullReport:
    """``docker pull REGISTRY/…/NAME`` with the login."""
    result: TransferResult = reg.pull(endpoint.repository(name), endpoint)
    facts = images.require(result.reference)
    return PullReport(reference=result.reference, digest=result.digest, status=result.status,
                      seconds=result.seconds,
                      layers_downloaded=sum(e.status == "Pull complete" for e in result.layers),
                      layers_already_here=sum(e.status == "Already exists"
                                              for e in result.layers),
                      image_id=facts.id, layers=result.layers)


def pull_table(report: PullReport) -> pd.DataFrame:
    frame = pd.DataFrame([{"id": e.id, "what the pull did": e.status} for e in report.layers],
                         columns=["id", "what the pull did"])
    return frame.set_index("id")


@action
def digest_evidence(endpoint: Endpoint, name: str, pushed: PushReport,
                    pulled: PullReport) -> pd.DataFrame:
    """Every place the digest of NAME shows up, side by side with the one the push reported."""
    repository = endpoint.api_name(name)
    tag = reg.split_reference(name)[1]
    path = f"/v2/{repository}/manifests/{tag}"
    scope = f"repository:{repository}:pull"
    head = reg.api_request(endpoint, path, method="HEAD", accept=(reg.MANIFEST_V2,), scope=scope)
    body = reg.api_request(endpoint, path, accept=(reg.MANIFEST_V2,), scope=scope,
                           journal_it=False)
    repo_digests = reg.repo_digests(pulled.reference)
    wanted_prefix = pulled.reference.rsplit(":", 1)[0] + "@"
    local = next((d.split("@", 1)[1] for d in repo_digests if d.startswith(wanted_prefix)), "")
    journal.record(reg.curl_line(endpoint, path, accept=(reg.MANIFEST_V2,)) + " | sha256sum")
    rows = [("docker push said", pushed.digest),
            ("registry header Docker-Content-Digest", head.headers.get("Docker-Content-Digest",
                                                                       "")),
            ("sha256 of the manifest bytes (computed here)", body.digest_of_body),
            ("docker pull said", pulled.digest),
            ("RepoDigests of the pulled image", local)]
    frame = pd.DataFrame([{"where": w, "digest": d, "same as pushed": d == pushed.digest}
                          for w, d in rows])
    return frame.set_index("where")
