"""Notebook 06's helpers on the real engine: persistence, mounts, backup and restore, sizes."""

from __future__ import annotations

import io
import os
import tarfile
import uuid
from pathlib import Path

import docker
import pytest

from helpers import labels
from helpers.engine import volumes as engine_volumes
from helpers.engine.cleanup import cleanup
from helpers.errors import CourseError
from helpers.lessons import volumes


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """The notebook's host work folder, inside the test's temporary folder."""
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    return tmp_path / "work"


@pytest.fixture
def engine() -> docker.DockerClient:
    return docker.from_env()


def _leftovers(engine: docker.DockerClient, scope: str) -> list[str]:
    found = labels.filters(scope)
    return ([c.name for c in engine.containers.list(all=True, filters=found)]
            + [v.name for v in engine.volumes.list(filters=found)])


def _filled(scope: str, image: str) -> str:
    volume = f"{scope}-data"
    volumes.create_volume(volume)
    written = volumes.fill_volume(image, volume, container=f"{scope}-writer")
    assert written.exit_code == 0, written.output
    return volume


def test_volume_data_survives_container_removal(scope, shell_image, engine) -> None:
    volume = _filled(scope, shell_image)
    engine.containers.get(f"{scope}-writer").remove()
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(f"{scope}-writer")
    read = volumes.read_volume(shell_image, volume)
    assert read.exit_code == 0
    assert f"written by {scope}-writer" in read.output and "random.bin" in read.output
    hashes = volumes.file_hashes(shell_image, volume)
    assert sorted(hashes.index) == ["logs/day 1.txt", "notes.txt", "random.bin"]
    assert hashes.loc["random.bin", "size_bytes"] == 262144


def test_backup_then_restore_is_byte_identical(scope, shell_image, work, engine) -> None:
    volume = _filled(scope, shell_image)
    extra = volumes.run_in_volume(
        shell_image, volume, "mkdir -p /data/empty-dir /data/deep/er && : > /data/empty.txt && "
        "head -c 70000 /dev/urandom > '/data/deep/er/odd name.bin' && ln -s notes.txt "
        "/data/link", read_only=False)
    assert extra.exit_code == 0, extra.output
    backup = volumes.backup_volume(shell_image, volume)
    archive = Path(backup.archive)
    assert archive.is_file() and archive.parent == work.resolve() / f"notebook-{scope}" / "backups"
    assert not list(archive.parent.glob("*.partial"))
    noted = engine_volumes.checksum_file(archive).read_text()
    assert noted == f"{backup.archive_sha256}  {archive.name}\n"
    assert backup.files == 5 and backup.archive_sha256 == engine_volumes.sha256_file(archive)

    listing = volumes.archive_table(backup.archive)
    assert {"symlink", "dir", "file"} <= set(listing["kind"])

    restored = volumes.restore_volume(shell_image, backup.archive, f"{scope}-restored")
    assert restored.files == 5
    before = volumes.file_hashes(shell_image, volume)
    after = volumes.file_hashes(shell_image, f"{scope}-restored")
    assert len(before) == 5 and before.equals(after)
    compared = volumes.compare_hashes(before, after)
    assert compared["same"].all()
    archive_files = listing[listing["kind"] == "file"]["sha256"].sort_index()
    assert list(archive_files) == list(before["sha256"].sort_index())
    # the symlink and the empty folder come back too
    shape = volumes.run_in_volume(shell_image, f"{scope}-restored",
                                  "readlink /data/link && test -d /data/empty-dir && echo ok")
    assert shape.output.split() == ["notes.txt", "ok"]
    # the restored volume is the course's, labelled for this scope
    assert engine.volumes.get(f"{scope}-restored").attrs["Labels"][labels.NOTEBOOK_KEY] == scope
    assert [n for n in _leftovers(engine, scope) if "helper" in n] == []


def test_restore_replaces_a_course_volume_of_the_same_name(scope, shell_image, work) -> None:
    volume = _filled(scope, shell_image)
    backup = volumes.backup_volume(shell_image, volume)
    target = f"{scope}-again"
    volumes.create_volume(target)
    volumes.run_in_volume(shell_image, target, "echo stale > /data/stale.txt", read_only=False)
    volumes.restore_volume(shell_image, backup.archive, target)
    assert "stale.txt" not in volumes.file_hashes(shell_image, target).index


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "missing", "unsafe"])
def test_a_bad_archive_is_a_clear_error_and_leaves_no_volume(scope, shell_image, work, engine,
                                                             damage, tmp_path) -> None:
    volume = _filled(scope, shell_image)
    backup = volumes.backup_volume(shell_image, volume)
    archive = Path(backup.archive)
    if damage == "truncated":
        bad = volumes.damaged_copy(backup.archive, keep=0.5)
    elif damage == "garbage":  # bytes changed inside a file: only the noted sha256 tells
        bad = backup.archive
        with tarfile.open(archive) as read:
            start = read.getmember("./random.bin").offset_data
        data = bytearray(archive.read_bytes())
        data[start + 1000:start + 2000] = b"\x07" * 1000
        archive.write_bytes(bytes(data))
        assert engine_volumes.read_archive(archive)  # still a well-formed tar
    elif damage == "empty":
        bad = str(tmp_path / "empty.tar")
        Path(bad).write_bytes(b"")
    elif damage == "missing":
        bad = str(tmp_path / "nowhere.tar")
    else:
        bad = str(tmp_path / "unsafe.tar")
        with tarfile.open(bad, "w") as out:
            info = tarfile.TarInfo("../escape.txt")
            info.size = 3
            out.addfile(info, io.BytesIO(b"bad"))
    target = f"{scope}-broken"
    with pytest.raises(CourseError) as caught:
        volumes.restore_volume(shell_image, bad, target)
    message = caught.value.message
    expected = {"truncated": "cut short", "garbage": "does not match", "empty": "damaged",
                "missing": "no backup archive", "unsafe": "climbs out"}[damage]
    assert expected in message and "Traceback" not in caught.value.render()
    assert not volumes.volume_exists(target)
    assert sorted(_leftovers(engine, scope)) == sorted([f"{scope}-writer", volume])


def test_a_failing_extraction_removes_the_new_volume(scope, shell_image, tmp_path,
                                                     engine) -> None:
    """A tar that reads fine but cannot be extracted (a file where a folder must go)."""
    bad = tmp_path / "clash.tar"
    with tarfile.open(bad, "w") as out:
        for name in ("./a", "./a/b"):
            info = tarfile.TarInfo(name)
            info.size = 1
            out.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(CourseError, match="removed again"):
        volumes.restore_volume(shell_image, str(bad), f"{scope}-clash")
    assert not volumes.volume_exists(f"{scope}-clash")
    assert _leftovers(engine, scope) == []


def test_volume_names_outside_the_course_are_refused(scope, shell_image, work,
                                                     engine) -> None:
    mine = f"hand-made-{uuid.uuid4().hex[:6]}"
    engine.volumes.create(mine)
    try:
        volume = _filled(scope, shell_image)
        backup = volumes.backup_volume(shell_image, volume)
        with pytest.raises(CourseError, match="did not create"):
            volumes.create_volume(mine)
        with pytest.raises(CourseError, match="did not create"):
            volumes.restore_volume(shell_image, backup.archive, mine)
        with pytest.raises(CourseError, match="will not write"):
            volumes.fill_volume(shell_image, mine, container=f"{scope}-w2")
        with pytest.raises(CourseError, match="will not write"):
            volumes.run_in_volume(shell_image, mine, "touch /data/x", read_only=False)
        assert engine_volumes.file_hashes(shell_image, mine) == []  # untouched, still empty
        assert engine.volumes.get(mine).attrs.get("Labels") in (None, {})
        assert sorted(_leftovers(engine, scope)) == sorted([f"{scope}-writer", volume])
        # a missing volume is an error, not a silently created unlabelled one
        with pytest.raises(CourseError, match="no volume"):
            volumes.read_volume(shell_image, f"{scope}-nothing")
        with pytest.raises(docker.errors.NotFound):
            engine.volumes.get(f"{scope}-nothing")
    finally:
        engine.volumes.get(mine).remove()


def test_bind_mount_shows_host_edits_live(scope, shell_image, work, engine) -> None:
    folder = volumes.make_host_folder("site")
    assert Path(folder).is_dir() and Path(folder).parent == work.resolve() / f"notebook-{scope}"
    info = volumes.run_with_bind(shell_image, folder, name=f"{scope}-bind")
    first_start = volumes.started_at(info.name)
    volumes.write_host_file(folder, "index.html", "version 1\n")
    assert engine_volumes.client().containers.get(info.name).exec_run(
        ["cat", "/site/index.html"]).output == b"version 1\n"
    volumes.write_host_file(folder, "index.html", "version 2\n")
    assert engine_volumes.client().containers.get(info.name).exec_run(
        ["cat", "/site/index.html"]).output == b"version 2\n"
    assert volumes.started_at(info.name) == first_start
    engine.containers.get(info.name).exec_run(["sh", "-c", "echo back > /site/reply.txt"])
    reply = volumes.read_host_file(folder, "reply.txt")
    assert reply.text == "back\n"
    assert reply.owner_uid == os.getuid()
    mounts = volumes.mounts_table([info.name])
    assert list(mounts["type"]) == ["bind"] and mounts["source"][0] == folder
    cleanup(scope)
    gone = volumes.remove_host_folder()
    assert gone.removed and gone.files == 2 and not Path(folder).exists()


def test_bind_mount_of_a_missing_folder_is_a_clear_error(scope, shell_image, tmp_path,
                                                         engine) -> None:
    with pytest.raises(CourseError, match="could not bind-mount") as caught:
        volumes.run_with_bind(shell_image, str(tmp_path / "not-there"), name=f"{scope}-bind")
    assert "ENGINE" in caught.value.hint
    assert _leftovers(engine, scope) == []
    assert not (tmp_path / "not-there").exists()


def test_tmpfs_is_memory_and_empty_after_restart(scope, shell_image) -> None:
    info = volumes.run_with_tmpfs(shell_image, name=f"{scope}-tmpfs")
    container = engine_volumes.client().containers.get(info.name)
    mounts = container.exec_run(["grep", " /scratch ", "/proc/mounts"]).output.decode()
    assert mounts.startswith("tmpfs /scratch tmpfs") and "size=16384k" in mounts
    container.exec_run(["sh", "-c", "echo hi > /scratch/a"])
    assert container.exec_run(["ls", "/scratch"]).output.split() == [b"a"]
    after = volumes.restart_container(info.name)
    assert after.status == "running"
    assert container.exec_run(["ls", "/scratch"]).output.split() == []
    table = volumes.mounts_table([info.name])
    assert list(table["type"]) == ["tmpfs"] and list(table["target"]) == ["/scratch"]


def test_read_only_mounts_refuse_writes(scope, shell_image) -> None:
    volume = _filled(scope, shell_image)
    result = volumes.write_to_readonly_volume(shell_image, volume)
    assert result.exit_code != 0 and "Read-only file system" in result.output
    assert f"written by {scope}-writer" in result.output
    rootfs = volumes.write_to_readonly_rootfs(shell_image)
    assert rootfs.exit_code != 0 and "/tmp (tmpfs) is writable" in rootfs.output
    assert "Read-only file system" in rootfs.output
    assert volumes.read_volume(shell_image, volume).output.startswith(
        f"written by {scope}-writer")


def test_prefill_copies_the_image_folder_into_a_new_volume(scope, shell_image) -> None:
    result = volumes.prefill_from_image(shell_image, f"{scope}-etc")
    assert "passwd" in result.files_in_volume and "group" in result.files_in_volume


def test_volumes_table_has_sizes_for_this_scope_only(scope, shell_image, work) -> None:
    volume = _filled(scope, shell_image)
    backup = volumes.backup_volume(shell_image, volume)
    volumes.restore_volume(shell_image, backup.archive, f"{scope}-restored")
    table = volumes.volumes_table(shell_image)
    assert sorted(table.index) == [volume, f"{scope}-restored"]
    sizes = table["size_bytes"]
    assert sizes[volume] == sizes[f"{scope}-restored"] >= 262144
    assert set(table["measured by"]) <= {"docker system df", "du in a helper container"}
    assert table.loc[volume, "containers"] == 1  # the exited writer still refers to it


def test_du_measures_a_volume(scope, shell_image) -> None:
    volume = _filled(scope, shell_image)
    measured = engine_volumes.du_bytes(shell_image, volume)
    assert measured is not None and measured >= 262144


def test_cleanup_removes_what_the_notebook_made_and_spares_hand_made(scope, shell_image,
                                                                    work, engine,
                                                                    hand_made) -> None:
    volume = _filled(scope, shell_image)
    backup = volumes.backup_volume(shell_image, volume)
    volumes.restore_volume(shell_image, backup.archive, f"{scope}-restored")
    volumes.run_with_tmpfs(shell_image, name=f"{scope}-tmpfs")
    folder = volumes.make_host_folder()
    volumes.run_with_bind(shell_image, folder, name=f"{scope}-bind")
    report = cleanup(scope)
    assert sorted(report.volumes) == sorted([volume, f"{scope}-restored"])
    assert len(report.containers) == 3
    assert _leftovers(engine, scope) == []
    assert volumes.remove_host_folder().removed and not work.joinpath(
        f"notebook-{scope}").exists()
    assert hand_made.survived()

