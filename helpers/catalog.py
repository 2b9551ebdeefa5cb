"""The images the course needs, in one table: the official reference and its honest stand-in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CourseImage:
    """One image the notebooks use.

    ``official`` is what a learner with internet pulls (pinned tag). ``standin`` is what the
    course builds from Debian packages when no registry is reachable: a different name, so
    nobody mistakes it for the official image.
    """

    key: str
    purpose: str
    official: str
    standin: str
    standin_recipe: str


CATALOG: dict[str, CourseImage] = {
    image.key: image for image in (
        CourseImage("python", "Python base of the sample app", "python:3.12-slim",
                    "docker-course/python-standin:3.11-bookworm",
                    "debootstrap Debian bookworm + python3-venv, docker import"),
        CourseImage("shell", "tiny shell image for quick experiments", "busybox:1.36",
                    "docker-course/busybox-standin:latest",
                    "Debian's busybox-static binary in an image FROM scratch"),
        CourseImage("database", "MySQL-compatible database of the two-tier app", "mysql:8.4",
                    "docker-course/mariadb-standin:10.11",
                    "Debian's mariadb-server with an entrypoint honouring MYSQL_* variables"),
        CourseImage("registry", "private image registry", "registry:2",
                    "docker-course/registry-standin:2.8",
                    "Debian's docker-registry (the distribution registry binary)"),
    )
}


def get(key: str) -> CourseImage:
    try:
        return CATALOG[key]
    except KeyError:
        known = ", ".join(sorted(CATALOG))
        raise KeyError(f"unknown course image {key!r}; known: {known}") from None
