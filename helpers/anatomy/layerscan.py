"""Read one layer tar as it streams past and keep only what the analysis needs.

Per path: its kind, size and a content hash; per layer: whiteouts, opaque directories and the
few file contents a caller asked to keep. Contents are hashed chunk by chunk and dropped, so a
multi-gigabyte layer costs memory in proportion to its number of paths, not its bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

from helpers.anatomy.model import FileRecord, LayerContent, SecretHit
from helpers.anatomy.tarstream import HARDLINK, REGULAR, ByteSource, TarReader

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
SMALL_FILE = 256 << 10  # hashed in one piece; larger files are hashed chunk by chunk
KeepPredicate = Callable[[str], bool]


class ContentProbe(Protocol):
    """Looks at the content of a few files while they stream (the secrets scanner)."""

    def wants(self, path: str, size: int) -> bool: ...

    def scan(self, path: str, data: bytes) -> list[SecretHit]: ...


def normalise(name: str) -> str:
    """A tar member name as a path relative to the image root: no ``./``, no leading ``/``."""
    if name.startswith(("./", "/")) or name.endswith("/") or name == ".":
        name = name.strip("/")
        while name.startswith("./"):
            name = name[2:].lstrip("/")
        if name == ".":
            name = ""
    return name


def scan_layer(src: ByteSource, *, keep: KeepPredicate | None = None,
               probe: ContentProbe | None = None) -> LayerContent:
    """Read a layer tar from ``src`` up to its end-of-archive marker."""
    reader = TarReader(src)
    layer = LayerContent()
    entries = layer.entries
    sha1 = hashlib.sha1
    while (member := reader.next()) is not None:
        path = normalise(member.name)
        if not path:
            continue  # the root directory itself
        parent, _, base = path.rpartition("/")
        if base.startswith(WHITEOUT_PREFIX):
            _record_whiteout(layer, parent, base)
            continue
        kind = member.kind
        if kind == REGULAR:
            size = member.size
            want_keep = keep is not None and keep(path)
            want_scan = probe is not None and probe.wants(path, size)
            digest = None
            if want_keep or want_scan:
                data = reader.read_data()
                if size:
                    digest = sha1(data).digest()
                if want_keep:
                    layer.files[path] = data
                if want_scan and size and probe is not None:
                    layer.secret_hits.extend(probe.scan(path, data))
            elif size <= SMALL_FILE:
                if size:
                    digest = sha1(reader.read_data()).digest()
            else:
                hasher = sha1()
                for chunk in reader.data_chunks():
                    hasher.update(chunk)
                digest = hasher.digest()
            layer.size_bytes += size
            layer.file_count += 1
            record = FileRecord(REGULAR, size, digest)
        else:
            if kind == HARDLINK and keep is not None and keep(path):
                target = normalise(member.linkname)
                if target in layer.files:  # a hard link shares its target's content
                    layer.files[path] = layer.files[target]
            record = FileRecord(kind, 0, None)
        previous = entries.get(path)
        if previous is not None and previous.kind == REGULAR and previous.size:
            layer.superseded.append((path, previous.size))  # the tar holds this path twice
        entries[path] = record
    return layer


def _record_whiteout(layer: LayerContent, parent: str, base: str) -> None:
    if base == OPAQUE_MARKER:
        layer.opaque_dirs.append(parent)
    elif not base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):  # .wh..wh.plnk: aufs notes
        target = base[len(WHITEOUT_PREFIX):]
        layer.whiteouts.append(f"{parent}/{target}" if parent else target)
