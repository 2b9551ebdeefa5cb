"""Reading while the engine exports: the read-ahead thread and the hashing thread.

Large files (over 256 kB) are hashed in a second thread; these tests check that their digests,
hence duplicates, are the same as hashing in line, whatever the chunking of the stream, and
that errors and early exits end both threads.
"""

from __future__ import annotations

import hashlib
import threading

import pytest
from anatomy_builders import Image, chunked, file, layer_tar, legacy_archive, oci_archive, step

from helpers.anatomy import analyse_image, read_image
from helpers.anatomy.layerscan import SMALL_FILE
from helpers.errors import CourseError

BIG_A = bytes(range(256)) * (SMALL_FILE // 256 + 17)  # over the threshold: hashed aside
BIG_B = bytes(reversed(BIG_A))  # same size, other content


def _image() -> Image:
    first = layer_tar(file("big/a", BIG_A), file("big/b", BIG_B), file("small/x", b"x" * 10))
    second = layer_tar(file("copy/a", BIG_A), file("big/b", BIG_A))  # overwrite b with a's bytes
    return Image(layers=[first, second], history=[step("COPY big /big"), step("COPY copy /")])


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


@pytest.mark.parametrize("shape", ["legacy", "oci-gzip", "oci-zstd"])
def test_large_file_digests_match_hashlib(shape: str) -> None:
    image = _image()
    data = (legacy_archive(image) if shape == "legacy"
            else oci_archive(image, compression=shape.split("-")[1]))
    archive = read_image(data)
    entries = archive.layers[0].entries
    assert entries["big/a"].digest == hashlib.sha1(BIG_A).digest()
    assert entries["big/b"].digest == hashlib.sha1(BIG_B).digest()
    assert archive.layers[1].entries["copy/a"].digest == hashlib.sha1(BIG_A).digest()


def test_duplicates_and_waste_of_large_files() -> None:
    anatomy = analyse_image(legacy_archive(_image()))
    assert [(g.paths, g.size_bytes) for g in anatomy.duplicates] == [
        (("big/a", "big/b", "copy/a"), len(BIG_A))]
    assert anatomy.duplicate_bytes == 2 * len(BIG_A)
    assert [(w.path, w.reason, w.size_bytes) for w in anatomy.wasted_files] == [
        ("big/b", "overwritten", len(BIG_B))]


def test_same_path_twice_in_one_tar_keeps_the_last_digest() -> None:
    layer = layer_tar(file("f", BIG_A), file("f", BIG_B))
    archive = read_image(legacy_archive(Image(layers=[layer], history=[step("COPY f /")])))
    content = archive.layers[0].content
    assert content.entries["f"].digest == hashlib.sha1(BIG_B).digest()
    assert content.superseded == [("f", len(BIG_A))]


@pytest.mark.parametrize("size", [1, 512, 32 << 10, 1 << 20])
def test_any_chunking_of_the_stream_gives_the_same_answer(size: int) -> None:
    data = legacy_archive(_image())
    assert analyse_image(chunked(data, size)) == analyse_image(data)
    assert analyse_image(iter([*chunked(data, size), b""])) == analyse_image(data)


def test_an_error_from_the_stream_reaches_the_reader_and_stops_the_threads() -> None:
    data = legacy_archive(_image())
    before = _threads()

    def failing():
        yield data[:300_000]
        raise CourseError("Exporting course/demo:1 failed: the engine went away.")

    with pytest.raises(CourseError, match="engine went away"):
        read_image(failing())
    assert _threads() <= before


def test_leaving_early_closes_the_stream() -> None:
    closed = threading.Event()

    def stream():
        try:
            yield b"definitely not a tar archive" * 100
            while True:
                yield b"\0" * 1024
        finally:
            closed.set()

    before = _threads()
    with pytest.raises(CourseError, match="not a tar archive"):
        read_image(stream())
    assert closed.wait(5)
    assert _threads() <= before


def test_a_damaged_large_file_is_reported_not_hung() -> None:
    data = legacy_archive(_image())
    before = _threads()
    with pytest.raises(CourseError, match="truncated"):
        read_image(data[: len(data) - len(BIG_A)])
    assert _threads() <= before
