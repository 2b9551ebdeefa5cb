"""Live tests run against the real engine, each in its own label scope, cleaned afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from helpers import labels, resolver
from helpers.engine.cleanup import cleanup

pytestmark = pytest.mark.live


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/live" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.live)


@pytest.fixture
def scope(tmp_path, monkeypatch) -> Iterator[str]:
    """A notebook label of the test's own; everything made under it is removed afterwards."""
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    name = f"test-{uuid.uuid4().hex[:8]}"
    previous = labels.current_notebook()
    labels.set_notebook(name)
    try:
        yield name
    finally:
        cleanup(name)
        labels.set_notebook(previous)


@pytest.fixture(scope="session")
def shell_image() -> str:
    return resolver.resolve("shell").reference


@pytest.fixture(scope="session")
def python_image() -> str:
    return resolver.resolve("python").reference


class HandMade:
    """A container, volume and network made by hand (no course labels), all with one name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def survived(self) -> bool:
        import docker

        engine = docker.from_env()
        engine.containers.get(self.name)
        engine.volumes.get(self.name)
        return [n.name for n in engine.networks.list(names=[self.name])] == [self.name]


@pytest.fixture
def hand_made(shell_image) -> Iterator[HandMade]:
    """Objects a cleanup must spare; the fixture removes them itself afterwards."""
    import docker

    engine = docker.from_env()
    name = f"hand-made-{uuid.uuid4().hex[:6]}"
    engine.containers.create(shell_image, ["true"], name=name)
    engine.volumes.create(name)
    engine.networks.create(name)
    try:
        yield HandMade(name)
    finally:
        engine.containers.get(name).remove(force=True)
        engine.volumes.get(name).remove()
        for network in engine.networks.list(names=[name]):
            network.remove()
