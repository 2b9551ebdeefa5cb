"""The course's own record of what it made: written best effort, read tolerantly, pruned safely."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from helpers import labels
from helpers.engine import ownership
from helpers.engine.cleanup import CleanupReport


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_noted_images_are_read_back_per_notebook(state) -> None:
    ownership.note_image("docker-course/a:1", "sha256:aaa", "02")
    ownership.note_image("docker-course/b:1", "sha256:bbb", "04")
    assert [e.ref for e in ownership.entries("02")] == ["docker-course/a:1"]
    assert {e.id for e in ownership.entries(kind=ownership.IMAGE)} == {"sha256:aaa", "sha256:bbb"}
    assert ownership.is_course_image("sha256:aaa", "docker-course/a:1")
    assert not ownership.is_course_image("sha256:aaa", "mine/a:1")
    assert not ownership.is_course_image("sha256:ccc")


def test_forget_keeps_the_rest_and_removes_empty_files(state) -> None:
    first = ownership.note(ownership.IMAGE, ref="x:1", id="sha256:1", notebook="02")
    second = ownership.note(ownership.IMAGE, ref="y:1", id="sha256:2", notebook="02")
    ownership.forget([first])
    assert ownership.entries("02") == [second]
    ownership.forget([second])
    assert not ownership.record_file("02").exists()
    assert [p.name for p in ownership.record_dir().iterdir()] == []  # no temporary files


def test_unreadable_lines_are_skipped(state) -> None:
    ownership.note_image("x:1", "sha256:1", "07")
    with ownership.record_file("07").open("a") as out:
        out.write("{not json\n[1, 2]\n")
    assert [e.ref for e in ownership.entries("07")] == ["x:1"]


def test_an_unwritable_state_folder_never_fails_the_caller(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(ownership, "record_dir", lambda: blocker / "created")
    entry = ownership.note_image("x:1", "sha256:1", "02")
    assert entry is None  # note_image returns nothing; the point: no exception
    assert ownership.entries() == []


def _container(own: dict, image: dict, container_id: str = "c1"):
    api = SimpleNamespace(inspect_image=lambda _id: {"Config": {"Labels": image}})
    return SimpleNamespace(id=container_id, labels=own,
                           attrs={"Config": {"Labels": own}, "Image": "sha256:img"},
                           client=SimpleNamespace(api=api))


COURSE = {labels.COURSE_KEY: labels.COURSE_VALUE, labels.NOTEBOOK_KEY: "02"}


def test_a_labelled_container_of_an_unlabelled_image_is_the_courses(state) -> None:
    assert ownership.owns_container(_container(COURSE, {labels.IMAGE_KEY: "true"}))


def test_a_container_without_the_label_is_never_the_courses(state) -> None:
    assert not ownership.owns_container(_container({}, {}))


def test_a_label_inherited_from_a_committed_image_needs_the_noted_id(state) -> None:
    """`docker commit` of a course container gives an image with the course's labels; a
    learner's container of that image inherits them."""
    inherited = _container(COURSE, COURSE, container_id="learners")
    assert not ownership.owns_container(inherited)
    ownership.note_container("ours", "x", "02")
    assert ownership.owns_container(_container(COURSE, COURSE, container_id="ours"))


def test_the_kept_row_appears_only_when_something_was_kept() -> None:
    assert [row[0] for row in CleanupReport().as_rows()] == \
        ["containers", "networks", "volumes", "images"]
    assert CleanupReport(kept=["x:1 (used by c)"]).as_rows()[-1] == \
        ("kept images", 1, "x:1 (used by c)")
