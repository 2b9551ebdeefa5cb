"""Building and running the sample app, and every way it can go wrong."""

from __future__ import annotations

import socket
from pathlib import Path

import docker
import pytest
import requests

from helpers import course, labels
from helpers.engine import build, containers
from helpers.errors import BuildFailed, CourseError, NotReady, PortInUse


def _course_containers(scope: str) -> list:
    return docker.from_env().containers.list(all=True, filters=labels.filters(scope))


def test_app_builds_runs_as_non_root_and_answers(scope, python_image) -> None:
    tag = f"docker-course/{scope}-app:1"
    result = course.build_image(tag)
    assert result.steps and result.size_bytes > 0
    assert any("pip install" in step.instruction for step in result.steps)
    info = containers.run(tag, name=f"{scope}-web", ports_wanted={5000: None})
    assert list(info.ports) == [5000]
    containers.wait_http(info, "/health", timeout=60)
    posted = requests.post(info.url(path="/api/messages"), json={"text": "hi"}, timeout=5)
    assert posted.status_code == 201
    assert requests.get(info.url(path="/api/messages"), timeout=5).json()[0]["text"] == "hi"
    assert requests.post(info.url(path="/api/messages"), json={}, timeout=5).status_code == 400
    code, uid = containers.exec_in(info.name, ["id", "-u"])
    assert code == 0 and uid.strip() == "10001"
    # published on loopback only
    attrs = docker.from_env().containers.get(info.id).attrs
    bindings = attrs["HostConfig"]["PortBindings"]["5000/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    # the image's own health check passes without curl
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = docker.from_env().containers.get(info.id).attrs["State"].get("Health", {})
        if health.get("Status") == "healthy":
            break
        time.sleep(1)
    assert health.get("Status") == "healthy", health


def test_failing_run_step_names_step_and_leaves_nothing(scope, python_image, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {python_image}\nRUN echo before\nRUN echo about-to-fail && exit 7\nRUN echo after\n")
    tag = f"docker-course/{scope}-broken:1"
    with pytest.raises(BuildFailed) as failure:
        build.build(tmp_path, tag, quiet=True)
    assert failure.value.step == "3"
    assert "exit 7" in failure.value.command
    assert "about-to-fail" in failure.value.log_tail
    engine = docker.from_env()
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(tag)
    leftovers = [c for c in engine.containers.list(all=True)
                 if c.attrs["Config"].get("Image", "").startswith("sha256:")
                 and c.status != "running" and "about-to-fail" in " ".join(c.attrs["Args"])]
    assert leftovers == []


def test_missing_context_and_missing_dockerfile(tmp_path) -> None:
    with pytest.raises(CourseError, match="does not exist"):
        build.build(tmp_path / "nowhere", "docker-course/x:1", quiet=True)
    with pytest.raises(CourseError, match="No Dockerfile"):
        build.build(tmp_path, "docker-course/x:1", quiet=True)


def test_unknown_image_is_clear_and_leaves_nothing(scope) -> None:
    with pytest.raises(CourseError, match="no image called"):
        containers.run("docker-course/does-not-exist:0", name=f"{scope}-ghost")
    assert _course_containers(scope) == []


def test_port_taken_strict_is_an_error_lenient_picks_another(scope, shell_image) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(PortInUse, match=str(taken)):
            containers.run(shell_image, name=f"{scope}-strict", ports_wanted={8000: taken},
                           command=["sleep", "30"], strict_ports=True)
        assert _course_containers(scope) == []
        info = containers.run(shell_image, name=f"{scope}-lenient", ports_wanted={8000: taken},
                              command=["sleep", "30"])
        assert info.ports[8000] != taken and "was taken" in info.note


def test_wait_http_reports_a_crashed_container_with_its_logs(scope, shell_image) -> None:
    info = containers.run(shell_image, name=f"{scope}-crash", ports_wanted={8000: None},
                          command=["sh", "-c", "echo cannot-start-config-missing; exit 3"])
    with pytest.raises(NotReady) as failure:
        containers.wait_http(info, "/", timeout=20)
    assert "cannot-start-config-missing" in failure.value.log_tail


def test_broken_app_fixture_fails_at_the_import_step(scope, python_image) -> None:
    with pytest.raises(BuildFailed) as failure:
        course.build_image(f"docker-course/{scope}-broken-app:1", app="broken-app")
    assert "import flask" in failure.value.command


def test_app_folder_missing_is_clear(scope) -> None:
    with pytest.raises(CourseError, match="does not exist"):
        course.build_image("docker-course/x:1", context=Path("/nonexistent/app"))


def test_a_rebuild_leaves_the_old_image_untagged_and_cleanup_removes_it(scope, shell_image,
                                                                        tmp_path) -> None:
    from helpers.engine.build import intermediates_file
    from helpers.engine.cleanup import cleanup

    tag = f"docker-course/{scope}-rebuilt:1"
    (tmp_path / "Dockerfile").write_text(f"FROM {shell_image}\nRUN echo one > /marker\n")
    first = build.build(tmp_path, tag, quiet=True)
    (tmp_path / "Dockerfile").write_text(f"FROM {shell_image}\nRUN echo two > /marker\n")
    second = build.build(tmp_path, tag, quiet=True)
    assert first.image_id != second.image_id
    engine = docker.from_env()
    try:
        left = engine.images.get(first.image_id)
    except docker.errors.ImageNotFound:
        left = None  # the containerd image store deletes an image when its last name moves
    if left is not None:  # overlay2 keeps it, untagged ("dangling"), and the course noted it
        assert not left.tags
        assert first.image_id in intermediates_file(scope).read_text().split()
        report = cleanup(scope)
        assert first.image_id in report.images
        with pytest.raises(docker.errors.ImageNotFound):
            engine.images.get(first.image_id)
    engine.images.get(shell_image)  # the base is untouched


def test_buildkit_reports_cached_steps_on_a_rebuild(scope, shell_image, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {shell_image}\nRUN echo {scope} > /a\nCOPY note.txt /note.txt\n")
    (tmp_path / "note.txt").write_text("v1\n")
    tag = f"docker-course/{scope}-cache:1"
    first = build.build(tmp_path, tag, quiet=True)
    assert [s.cached for s in first.steps][1:] == [False, False]
    (tmp_path / "note.txt").write_text("v2\n")
    second = build.build(tmp_path, tag, quiet=True)
    cached = {s.instruction: s.cached for s in second.steps}
    assert cached[f"RUN echo {scope} > /a"] and not cached["COPY note.txt /note.txt"]
    assert second.cli.startswith(f"docker build -t {tag} --label ")


def test_a_build_secret_is_readable_in_run_and_stored_nowhere(scope, shell_image,
                                                              tmp_path) -> None:
    secret = f"token-{scope}-do-not-keep"
    (tmp_path / "token.txt").write_text(secret)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {shell_image}\n"
        "RUN --mount=type=secret,id=token test \"$(cat /run/secrets/token)\" != \"\" "
        "&& echo used > /used\n")
    tag = f"docker-course/{scope}-secret:1"
    result = build.build(tmp_path, tag, quiet=True, secrets={"token": tmp_path / "token.txt"})
    assert "--secret id=token,src=" in result.cli
    engine = docker.from_env()
    history = " ".join(str(h.get("CreatedBy", "")) for h in engine.images.get(tag).history())
    assert secret not in history
    exported = b"".join(engine.images.get(tag).save(named=True))
    assert secret.encode() not in exported


def test_a_missing_build_secret_is_one_clear_error(scope, shell_image, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {shell_image}\nRUN --mount=type=secret,id=token,required=true cat "
        "/run/secrets/token\n")
    with pytest.raises(CourseError, match="has no file"):
        build.build(tmp_path, f"docker-course/{scope}-nosecret:1", quiet=True,
                    secrets={"token": tmp_path / "absent.txt"})
    with pytest.raises(BuildFailed) as failure:
        build.build(tmp_path, f"docker-course/{scope}-nosecret:1", quiet=True)
    assert "token" in failure.value.message and "--secret id=ID" in failure.value.hint
    with pytest.raises(docker.errors.ImageNotFound):
        docker.from_env().images.get(f"docker-course/{scope}-nosecret:1")
