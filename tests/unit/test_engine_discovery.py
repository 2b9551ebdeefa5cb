"""Engine discovery like the ``docker`` CLI: DOCKER_HOST, then the Docker context, then the
default socket; the address shown names where it came from; a remote engine is flagged.

The engine tests at the end only read (ping, version, info) and create nothing: the context
lives in a temporary DOCKER_CONFIG so the user's own CLI configuration is untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import preflight
from helpers.engine import client as client_mod
from helpers.errors import EngineUnavailable

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOCKET = Path("/var/run/docker.sock")


def _write_context(config: Path, name: str, host: str, *, tls: bool = False) -> None:
    """What ``docker context create NAME --docker host=HOST`` writes."""
    key = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / key
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({
        "Name": name, "Metadata": {},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))
    if tls:
        folder = config / "contexts" / "tls" / key / "docker"
        folder.mkdir(parents=True)
        for pem in ("ca.pem", "cert.pem", "key.pem"):
            (folder / pem).write_text("-----BEGIN CERTIFICATE-----\n")


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """An empty CLI configuration folder, with no DOCKER_HOST / DOCKER_CONTEXT set."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    client_mod.reset()
    yield folder
    client_mod.reset()


def _use(config: Path, name: str) -> None:
    (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def test_without_anything_the_default_socket_is_named_as_such(config) -> None:
    where = client_mod.endpoint()
    assert where.host == "unix:///var/run/docker.sock" and where.source == "default socket"
    assert where.label == "unix:///var/run/docker.sock (default socket)"
    assert not where.remote


def test_current_context_of_the_cli_is_followed_and_named(config) -> None:
    _write_context(config, "colima", "unix:///Users/me/.colima/default/docker.sock")
    _use(config, "colima")
    where = client_mod.endpoint()
    assert where.host == "unix:///Users/me/.colima/default/docker.sock"
    assert where.context == "colima"
    assert "Docker context 'colima'" in where.source and "config.json" in where.source


def test_docker_context_variable_beats_the_current_context(config, monkeypatch) -> None:
    _write_context(config, "colima", "unix:///colima.sock")
    _write_context(config, "orbstack", "unix:///orbstack.sock")
    _use(config, "colima")
    monkeypatch.setenv("DOCKER_CONTEXT", "orbstack")
    where = client_mod.endpoint()
    assert where.host == "unix:///orbstack.sock"
    assert where.source == "Docker context 'orbstack', DOCKER_CONTEXT"


def test_docker_host_beats_every_context(config, monkeypatch) -> None:
    _write_context(config, "colima", "unix:///colima.sock")
    _use(config, "colima")
    monkeypatch.setenv("DOCKER_CONTEXT", "colima")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    where = client_mod.endpoint()
    assert (where.host, where.source, where.context) == ("tcp://127.0.0.1:2375", "DOCKER_HOST", "")


def test_the_default_context_means_the_default_socket(config, monkeypatch) -> None:
    _use(config, "default")
    assert client_mod.endpoint().source == "default socket"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert client_mod.endpoint().source == "default socket"


def test_a_missing_context_is_one_readable_error(config, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONTEXT", "desktop-linux")
    with pytest.raises(EngineUnavailable) as caught:
        client_mod.client()
    assert "'desktop-linux' (DOCKER_CONTEXT) does not exist" in caught.value.message
    assert "docker context ls" in caught.value.hint
    assert not client_mod.engine_available()


def test_an_unreadable_cli_config_falls_back_to_the_default_socket(config) -> None:
    (config / "config.json").write_text("{not json")
    assert client_mod.endpoint().source == "default socket"


def test_a_tls_context_carries_its_certificates(config) -> None:
    _write_context(config, "remote", "tcp://build.example:2376", tls=True)
    _use(config, "remote")
    where = client_mod.endpoint()
    assert where.tls_dir.endswith("docker") and where.remote
    tls = client_mod._tls_config(where)
    assert tls is not None and tls.cert[0].endswith("cert.pem")
    assert tls.verify is True and tls.ca_cert.endswith("ca.pem")


def test_a_dead_context_says_which_context_to_start(config, tmp_path) -> None:
    _write_context(config, "colima", f"unix://{tmp_path}/nothing-here.sock")
    _use(config, "colima")
    with pytest.raises(EngineUnavailable) as caught:
        client_mod.client()
    message = caught.value.message
    assert f"{tmp_path}/nothing-here.sock" in message and "Docker context 'colima'" in message
    assert "no socket there" in message
    assert "context 'colima'" in caught.value.hint and "docker context use" in caught.value.hint


@pytest.mark.parametrize(("host", "remote"), [
    ("unix:///var/run/docker.sock", False), ("npipe:////./pipe/docker_engine", False),
    ("tcp://127.0.0.1:2375", False), ("tcp://localhost:2375", False),
    ("tcp://[::1]:2375", False), ("ssh://me@localhost", False),
    ("tcp://10.0.0.5:2376", True), ("ssh://me@build.example", True),
    ("tcp://[fd00::5]:2376", True), ("https://engine.example:2376", True)])
def test_remote_means_another_machine(host: str, remote: bool) -> None:
    assert client_mod.is_remote(host) is remote


def test_preflight_with_a_remote_engine_names_what_needs_a_local_one(config, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@build.example")
    facts = client_mod.EngineFacts(
        server_version="28.5.2", api_version="1.51", os_type="linux", architecture="amd64",
        kernel="6.1", operating_system="Debian", storage_driver="overlayfs",
        image_store="containerd", cgroup_version="2", cpus=4, memory_bytes=2**33,
        compose="docker compose 2.40.3", buildx="0.29.1",
        docker_host="ssh://me@build.example (DOCKER_HOST)")

    class _Api:
        @staticmethod
        def info() -> dict:
            return {"DockerRootDir": str(config)}  # exists here, but is the remote's path

    class _Client:
        api = _Api()

    monkeypatch.setattr(client_mod, "engine_facts", lambda: facts)
    monkeypatch.setattr(client_mod, "client", lambda: _Client())
    monkeypatch.setattr(preflight.resolver, "resolvable", lambda key: (True, "present"))
    checks = {check.name: check for check in preflight.run_checks()}
    assert checks["engine address"].detail == "ssh://me@build.example (DOCKER_HOST)"
    remote = checks["remote engine"]
    assert not remote.required and remote.mark == "!"
    for words in ("notebooks 02, 05, 07, 08", "bind mounts", "127.0.0.1"):
        assert words in remote.detail
    assert "remote engine: not checked" in checks["disk free"].detail
    assert "a remote engine publishes on its own host" in checks["port 127.0.0.1:5001"].detail
    assert preflight.ready(list(checks.values()))


def test_preflight_with_a_missing_context_is_one_line(config, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    checks = preflight.run_checks()
    assert [check.name for check in checks] == ["Docker Engine"]
    line = preflight.blocking_line(checks)
    assert line is not None and "docker context ls" in line and "\n" not in line


# --- against the real engine (read-only): a context that points at a non-default socket ---

def _default_engine_answers() -> bool:
    if not DEFAULT_SOCKET.exists() or not os.access(DEFAULT_SOCKET, os.R_OK | os.W_OK):
        return False
    saved = {k: os.environ.pop(k, None) for k in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    try:
        client_mod.reset()
        return client_mod.engine_available()
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})
        client_mod.reset()


@pytest.fixture
def symlinked_context(config, tmp_path) -> str:
    """The engine reached only through a context (socket symlinked in a temp dir)."""
    if not _default_engine_answers():
        pytest.skip("no engine on the default socket to point a context at")
    link = tmp_path / "elsewhere" / "engine.sock"
    link.parent.mkdir()
    link.symlink_to(DEFAULT_SOCKET)
    host = f"unix://{link}"
    if shutil.which("docker"):  # the CLI's own writer, into the temporary DOCKER_CONFIG only
        env = {**os.environ, "DOCKER_CONFIG": str(config)}
        for argv in (["docker", "context", "create", "course-test", "--docker", f"host={host}"],
                     ["docker", "context", "use", "course-test"]):
            subprocess.run(argv, env=env, check=True, capture_output=True, timeout=30)
    else:
        _write_context(config, "course-test", host)
        _use(config, "course-test")
    return host


@pytest.mark.live
def test_the_sdk_client_reaches_the_engine_through_the_context(symlinked_context) -> None:
    facts = client_mod.engine_facts()
    assert facts.server_version
    assert facts.docker_host.startswith(f"{symlinked_context} (Docker context 'course-test'")


@pytest.mark.live
def test_preflight_finds_the_engine_through_the_context_and_names_it(symlinked_context,
                                                                     config) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env["DOCKER_CONFIG"] = str(config)
    done = subprocess.run([sys.executable, "-m", "helpers", "preflight"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    lines = done.stdout.splitlines()
    address = next(line for line in lines if "engine address" in line)
    assert symlinked_context in address and "Docker context 'course-test'" in address
    assert "current context in" in address
    assert any(line.startswith("✔ Docker Engine") for line in lines), done.stdout
    assert "Traceback" not in done.stdout + done.stderr
