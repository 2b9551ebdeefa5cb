"""The health timeline, from engine events to intervals, milestones and a chart."""

from __future__ import annotations

from matplotlib.figure import Figure

from helpers.lessons import compose as lesson

T0 = 1_800_000_000.0


def _event(seconds: float, service: str, action: str, exit_code: str | None = None) -> dict:
    return {"time": T0 + seconds, "service": service, "container": f"p-{service}-1",
            "action": action, "exit_code": exit_code}


# What Compose v2 does: create every container first, start the app once the db is healthy.
V2_EVENTS = [
    _event(-0.5, "app", "destroy"),  # the end of an earlier `down`: before the first create
    _event(0.0, "db", "create"), _event(0.04, "app", "create"), _event(0.43, "db", "start"),
    _event(2.46, "db", "health_status: healthy"), _event(3.17, "app", "start"),
    _event(5.24, "app", "health_status: healthy"),
]


def test_intervals_follow_each_container_through_its_states() -> None:
    frame = lesson.timeline_from_events(V2_EVENTS, end=T0 + 6,
                                        healthchecked={"db": True, "app": True})
    db = frame[frame["service"] == "db"][["state", "from_s", "to_s"]].values.tolist()
    assert db == [["created", 0.0, 0.43], ["starting", 0.43, 2.46], ["healthy", 2.46, 6.0]]
    app = frame[frame["service"] == "app"]["state"].tolist()
    assert app == ["created", "starting", "healthy"]


def test_milestones_show_the_app_started_after_the_db_was_healthy() -> None:
    frame = lesson.timeline_from_events(V2_EVENTS, end=T0 + 6,
                                        healthchecked={"db": True, "app": True})
    marks = lesson.milestones(frame)
    assert marks.loc["app", "created_s"] < marks.loc["db", "healthy_s"]  # v2 creates early
    assert marks.loc["app", "started_s"] >= marks.loc["db", "healthy_s"]
    assert marks.loc["app", "healthy_s"] == 5.24


def test_restart_and_services_without_health_checks() -> None:
    events = [_event(0, "web", "create"), _event(0.2, "web", "start"),
              _event(3, "web", "die", "0"), _event(3.1, "web", "start"),
              _event(4, "web", "destroy")]
    frame = lesson.timeline_from_events(events, end=T0 + 10, healthchecked={"web": False})
    assert frame["state"].tolist() == ["created", "running", "exited", "running"]
    assert frame["to_s"].max() == 4.0  # destroy closes the last interval
    assert lesson.milestones(frame).loc["web", "healthy_s"] is None or \
        lesson.milestones(frame)["healthy_s"].isna().all()


def test_no_create_means_an_empty_timeline() -> None:
    frame = lesson.timeline_from_events([_event(1, "db", "start")], end=T0 + 2,
                                        healthchecked={})
    assert frame.empty and list(frame.columns) == ["service", "container", "state", "from_s",
                                                   "to_s"]


def test_chart_has_labelled_axes_and_a_legend_of_states() -> None:
    frame = lesson.timeline_from_events(V2_EVENTS, end=T0 + 6,
                                        healthchecked={"db": True, "app": True})
    figure = lesson.health_timeline_chart(frame)
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert "(s)" in axes.get_xlabel() and axes.get_ylabel() == "service"
    assert [t.get_text() for t in axes.get_yticklabels()] == ["db", "app"]
    legend = figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["created", "starting", "healthy"]


def test_results_survive_recording_for_replay() -> None:
    import json

    from helpers.session import codec

    frame = lesson.timeline_from_events(V2_EVENTS, end=T0 + 6,
                                        healthchecked={"db": True, "app": True})
    result = lesson.UpResult(project="course-08", compose="docker compose 2.29.7", seconds=6.1,
                             services=["db", "app"], started={"db": 0.43, "app": 3.17},
                             healthy={"db": 2.46, "app": 5.24}, timeline=frame)
    back = codec.decode(json.loads(json.dumps(codec.encode(result))))
    assert back.healthy == result.healthy and back.services == ["db", "app"]
    assert back.timeline[["service", "state"]].values.tolist() == \
        frame[["service", "state"]].values.tolist()
    assert lesson.milestones(back.timeline).loc["app", "started_s"] == 3.17
    recovery = lesson.Recovery(service="app", container="c", how="kill 1", exit_code=0,
                               restarts_before=0, restarts_after=1, seconds_until_running=1.5,
                               seconds_until_healthy=3.9)
    assert codec.decode(json.loads(json.dumps(codec.encode(recovery)))) == recovery
