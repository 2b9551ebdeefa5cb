"""The host's extra CA certificates: counted in the stand-in, never pushed off the machine."""

from __future__ import annotations

import io
import tarfile

import pytest

from helpers import rootfs
from helpers.engine import images
from helpers.errors import CourseError


def _tar(path, names: list[str]) -> None:
    with tarfile.open(path, "w") as tar:
        for name in names:
            entry = tarfile.TarInfo(name)
            entry.size = 4
            tar.addfile(entry, io.BytesIO(b"pem\n"))


def test_the_stand_in_tar_says_how_many_host_certificates_it_carries(tmp_path) -> None:
    _tar(tmp_path / "with.tar", ["./usr/local/share/ca-certificates/host-extra-0.crt",
                                 "./usr/local/share/ca-certificates/host-extra-1.crt",
                                 "./etc/ssl/certs/ca-certificates.crt"])
    _tar(tmp_path / "without.tar", ["./etc/ssl/certs/ca-certificates.crt"])
    assert rootfs.host_ca_count(tmp_path / "with.tar") == 2
    assert rootfs.host_ca_count(tmp_path / "without.tar") == 0
    assert rootfs.host_ca_count(tmp_path / "missing.tar") == 0


@pytest.fixture
def carrying(monkeypatch):
    def facts(reference: str):
        count = {"docker-course/app:1": "2", "docker-course/clean:1": ""}.get(reference)
        if count is None:
            return None
        return images.ImageFacts(reference=reference, id="sha256:x", tags=(reference,),
                                 size_bytes=1, layers=1, created="", architecture="amd64",
                                 user="10001", labels={images.HOST_CA_LABEL: count}
                                 if count else {})

    monkeypatch.setattr(images, "inspect", facts)


@pytest.mark.parametrize("registry", ["docker.io", "registry.school.example:5000"])
def test_an_image_with_host_certificates_does_not_leave_the_machine(carrying, registry) -> None:
    with pytest.raises(CourseError, match="carries 2 CA certificate") as caught:
        images.check_can_leave("docker-course/app:1", registry)
    assert registry in caught.value.message and "official python image" in caught.value.hint


@pytest.mark.parametrize("registry", ["127.0.0.1:5001", "localhost:5000", "[::1]:5000"])
def test_the_local_registry_is_fine(carrying, registry) -> None:
    images.check_can_leave("docker-course/app:1", registry)


def test_an_image_without_host_certificates_may_leave(carrying) -> None:
    images.check_can_leave("docker-course/clean:1", "docker.io")
    assert images.host_ca_certificates("docker-course/clean:1") == 0
