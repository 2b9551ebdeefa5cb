"""Notebook 06: where container data lives. Named volumes, bind mounts, tmpfs, read-only
mounts, backup and restore through a tar archive, and the sizes of volumes.

Every function a notebook calls is an :func:`action`: it shows its CLI lines and returns plain
data. Host-side work (the bind-mount folder, the backup archive) happens inside actions too, so a
replayed notebook never depends on files this machine does not have.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import journal, labels, settings
from ..display import FactsView
from ..engine import containers, objects
from ..engine import volumes as engine_volumes
from ..engine.containers import ContainerInfo
from ..engine.objects import VolumeInfo
from ..engine.volumes import BackupResult, RestoreResult
from ..errors import CourseError
from ..session import action

__all__ = ["BackupResult", "CommandResult", "ContainerInfo", "HostFile", "RestoreResult",
           "VolumeInfo"]

MOUNT = engine_volumes.MOUNT_POINT
_SIMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")



def writer_script(container: str) -> str:
    """Three kinds of content: a short text, a folder with a longer one, random bytes."""
    return (f'set -e; echo "written by {container}" > {MOUNT}/notes.txt; '
            f'mkdir -p {MOUNT}/logs; seq 1 5000 > "{MOUNT}/logs/day 1.txt"; '
            f"head -c 262144 /dev/urandom > {MOUNT}/random.bin; ls -lR {MOUNT}")


@dataclass
class CommandResult(FactsView):
    """A command run in a container: what ran, its exit code and its output."""

    command: str
    exit_code: int
    output: str


@dataclass
class HostFile(FactsView):
    """A file on the machine that runs the notebook (the host side of a bind mount)."""

    path: str
    size_bytes: int
    text: str
    owner_uid: int


@dataclass
class PrefillResult(FactsView):
    """What an empty named volume holds after its first mount over a folder of the image."""

    volume: str
    mounted_at: str
    files_in_volume: list[str]


@dataclass
class HostCleanup(FactsView):
    path: str
    removed: bool
    files: int


# ---------------------------------------------------------------------------------------------
# where host-side files go


def work_dir(notebook: str | None = None) -> Path:
    """This notebook's folder on the host: bind-mount sources and backups live here.

    ``COURSE_WORK_DIR`` moves it (it must be a folder the engine can see: on Docker Desktop,
    one that is shared with the Docker VM, as the home folder is by default).
    """
    base = os.environ.get("COURSE_WORK_DIR")
    root = Path(base) if base else settings.cache_dir() / "work"
    return (root / f"notebook-{notebook or labels.current_notebook()}").resolve()


def _simple(name: str, what: str) -> str:
    if not _SIMPLE_NAME.match(name):
        raise CourseError(f"{what} {name!r} is not a simple name.",
                          hint="use letters, digits, '.', '_' and '-' only.")
    return name


# ---------------------------------------------------------------------------------------------
# named volumes


@action
def create_volume(name: str) -> VolumeInfo:
    """``docker volume create NAME`` (reused when the course made it; refused when not)."""
    return objects.create_volume(name)


@action
def inspect_volume(name: str) -> VolumeInfo:
    """``docker volume inspect NAME``: driver and where the engine keeps the files."""
    journal.record(f"docker volume inspect {name}")
    return objects.volume_info(engine_volumes.require(name))


@action
def fill_volume(image: str, volume: str, *, container: str = "course-06-writer") -> CommandResult:
    """A container writes a few files into the volume, then ends (it is not removed)."""
    engine_volumes.require(volume, course_only=True)
    script = writer_script(container)
    containers.run(image, name=container, command=["sh", "-c", script],
                   volumes={volume: {"bind": MOUNT, "mode": "rw"}},
                   extra_cli=[f"-v {volume}:{MOUNT}"])
    code, output = engine_volumes.wait_exit(container)
    return CommandResult(command=script, exit_code=code, output=output.strip())


@action
def read_volume(image: str, volume: str,
                script: str = f"cat {MOUNT}/notes.txt && ls -l {MOUNT}") -> CommandResult:
    """``docker run --rm -v VOLUME:/data:ro IMAGE sh -c SCRIPT``: a NEW container reads it."""
    engine_volumes.require(volume)
    code, output, _ = containers.run_once(image, ["sh", "-c", script],
                                          volumes={volume: {"bind": MOUNT, "mode": "ro"}},
                                          extra_cli=[f"-v {volume}:{MOUNT}:ro"])
    return CommandResult(command=script, exit_code=code, output=output.strip())


@action
def run_in_volume(image: str, volume: str, script: str, *,
                  read_only: bool = True) -> CommandResult:
    """Any shell command in a throw-away container with the volume at /data."""
    code, output = engine_volumes.run_in_volume(image, volume, script, read_only=read_only)
    return CommandResult(command=script, exit_code=code, output=output.strip())


@action
def prefill_from_image(image: str, volume: str = "course-06-etc",
                       target: str = "/etc") -> PrefillResult:
    """Mount a NEW empty volume over a folder of the image: Docker copies the folder into it."""
    engine_volumes.replace_course_volume(volume)
    objects.create_volume(volume)
    code, output, _ = containers.run_once(image, ["true"],
                                          volumes={volume: {"bind": target, "mode": "rw"}},
                                          extra_cli=[f"-v {volume}:{target}"])
    if code != 0:
        raise CourseError(f"The container with {volume} at {target} failed (exit {code}).",
                          log_tail=output)
    code, listing = engine_volumes.run_in_volume(image, volume, f"ls -A {MOUNT}")
    return PrefillResult(volume=volume, mounted_at=target,
                         files_in_volume=sorted(listing.split()))


@action
def volume_exists(name: str) -> bool:
    return engine_volumes.exists(name)


# ---------------------------------------------------------------------------------------------
# bind mounts


@action
def make_host_folder(name: str = "site") -> str:
    """An empty folder on this machine, under the notebook's work folder: the bind source."""
    folder = work_dir() / _simple(name, "Folder name")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shown = shlex.quote(str(folder))
    journal.record(f"rm -rf {shown} && mkdir -p {shown}")
    return str(folder)


def _host_user() -> str | None:
    if hasattr(os, "getuid"):
        return f"{os.getuid()}:{os.getgid()}"
    return None


@action
def run_with_bind(image: str, folder: str, *, name: str = "course-06-bind",
                  target: str = "/site", read_only: bool = False) -> ContainerInfo:
    """``docker run -d --user UID:GID --mount type=bind,source=FOLDER,target=/site …``.

    Running as your own user id means files the container writes there belong to you.
    """
    user = _host_user()
    flags = [f"--user {user}"] if user else []
    flags.append(f"--mount type=bind,source={folder},target={target}"
                 + (",readonly" if read_only else ""))
    try:
        return containers.run(image, name=name, command=["sleep", "3600"], user=user,
                              mounts=[engine_volumes.bind_mount(folder, target,
                                                                read_only=read_only)],
                              extra_cli=flags)
    except CourseError as exc:
        raise CourseError(f"The engine could not bind-mount {folder}: {exc.message}",
                          hint="a bind mount takes the folder from the machine where the ENGINE "
                               "runs. With a remote engine (DOCKER_HOST=ssh://… or tcp://…) use "
                               "a folder on that machine; on Docker Desktop share the folder "
                               "(Settings → Resources → File sharing), or set COURSE_WORK_DIR "
                               "to a shared one.") from None


@action
def write_host_file(folder: str, filename: str, text: str) -> HostFile:
    """Write a file on this machine (the host side of the bind mount), as an editor would."""
    path = Path(folder) / _simple(filename, "File name")
    path.write_text(text, encoding="utf-8")
    journal.record(f"echo {shlex.quote(text.rstrip())} > {shlex.quote(str(path))}")
    return _host_file(path)


@action
def read_host_file(folder: str, filename: str) -> HostFile:
    """Read a file on this machine, e.g. one a container wrote into the bind mount."""
    path = Path(folder) / _simple(filename, "File name")
    if not path.is_file():
        raise CourseError(f"There is no file {path} on this machine.",
                          hint="did the container write it into the bind-mounted folder?")
    return _host_file(path)


def _host_file(path: Path) -> HostFile:
    stat = path.stat()
    return HostFile(path=str(path), size_bytes=stat.st_size,
                    text=path.read_text(encoding="utf-8", errors="replace")[:2000],
                    owner_uid=stat.st_uid)


@action
def started_at(name: str) -> str:
    """When the container's main process last started (unchanged = not restarted)."""
    return engine_volumes.started_at(name)


@action
def remove_host_folder() -> HostCleanup:
    """Delete this notebook's work folder on the host (bind sources, backups)."""
    folder = work_dir()
    if not folder.exists():
        return HostCleanup(path=str(folder), removed=False, files=0)
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise CourseError(f"Could not remove {folder}: {exc.strerror}",
                          hint=f"remove it by hand (`rm -rf {shlex.quote(str(folder))}`; files "
                               "a container wrote as root may need sudo).") from None
    if not os.environ.get("COURSE_WORK_DIR"):  # the course's own parent folder, when empty
        with contextlib.suppress(OSError):
            folder.parent.rmdir()
    journal.record(f"rm -rf {shlex.quote(str(folder))}")
    return HostCleanup(path=str(folder), removed=True, files=files)


# ---------------------------------------------------------------------------------------------
# tmpfs and read-only


@action
def run_with_tmpfs(image: str, *, name: str = "course-06-tmpfs", target: str = "/scratch",
                   size: str = "16m") -> ContainerInfo:
    """``docker run -d --tmpfs /scratch:size=16m …``: a folder held in memory only."""
    return containers.run(image, name=name, command=["sleep", "3600"],
                          tmpfs={target: f"size={size}"},
                          extra_cli=[f"--tmpfs {target}:size={size}"])


@action
def restart_container(name: str) -> ContainerInfo:
    """``docker restart``: the main process ends and starts again in the same container."""
    engine_volumes.restart(name)
    return containers.get(name)


@action
def write_to_readonly_volume(image: str, volume: str) -> CommandResult:
    """Mount the volume with ``:ro``: reading works, writing fails."""
    engine_volumes.require(volume)
    script = f"cat {MOUNT}/notes.txt && echo changed > {MOUNT}/notes.txt"
    code, output, _ = containers.run_once(image, ["sh", "-c", script],
                                          volumes={volume: {"bind": MOUNT, "mode": "ro"}},
                                          extra_cli=[f"-v {volume}:{MOUNT}:ro"])
    return CommandResult(command=script, exit_code=code, output=output.strip())


@action
def write_to_readonly_rootfs(image: str) -> CommandResult:
    """``--read-only`` makes the container's own filesystem read-only; a tmpfs gives scratch."""
    script = 'echo ok > /tmp/scratch && echo "/tmp (tmpfs) is writable" && echo x > /etc/motd'
    code, output, _ = containers.run_once(image, ["sh", "-c", script], read_only=True,
                                          tmpfs={"/tmp": ""},
                                          extra_cli=["--read-only", "--tmpfs /tmp"])
    return CommandResult(command=script, exit_code=code, output=output.strip())


@action
def mounts_table(names: list[str]) -> pd.DataFrame:
    """``docker inspect``: what each container mounts, where, and whether it may write."""
    rows = [row for name in names for row in engine_volumes.mounts(name)]
    return pd.DataFrame(rows, columns=["container", "type", "source", "target", "writable"])


# ---------------------------------------------------------------------------------------------
# backup and restore


@action
def backup_volume(image: str, volume: str, folder: str | None = None) -> BackupResult:
    """The volume's content as a tar archive on this machine (``tar cf`` in a helper)."""
    target = Path(folder) if folder else work_dir() / "backups"
    return engine_volumes.backup(image, volume, target / f"{_simple(volume, 'Volume')}.tar")


@action
def archive_table(archive: str) -> pd.DataFrame:
    """``tar tvf ARCHIVE``, plus the sha256 of each file's content."""
    journal.record(f"tar tvf {shlex.quote(archive)}")
    entries = engine_volumes.read_archive(Path(archive))
    frame = pd.DataFrame([e.__dict__ for e in entries],
                         columns=["path", "kind", "size_bytes", "sha256", "mode"])
    return frame.set_index("path")


@action
def restore_volume(image: str, archive: str, volume: str) -> RestoreResult:
    """A NEW volume filled from a backup archive (``tar xf`` in a helper container)."""
    return engine_volumes.restore(image, Path(archive), volume)


@action
def file_hashes(image: str, volume: str) -> pd.DataFrame:
    """Every file in the volume with its size and sha256 (``sha256sum`` in a helper)."""
    rows = engine_volumes.file_hashes(image, volume)
    return pd.DataFrame(rows, columns=["path", "size_bytes", "sha256"]).set_index("path")


def compare_hashes(left: pd.DataFrame, right: pd.DataFrame,
                   names: tuple[str, str] = ("original", "restored")) -> pd.DataFrame:
    """Two per-file hash tables side by side; ``same`` is True where the bytes are identical."""
    first, second = names
    joined = pd.merge(left[["sha256"]].rename(columns={"sha256": f"sha256 {first}"}),
                      right[["sha256"]].rename(columns={"sha256": f"sha256 {second}"}),
                      left_index=True, right_index=True, how="outer").fillna("(missing)")
    joined["same"] = joined[f"sha256 {first}"] == joined[f"sha256 {second}"]
    joined.index.name = "path"
    return joined.sort_index()


@action
def damaged_copy(archive: str, keep: float = 0.5) -> str:
    """A copy of the archive cut after ``keep`` of its bytes, like an interrupted download."""
    if not 0 <= keep < 1:
        raise CourseError("keep must be a fraction between 0 and 1.")
    source = Path(archive)
    if not source.is_file():
        raise CourseError(f"There is no archive at {source}.")
    damaged = source.with_name(source.stem + "-damaged" + source.suffix)
    data = source.read_bytes()
    damaged.write_bytes(data[: int(len(data) * keep)])
    journal.record(engine_volumes.in_folder(
        source.parent, f"head -c {int(len(data) * keep)} {source.name} > {damaged.name}"))
    return str(damaged)


# ---------------------------------------------------------------------------------------------
# sizes


@action
def volumes_table(image: str | None = None, notebook: str | None = None) -> pd.DataFrame:
    """``docker system df -v`` for this notebook's volumes: sizes in bytes, users, age."""
    from ..engine import inspect_more

    rows = inspect_more.retry_on_vanished(engine_volumes.sizes, image,
                                          notebook or labels.current_notebook())
    columns = ["volume", "driver", "containers", "size_bytes", "measured by", "created"]
    return pd.DataFrame(rows, columns=["notebook", *columns])[columns].set_index("volume")


# --- a fresh named volume and a non-root app: whose is /data? ----------------------------------

@action
def ownership_demo(image: str, volume: str = "course-06-owned", *, uid: int = 10001) -> \
        pd.DataFrame:
    """A non-root app (``--user UID``) writes to a fresh named volume: refused, because the
    volume's root folder belongs to root; after a one-off ``chown`` by root, allowed."""
    objects.create_volume(volume)
    script = "id -u; ls -ldn /data | awk '{print $3\":\"$4}'; touch /data/app.log && echo written"
    steps = [("app as uid {uid} writes", f"{uid}:{uid}", script),
             ("root hands /data to uid {uid}", None, f"chown {uid}:{uid} /data && echo chowned"),
             ("app as uid {uid} writes again", f"{uid}:{uid}", script)]
    rows = []
    for what, user, command in steps:
        flags = ([f"--user {user}"] if user else []) + [f"-v {volume}:/data"]
        code, output, _ = containers.run_once(
            image, ["sh", "-c", command], user=user,
            volumes={volume: {"bind": "/data", "mode": "rw"}}, extra_cli=flags)
        rows.append({"step": what.format(uid=uid), "exit code": code,
                     "output": " | ".join(line for line in output.splitlines() if line)})
    return pd.DataFrame(rows).set_index("step")


# --- anonymous volumes (`-v /path`, or an image's VOLUME) --------------------------------------

@dataclass
class AnonymousVolume(FactsView):
    """The volume Docker made for ``-v /cache``: a random name, and whether it outlived
    ``docker rm -v``."""

    container: str
    target: str
    volume_name: str
    named_by_docker: bool
    left_after_rm_v: bool


@action
def anonymous_volume(image: str, name: str = "course-06-anon", target: str = "/cache") -> \
        AnonymousVolume:
    """``docker run -v /cache``: Docker creates an anonymous volume; ``docker rm -v`` (what
    ``--rm`` does too) removes it with the container."""
    from ..engine import inspect_more

    inspect_more.run(image, name, ["sleep", "300"], volumes=[target])
    try:
        found = [m for m in inspect_more.mounts(name) if m.get("Destination") == target]
    finally:
        containers.remove(name)
    volume_name = str(found[0].get("Name", "")) if found else ""
    left = bool(volume_name) and inspect_more.volume_present(volume_name)
    journal.record(f"docker volume inspect {volume_name or '?'}")
    return AnonymousVolume(container=name, target=target, volume_name=volume_name,
                           named_by_docker=bool(re.fullmatch(r"[0-9a-f]{64}", volume_name)),
                           left_after_rm_v=left)
