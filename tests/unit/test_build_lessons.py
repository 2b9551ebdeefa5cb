"""Notebooks 02 and 04, the pure parts: BuildKit's step table and chart, an edited app copy,
pip's own account of a build, the cache-mount trial, and secret counts leaky vs fixed."""

from __future__ import annotations

import json

import pytest
from anatomy_builders import Image, directory, file, layer_tar, legacy_archive, step, whiteout
from matplotlib.figure import Figure

from helpers import charts, course
from helpers.anatomy import analyse_image
from helpers.engine.build import BuildResult, BuildStep
from helpers.errors import CourseError
from helpers.lessons import anatomy as lesson
from helpers.session import codec

DIGEST = "sha256:" + "3e474647dd3f" + "c5" * 26


def _result(*steps: BuildStep) -> BuildResult:
    return BuildResult(tag="docker-course/t:1", image_id="sha256:x", size_bytes=1, seconds=3.5,
                       steps=list(steps), cli="docker build -t docker-course/t:1 .")


EDITED = _result(
    BuildStep(1, f"FROM docker.io/docker-course/python-standin:3.11@{DIGEST}", 0.01, False,
              stage="stage-0"),
    BuildStep(2, "WORKDIR /app", 0.0, True, stage="stage-0"),
    BuildStep(3, "RUN pip install --no-cache-dir -r requirements.txt", 0.0, True,
              stage="stage-0"),
    BuildStep(4, "COPY app.py healthcheck.py ./", 0.03, False, stage="stage-0"),
    BuildStep(5, "RUN useradd   --system app", 0.07, False, stage=""),
)


def test_the_step_table_is_buildkits_view() -> None:
    table = course.build_steps_table(EDITED)
    assert list(table.index.names) == ["stage", "step"]
    assert list(table.columns) == ["instruction", "seconds", "cache"]
    assert list(table["cache"]) == ["ran", "CACHED", "CACHED", "ran", "ran"]
    assert table.index[-1] == ("stage-0", 5)  # an unnamed stage is stage-0, as BuildKit says
    first = table["instruction"].iloc[0]
    assert first.endswith("@sha256:3e474647dd3f…") and len(first) <= 70
    assert table["instruction"].iloc[-1] == "RUN useradd --system app"  # whitespace folded
    assert table.loc[("stage-0", 4), "seconds"] == pytest.approx(0.03)


def test_build_facts_count_cached_steps_and_show_warnings() -> None:
    facts = course.build_facts(EDITED)["value"].to_dict()
    assert facts["steps"] == "5, of which 2 CACHED" and facts["build time"] == "3.5 s"
    assert facts["BuildKit warnings"] == "none" and facts["image"] == "docker-course/t:1"
    warned = _result()
    warned.warnings = ["SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for "
                       'sensitive data (ENV "DB_PASSWORD") (line 11)']
    assert course.build_facts(warned)["value"]["BuildKit warnings"].startswith(
        "SecretsUsedInArgOrEnv")


def test_the_step_chart_labels_time_and_marks_cached_steps() -> None:
    figure = charts.step_time_chart(course.build_steps_table(EDITED), title="After the edit")
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert axes.get_xlabel() == "time (s)" and axes.get_title() == "After the edit"
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert labels[3] == "[stage-0 4] COPY app.py healthcheck.py ./"
    shown = [text.get_text() for text in axes.texts]
    assert shown.count("CACHED") == 2 and "0.03 s" in shown
    assert figure.legends[0].get_texts()[0].get_text() == "ran"
    figure.canvas.draw()


# pip 23's output as BuildKit logged it in the course's experiment (progress bars included)
PIP_WITHOUT_MOUNT = """\
Collecting Flask==3.1.3
  Downloading flask-3.1.3-py3-none-any.whl (103 kB)
     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 103.4/103.4 kB 90.7 MB/s eta 0:00:00
Collecting mysqlclient==2.3.2
  Downloading mysqlclient-2.3.2.tar.gz (104 kB)
Collecting requests==2.34.2
  Downloading requests-2.34.2-py3-none-any.whl.metadata (4.1 kB)
  Downloading requests-2.34.2-py3-none-any.whl (73 kB)
Building wheels for collected packages: mysqlclient
  Building wheel for mysqlclient (pyproject.toml): started
  Building wheel for mysqlclient (pyproject.toml): finished with status 'done'
  Created wheel for mysqlclient: filename=mysqlclient-2.3.2-cp311-cp311-linux_x86_64.whl size=1
Successfully built mysqlclient
""".splitlines()
PIP_WITH_MOUNT = """\
Collecting Flask==3.1.3
  Downloading flask-3.1.3-py3-none-any.whl (103 kB)
Collecting mysqlclient==2.3.2
  Using cached mysqlclient-2.3.2-cp311-cp311-linux_x86_64.whl
Collecting requests==2.34.2
  Using cached requests-2.34.2-py3-none-any.whl.metadata (4.1 kB)
  Using cached requests-2.34.2-py3-none-any.whl (73 kB)
Installing collected packages: requests, mysqlclient, Flask
""".splitlines()


def test_pip_activity_counts_downloads_cache_hits_and_built_wheels() -> None:
    without = lesson.pip_activity(PIP_WITHOUT_MOUNT)
    assert without.downloaded == ["flask-3.1.3-py3-none-any.whl", "mysqlclient-2.3.2.tar.gz",
                                  "requests-2.34.2-py3-none-any.whl"]  # .metadata not counted
    assert without.from_cache == [] and without.built == ["mysqlclient"]
    mounted = lesson.pip_activity(PIP_WITH_MOUNT)
    assert mounted.downloaded == ["flask-3.1.3-py3-none-any.whl"]
    assert mounted.from_cache == ["mysqlclient-2.3.2-cp311-cp311-linux_x86_64.whl",
                                  "requests-2.34.2-py3-none-any.whl"]
    assert mounted.built == []
    assert lesson.pip_activity([]) == lesson.PipActivity()


def _run(variant: str, number: int, seconds: float, *, cached: bool = False,
         built: tuple[str, ...] = (), from_cache: int = 0) -> lesson.PipStepRun:
    return lesson.PipStepRun(variant=variant, round=number, tag="t", dockerfile="D",
                             build_seconds=seconds + 1, pip_seconds=0.0 if cached else seconds,
                             pip_cached=cached, downloaded=0 if cached else 18,
                             from_pip_cache=from_cache, wheels_built=list(built), cli="docker …")


TRIAL = lesson.CacheMountTrial(changed_file="requirements-mysqlclient.txt",
                               added=["requests==2.34.2"], rounds=2, runs=[
    _run(lesson.WITHOUT, 0, 0, cached=True),
    _run(lesson.WITH, 0, 0, cached=True),
    _run(lesson.WITHOUT, 1, 4.7, built=("mysqlclient",)),
    _run(lesson.WITH, 1, 2.3, from_cache=1),
    _run(lesson.WITH, 2, 3.1, from_cache=1),
    _run(lesson.WITHOUT, 2, 5.9, built=("mysqlclient",)),
])


def test_the_cache_mount_trial_records_tabulates_and_charts() -> None:
    again = codec.decode(json.loads(json.dumps(codec.encode(TRIAL))))
    assert again == TRIAL
    assert [r.round for r in again.rebuilds(lesson.WITH)] == [1, 2]
    assert again.runs[0].build == "first build" and again.runs[5].build == "round 2"
    medians = TRIAL.medians().set_index("variant")
    assert medians.loc[lesson.WITHOUT, "pip_seconds"] == pytest.approx(5.3)
    assert medians.loc[lesson.WITH, "build_seconds"] == pytest.approx(3.7)
    assert list(medians["rebuilds"]) == [2, 2]
    table = lesson.cache_mount_table(TRIAL)
    assert list(table.index.names) == ["build", "variant"]
    assert list(table.columns) == ["pip_step", "pip_seconds", "build_seconds", "downloaded",
                                   "from_pip_cache", "wheels_built"]
    assert table.loc[("round 1", lesson.WITHOUT), "pip_seconds"] == "4.7 s"
    assert table.loc[("first build", lesson.WITH), "pip_step"] == "CACHED"
    assert table.loc[("round 2", lesson.WITHOUT), "wheels_built"] == "mysqlclient"
    assert list(table.index)[4] == ("round 2", lesson.WITH)  # the order the builds ran
    figure = charts.build_seconds_chart(TRIAL.medians(), label="variant", title="Rebuild")
    axes = figure.axes[0]
    assert axes.get_xlabel() == "time (s)" and axes.get_title() == "Rebuild"
    assert [t.get_text() for t in axes.get_yticklabels()] == [lesson.WITHOUT, lesson.WITH]
    assert {"5.3 s", "2.7 s", "6.3 s", "3.7 s"} <= {t.get_text() for t in axes.texts}
    figure.canvas.draw()
    empty = lesson.CacheMountTrial(changed_file="r", added=[], rounds=0, runs=[])
    assert empty.medians().empty and empty.rebuilds(lesson.WITH) == []


def test_no_pip_step_is_a_clear_error() -> None:
    with pytest.raises(CourseError, match="no `pip install` step"):
        lesson._pip_step(_result(BuildStep(1, "RUN echo pip", 0.1)))
    assert lesson._pip_step(EDITED).number == 3


KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n"
BASE = layer_tar(directory("bin"), file("bin/sh", b"\0ELF" + b"x" * 200))


def test_secret_counts_leaky_against_fixed() -> None:
    """The two images of notebook 04 in miniature, as BuildKit writes their history."""
    leaky = analyse_image(legacy_archive(Image(
        layers=[BASE, layer_tar(directory("src"), file("src/id_rsa", KEY),
                                file("src/.env", b"DB_USER=deploy\nDB_PASSWORD=s3cr3t-value\n")),
                layer_tar(file("src/fetched.txt", b"private code fetched as deploy\n")),
                layer_tar(whiteout("src/id_rsa"), whiteout("src/.env"))],
        history=[step("ADD rootfs.tar / # buildkit"),
                 step("ENV DB_PASSWORD=not-a-real-password", empty=True),
                 step("COPY id_rsa .env ./ # buildkit"),
                 step("RUN /bin/sh -c test -s id_rsa && . ./.env # buildkit"),
                 step("RUN /bin/sh -c rm -f id_rsa .env # buildkit")],
        env=["PATH=/bin", "DB_PASSWORD=not-a-real-password"], tags=["course/leaky:1"])))
    leaky.image = "course/leaky:1"
    fixed = analyse_image(legacy_archive(Image(
        layers=[BASE, layer_tar(directory("src"),
                                file("src/fetched.txt", b"private code fetched as deploy\n"))],
        history=[step("ADD rootfs.tar / # buildkit"),
                 step("RUN /bin/sh -c test -s /run/secrets/deploy_key && . /run/secrets/app_env"
                      " && echo \"private code fetched as ${DB_USER}\" > fetched.txt # buildkit")],
        env=["PATH=/bin"], tags=["course/leaky:fixed"])))
    fixed.image = "course/leaky:fixed"
    counts = lesson.secret_counts(leaky, fixed)
    assert counts.loc["course/leaky:1"].to_dict() == {
        "in layer files": 2, "in config Env": 1, "in history": 0, "total": 3}
    assert counts.loc["course/leaky:fixed"].to_dict() == {
        "in layer files": 0, "in config Env": 0, "in history": 0, "total": 0}
