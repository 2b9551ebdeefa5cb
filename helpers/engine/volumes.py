"""Volumes beyond create/remove: what is inside, how big, backup to a tar archive and restore.

The engine reaches a volume's files only through a container that mounts it, so every operation
here runs a short-lived *helper container* (labelled like everything the course makes, removed
when done). Backups travel through the Engine API's archive endpoints, never through a bind
mount, so they also work with a remote engine or Docker Desktop; the journal shows the usual
one-line CLI idiom that does the same with a bind-mounted folder.

The archive reader and the output parsers at the bottom are pure and tested without an engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shlex
import tarfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .. import journal, labels
from ..display import FactsView
from ..errors import CourseError, tail
from . import objects
from .client import client
from .sdk import docker

MOUNT_POINT = "/data"
ARCHIVE_IN_HELPER = "/tmp/backup.tar"
HELPER_TIMEOUT = 600  # seconds; a backup of a big volume takes a while
HASH_MARKER = "--sizes--"


@dataclass(frozen=True)
class BackupResult(FactsView):
    """A volume's content, written to a tar archive on the machine running the notebook."""

    volume: str
    archive: str
    archive_bytes: int
    archive_sha256: str
    entries: int
    files: int
    content_bytes: int
    seconds: float


@dataclass(frozen=True)
class RestoreResult(FactsView):
    """A new volume filled from a backup archive."""

    volume: str
    archive: str
    entries: int
    files: int
    content_bytes: int
    seconds: float


@dataclass(frozen=True)
class ArchiveEntry:
    """One member of a backup archive, as ``tar tvf`` would list it, plus its content hash."""

    path: str
    kind: str  # "file", "dir", "symlink", "hardlink", "other"
    size_bytes: int
    sha256: str
    mode: str


# ---------------------------------------------------------------------------------------------
# looking volumes up


def find(name: str):
    """The SDK volume, or None."""
    try:
        return client().volumes.get(name)
    except docker.errors.NotFound:
        return None


def exists(name: str) -> bool:
    journal.record(f"docker volume inspect {name}")
    return find(name) is not None


def is_course_volume(volume) -> bool:
    return (volume.attrs.get("Labels") or {}).get(labels.COURSE_KEY) == labels.COURSE_VALUE


def require(name: str, *, course_only: bool = False):
    """The volume called ``name``; a clear error when missing (or, for writes, not the course's).

    Checking first matters: ``-v NAME:/data`` on a missing volume would silently create an
    unlabelled one that no cleanup would ever find.
    """
    volume = find(name)
    if volume is None:
        raise CourseError(f"There is no volume called {name!r}.",
                          hint="`docker volume ls` lists the volumes you have; create it first.")
    if course_only and not is_course_volume(volume):
        raise CourseError(f"The volume {name!r} was not created by the course, so the course "
                          "will not write into it.", hint="choose another volume name.")
    return volume


def replace_course_volume(name: str) -> None:
    """Make room for a fresh volume: remove a course volume of that name, refuse anyone else's."""
    volume = find(name)
    if volume is None:
        return
    if not is_course_volume(volume):
        raise CourseError(f"A volume named {name!r} already exists and the course did not "
                          "create it, so the course will not touch it.",
                          hint="choose another volume name.")
    try:
        objects.remove_volume(name)
    except docker.errors.APIError as exc:
        raise CourseError(f"The volume {name!r} is still in use: {exc.explanation or exc}",
                          hint=f"remove the containers that use it first "
                               f"(`docker ps -a --filter volume={name}`).") from None


# ---------------------------------------------------------------------------------------------
# helper containers


@contextlib.contextmanager
def helper(image: str, command: list[str], *, volumes: dict[str, dict[str, str]] | None = None,
           read_only: bool = False) -> Iterator:
    """A created (not started) labelled container mounting ``volumes``; always removed."""
    name = f"course-{labels.current_notebook()}-volume-helper-{uuid.uuid4().hex[:6]}"
    try:
        container = client().containers.create(
            image, command, name=name, labels=labels.for_new_object(), volumes=volumes or {},
            read_only=read_only, network_disabled=True)
    except docker.errors.ImageNotFound:
        raise CourseError(f"There is no image called {image!r} on this engine.",
                          hint="resolve the shell image first (course.ensure_image('shell')).") \
            from None
    except docker.errors.APIError as exc:
        raise CourseError(f"Could not create a helper container: {exc.explanation or exc}") \
            from None
    try:
        yield container
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=False)


def run_to_end(container, timeout: float = HELPER_TIMEOUT) -> tuple[int, str]:
    """Start a created container, wait for it; (exit code, combined output)."""
    container.start()
    result = container.wait(timeout=timeout)
    output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    return int(result.get("StatusCode", -1)), output


def _bind(volume: str, *, read_only: bool) -> dict[str, dict[str, str]]:
    return {volume: {"bind": MOUNT_POINT, "mode": "ro" if read_only else "rw"}}


def run_in_volume(image: str, volume: str, script: str, *, read_only: bool = True,
                  journal_it: bool = True) -> tuple[int, str]:
    """``docker run --rm -v VOLUME:/data[:ro] IMAGE sh -c SCRIPT`` on an existing volume."""
    require(volume, course_only=not read_only)
    if journal_it:
        journal.record(f"docker run --rm -v {volume}:{MOUNT_POINT}{':ro' if read_only else ''} "
                       f"{image} sh -c {shlex.quote(script)}")
    with helper(image, ["sh", "-c", script], volumes=_bind(volume, read_only=read_only)) as box:
        return run_to_end(box)


# ---------------------------------------------------------------------------------------------
# what is inside, how big


def file_hashes(image: str, volume: str) -> list[dict]:
    """Every regular file in the volume: path, size and sha256, read by a helper container."""
    script = (f"cd {MOUNT_POINT} && find . -type f -exec sha256sum {{}} + && echo {HASH_MARKER}"
              ' && find . -type f -exec stat -c "%s %n" {} +')
    code, output = run_in_volume(image, volume, script)
    if code != 0:
        raise CourseError(f"Reading the files of volume {volume!r} failed (exit code {code}).",
                          log_tail=tail(output))
    return parse_hash_listing(output)


def sizes(image: str | None = None, notebook: str | None = None) -> list[dict]:
    """``docker system df -v``, volumes part: the course's volumes with their sizes in bytes.

    Old engines may report -1 (not computed); then ``du`` in a helper container measures it.
    """
    journal.record("docker system df -v")
    usage = client().api.df()
    wanted = labels.for_new_object(notebook)
    if notebook is None:
        wanted.pop(labels.NOTEBOOK_KEY)
    rows = []
    for entry in volume_rows(usage, wanted):
        if entry["size_bytes"] is None and image:
            entry["size_bytes"] = du_bytes(image, entry["volume"])
            entry["measured by"] = "du in a helper container"
        rows.append(entry)
    return rows


def du_bytes(image: str, volume: str) -> int | None:
    """Apparent size of everything in the volume (``du -sb``; ``du -sk`` where -b is missing)."""
    script = (f"if du -sb {MOUNT_POINT} >/dev/null 2>&1; then du -sb {MOUNT_POINT}; "
              f"else echo KiB; du -sk {MOUNT_POINT}; fi")
    code, output = run_in_volume(image, volume, script)
    if code != 0:
        return None
    return parse_du(output)


# ---------------------------------------------------------------------------------------------
# backup and restore


def backup(image: str, volume: str, archive: Path) -> BackupResult:
    """Write the volume's content to ``archive`` (a tar file on this machine).

    A helper container mounts the volume read-only and runs ``tar cf`` (the archive holds
    ``./…`` paths, as ``tar -C /data .`` writes them); the archive comes back through the Engine
    API. It is written under a temporary name and renamed when complete, so a failed backup
    never leaves a half-written archive that looks whole.
    """
    require(volume)
    archive = Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    cli = (f"docker run --rm -v {volume}:{MOUNT_POINT}:ro -v {archive.parent}:/backup {image} "
           f"tar cf /backup/{archive.name} -C {MOUNT_POINT} .")
    started = time.monotonic()
    partial = archive.with_name(archive.name + ".partial")
    script = f"tar cf {ARCHIVE_IN_HELPER} -C {MOUNT_POINT} ."
    try:
        with helper(image, ["sh", "-c", script], volumes=_bind(volume, read_only=True)) as box:
            code, output = run_to_end(box)
            if code != 0:
                journal.record(cli, ok=False)
                raise CourseError(f"tar could not read volume {volume!r} (exit code {code}).",
                                  log_tail=tail(output))
            stream, _ = box.get_archive(ARCHIVE_IN_HELPER)
            with tarfile.open(fileobj=_ChunkReader(stream), mode="r|") as outer:
                member = outer.next()
                source = outer.extractfile(member) if member is not None else None
                if source is None:
                    raise CourseError("The engine returned no archive from the helper container.")
                with partial.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
        entries = read_archive(partial)
        digest = sha256_file(partial)
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)
    journal.record(cli, seconds=time.monotonic() - started)
    checksum_file(archive).write_text(f"{digest}  {archive.name}\n", encoding="utf-8")
    journal.record(in_folder(archive.parent,
                             f"sha256sum {archive.name} > {checksum_file(archive).name}"))
    files = [e for e in entries if e.kind == "file"]
    return BackupResult(volume=volume, archive=str(archive),
                        archive_bytes=archive.stat().st_size, archive_sha256=digest,
                        entries=len(entries), files=len(files),
                        content_bytes=sum(e.size_bytes for e in files),
                        seconds=round(time.monotonic() - started, 2))


def restore(image: str, archive: Path, volume: str) -> RestoreResult:
    """Fill a NEW volume from a backup archive; on any failure no volume is left behind.

    The archive is checked on this machine first (present, a complete tar, safe paths), so a
    damaged archive fails before anything is created. A course volume of that name is replaced;
    anyone else's volume is refused.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise CourseError(f"There is no backup archive at {archive}.",
                          hint="check the path, or make a backup first.")
    verify_checksum(archive)
    entries = read_archive(archive)
    replace_course_volume(volume)
    cli = (f"docker run --rm -v {volume}:{MOUNT_POINT} -v {archive.parent}:/backup:ro {image} "
           f"tar xf /backup/{archive.name} -C {MOUNT_POINT}")
    started = time.monotonic()
    created = False
    try:
        objects.create_volume(volume)
        created = True
        script = f"tar xf {ARCHIVE_IN_HELPER} -C {MOUNT_POINT} && rm {ARCHIVE_IN_HELPER}"
        with helper(image, ["sh", "-c", script], volumes=_bind(volume, read_only=False)) as box:
            box.put_archive(os.path.dirname(ARCHIVE_IN_HELPER),
                            wrap_in_tar(archive, os.path.basename(ARCHIVE_IN_HELPER)))
            code, output = run_to_end(box)
        if code != 0:
            journal.record(cli, ok=False)
            raise CourseError(f"Restoring {archive.name} into volume {volume!r} failed "
                              f"(tar exit code {code}); the new volume was removed again.",
                              hint="the archive may not come from a volume backup; check it "
                                   "with `tar tvf`.", log_tail=tail(output))
    except BaseException:
        if created:
            with contextlib.suppress(CourseError, docker.errors.APIError):
                objects.remove_volume(volume)
        raise
    journal.record(cli, seconds=time.monotonic() - started)
    files = [e for e in entries if e.kind == "file"]
    return RestoreResult(volume=volume, archive=str(archive), entries=len(entries),
                         files=len(files), content_bytes=sum(e.size_bytes for e in files),
                         seconds=round(time.monotonic() - started, 2))


# ---------------------------------------------------------------------------------------------
# containers: bind mounts, wait, restart, start time, mounts


def bind_mount(source: str | Path, target: str, *, read_only: bool = False):
    """A ``--mount type=bind`` for :func:`containers.run`: unlike ``-v``, a source folder that
    does not exist on the engine's machine is an error, not a new empty folder."""
    return docker.types.Mount(target=target, source=str(source), type="bind",
                              read_only=read_only)


def wait_exit(name: str, timeout: float = HELPER_TIMEOUT) -> tuple[int, str]:
    """``docker wait`` then ``docker logs``: (exit code, output) of a container that ends."""
    container = client().containers.get(name)
    result = container.wait(timeout=timeout)
    journal.record(f"docker wait {name}")
    return (int(result.get("StatusCode", -1)),
            container.logs(stdout=True, stderr=True).decode("utf-8", "replace"))



def restart(name: str, timeout: int = 1) -> None:
    try:
        container = client().containers.get(name)
    except docker.errors.NotFound:
        raise CourseError(f"No container called {name!r}.") from None
    container.restart(timeout=timeout)
    journal.record(f"docker restart -t {timeout} {name}")


def started_at(name: str) -> str:
    journal.record(f"docker inspect --format '{{{{.State.StartedAt}}}}' {name}")
    container = client().containers.get(name)
    return str((container.attrs.get("State") or {}).get("StartedAt", ""))


def mounts(name: str) -> list[dict]:
    """``docker inspect``: the container's mounts (volume, bind, tmpfs) and a read-only root."""
    journal.record(f"docker inspect --format '{{{{json .Mounts}}}}' {name}")
    attrs = client().containers.get(name).attrs
    return mount_rows(name, attrs)


# ---------------------------------------------------------------------------------------------
# pure parts: no engine below this line


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (the Engine API's archive stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def wrap_in_tar(path: Path, name: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Stream a tar holding one file ``name`` with the content of ``path`` (for put_archive)."""
    size = path.stat().st_size
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(time.time())
    yield info.tobuf(format=tarfile.GNU_FORMAT)
    with path.open("rb") as source:
        while data := source.read(chunk):
            yield data
    yield b"\0" * ((-size) % tarfile.BLOCKSIZE) + b"\0" * (2 * tarfile.BLOCKSIZE)


def in_folder(folder: Path, command: str) -> str:
    """``command`` as typed from any terminal: ``(cd FOLDER && command)``, run in a subshell so
    the terminal's own working folder stays where it was."""
    return f"(cd {shlex.quote(str(folder))} && {command})"


def checksum_file(archive: Path) -> Path:
    """Where a backup's sha256 is kept: ``NAME.tar.sha256`` next to it (``sha256sum`` format)."""
    return archive.with_name(archive.name + ".sha256")


def verify_checksum(archive: Path) -> bool:
    """Compare the archive with the sha256 noted when it was made (False: none was noted).

    A tar archive has no checksum of its content, so a changed byte inside a file would
    otherwise be restored without a word.
    """
    noted = checksum_file(archive)
    if not noted.is_file():
        return False
    journal.record(in_folder(archive.parent, f"sha256sum -c {noted.name}"))
    expected = noted.read_text(encoding="utf-8").split()[:1]
    if expected != [sha256_file(archive)]:
        raise CourseError(f"The backup archive {archive.name} does not match the sha256 noted "
                          f"when it was made ({noted.name}): it was changed or damaged since. "
                          "Nothing was restored.",
                          hint="use another copy of the backup, or make a new one.")
    return True


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as source:
        while data := source.read(1 << 20):
            digest.update(data)
    return digest.hexdigest()


_KINDS = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
          tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}


def read_archive(path: Path) -> list[ArchiveEntry]:
    """Every member of a backup archive, with a sha256 of each file's content.

    Reading every byte is the check: a missing, empty, truncated or garbled archive, or one
    with paths that would land outside the volume, raises one clear :class:`CourseError`.
    """
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"There is no backup archive at {path}.",
                          hint="check the path, or make a backup first.")
    hint = "make a new backup, or use another copy of this one; `tar tvf FILE` shows its content."
    entries: list[ArchiveEntry] = []
    try:
        with tarfile.open(path, mode="r:") as archive:
            for member in archive:
                problem = unsafe_reason(member)
                if problem:
                    raise CourseError(f"The archive {path.name} is not a volume backup the "
                                      f"course will restore: {member.name!r} {problem}.",
                                      hint="restore only archives made from a volume.")
                digest = ""
                if member.isfile():
                    source = archive.extractfile(member)
                    assert source is not None
                    hasher = hashlib.sha256()
                    while data := source.read(1 << 20):
                        hasher.update(data)
                    digest = hasher.hexdigest()
                entries.append(ArchiveEntry(path=normalise(member.name),
                                            kind=_KINDS.get(member.type, "other"),
                                            size_bytes=member.size if member.isfile() else 0,
                                            sha256=digest, mode=f"{member.mode & 0o7777:04o}"))
            end = archive.offset
    except tarfile.TarError as exc:
        if "unexpected end" in str(exc):
            raise CourseError(f"The backup archive {path.name} is cut short: it ends in the "
                              "middle of a file. Nothing was restored.", hint=hint) from None
        raise CourseError(f"The backup archive {path.name} is damaged or not a tar archive "
                          f"({exc}). Nothing was restored.", hint=hint) from None
    if not entries:
        raise CourseError(f"The backup archive {path.name} holds no files at all.", hint=hint)
    with path.open("rb") as raw:
        raw.seek(end)
        marker = raw.read(tarfile.BLOCKSIZE)
    if len(marker) < tarfile.BLOCKSIZE or marker.strip(b"\0"):
        raise CourseError(f"The backup archive {path.name} is incomplete or damaged: after the "
                          "last readable file there is no end-of-archive marker, so whatever "
                          "came next is lost. Nothing was restored.", hint=hint)
    return entries


def unsafe_reason(member: tarfile.TarInfo) -> str:
    """Why a member must not be extracted into a volume ('' when it is fine)."""
    name = PurePosixPath(member.name)
    if name.is_absolute():
        return "is an absolute path"
    if ".." in name.parts:
        return "climbs out of the volume with '..'"
    if member.ischr() or member.isblk():
        return "is a device file"
    if member.islnk() and (PurePosixPath(member.linkname).is_absolute()
                           or ".." in PurePosixPath(member.linkname).parts):
        return "is a hard link to outside the volume"
    return ""


def normalise(name: str) -> str:
    """``./logs/a.txt`` → ``logs/a.txt``; the archive's root ``./`` → ``.``."""
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    return "/".join(parts) or "."


def parse_hash_listing(output: str) -> list[dict]:
    """``sha256sum`` lines, a marker line, then ``stat -c '%s %n'`` lines → rows per file."""
    hashes: dict[str, str] = {}
    file_sizes: dict[str, int] = {}
    seen_marker = False
    for line in output.splitlines():
        if not line.strip():
            continue
        if line.strip() == HASH_MARKER:
            seen_marker = True
            continue
        if not seen_marker:
            digest, _, name = line.partition("  ")
            if len(digest) == 64 and name:
                hashes[normalise(name)] = digest
        else:
            size, _, name = line.partition(" ")
            if size.isdigit() and name:
                file_sizes[normalise(name)] = int(size)
    return [{"path": name, "size_bytes": file_sizes.get(name, 0), "sha256": digest}
            for name, digest in sorted(hashes.items())]


def parse_du(output: str) -> int | None:
    """``du -sb`` output (bytes), or a ``KiB`` line then ``du -sk`` output (KiB) → bytes."""
    factor = 1
    for line in output.splitlines():
        if line.strip() == "KiB":
            factor = 1024
            continue
        first = line.split("\t")[0].split(" ")[0]
        if first.isdigit():
            return int(first) * factor
    return None


def volume_rows(usage: dict, wanted_labels: dict[str, str]) -> list[dict]:
    """The volumes of ``docker system df -v`` that carry all ``wanted_labels``, as table rows.

    Size -1 (or no usage data) means the engine did not compute it: ``size_bytes`` is None.
    """
    rows = []
    for volume in usage.get("Volumes") or []:
        found = volume.get("Labels") or {}
        if any(found.get(key) != value for key, value in wanted_labels.items()):
            continue
        data = volume.get("UsageData") or {}
        size = data.get("Size")
        known = isinstance(size, int) and size >= 0
        rows.append({"volume": volume.get("Name", ""), "driver": volume.get("Driver", ""),
                     "notebook": found.get(labels.NOTEBOOK_KEY, ""),
                     "containers": int(data.get("RefCount", 0) or 0),
                     "size_bytes": size if known else None,
                     "measured by": "docker system df" if known else "",
                     "created": volume.get("CreatedAt", "")})
    return sorted(rows, key=lambda row: row["volume"])


def mount_rows(name: str, attrs: dict) -> list[dict]:
    """Rows of what a container mounts: kind, source, target, writable."""
    rows = []
    for mount in attrs.get("Mounts") or []:
        rows.append({"container": name, "type": mount.get("Type", ""),
                     "source": mount.get("Name") or mount.get("Source", ""),
                     "target": mount.get("Destination", ""),
                     "writable": bool(mount.get("RW", True))})
    host_config = attrs.get("HostConfig") or {}
    for target, options in (host_config.get("Tmpfs") or {}).items():
        rows.append({"container": name, "type": "tmpfs",
                     "source": f"(memory{', ' + options if options else ''})",
                     "target": target, "writable": True})
    if host_config.get("ReadonlyRootfs"):
        rows.append({"container": name, "type": "root filesystem", "source": "(image layers)",
                     "target": "/", "writable": False})
    return rows
