"""Registry helpers without an engine: stream folding, names, layer accounting, charts, secrets."""

from __future__ import annotations

import json

import pytest
from matplotlib.figure import Figure

from helpers.engine import registry as reg
from helpers.engine import registry_auth as auth
from helpers.errors import CourseError, LoginFailed, PullFailed, PushFailed, RegistryError
from helpers.lessons import registry as lesson
from helpers.progress import Progress
from helpers.session import codec

PUSH_STREAM = [
    {"status": "The push refers to repository [127.0.0.1:5001/course/hello]"},
    {"status": "Preparing", "progressDetail": {}, "id": "e31620eeed25"},
    {"status": "Preparing", "progressDetail": {}, "id": "dacbd09c60a7"},
    {"status": "Waiting", "progressDetail": {}, "id": "dacbd09c60a7"},
    {"status": "Pushing", "progressDetail": {"current": 512, "total": 1024}, "id": "e31620eeed25"},
    {"status": "Pushed", "progressDetail": {}, "id": "e31620eeed25"},
    {"status": "Layer already exists", "progressDetail": {}, "id": "dacbd09c60a7"},
    {"status": "1.1: digest: sha256:abc size: 947"},
    {"progressDetail": {}, "aux": {"Tag": "1.1", "Digest": "sha256:abc", "Size": 947}},
]
PULL_STREAM = [
    {"status": "Pulling from course/hello", "id": "1.0"},
    {"status": "Already exists", "progressDetail": {}, "id": "41d202377f8f"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "d67d750e0687"},
    {"status": "Downloading", "progressDetail": {"current": 144, "total": 144},
     "id": "d67d750e0687"},
    {"status": "Download complete", "progressDetail": {}, "id": "d67d750e0687"},
    {"status": "Extracting", "progressDetail": {"current": 144, "total": 144},
     "id": "d67d750e0687"},
    {"status": "Pull complete", "progressDetail": {}, "id": "d67d750e0687"},
    {"status": "Digest: sha256:cf36"},
    {"status": "Status: Downloaded newer image for 127.0.0.1:5001/course/hello:1.0"},
]


def _fold(stream):
    return reg._fold(iter(stream), Progress("t", quiet=True))


def test_push_stream_keeps_each_layers_last_real_status_and_the_digest() -> None:
    layers, errors, aux, _ = _fold(PUSH_STREAM)
    assert errors == [] and aux["Digest"] == "sha256:abc"
    assert {k: v.status for k, v in layers.items()} == {"e31620eeed25": "Pushed",
                                                         "dacbd09c60a7": "Layer already exists"}
    assert layers["e31620eeed25"].total_bytes == 1024


def test_pull_stream_statuses_and_final_lines() -> None:
    layers, errors, _, statuses = _fold(PULL_STREAM)
    assert errors == [] and "1.0" not in layers  # "Pulling from" is not a layer
    assert layers["d67d750e0687"].status == "Pull complete"
    assert layers["41d202377f8f"].status == "Already exists"
    assert "Digest: sha256:cf36" in statuses and statuses[-1].startswith("Status: ")


def test_stream_errors_are_collected() -> None:
    stream = [{"status": "Preparing", "id": "aa"},
              {"errorDetail": {"message": "no basic auth credentials"},
               "error": "no basic auth credentials"}]
    layers, errors, aux, _ = _fold(stream)
    assert errors == ["no basic auth credentials"] and aux == {}
    assert layers["aa"].status == "Preparing"


@pytest.mark.parametrize(("reference", "split"), [
    ("127.0.0.1:5001/course/hello:1.0", ("127.0.0.1:5001/course/hello", "1.0")),
    ("127.0.0.1:5001/course/hello", ("127.0.0.1:5001/course/hello", "latest")),
    ("user/docker-course-hello:latest", ("user/docker-course-hello", "latest")),
    ("hello", ("hello", "latest")),
])
def test_split_reference_keeps_a_registry_port(reference: str, split: tuple[str, str]) -> None:
    assert reg.split_reference(reference) == split


def test_endpoint_names_for_a_local_registry_and_docker_hub() -> None:
    local = auth.Endpoint(kind="local", address="127.0.0.1:5001", api_url="http://127.0.0.1:5001",
                         namespace="course", username="student")
    assert local.repository("hello:1.0") == "127.0.0.1:5001/course/hello:1.0"
    assert local.api_name("hello:1.0") == "course/hello"
    assert local.login_server == "127.0.0.1:5001"
    hub = auth.hub_endpoint("alice", "dckr_pat_secret")
    try:
        assert hub.repository("hello:1.0") == "alice/docker-course-hello:1.0"
        assert hub.api_name("hello@sha256:abc") == "alice/docker-course-hello"
        assert hub.login_server == auth.HUB_LOGIN_SERVER
        assert "dckr_pat_secret" not in repr(hub) + json.dumps(codec.encode(hub))
    finally:
        auth.forget(hub)


def test_credentials_hide_the_password_and_are_fresh_each_time() -> None:
    first, second = auth.new_credentials(), auth.new_credentials()
    assert first.password != second.password and len(first.password) >= 24
    assert first.password not in repr(first)
    assert first.auth_config("127.0.0.1:5001") == {
        "username": "student", "password": first.password, "serveraddress": "127.0.0.1:5001"}


def test_hub_credentials_need_both_variables(monkeypatch) -> None:
    monkeypatch.delenv(lesson.HUB_USER_ENV, raising=False)
    monkeypatch.delenv(lesson.HUB_TOKEN_ENV, raising=False)
    assert lesson.hub_credentials() is None
    monkeypatch.setenv(lesson.HUB_USER_ENV, "alice")
    assert lesson.hub_credentials() is None
    monkeypatch.setenv(lesson.HUB_TOKEN_ENV, " token ")
    assert lesson.hub_credentials() == ("alice", "token")


def _report(sent: list[int], reused: list[int]) -> lesson.PushReport:
    rows = [lesson.LayerRow(i, f"{i:012d}", "Pushed", s, True) for i, s in enumerate(sent, 1)]
    rows += [lesson.LayerRow(len(sent) + i, f"{i:012d}", "Layer already exists", s, False)
             for i, s in enumerate(reused, 1)]
    return lesson.PushReport(reference="r", digest="sha256:x", seconds=1.0,
                             layers_sent=len(sent), layers_reused=len(reused),
                             bytes_sent=sum(sent), bytes_reused=sum(reused), layers=rows)


def test_layer_rows_join_diff_ids_manifest_sizes_and_statuses() -> None:
    diff_ids = ["sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64]
    manifest = {"layers": [{"size": 1000}, {"size": 20}, {"size": 3}]}
    events = [reg.LayerEvent("a" * 12, "Layer already exists"),
              reg.LayerEvent("b" * 12, "Mounted from course/other"),
              reg.LayerEvent("c" * 12, "Pushed")]
    rows = lesson.layer_rows(diff_ids, manifest, events)
    assert [(r.position, r.size_bytes, r.sent) for r in rows] == [(1, 1000, False), (2, 20, False),
                                                                  (3, 3, True)]
    assert lesson.layer_rows(diff_ids[:1], {}, [])[0].status == "?"


def test_push_table_reuse_frame_and_chart() -> None:
    first, second = _report([1000, 20], []), _report([3], [1000, 20])
    table = lesson.push_table(second)
    assert list(table.columns) == ["id", "what the push did", "size_bytes"]
    frame = lesson.reuse_frame({"first push": first, "second push": second})
    assert frame.loc["second push", "bytes_sent"] == 3
    assert frame.loc["second push", "bytes_already_there"] == 1020
    figure = lesson.reuse_chart(frame)
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert "bytes" in axes.get_xlabel() and axes.get_title()
    assert [t.get_text() for t in axes.get_yticklabels()] == ["first push", "second push"]


def test_results_round_trip_through_the_replay_codec() -> None:
    report = _report([5], [7])
    endpoint = auth.Endpoint(kind="local", address="127.0.0.1:5001",
                            api_url="http://127.0.0.1:5001", namespace="course",
                            username="student", container="course-05-registry")
    pulled = lesson.PullReport(reference="r", digest="d", status="s", seconds=0.1,
                               layers_downloaded=1, layers_already_here=0, image_id="i",
                               layers=[reg.LayerEvent("a", "Pull complete", 3)])
    for value in (report, endpoint, pulled):
        assert codec.decode(json.loads(json.dumps(codec.encode(value)))) == value


def test_registry_errors_are_course_errors_with_hints() -> None:
    for cls in (RegistryError, LoginFailed, PushFailed, PullFailed):
        assert issubclass(cls, CourseError)
    failure = PushFailed("Pushing x failed: denied", hint="log in first")
    assert failure.render().splitlines() == ["Pushing x failed: denied",
                                             "What to do: log in first"]


def test_push_hints_follow_the_reason() -> None:
    endpoint = auth.Endpoint(kind="local", address="127.0.0.1:59999", api_url="", namespace="c",
                            username="u")
    assert "log in first" in reg._push_hint("no basic auth credentials", endpoint)
    assert "registry running" in reg._push_hint("dial tcp: connection refused", endpoint)


def test_password_script_and_command_never_hold_the_password() -> None:
    assert "$REGISTRY_PASSWORD" in reg.HTPASSWD_COMMAND[2]
    assert "os.environ['REGISTRY_PASSWORD']" in reg.HTPASSWD_PYTHON
    compile(reg.HTPASSWD_PYTHON, "htpasswd.py", "exec")
