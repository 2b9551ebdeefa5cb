"""The Compose driver without an engine: command lines for v1 and v2, errors, env files."""

from __future__ import annotations

import pytest

from helpers.engine import compose
from helpers.engine.client import ComposeFlavour
from helpers.errors import ComposeFileInvalid, CourseError, ImageUnavailable, NotReady, PortInUse

FILE = "data/apps/two-tier/compose.yaml"
ENV = "data/apps/two-tier/course-08.env"
V1 = ComposeFlavour(command=("docker-compose",), version="1.29.2")
V2 = ComposeFlavour(command=("docker", "compose"), version="2.29.7")


def _project(flavour: ComposeFlavour, *extra: str) -> compose.Project:
    return compose.project("course-08", [FILE, *extra], ENV, using=flavour)


def test_v2_command_lines_put_global_options_after_docker_compose() -> None:
    proj = _project(V2)
    assert proj.argv("up", "-d") == [
        "docker", "compose", "-p", "course-08", "--env-file", ENV, "-f", FILE, "up", "-d"]
    assert proj.cli("down", "-v") == (
        "docker compose -p course-08 --env-file data/apps/two-tier/course-08.env "
        "-f data/apps/two-tier/compose.yaml down -v")
    assert proj.argv("exec", "-T", "app", "sh", "-c", "kill 1")[-6:] == [
        "exec", "-T", "app", "sh", "-c", "kill 1"]
    assert proj.cli("exec", "-T", "app", "sh", "-c", "kill 1").endswith("sh -c 'kill 1'")
    assert proj.argv("logs", "--no-color", "--tail=5", "app")[-4:] == [
        "logs", "--no-color", "--tail=5", "app"]
    assert proj.flavour == "docker compose 2.29.7"


def test_v1_and_v2_differ_only_in_the_command() -> None:
    for args in (("config", "--services"), ("up", "-d"), ("stop", "app"), ("start", "app"),
                 ("down",), ("down", "-v"), ("ps",)):
        v1, v2 = _project(V1).argv(*args), _project(V2).argv(*args)
        assert v1[0] == "docker-compose" and v2[:2] == ["docker", "compose"]
        assert v1[1:] == v2[2:]


def test_override_files_follow_in_order() -> None:
    proj = _project(V2, "data/apps/two-tier/never-healthy.yaml")
    argv = proj.argv("up", "-d")
    files = [argv[i + 1] for i, word in enumerate(argv) if word == "-f"]
    assert files == [FILE, "data/apps/two-tier/never-healthy.yaml"]


def test_missing_compose_file_is_a_clear_error() -> None:
    with pytest.raises(CourseError, match="no compose file"):
        compose.project("course-08", ["data/apps/two-tier/nope.yaml"], using=V2)


def test_forced_flavour_that_is_missing_says_so(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_COMPOSE", "v2")
    monkeypatch.setattr(compose, "_version", lambda command: None)
    with pytest.raises(CourseError, match="COURSE_COMPOSE=v2"):
        compose.flavour()
    monkeypatch.setattr(compose, "_version", lambda command: "2.29.7")
    assert compose.flavour().command == ("docker", "compose")


def test_env_file_wins_over_the_callers_environment(tmp_path, monkeypatch) -> None:
    env_file = tmp_path / "x.env"
    env_file.write_text("# comment\nAPP_PORT=5123\nDB_IMAGE = db:1\n\n", encoding="utf-8")
    assert compose.read_env_file(env_file) == {"APP_PORT": "5123", "DB_IMAGE": "db:1"}
    monkeypatch.setenv("APP_PORT", "9999")
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "someone-else")
    monkeypatch.setenv("KEEP_ME", "1")
    proj = compose.project("course-08", [FILE], env_file, using=V1)
    env = compose._environment(proj)
    assert "APP_PORT" not in env and "COMPOSE_PROJECT_NAME" not in env
    assert env["KEEP_ME"] == "1"


BROKEN = """services:
  app:
    image: x
    ports:
      - "127.0.0.1:5000:5000"
   restart: always
"""

V1_YAML_ERROR = """yaml.parser.ParserError: while parsing a block mapping
  in "./broken.yaml", line 2, column 3
expected <block end>, but found '<block mapping start>'
  in "./broken.yaml", line 6, column 4
"""
V2_YAML_ERROR = "yaml: line 1: did not find expected key\n"


@pytest.mark.parametrize("output", [V1_YAML_ERROR, V2_YAML_ERROR])
def test_yaml_errors_point_at_the_same_line_for_both_flavours(tmp_path, output) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    proj = compose.project("course-08-broken", [broken], using=V2)
    error = compose.file_error(proj, output)
    assert isinstance(error, ComposeFileInvalid)
    assert "line 6" in error.message and "not valid YAML" in error.message
    assert "fix line 6" in error.hint
    assert ">   6 |    restart: always" in error.log_tail
    assert output.splitlines()[0].strip() in error.log_tail


def test_a_schema_error_quotes_compose(tmp_path) -> None:
    good = tmp_path / "compose.yaml"
    good.write_text("services:\n  app:\n    imag: x\n", encoding="utf-8")
    proj = compose.project("course-08-x", [good], using=V2)
    error = compose.file_error(proj, "validating compose.yaml: services.app additional "
                                     "properties 'imag' not allowed\n")
    assert isinstance(error, ComposeFileInvalid)
    assert "'imag' not allowed" in error.message


V1_PORT = ("ERROR: for app  Cannot start service app: driver failed programming external "
           "connectivity on endpoint course-08_app_1 (abc): Bind for 127.0.0.1:5000 failed: "
           "port is already allocated\n")
V2_PORT = ("Error response from daemon: driver failed programming external connectivity on "
           "endpoint course-08-app-1 (abc): Error starting userland proxy: listen tcp4 "
           "127.0.0.1:5000: bind: address already in use\n")


@pytest.mark.parametrize("output", [V1_PORT, V2_PORT])
def test_port_conflicts_become_port_in_use(output) -> None:
    error = compose.up_error(_project(V2), output)
    assert isinstance(error, PortInUse)
    assert "127.0.0.1:5000" in error.message
    assert "APP_PORT" in error.hint and error.log_tail


def test_missing_images_and_other_failures(monkeypatch) -> None:
    error = compose.up_error(_project(V1), "Pulling app (x:1)...\nERROR: pull access denied "
                                           "for x, repository does not exist\n")
    assert isinstance(error, ImageUnavailable)
    other = compose.up_error(_project(V1), "Creating x ... error\nERROR: something odd\n")
    assert type(other) is CourseError and "something odd" in other.message


def test_unhealthy_dependency_names_the_service_and_quotes_its_checks(monkeypatch) -> None:
    sick = compose.ServiceState(service="db", container="course-08-db-1", state="running",
                                health="unhealthy", restarts=0, has_healthcheck=True)
    waiting = compose.ServiceState(service="app", container="course-08-app-1",
                                   state="created", health="", restarts=0)
    monkeypatch.setattr(compose, "states", lambda proj: [sick, waiting])
    monkeypatch.setattr(compose, "health_log", lambda name, entries=3: "  probe exit 1: boom")
    monkeypatch.setattr(compose, "container_logs", lambda name, lines=8: "db log line")
    error = compose.up_error(_project(V2), "dependency failed to start: container "
                                           "course-08-db-1 is unhealthy\n")
    assert isinstance(error, NotReady)
    assert error.message.startswith("Service db never became healthy")
    assert "probe exit 1: boom" in error.log_tail and "db log line" in error.log_tail
    assert "app (course-08-app-1): created, never started" in error.log_tail


def test_service_state_readiness() -> None:
    def state(**changes) -> compose.ServiceState:
        base = dict(service="app", container="c", state="running", health="healthy",
                    restarts=0, restart_policy="always")
        return compose.ServiceState(**{**base, **changes})

    assert state().ready and state(health="").ready
    assert not state(health="starting").ready
    assert not state(state="exited").gone_for_good  # restart: always brings it back
    assert state(state="exited", restart_policy="no").gone_for_good
    assert state(state="exited", restart_policy="on-failure", exit_code=0).gone_for_good
    assert not state(state="exited", restart_policy="on-failure", exit_code=1).gone_for_good


def test_waiting_for_one_service_ignores_the_others(monkeypatch) -> None:
    db = compose.ServiceState(service="db", container="p-db-1", state="running",
                              health="healthy", restarts=0, restart_policy="unless-stopped")
    app = compose.ServiceState(service="app", container="p-app-1", state="running",
                               health="unhealthy", restarts=0, restart_policy="always")
    monkeypatch.setattr(compose, "states", lambda proj: [db, app])
    assert compose.wait_ready(_project(V2), ["db"], timeout=1, poll=0.01) >= 0
    monkeypatch.setattr(compose, "health_log", lambda name, entries=3: "  probe exit 1: 503")
    monkeypatch.setattr(compose, "container_logs", lambda name, lines=8: "")
    with pytest.raises(NotReady, match="Service app is unhealthy") as failure:
        compose.wait_ready(_project(V2), ["db", "app"], timeout=1, poll=0.01)
    assert "probe exit 1: 503" in failure.value.log_tail
