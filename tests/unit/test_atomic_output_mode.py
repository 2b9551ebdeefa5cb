"""Files the course writes get the mode a plain open() gives them, not mkstemp's 0o600."""

from __future__ import annotations

import os
import stat

import pytest

from helpers.files import atomic_output, current_umask


@pytest.fixture
def umask():
    """Set a umask for one test, and put the previous one back."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


def test_the_umask_is_read_without_changing_it(umask) -> None:
    umask(0o027)
    assert current_umask() == 0o027
    assert current_umask() == 0o027


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_an_archive_is_readable_as_the_umask_allows(umask, tmp_path, mask, mode) -> None:
    umask(mask)
    target = tmp_path / "shell.tar"
    with atomic_output(target) as out:
        out.write(b"archive")
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["shell.tar"]
