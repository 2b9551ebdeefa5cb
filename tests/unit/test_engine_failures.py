"""One engine-error path: every "no engine answered" names the endpoint, its source, and the fix
that fits the cause. Also the OS-error and argument paths of the CLI. No engine is needed:
addresses that cannot answer stand in for a stopped engine.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import docker
import pytest
import requests

from helpers import cli, files, journal, session
from helpers.engine import build, buildnet, failures, images
from helpers.engine import client as client_mod
from helpers.engine.client import Endpoint
from helpers.errors import BuildFailed, CourseError, EngineUnavailable, ImageUnavailable


@pytest.fixture(autouse=True)
def _fresh_memory(monkeypatch):
    """Which addresses answered earlier in this process changes the wording: start empty."""
    monkeypatch.setattr(failures, "_answered", set())


@pytest.fixture
def host(monkeypatch, tmp_path):
    """Point the course at DOCKER_HOST values of the test's choosing (no config, no context)."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    client_mod.reset()

    def use(value: str) -> None:
        monkeypatch.setenv("DOCKER_HOST", value)
        client_mod.reset()

    yield use
    client_mod.reset()


def _error(host_fixture, value: str) -> EngineUnavailable:
    host_fixture(value)
    with pytest.raises(EngineUnavailable) as caught:
        client_mod.client()
    return caught.value


def test_a_socket_path_nobody_serves_is_a_wrong_address(host, tmp_path) -> None:
    error = _error(host, f"unix://{tmp_path}/nothing.sock")
    assert f"unix://{tmp_path}/nothing.sock" in error.message
    assert "from DOCKER_HOST" in error.message and "no socket there" in error.message
    assert "fix or unset DOCKER_HOST" in error.hint
    assert "start Docker (" not in error.hint  # not "start Docker": the address is the problem
    assert error.cause == "wrong address"


def test_a_refused_port_says_start_it_or_fix_the_address(host) -> None:
    error = _error(host, "tcp://127.0.0.1:9")
    assert "connection refused" in error.message
    assert "start the engine that should answer there" in error.hint
    assert "DOCKER_HOST" in error.hint


def test_an_unknown_host_name_is_a_wrong_address(host) -> None:
    error = _error(host, "tcp://no-such-engine.invalid:2375")
    assert "unknown host name" in error.message
    assert error.cause == "wrong address"


@pytest.mark.parametrize(("value", "words"), [
    ("foo://somewhere", "foo:// is not one the Docker SDK speaks"),
    ("npipe:////./pipe/docker_engine", "only on Windows"),
])
def test_an_unusable_scheme_says_what_to_use(host, value, words) -> None:
    error = _error(host, value)
    assert "cannot be used by the course" in error.message and value in error.message
    assert words in error.hint
    assert error.cause == "unsupported"


def test_ssh_without_an_ssh_client_says_install_it(host, monkeypatch) -> None:
    real_which = failures.shutil.which
    monkeypatch.setattr(failures.shutil, "which",
                        lambda name: None if name == "ssh" else real_which(name))
    error = _error(host, "ssh://learner@engine.example")
    assert error.cause == "unsupported"
    assert "OpenSSH client" in error.hint and "start Docker" not in error.hint


def test_the_default_socket_says_start_docker() -> None:
    where = Endpoint(host="unix:///var/run/docker.sock", source="default socket")
    error = failures.unavailable(where, requests.exceptions.ConnectionError(
        "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"))
    assert "No Docker Engine answered at unix:///var/run/docker.sock (from default socket" \
        in error.message
    assert "start Docker" in error.hint and "docker context ls" in error.hint


def test_a_context_engine_says_which_context() -> None:
    where = Endpoint(host="unix:///home/me/.colima/docker.sock",
                     source="Docker context 'colima', DOCKER_CONTEXT", context="colima")
    error = failures.unavailable(where, ConnectionRefusedError(111, "Connection refused"))
    assert "context 'colima'" in error.hint and "docker context use" in error.hint


def test_an_address_that_answered_before_is_not_called_wrong(tmp_path) -> None:
    where = Endpoint(host=f"unix://{tmp_path}/engine.sock", source="DOCKER_HOST")
    failures._answered.add(where.host)
    error = failures.unavailable(where, FileNotFoundError(2, "No such file or directory"))
    assert "stopped answering" in error.message and error.cause == "not running"
    assert "re-run the cell" in error.hint


def test_an_engine_that_went_away_says_so_and_how_to_clean_up() -> None:
    where = Endpoint(host="unix:///var/run/docker.sock", source="default socket")
    error = failures.unavailable(where, "RemoteDisconnected('Remote end closed connection')",
                                 went_away=True, during="building x:1")
    assert "stopped answering while building x:1" in error.message
    assert "the connection was cut" in error.message
    assert "cleanup" in error.hint


def test_every_sdk_call_of_a_guarded_client_gives_the_course_error(host, tmp_path) -> None:
    """The guard sits on the transport: any module's call is covered, first call or later."""
    host(f"unix://{tmp_path}/gone.sock")
    where = client_mod.endpoint()
    engine = failures.guard(docker.DockerClient(base_url=where.host, version="1.44"), where)
    with pytest.raises(EngineUnavailable, match="No Docker Engine answered"):
        engine.containers.list()
    engine.api._course_answered = True  # it answered earlier in the session
    with pytest.raises(EngineUnavailable, match="stopped answering") as caught:
        engine.volumes.list()
    assert str(tmp_path / "gone.sock") in caught.value.message
    assert failures.guard(engine, where) is engine  # idempotent


def test_translated_leaves_local_file_errors_alone() -> None:
    with pytest.raises(FileNotFoundError), failures.translated():
        Path("/nonexistent/archive.tar").read_bytes()
    with pytest.raises(EngineUnavailable), failures.translated():
        raise requests.exceptions.ConnectionError("Connection refused")


def test_engine_call_covers_generators_while_they_are_read() -> None:
    @failures.engine_call
    def chunks():
        yield b"one"
        raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")

    stream = chunks()
    assert next(stream) == b"one"
    with pytest.raises(EngineUnavailable, match="the connection was cut"):
        next(stream)


@pytest.mark.parametrize(("text", "gone"), [
    ("Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?",
     True),
    ("ERROR: failed to build: error reading from server: EOF", True),
    ("ERROR: failed to solve: process \"/bin/sh -c false\" did not complete successfully: "
     "exit code: 1", False),
])
def test_cli_output_that_means_the_engine_is_gone(text, gone) -> None:
    assert failures.cli_output_means_engine_gone(text) is gone


def test_the_context_check_follows_dockerignore(tmp_path, monkeypatch) -> None:
    """Root reads every file, so "unreadable" is simulated for one name."""
    (tmp_path / "app.py").write_text("x")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key.pem").write_text("x")
    real_open = os.open

    def fussy_open(path, flags, *args):
        if str(path).endswith("key.pem"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(build.os, "open", fussy_open)
    assert build.unreadable_in_context(tmp_path) == str(tmp_path / "secrets" / "key.pem")
    (tmp_path / ".dockerignore").write_text("# not sent\nsecrets/\n")
    assert build.unreadable_in_context(tmp_path) == ""
    (tmp_path / ".dockerignore").write_text("**/*.pem\n")
    assert build.unreadable_in_context(tmp_path) == ""
    (tmp_path / ".dockerignore").write_text("secrets\n!secrets/key.pem\n")
    assert build.unreadable_in_context(tmp_path).endswith("key.pem")


def test_an_unreadable_context_file_is_a_build_error_that_names_it(monkeypatch) -> None:
    monkeypatch.setattr(build, "_engine_gone", lambda: False)
    error = build._failure("x:1", build.BuildFold(), [
        "ERROR: failed to build: failed to solve: error from sender: open "
        "/work/app/secret.txt: permission denied"])
    assert isinstance(error, BuildFailed)
    assert "cannot be read (/work/app/secret.txt)" in error.message
    assert ".dockerignore" in error.hint


def test_a_full_engine_disk_is_named(monkeypatch) -> None:
    monkeypatch.setattr(build, "_engine_gone", lambda: False)
    error = build._failure("x:1", build.BuildFold(), [
        "ERROR: failed to solve: write /var/lib/docker/x: no space left on device"])
    assert "disk is full" in error.message and "docker builder prune" in error.hint


@pytest.mark.parametrize("reference", ["Bad/Name", "x:", "a b", "", "x//y", "name@sha256:zz"])
def test_a_malformed_reference_is_refused_before_the_engine_is_asked(reference) -> None:
    with pytest.raises(ImageUnavailable, match="not a valid image reference") as caught:
        images.check_reference(reference)
    assert "docker save" not in caught.value.hint


@pytest.mark.parametrize("reference", ["busybox", "docker-course/flask-app:1.0",
                                       "127.0.0.1:5001/docker-course-hello:1.0",
                                       "[::1]:5000/a/b:c", "3ac9eba19acb",
                                       "python@sha256:" + "a" * 64])
def test_well_formed_references_pass(reference) -> None:
    images.check_reference(reference)


def test_images_archive_refuses_unknown_keys_in_one_line(capsys, tmp_path) -> None:
    assert cli.main(["images-archive", str(tmp_path / "out"), "--only", "busybox"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: No course image called 'busybox'")
    assert "shell" in err[0] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("notebook", ["", "*", "?", "0*", "99", "../07"])
def test_cleanup_refuses_empty_pattern_and_unknown_notebooks_without_asking_the_engine(
        capsys, notebook, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # nothing may be asked
    client_mod.reset()
    with pytest.raises(SystemExit) as exited:
        cli.main(["cleanup", "--notebook", notebook])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: argument --notebook: There is no notebook {notebook!r}")
    client_mod.reset()


def test_cleanup_api_refuses_an_empty_notebook() -> None:
    from helpers.engine.cleanup import cleanup

    with pytest.raises(ValueError):
        cleanup("")


def test_check_notebook_accepts_course_numbers(monkeypatch) -> None:
    from helpers.engine import cleanup as cleanup_mod

    monkeypatch.setattr(cleanup_mod, "_scope_in_use", lambda name: False)
    assert cleanup_mod.check_notebook("07") == "07" and cleanup_mod.check_notebook("7") == "07"
    assert cleanup_mod.check_notebook("base") == "base"
    with pytest.raises(CourseError, match="no notebook '99'"):
        cleanup_mod.check_notebook("99")


def test_cli_os_errors_are_one_line(capsys, monkeypatch) -> None:
    def boom(_args):
        raise OSError(errno.ENOSPC, "No space left on device", "/media/usb/x.tar")

    monkeypatch.setitem(cli.REGISTERED, "leftovers", (lambda _: None, boom, "x"))
    assert cli.main(["leftovers"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: No space left on device (/media/usb/x.tar). What to do: free some "
                   "space on that disk (or choose a folder on another disk), then retry."]


def test_atomic_output_leaves_nothing_on_failure(tmp_path) -> None:
    target = tmp_path / "out.tar"
    with pytest.raises(RuntimeError), files.atomic_output(target) as out:
        out.write(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with files.atomic_output(target) as out:
        out.write(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]


def test_an_unwritable_state_folder_does_not_stop_the_journal(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setattr(journal, "journal_path", lambda: blocker / "journal.jsonl")
    monkeypatch.setattr(journal, "_problem", "")
    with journal.capture() as captured:
        journal.record("docker ps")
    assert [c.cli for c in captured] == ["docker ps"]
    assert journal.problem()
    journal.forget("07")  # no exception either
    assert journal.read() == []


def test_replay_says_why_when_make_lab_chose_it(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_REPLAY_REASON", "No Docker Engine answered at x (from y: z).")
    assert session.why_replay().startswith("No Docker Engine answered at x")


def test_requested_mode_keeps_the_reason(monkeypatch) -> None:
    monkeypatch.delenv("COURSE_MODE", raising=False)
    monkeypatch.delenv("COURSE_REPLAY_REASON", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    client_mod.reset()
    try:
        assert session.requested_mode() == "replay"
        assert "tcp://127.0.0.1:9" in session.why_replay()
    finally:
        client_mod.reset()


# --- build networking ------------------------------------------------------------------------

@pytest.mark.parametrize(("environ", "config", "found"), [
    ({"HTTPS_PROXY": "http://127.0.0.1:3128"}, {}, "http://127.0.0.1:3128"),
    ({"http_proxy": "localhost:8080"}, {}, "localhost:8080"),
    ({"HTTPS_PROXY": "http://proxy.school.example:3128"}, {}, ""),
    ({}, {"proxies": {"default": {"httpsProxy": "http://[::1]:3128"}}}, "http://[::1]:3128"),
    ({}, {}, ""),
])
def test_a_loopback_proxy_is_found(environ, config, found) -> None:
    assert buildnet.loopback_proxy(environ, config) == found


def test_the_package_index_follows_pip_index_url() -> None:
    assert buildnet.package_index({}) == ("pypi.org", 443)
    assert buildnet.package_index({"PIP_INDEX_URL": "http://mirror.local:3141/root/pypi"}) == \
        ("mirror.local", 3141)


@pytest.mark.parametrize(("value", "mode"), [("host", "host"), ("none", "none"),
                                             ("default", None), ("bridge", None)])
def test_an_explicit_build_network_wins(monkeypatch, value, mode) -> None:
    monkeypatch.setenv("COURSE_BUILD_NETWORK", value)
    chosen = buildnet.choose()
    assert chosen.mode == mode
    assert ("127.0.0.1" in chosen.reason) is (mode == "host")


def test_a_loopback_proxy_chooses_host_networking_and_says_why(monkeypatch) -> None:
    monkeypatch.delenv("COURSE_BUILD_NETWORK", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    buildnet.forget()
    try:
        chosen = buildnet.choose()
    finally:
        buildnet.forget()
    assert chosen.mode == "host" and "http://127.0.0.1:3128" in chosen.reason


def test_a_helper_call_with_a_wrong_docker_host_is_one_course_error(tmp_path,
                                                                     monkeypatch) -> None:
    from helpers import course

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    client_mod.reset()
    try:
        with pytest.raises(EngineUnavailable) as caught:
            course.leftovers()
    finally:
        client_mod.reset()
    assert caught.value.message.startswith(f"No Docker Engine answered at unix://{tmp_path}")
    assert "DOCKER_HOST" in caught.value.hint


def test_reported_as_turns_sdk_and_http_errors_into_one_course_error() -> None:
    for raised in (docker.errors.DockerException("bad stream\nsecond line"),
                   requests.exceptions.InvalidURL("no scheme")):
        with pytest.raises(CourseError) as caught, \
                failures.reported_as("Reading x from the engine failed", hint="try again."):
            raise raised
        assert caught.value.message.startswith("Reading x from the engine failed: ")
        assert "second line" not in caught.value.message and caught.value.hint == "try again."
    with pytest.raises(EngineUnavailable), failures.reported_as("unused", hint=""):
        raise EngineUnavailable("gone")  # the course's own errors pass unchanged
