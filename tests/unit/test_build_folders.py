"""The build folders the lessons make in the state folder: the lines they print, typed with bash
in another state folder, make the same files (the secrets: files of the same form)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from helpers import build_folders, journal, settings
from helpers.anatomy.secrets import ContentScanner
from helpers.errors import CourseError


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    folder = tmp_path / "my app"  # a space: the printed lines quote paths
    (folder / "sub").mkdir(parents=True)
    (folder / "app.py").write_text("print('hi')", encoding="utf-8")  # no final newline
    (folder / "Dockerfile").write_text("Builder stage\nFROM x\n", encoding="utf-8")
    (folder / "requirements.txt").write_text("flask==3.1.3\n", encoding="utf-8")
    (folder / ".dockerignore").write_text("*.tar\n", encoding="utf-8")
    (folder / "sub" / "data.txt").write_text("x\n", encoding="utf-8")
    return folder


def typed_in(state: Path, lines: list[str], here: Path) -> None:
    """Type ``lines`` with bash, with the Python run's state folder replaced by ``state``."""
    for line in lines:
        line = line.replace(str(here), str(state))
        done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{line}: {done.stderr}"


def made(monkeypatch, tmp_path: Path, work) -> tuple[Path, list[str]]:
    """Run ``work`` with the state folder tmp_path/python; the folder and the printed lines."""
    here = tmp_path / "python"
    monkeypatch.setenv("COURSE_STATE_DIR", str(here))
    with journal.capture() as captured:
        work()
    return here, [command.cli for command in captured]


def test_a_copy_and_its_edits_are_what_the_printed_lines_make(monkeypatch, tmp_path, app):
    def work():
        destination = build_folders.fresh_copy(app, "docker-course/app:edited")
        (destination / "stale.txt").write_text("from before\n", encoding="utf-8")
        destination = build_folders.fresh_copy(app, "docker-course/app:edited")  # anew
        build_folders.append_line(destination / "app.py", "# edited at 12:00 (it's 'quoted')")
        build_folders.append_line(destination / "requirements.txt", "# another")
        build_folders.comment_out_first_line(destination / "Dockerfile")
        build_folders.write_joined(destination / "requirements.txt", app / "requirements.txt",
                                   ["# round 1", "requests==2.34.2"])

    here, lines = made(monkeypatch, tmp_path, work)
    python = build_folders.folder("docker-course/app:edited")
    assert python == here / "builds" / "docker-course-app-edited"
    assert all(str(python) in line for line in lines)
    assert files(python)["app.py"] == b"print('hi')\n# edited at 12:00 (it's 'quoted')\n"
    assert files(python)["Dockerfile"] == b"# Builder stage\nFROM x\n"
    assert "stale.txt" not in files(python) and "sub/data.txt" in files(python)
    assert files(app)["app.py"] == b"print('hi')"  # the app folder is left alone
    typed_in(tmp_path / "typed", lines, here)
    assert files(tmp_path / "typed" / python.relative_to(here)) == files(python)


def test_a_first_line_already_a_comment_is_left_and_nothing_printed(monkeypatch, tmp_path,
                                                                       app):
    (app / "Dockerfile").write_text("# ok\nFROM x\n", encoding="utf-8")
    _, lines = made(monkeypatch, tmp_path,
                    lambda: build_folders.comment_out_first_line(app / "Dockerfile"))
    assert lines == [] and (app / "Dockerfile").read_text(encoding="utf-8") == "# ok\nFROM x\n"


def test_editing_a_missing_file_says_which(monkeypatch, tmp_path, app):
    with pytest.raises(CourseError, match=r"no file missing\.py"):
        made(monkeypatch, tmp_path, lambda: build_folders.append_line(
            build_folders.fresh_copy(app, "x") / "missing.py", "# edited"))


def test_a_copy_into_an_unwritable_state_folder_says_what_to_do(monkeypatch, tmp_path, app):
    blocker = tmp_path / "python" / "builds"
    blocker.parent.mkdir()
    blocker.write_text("a file where the folder goes", encoding="utf-8")
    with pytest.raises(CourseError, match="Could not copy") as raised:
        made(monkeypatch, tmp_path, lambda: build_folders.fresh_copy(app, "x"))
    assert raised.value.hint


def test_throwaway_secrets_the_printed_lines_make_are_of_the_same_form(monkeypatch, tmp_path,
                                                                       app):
    def work():
        folder = build_folders.fresh_folder("docker-course/leaky:1.0", (app / "Dockerfile",))
        build_folders.write_throwaway_secrets(folder)

    here, lines = made(monkeypatch, tmp_path, work)
    python = build_folders.folder("docker-course/leaky:1.0")
    typed_in(tmp_path / "typed", lines, here)
    typed = tmp_path / "typed" / python.relative_to(here)
    assert set(files(typed)) == set(files(python)) == {"Dockerfile", "id_rsa", ".env"}
    scanner = ContentScanner()
    for folder in (python, typed):
        key, env = files(folder)["id_rsa"], files(folder)[".env"]
        assert [hit.kind for hit in scanner.scan("src/id_rsa", key)] == ["private-key"]
        assert [hit.kind for hit in scanner.scan("src/.env", env)] == ["env-file"]
        assert re.fullmatch(rb"DB_USER=deploy\nDB_PASSWORD=[A-Za-z0-9_-]{24}\n", env)
        assert stat.S_IMODE(os.stat(folder / "id_rsa").st_mode) == 0o600
        body = key.decode().splitlines()
        assert [len(line) for line in body[1:-1]] == [len(line) for line in
                                                     files(python)["id_rsa"].decode()
                                                     .splitlines()[1:-1]]
    assert files(typed)["id_rsa"] != files(python)["id_rsa"]  # random, each its own
    secret_values = files(python)[".env"].decode().split("=")[-1].strip()
    assert not any(secret_values in line for line in lines)  # values are never printed
    assert settings.state_dir() == here
