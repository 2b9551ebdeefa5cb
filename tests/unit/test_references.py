"""Image references split as Docker splits them: a port is not a tag, a digest is not a tag."""

from __future__ import annotations

import pytest

from helpers import references
from helpers.references import Reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("text", "expected"), [
    ("hello", Reference("hello")),
    ("hello:1.0", Reference("hello", "1.0")),
    ("user/app:latest", Reference("user/app", "latest")),
    ("127.0.0.1:5001/course/hello", Reference("127.0.0.1:5001/course/hello")),
    ("127.0.0.1:5001/course/hello:1.0", Reference("127.0.0.1:5001/course/hello", "1.0")),
    (f"127.0.0.1:5001/course/hello@{DIGEST}", Reference("127.0.0.1:5001/course/hello", "",
                                                         DIGEST)),
    (f"python:3.12@{DIGEST}", Reference("python", "3.12", DIGEST)),
    ("localhost/app:v2", Reference("localhost/app", "v2")),
    ("  busybox:1.36 \n", Reference("busybox", "1.36")),
])
def test_parse(text: str, expected: Reference) -> None:
    parsed = references.parse(text)
    assert parsed == expected
    assert str(parsed) == text.strip()


@pytest.mark.parametrize(("text", "host", "path"), [
    ("127.0.0.1:5001/course/hello:1.0", "127.0.0.1:5001", "course/hello"),
    ("localhost/app", "localhost", "app"),
    ("ghcr.io/owner/tool:1", "ghcr.io", "owner/tool"),
    ("user/app", "", "user/app"),  # Docker Hub: "user" is a namespace, not a host
    ("hello", "", "hello"),
])
def test_host_and_path(text: str, host: str, path: str) -> None:
    parsed = references.parse(text)
    assert (parsed.host, parsed.path) == (host, path)


def test_tags_that_pull_and_push_use() -> None:
    assert references.parse("hello").tag_or_latest == "latest"
    assert references.parse(f"hello@{DIGEST}").tag_or_latest == ""
    assert references.parse(f"hello@{DIGEST}").pull_tag == DIGEST
    assert references.parse("hello:2").pull_tag == "2"


def test_latest_familiar_and_same() -> None:
    assert references.with_latest("127.0.0.1:5001/hello") == "127.0.0.1:5001/hello:latest"
    assert references.with_latest(f"hello@{DIGEST}") == f"hello@{DIGEST}"
    assert references.familiar("docker.io/library/python:3.12") == "python:3.12"
    assert references.familiar("docker.io/user/app") == "user/app"
    assert references.familiar("ghcr.io/x/y") == "ghcr.io/x/y"
    assert references.same_image("python", "docker.io/library/python:latest")
    assert not references.same_image("python:3.12", "python")
