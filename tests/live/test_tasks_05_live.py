"""Notebook 05's "Your turn" tasks done as a learner does them (the docker CLI), and done wrong.

A registry of the test's own plays the course's (started the way notebook 05 starts it, on a
free loopback port, removed afterwards). The CLI logs in with its own configuration folder
(``DOCKER_CONFIG``), so ``~/.docker/config.json`` is never touched. Local names are the test's
own (``t-<hex>-…``); the ``made`` fixture removes them.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from test_tasks_live import docker, fails, free_port, made, passes  # noqa: F401

from helpers import labels, resolver
from helpers.engine import registry as reg
from helpers.engine.cleanup import cleanup


@dataclass
class Registry:
    name: str
    address: str


@pytest.fixture(scope="module")
def course_registry(tmp_path_factory) -> Iterator[Registry]:
    """A registry like the course's, and a docker CLI logged in to it (own config folder)."""
    scope = f"test-{uuid.uuid4().hex[:8]}"
    previous = labels.current_notebook()
    labels.set_notebook(scope)
    config = tmp_path_factory.mktemp("docker-config")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_STATE_DIR", str(tmp_path_factory.mktemp("state")))
        patch.setenv("DOCKER_CONFIG", str(config))
        try:
            image = resolver.resolve("registry")
            tool_image = resolver.resolve("python").reference if image.is_official \
                else image.reference
            endpoint = reg.start_local(image.reference, name=f"{scope}-registry",
                                       host_port=int(free_port()), tool_image=tool_image,
                                       tool="python" if image.is_official else "htpasswd")
            with open(endpoint.password_file, encoding="utf-8") as password:
                subprocess.run(["docker", "login", endpoint.address, "-u", endpoint.username,
                                "--password-stdin"], stdin=password, capture_output=True,
                               check=True, timeout=60)
            yield Registry(name=endpoint.container, address=endpoint.address)
        finally:
            cleanup(scope)
            labels.set_notebook(previous)


def _names(made, registry: Registry) -> dict[str, str]:  # noqa: F811
    repository = f"{registry.address}/{made.prefix}/hello"
    names = {"registry": registry.name, "image": f"{repository}:1.0",
             "second": f"{repository}:stable"}
    for role in ("image", "second"):
        made.objects.append(("image", names[role]))
    return names


def _push(reference: str) -> str:
    """``docker push``: the digest it printed (``TAG: digest: sha256:… size: N``)."""
    output = docker("push", reference).stdout
    return re.findall(r"digest: (sha256:[0-9a-f]{64})", output)[-1]


def test_pull_by_digest(made, course_registry, shell_image):  # noqa: F811
    names = _names(made, course_registry)
    image = names["image"]
    repository = image.rsplit(":", 1)[0]
    fails("05.pull-by-digest", "is not running", **{**names, "registry": f"{made.prefix}-none"})
    assert "docker push" in fails("05.pull-by-digest", "has no repository", **names).hint
    docker("tag", shell_image, image)
    digest = _push(image)
    by_digest = f"{repository}@{digest}"
    made.objects.append(("image", by_digest))
    assert "docker rmi" in fails("05.pull-by-digest", "is still tagged here", **names).hint
    docker("rmi", image)
    fails("05.pull-by-digest", f"no image here is known by {by_digest}", **names)
    # a pull by tag brings the tag back: not what was asked
    docker("pull", image)
    fails("05.pull-by-digest", "is still tagged here", **names)
    docker("rmi", image)
    docker("pull", by_digest)
    assert digest[:19] in passes("05.pull-by-digest", **names).message


def test_second_tag(made, course_registry, shell_image):  # noqa: F811
    names = _names(made, course_registry)
    image, second = names["image"], names["second"]
    fails("05.second-tag", "is not in the registry yet", **names)
    docker("tag", shell_image, image)
    _push(image)
    fails("05.second-tag", "has the tag(s) 1.0, not stable", **names)
    # another image under the second tag
    other = subprocess.run(["docker", "build", "-q", "-t", second, "-"], text=True,
                           input=f"FROM {shell_image}\nRUN echo other > /other\n",
                           capture_output=True, check=True, timeout=300)
    assert other.stdout.strip()
    _push(second)
    fails("05.second-tag", "two different images", **names)
    docker("tag", shell_image, second)
    _push(second)
    assert "both name" in passes("05.second-tag", **names).message


def test_second_tag_of_a_pulled_index(made, course_registry, shell_image):  # noqa: F811
    """A BuildKit image pushed, pulled back by digest and pushed under a second tag: on the
    containerd store the engine holds only this platform's manifest of the pulled index and
    pushes that one (another digest), yet both tags give the same image here."""
    names = _names(made, course_registry)
    image, second = names["image"], names["second"]
    subprocess.run(["docker", "build", "-q", "-t", image, "-"], text=True,
                   input=f"FROM {shell_image}\nRUN echo {made.prefix} > /built\n",
                   capture_output=True, check=True, timeout=300)
    by_digest = f"{image.rsplit(':', 1)[0]}@{_push(image)}"
    made.objects.append(("image", by_digest))
    docker("rmi", image)
    docker("pull", by_digest)
    docker("tag", by_digest, second)
    _push(second)
    assert passes("05.pull-by-digest", **names).passed
    assert passes("05.second-tag", **names).passed
