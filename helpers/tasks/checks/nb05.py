"""The checks of notebook 05's "Your turn" tasks: they read the course's registry through its
HTTP API (as the notebook's ``curl`` lines do) and the engine's image records."""

from __future__ import annotations

from collections.abc import Mapping

from ... import references
from ...engine import state
from ..registry import Verdict, register
from ._common import _task

REGISTRY = "course-05-registry"  # helpers.lessons.registry.CONTAINER_NAME
ADDRESS = "127.0.0.1:5001"  # the notebook's preferred port; the check reads the real one
PASSWORD_FILE = ('"${COURSE_STATE_DIR:-$HOME/.cache/docker-course/state}'
                 '/registry-127.0.0.1-5001.password"')  # helpers.engine.registry.password_file_path
LOGIN = f"cat {PASSWORD_FILE} | docker login {ADDRESS} -u student --password-stdin"
PUSHED_DIGEST = "$(grep -o 'sha256:[0-9a-f]*' pushed.txt | tail -n 1)"  # the push's last line
START = ("run the notebook's cells from \"Start a private registry with a login\" "
         "(`target = registry.use_registry()`); the task needs that registry running")


def _split(reference: str) -> tuple[str, str, str]:
    """``127.0.0.1:5001/mine/hello:1.0`` → (``127.0.0.1:5001``, ``mine/hello``, ``1.0``); the
    tag is ``latest`` when the reference names none."""
    parsed = references.parse(reference)
    return parsed.host, parsed.path, parsed.tag or "latest"


class _Registry:
    """The running course registry, read through its HTTP API (never journaled)."""

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint
        self.address = endpoint.address

    def tags(self, repository: str) -> tuple[int, list[str]]:
        """HTTP status and tags of ``GET /v2/REPOSITORY/tags/list``."""
        from ...engine import registry_api as api

        answer = api.api_request(self.endpoint, f"/v2/{repository}/tags/list",
                                 journal_it=False)
        found = answer.body.get("tags") if isinstance(answer.body, dict) else None
        return answer.status, sorted(found or [])

    def digest(self, repository: str, tag: str) -> str:
        """``HEAD /v2/REPOSITORY/manifests/TAG`` accepting every manifest type: its digest."""
        from ... import manifests
        from ...engine import registry_api as api

        answer = api.api_request(self.endpoint, f"/v2/{repository}/manifests/{tag}",
                                 method="HEAD", accept=manifests.MANIFEST_TYPES, journal_it=False)
        return answer.headers.get("Docker-Content-Digest", "") if answer.status == 200 else ""

    def platform_manifest(self, repository: str, tag: str) -> str:
        """The digest of the platform manifest a pull here uses (the tag's own without an index)."""
        from ...engine import registry_api as api

        return api.read_manifest(self.endpoint, repository, tag, journal_it=False).platform_digest


def _registry(task, names: Mapping[str, str]) -> _Registry | Verdict:
    """The course registry (``names["registry"]`` when a test names its own), or the "not yet"
    verdict why there is none to use."""
    from ...engine import registry as reg

    endpoint = reg.running_local(names.get("registry", REGISTRY))
    if endpoint is None:
        return task.verdict(False, f"the course's registry "
                                   f"({names.get('registry', REGISTRY)}) is not running, so "
                                   "there is nowhere to push.", START + ".")
    if not endpoint.password_file:
        return task.verdict(False, f"the check knows no password for the registry at "
                                   f"{endpoint.address} (its password file is gone: the "
                                   "notebook's logout cell deletes it).", START + ".")
    return _Registry(endpoint)


def _where(reference: str, address: str) -> tuple[str, str, str]:
    """Repository path, tag, and the full reference at the registry's real address."""
    _, path, tag = _split(reference)
    return path, tag, f"{address}/{path}:{tag}"


def _pushed(task, registry: _Registry, path: str, tag: str, full: str) -> Verdict | str:
    """The digest of ``path:tag`` in the registry, or the "not yet" verdict why there is none."""
    push = f"`docker tag <shell-image> {full}`, then `docker push {full}`"
    status, tags = registry.tags(path)
    if status == 401:
        return task.verdict(False, f"the registry at {registry.address} refused the check's "
                                   "login (401).", START + ".")
    if status == 404 or not tags:
        return task.verdict(False, f"the registry at {registry.address} has no repository "
                                   f"{path}: nothing was pushed there yet.",
                            f"log in (`docker login {registry.address} -u student "
                            f"--password-stdin < FILE`, FILE: `target.password_file`), then "
                            f"{push}.")
    if tag not in tags:
        return task.verdict(False, f"{path} in the registry has the tag(s) {', '.join(tags)}, "
                                   f"not {tag}.", f"{push}.")
    digest = registry.digest(path, tag)
    if not digest:
        return task.verdict(False, f"the registry lists {path}:{tag} but has no manifest for "
                                   "it (an interrupted push?).", f"push again: {push}.")
    return digest


@register("05.pull-by-digest",
          goal="Push an image of yours as 127.0.0.1:5001/mine/hello:1.0 to the course's "
               "registry (while it runs: before the notebook's logout), remove that local tag, "
               "and pull the image back by its digest (…/mine/hello@sha256:…).",
          names={"image": f"{ADDRESS}/mine/hello:1.0"}, objects=(("image", "image"),),
          solution=(LOGIN,
                    "docker tag <shell-image> {image}",
                    "docker push {image} | tee pushed.txt",
                    "docker rmi {image}",
                    f"docker pull {ADDRESS}/mine/hello@{PUSHED_DIGEST}"))
def pull_by_digest(names: Mapping[str, str]) -> Verdict:
    """The registry has mine/hello:1.0 (digest D); the engine knows the image by
    ``…/mine/hello@D`` (RepoDigests), and the tag 1.0 is gone locally, so it came back by a pull
    by digest (a pull by tag would have made the tag again)."""
    task = _task("05.pull-by-digest")
    registry = _registry(task, names)
    if isinstance(registry, Verdict):
        return registry
    path, tag, full = _where(names["image"], registry.address)
    digest = _pushed(task, registry, path, tag, full)
    if isinstance(digest, Verdict):
        return digest
    by_digest = f"{registry.address}/{path}@{digest}"
    if state.image_exists(full):
        return task.verdict(False, f"{full} is still tagged here, so nothing shows yet that "
                                   "you pulled it back.",
                            f"`docker rmi {full}`, then `docker pull {by_digest}` (the digest "
                            "`docker push` printed).")
    known = state.repo_digests(by_digest)
    if known is None or by_digest not in known:
        return task.verdict(False, f"no image here is known by {by_digest} (RepoDigests): it "
                                   "has not been pulled back by its digest yet.",
                            f"`docker pull {by_digest}`.")
    return task.verdict(True, f"the registry has {path}:{tag} as {digest[:19]}…, and your "
                              f"engine holds that image by digest ({by_digest[:60]}…).")


@register("05.second-tag",
          goal="Push the same image as 127.0.0.1:5001/mine/hello:stable too: the registry must "
               "serve both tags with one manifest (the push uploads no layer).",
          names={"image": f"{ADDRESS}/mine/hello:1.0",
                 "second": f"{ADDRESS}/mine/hello:stable"},
          objects=(("image", "second"),),
          solution=(LOGIN,
                    f"docker tag {ADDRESS}/mine/hello@{PUSHED_DIGEST} {{second}}",
                    "docker push {second}"))
def second_tag(names: Mapping[str, str]) -> Verdict:
    """mine/hello:stable and mine/hello:1.0 resolve to the same manifest for this platform."""
    task = _task("05.second-tag")
    registry = _registry(task, names)
    if isinstance(registry, Verdict):
        return registry
    path, tag, full = _where(names["image"], registry.address)
    second_path, second, second_full = _where(names["second"], registry.address)
    first = _pushed(task, registry, path, tag, full)
    if isinstance(first, Verdict):
        return task.verdict(False, f"{full} is not in the registry yet, so there is nothing to "
                                   "tag twice.", f"do 05.pull-by-digest first. {first.message}")
    other = _pushed(task, registry, second_path, second, second_full)
    if isinstance(other, Verdict):
        return task.verdict(False, other.message,
                            f"tag the image you pushed as {tag} (`docker tag "
                            f"{registry.address}/{path}@{first} {second_full}`), then "
                            f"`docker push {second_full}`.")
    if other == first:
        return task.verdict(True, f"{second} and {tag} both name {first[:19]}…: one manifest, "
                                  "its layers stored once.")
    mine, theirs = (registry.platform_manifest(second_path, second),
                    registry.platform_manifest(path, tag))
    if mine == theirs:
        return task.verdict(True, f"{second} names {other[:19]}…, the platform manifest that "
                                  f"{tag}'s index {first[:19]}… lists: the same image for a pull "
                                  "here, its layers stored once.")
    return task.verdict(False, f"{second} names {other[:19]}… and {tag} names {first[:19]}…: "
                               "two different images, not one image under two tags.",
                        f"tag the image you pushed as {tag}: `docker tag "
                        f"{registry.address}/{path}@{first} {second_full}`, then "
                        f"`docker push {second_full}`.")
