"""BuildKit's RUN mounts on the real engine, checked with the course's own layer analysis.

A secret mount (notebook 04's ``Dockerfile.fixed``) must leave nothing the analysis finds,
while the leaky image it replaces is caught; a cache mount must outlive its build yet stay
out of the image; and the pip cache-mount experiment must show pip reusing the wheel it built.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import course
from helpers.engine import build, containers
from helpers.errors import BuildFailed
from helpers.lessons import anatomy as lesson


def test_the_secret_mount_leaves_nothing_the_analysis_finds(scope: str) -> None:
    leaky_tag, fixed_tag = f"docker-course/leaky-{scope}:1", f"docker-course/leaky-{scope}:fixed"
    lesson.build_leaky(leaky_tag)
    leaky = lesson.analyse(leaky_tag)
    assert "private-key" in {finding.kind for finding in leaky.secrets}  # the analysis can see

    result = lesson.build_fixed(fixed_tag)
    assert "--secret id=deploy_key,src=" in result.cli and "--secret id=app_env,src=" in result.cli
    run_step = next(s for s in result.steps if s.instruction.startswith("RUN"))
    assert "--mount=type=secret,id=deploy_key" in run_step.instruction
    fixed = lesson.analyse(fixed_tag)
    assert fixed.secrets == []
    counts = lesson.secret_counts(leaky, fixed)
    assert counts.loc[fixed_tag, "total"] == 0 and counts.loc[leaky_tag, "in layer files"] == 2
    last = fixed.layers[-1]
    assert last.files == 1 and last.step.startswith("RUN test -s /run/secrets/deploy_key")
    assert not any("--mount" in layer.created_by for layer in fixed.layers)  # history: no mount
    code, output, _ = containers.run_once(fixed_tag, ["cat", "/src/fetched.txt"])
    assert code == 0 and output.strip() == "private code fetched as deploy"


def test_without_the_secret_the_step_fails_and_says_so(scope: str, shell_image: str) -> None:
    # no_cache: a secret is not part of the cache key, so a cached step would not need it
    with pytest.raises(BuildFailed) as failure:
        build.build(course.app_dir("leaky-secret"), f"docker-course/leaky-{scope}:nosecret",
                    dockerfile="Dockerfile.fixed", build_args={"SHELL_IMAGE": shell_image},
                    no_cache=True, quiet=True)
    assert "secret deploy_key: not found" in failure.value.message
    assert "--mount=type=secret,id=deploy_key" in failure.value.command


CACHE_DOCKERFILE = """\
ARG SHELL_IMAGE
FROM ${SHELL_IMAGE}
ARG RUN_ID
RUN --mount=type=cache,id=course-{scope},target=/cache \
    echo "$RUN_ID" >> /cache/runs && cp /cache/runs /seen
"""


def test_a_cache_mount_outlives_the_build_but_stays_out_of_the_image(
        scope: str, shell_image: str, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(CACHE_DOCKERFILE.replace("{scope}", scope),
                                         encoding="utf-8")
    tag = f"docker-course/cachemount-{scope}:1"
    for run_id in ("first", "second"):
        build.build(tmp_path, tag, build_args={"SHELL_IMAGE": shell_image, "RUN_ID": run_id},
                    quiet=True)
    # stdout only: the container's stdout and stderr lines may come back in either order
    code, output, _ = containers.run_once(
        tag, ["sh", "-c", "cat /seen; test -e /cache/runs && echo cache-in-image || true"])
    assert code == 0
    assert output.split() == ["first", "second"]  # the second build saw the first's file
    anatomy = lesson.analyse(tag)
    assert anatomy.layers[-1].files == 1  # /seen only: nothing under /cache is in a layer
    assert not any(f.path.startswith("cache/") for f in anatomy.largest_files)


def test_the_pip_cache_mount_reuses_the_wheel_pip_built(scope: str) -> None:
    trial = lesson.measure_cache_mount(f"docker-course/pipcache-{scope}", rounds=2)
    assert [(r.variant, r.round) for r in trial.runs] == [
        (lesson.WITH, 0), (lesson.WITHOUT, 0),  # the first builds run too: the mount fills
        (lesson.WITHOUT, 1), (lesson.WITH, 1),  # the variants take turns going first
        (lesson.WITH, 2), (lesson.WITHOUT, 2)]
    assert not any(r.pip_cached for r in trial.runs)
    for plain in trial.rebuilds(lesson.WITHOUT):
        assert not plain.pip_cached and plain.pip_seconds > 0  # the change reached the step
        assert plain.wheels_built == ["mysqlclient"] and plain.from_pip_cache == 0
        assert plain.cli.split(" -f ")[1].split()[0].endswith("Dockerfile.multistage")
    for mounted in trial.rebuilds(lesson.WITH):
        assert not mounted.pip_cached and mounted.pip_seconds > 0
        assert mounted.wheels_built == [] and mounted.from_pip_cache >= 1
        assert mounted.cli.split(" -f ")[1].split()[0].endswith("Dockerfile.cachemount")
    assert list(trial.medians()["rebuilds"]) == [2, 2]
