"""Preflight's version rules: what is too old, and the one line that says what to install."""

from __future__ import annotations

import pytest

from helpers import preflight
from helpers.engine import client as client_mod


@pytest.mark.parametrize(("text", "parsed"), [
    ("28.5.2+dfsg4", (28, 5, 2)), ("20.10.24", (20, 10, 24)), ("v2.40.3-3", (2, 40, 3)),
    ("1.44", (1, 44)), ("2.40.3-desktop.1", (2, 40, 3)), ("?", (0,))])
def test_versions_are_read_like_the_release_numbers(text: str, parsed: tuple) -> None:
    assert preflight._version_tuple(text) == parsed


def test_compose_v1_only_is_refused_with_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(client_mod, "compose_v1_only", lambda: True)
    check = preflight._compose_check("not installed")
    assert not check.ok and "retired `docker-compose` (v1" in check.detail
    line = preflight.blocking_line([check])
    assert line is not None and line.startswith("Not ready: only the retired")
    assert "docker-compose-plugin" in line and "\n" not in line


def test_compose_v2_passes_and_an_early_v2_too() -> None:
    assert preflight._compose_check("docker compose 2.40.3-3").ok
    assert preflight._compose_check("docker compose v2.0.0").ok
    assert preflight.blocking_line([preflight._compose_check("docker compose 2.40.3")]) is None


def test_image_store_is_read_from_the_driver_status() -> None:
    containerd = {"Driver": "overlayfs",
                  "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}
    overlay2 = {"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"]]}
    assert client_mod.image_store(containerd) == "containerd"
    assert client_mod.image_store(overlay2) == "graphdriver (overlay2)"
    assert client_mod.image_store({"Driver": "vfs", "DriverStatus": None}) == "graphdriver (vfs)"
