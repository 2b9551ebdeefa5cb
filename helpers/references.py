"""Image references, ``[HOST[:PORT]/]PATH[:TAG][@DIGEST]``, split the way Docker splits them.

The one place the course takes a reference apart. The rules are those of the reference grammar
that the engine and the ``docker`` CLI use (distribution's ``reference`` package, documented
under "docker image tag"): a digest follows the last ``@``; a tag follows a ``:`` in the last
path component only, so the ``:5001`` of ``127.0.0.1:5001/course/hello`` is a port, not a tag;
the first component is a registry host when it has a ``.`` or a ``:``, or is ``localhost``;
with no host the image is on Docker Hub (``docker.io``), where one-part names live under
``library/``. docker-py's ``parse_repository_tag`` splits the same way; this module needs no
SDK, so code outside ``helpers/engine/`` can use it. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

HUB = "docker.io"
_HUB_PREFIXES = ("docker.io/library/", "docker.io/", "index.docker.io/library/",
                 "index.docker.io/", "registry-1.docker.io/library/", "registry-1.docker.io/")


@dataclass(frozen=True)
class Reference:
    """A reference taken apart. ``repository`` is everything before the tag and digest (host
    included, as written); ``tag`` and ``digest`` are "" when absent."""

    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def host(self) -> str:
        """The registry host (and port) as written, or "" (Docker Hub)."""
        first, slash, _ = self.repository.partition("/")
        return first if slash and _is_host(first) else ""

    @property
    def path(self) -> str:
        """The repository without its host: ``course/hello``."""
        host = self.host
        return self.repository[len(host) + 1:] if host else self.repository

    @property
    def tag_or_latest(self) -> str:
        """The tag; ``latest`` when there is neither a tag nor a digest (what ``docker pull``
        and ``docker push`` assume); "" for a reference by digest alone."""
        return self.tag or ("" if self.digest else "latest")

    @property
    def pull_tag(self) -> str:
        """What the engine's pull API takes as ``tag``: the digest when there is one (the
        engine accepts a digest there), else the tag or ``latest``."""
        return self.digest or self.tag_or_latest

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + \
            (f"@{self.digest}" if self.digest else "")


def _is_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse(reference: str) -> Reference:
    """``127.0.0.1:5001/course/hello:1.0@sha256:…`` → Reference(``127.0.0.1:5001/course/hello``,
    ``1.0``, ``sha256:…``). Does not check the grammar (``engine.images.check_reference``
    does); surrounding blanks are dropped."""
    text = reference.strip()
    name, at, digest = text.rpartition("@")
    if not at:
        name, digest = text, ""
    last = name.rpartition("/")[2]
    if ":" in last:
        repository, _, tag = name.rpartition(":")
    else:
        repository, tag = name, ""
    return Reference(repository=repository, tag=tag, digest=digest)


def with_latest(reference: str) -> str:
    """``reference`` with ``:latest`` added when it names neither a tag nor a digest."""
    parsed = parse(reference)
    return str(parsed) if parsed.tag or parsed.digest else f"{parsed}:latest"


def familiar(reference: str) -> str:
    """As ``docker image ls`` shows it: ``docker.io/library/python:3.12`` → ``python:3.12``,
    ``docker.io/user/app`` → ``user/app``; other registries' references unchanged."""
    text = reference.strip()
    for prefix in _HUB_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def same_image(first: str, second: str) -> bool:
    """Whether two references name the same image: ``python`` = ``python:latest`` =
    ``docker.io/library/python:latest``."""
    return with_latest(familiar(first)) == with_latest(familiar(second))
