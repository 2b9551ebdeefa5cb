"""Never touch what the learner made; interrupts and OS errors leave nothing (issue 17).

Every test works in its own label scope on the shared engine. "Learner" objects are made the
way a learner makes them (the docker CLI, no course labels), get names of the test's own, and
are removed by the test itself afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import docker
import docker.errors
import pytest

from helpers import course, journal, labels, session
from helpers.engine import build, containers, ownership
from helpers.engine.cleanup import cleanup
from helpers.errors import CourseError
from helpers.lessons import two_tier

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=600)


def _docker(*args: str, stdin: str | None = None) -> str:
    """The learner at a terminal: the docker CLI, nothing of the course."""
    done = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class Learner:
    """Objects made by hand during a test; removed (only these) at the end."""

    def __init__(self) -> None:
        self.engine = docker.from_env()
        self.containers: list[str] = []
        self.images: list[str] = []
        self.volumes: list[str] = []
        self.networks: list[str] = []

    def build(self, dockerfile: str, tag: str | None = None) -> str:
        args = ["build", "-q"] + (["-t", tag] if tag else []) + ["-"]
        image_id = _docker(*args, stdin=dockerfile).splitlines()[-1]
        self.images.append(tag or image_id)
        return image_id

    def tag(self, source: str, target: str) -> None:
        _docker("tag", source, target)
        self.images.append(target)

    def container(self, name: str, image: str, *command: str, start: bool = False) -> str:
        container_id = _docker("run" if start else "create", *(["-d"] if start else []),
                               "--name", name, image, *(command or ("true",)))
        self.containers.append(name)
        return container_id

    def image_id(self, reference: str) -> str:
        return str(self.engine.images.get(reference).id)

    def intact(self) -> None:
        for name in self.containers:
            self.engine.containers.get(name)
        for reference in self.images:
            self.engine.images.get(reference)
        for name in self.volumes:
            self.engine.volumes.get(name)
        for name in self.networks:
            assert [n.name for n in self.engine.networks.list(names=[name])] == [name]

    def remove(self) -> None:
        for name in self.containers:
            with contextlib.suppress(docker.errors.NotFound):
                self.engine.containers.get(name).remove(force=True)
        for reference in reversed(self.images):
            with contextlib.suppress(docker.errors.APIError):
                self.engine.images.remove(reference)
        for name in self.volumes:
            with contextlib.suppress(docker.errors.NotFound):
                self.engine.volumes.get(name).remove()
        for network in [n for name in self.networks
                        for n in self.engine.networks.list(names=[name]) if n.name == name]:
            network.remove()


@pytest.fixture
def learner():
    made = Learner()
    try:
        yield made
    finally:
        made.remove()


def _scoped_objects(scope: str) -> list[str]:
    engine = docker.from_env()
    wanted = labels.filters(scope)
    return ([c.name for c in engine.containers.list(all=True, filters=wanted)]
            + [v.name for v in engine.volumes.list(filters=wanted)]
            + [n.name for n in engine.networks.list(filters=wanted)])


# --- name collisions -------------------------------------------------------------------------

@pytest.mark.parametrize("taken", ["web", "db", "net", "dbdata"])
def test_two_tier_refuses_names_of_hand_made_objects_and_touches_nothing(scope, shell_image,
                                                                         learner, taken) -> None:
    name = f"{scope}-{taken}"
    if taken in ("web", "db"):
        made_id = learner.container(name, shell_image, "sleep", "300", start=True)
    elif taken == "net":
        learner.engine.networks.create(name)
        learner.networks.append(name)
    else:
        learner.engine.volumes.create(name)
        learner.volumes.append(name)
    with pytest.raises(CourseError) as caught:
        two_tier.start_two_tier(scope, timeout=5)
    assert name in caught.value.message and "did not create" in caught.value.message
    learner.intact()
    if taken in ("web", "db"):
        assert learner.engine.containers.get(name).id == made_id
        assert learner.engine.containers.get(name).status == "running"
    assert _scoped_objects(scope) == []  # the course made nothing either
    with pytest.raises(CourseError, match=f"left .*{name} alone"):
        two_tier.teardown(scope)  # tearing down leaves the hand-made object alone, and says so
    learner.intact()


def test_course_container_operations_refuse_a_hand_made_container(scope, shell_image,
                                                                  learner) -> None:
    name = f"{scope}-mine"
    made_id = learner.container(name, shell_image, "sleep", "300", start=True)
    for attempt in (lambda: course.remove_container(name), lambda: course.stop_container(name),
                    lambda: containers.run(shell_image, name=name, command=["true"]),
                    lambda: containers.remove_if_ours(name)):
        with pytest.raises(CourseError, match="did not create it"):
            attempt()
    container = learner.engine.containers.get(name)
    assert container.id == made_id and container.status == "running"


# --- images built from course images ---------------------------------------------------------

def _course_image(scope: str, base: str, tmp_path: Path, name: str) -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "Dockerfile").write_text(f"FROM {base}\nRUN echo {scope} {name} > /marker\n")
    tag = f"docker-course/{scope}-{name}:1"
    build.build(folder, tag, quiet=True)
    return tag


def test_learners_images_and_containers_from_course_images_survive_cleanup(
        scope, shell_image, learner, tmp_path) -> None:
    course_tag = _course_image(scope, shell_image, tmp_path, "base")
    course_id = learner.image_id(course_tag)
    mine = f"mine-{scope}"
    from_course = learner.build(f"FROM {course_tag}\nRUN echo mine > /mine\n", f"{mine}/from:1")
    untagged = learner.build(f"FROM {course_tag}\nRUN echo untagged > /mine\n")
    learner.tag(course_tag, f"{mine}/same:1")
    learner.container(f"{mine}-runs-course", course_tag)
    learner.container(f"{mine}-runs-from", f"{mine}/from:1")
    inherited = learner.engine.images.get(f"{mine}/from:1").labels
    assert inherited.get(labels.IMAGE_NOTEBOOK_KEY) == scope  # the trap: labels are inherited

    report = cleanup(scope)
    done = _cli("cleanup", "--notebook", scope)
    assert done.returncode == 0, done.stderr

    learner.intact()
    assert learner.image_id(f"{mine}/from:1") == from_course
    learner.engine.images.get(untagged)  # a learner's dangling image is still not the course's
    assert learner.image_id(f"{mine}/same:1") == course_id  # the image stays, under their tag
    assert course_tag in report.images  # only the course's own name went
    with pytest.raises(docker.errors.ImageNotFound):
        learner.engine.images.get(course_tag)


def test_a_course_image_a_learners_container_uses_is_kept_and_reported(scope, shell_image,
                                                                       learner,
                                                                       tmp_path) -> None:
    course_tag = _course_image(scope, shell_image, tmp_path, "used")
    learner.container(f"mine-{scope}-user", course_tag)
    report = cleanup(scope)
    assert any(course_tag in kept and f"mine-{scope}-user" in kept for kept in report.kept)
    learner.engine.images.get(course_tag)
    learner.intact()
    learner.engine.containers.get(f"mine-{scope}-user").remove()
    learner.containers.clear()
    assert course_tag in cleanup(scope).images  # nobody uses it now: it goes


def test_a_container_of_an_image_committed_from_a_course_container_is_the_learners(
        scope, shell_image, learner) -> None:
    """`docker commit` copies the course's container labels into the image; a container of
    that image inherits them, but the course never noted its id."""
    containers.run(shell_image, name=f"{scope}-commit-me", command=["sleep", "300"])
    committed = f"mine-{scope}/committed:1"
    _docker("commit", f"{scope}-commit-me", committed)
    learner.images.append(committed)
    learner.container(f"mine-{scope}-from-commit", committed, "sleep", "300", start=True)
    theirs = learner.engine.containers.get(f"mine-{scope}-from-commit")
    assert theirs.labels.get(labels.COURSE_KEY) == labels.COURSE_VALUE  # inherited
    report = cleanup(scope)
    assert report.containers == [f"{scope}-commit-me"]
    learner.intact()
    with pytest.raises(CourseError, match="did not create it"):
        course.remove_container(f"mine-{scope}-from-commit")


def test_a_course_build_refuses_a_tag_that_names_a_learners_image(scope, shell_image, learner,
                                                                   tmp_path) -> None:
    """Moving the tag would orphan their image (the containerd store even deletes it)."""
    tag = f"docker-course/{scope}-clash:1"
    theirs = learner.build(f"FROM {shell_image}\nRUN echo theirs > /who\n", tag)
    (tmp_path / "Dockerfile").write_text(f"FROM {shell_image}\nRUN echo course > /who\n")
    with pytest.raises(CourseError, match=f"An image named {tag} already exists") as caught:
        build.build(tmp_path, tag, quiet=True)
    assert "docker tag" in caught.value.hint
    assert learner.image_id(tag) == theirs
    cleanup(scope)
    assert learner.image_id(tag) == theirs


def test_a_course_rebuild_of_its_own_tag_is_fine_and_cleanup_removes_both(scope, shell_image,
                                                                         tmp_path) -> None:
    tag = f"docker-course/{scope}-again:1"
    (tmp_path / "Dockerfile").write_text(f"FROM {shell_image}\nRUN echo one > /n\n")
    first = build.build(tmp_path, tag, quiet=True)
    (tmp_path / "Dockerfile").write_text(f"FROM {shell_image}\nRUN echo two > /n\n")
    second = build.build(tmp_path, tag, quiet=True)
    assert first.image_id != second.image_id
    cleanup(scope)
    engine = docker.from_env()
    for image_id in (first.image_id, second.image_id):
        with pytest.raises(docker.errors.ImageNotFound):
            engine.images.get(image_id)


@pytest.mark.parametrize("notebook", ["", "*", "99", "0?"])
def test_cleanup_with_a_bad_notebook_is_refused_and_removes_nothing(scope, shell_image,
                                                                    notebook) -> None:
    containers.run(shell_image, name=f"{scope}-keep", command=["sleep", "300"])
    done = _cli("cleanup", "--notebook", notebook)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: argument --notebook: There is no notebook "
                                  f"{notebook!r}")
    assert len(done.stderr.strip().splitlines()) == 1
    assert containers.container_state(f"{scope}-keep") == "running"


# --- interrupts ------------------------------------------------------------------------------

def _interrupt_after(seconds: float) -> threading.Timer:
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    return timer


def test_an_interrupted_build_leaves_nothing_after_cleanup(scope, shell_image, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {shell_image}\nRUN echo {scope} && sleep 60\n")
    tag = f"docker-course/{scope}-interrupted:1"
    engine = docker.from_env()
    scoped_images = {"label": [f"{labels.IMAGE_NOTEBOOK_KEY}={scope}"]}
    timer = _interrupt_after(6)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            build.build(tmp_path, tag, quiet=True)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 40  # the RUN step (60 s) was cancelled, not awaited
    leftover = subprocess.run(["pgrep", "-f", f"buildx build .*{tag}"], capture_output=True,
                              text=True, check=False)
    assert leftover.stdout.strip() == ""  # the build process is gone
    assert engine.images.list(all=True, filters=scoped_images) == []
    cleanup(scope)
    assert engine.images.list(all=True, filters=scoped_images) == []
    assert ownership.entries(scope) == []


# --- OS errors -------------------------------------------------------------------------------

def _drop_dac(code: str) -> subprocess.CompletedProcess:
    """Run Python without the capabilities that let root read any file."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to make a file root cannot read")
    return subprocess.run([setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,"
                           "-dac_read_search", sys.executable, "-c", code],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ})


def test_an_unreadable_context_file_is_one_build_error(scope, shell_image, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {shell_image}\nCOPY . /app\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    tag = f"docker-course/{scope}-unreadable:1"
    done = _drop_dac(
        "from helpers import labels; from helpers.engine import build\n"
        f"labels.set_notebook({scope!r})\n"
        "try:\n"
        f"    build.build({str(tmp_path)!r}, {tag!r}, quiet=True)\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, '|', e.message, '|', e.hint)\n")
    assert done.stdout.startswith("BuildFailed |"), done.stdout + done.stderr
    assert f"cannot be read ({secret})" in done.stdout and ".dockerignore" in done.stdout
    assert docker.from_env().images.list(filters={"reference": tag}) == []


def test_an_unreadable_dockerfile_is_one_build_error(scope, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "Dockerfile").chmod(0)
    done = _drop_dac(
        "from helpers import course\n"
        "try:\n"
        f"    course.build_image('docker-course/{scope}-x:1', context={str(tmp_path)!r})\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, '|', e.message)\n")
    assert done.stdout.startswith("BuildFailed | Cannot read the Dockerfile: Permission "
                                  "denied"), done.stdout + done.stderr


@pytest.fixture
def full_disk(tmp_path):
    """A small tmpfs, filled up: every write there fails with ENOSPC."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "course-full",
                              str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        with (folder / "filler").open("wb", buffering=0) as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 4096)
        with pytest.raises(OSError) as full:
            (folder / "probe").write_bytes(b"\0" * 8192)
        assert full.value.errno == errno.ENOSPC
        (folder / "probe").unlink(missing_ok=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_images_archive_on_a_full_disk_is_one_error_and_no_file(full_disk) -> None:
    target = full_disk / "archive"
    target.mkdir()
    done = _cli("images-archive", str(target), "--only", "shell")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], done.stderr
    assert _files(target) == []  # no <key>.tar, no .partial


def test_scan_sbom_on_a_full_disk_is_one_error_and_no_file(full_disk, shell_image) -> None:
    done = _cli("scan", shell_image, "--sbom", str(full_disk / "shell.cdx.json"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
    assert _files(full_disk) == ["filler"]


def test_a_full_state_folder_does_not_stop_the_course(full_disk, scope, shell_image,
                                                      monkeypatch) -> None:
    monkeypatch.setenv("COURSE_STATE_DIR", str(full_disk))
    monkeypatch.setattr(journal, "_problem", "")
    monkeypatch.delenv("COURSE_MODE", raising=False)
    facts = course.start(scope)
    assert facts.server_version
    assert session.session().mode == "live"
    info = course.run_container(shell_image, name=f"{scope}-full", command=["sleep", "30"])
    assert info.status == "running"
    assert "No space left on device" in journal.problem()
    written = [p for p in full_disk.rglob("*") if p.is_file() and p.name != "filler"]
    assert all(p.stat().st_size == 0 for p in written)  # nothing half-written
    monkeypatch.setenv("COURSE_STATE_DIR", str(full_disk.parent / "state"))
    course.remove_container(f"{scope}-full")  # not noted (full disk), still the course's label
