"""The Compose driver without an engine: command lines, the model, errors as Compose 2.40 says them.

The error texts below were captured from Docker Compose 2.40.3 on Docker Engine 28.5.2
(containerd image store), reproducing each failure live; the course must still name the port,
service or image they concern.
"""

from __future__ import annotations

import subprocess

import pytest

from helpers import settings
from helpers.engine import compose
from helpers.errors import ComposeFileInvalid, CourseError, ImageUnavailable, NotReady, PortInUse

FILE = "data/apps/two-tier/compose.yaml"
ENV = "data/apps/two-tier/course-08.env"
# As typed in a terminal opened in notebooks/, where the course runs Compose.
SHOWN = f"../{FILE}"
SHOWN_ENV = f"../{ENV}"
VERSION = "2.40.3"


def _project(*extra: str, name: str = "course-08") -> compose.Project:
    return compose.project(name, [FILE, *extra], ENV, version=VERSION)


# What `docker compose config --format json` printed for compose.yaml (2.40.3), trimmed to
# what the course reads.
MODEL = {
    "name": "course-08",
    "services": {
        "app": {
            "depends_on": {"db": {"condition": "service_healthy", "required": True}},
            "image": "docker-course/flask-app:1.0",
            "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 5000,
                       "published": "5000", "protocol": "tcp"}],
            "restart": "always",
        },
        "db": {"image": "docker-course/mariadb-standin:10.11", "restart": "unless-stopped"},
    },
    "secrets": {"db_password": {"name": "course-08_db_password",
                                "file": f"{settings.PROJECT_ROOT}/data/apps/two-tier/.secrets/"
                                        "db_password.txt"}},
}


# --- command lines ------------------------------------------------------------------------

def test_command_lines_put_global_options_after_docker_compose() -> None:
    proj = _project()
    assert proj.argv("up", "-d") == [
        "docker", "compose", "-p", "course-08", "--env-file", SHOWN_ENV, "-f", SHOWN, "up",
        "-d"]
    assert proj.cli("down", "-v") == (
        "docker compose -p course-08 --env-file ../data/apps/two-tier/course-08.env "
        "-f ../data/apps/two-tier/compose.yaml down -v")
    assert proj.cli("config", "--format", "json").endswith(" config --format json")
    assert proj.argv("exec", "-T", "app", "sh", "-c", "kill 1")[-6:] == [
        "exec", "-T", "app", "sh", "-c", "kill 1"]
    assert proj.cli("exec", "-T", "app", "sh", "-c", "kill 1").endswith("sh -c 'kill 1'")
    assert proj.argv("logs", "--no-color", "--tail=5", "app")[-4:] == [
        "logs", "--no-color", "--tail=5", "app"]
    assert proj.label == "docker compose 2.40.3"
    assert compose.command_line("p", [], None, ["ps"]) == ["docker", "compose", "-p", "p", "ps"]


def test_override_files_follow_in_order() -> None:
    proj = _project("data/apps/two-tier/never-healthy.yaml")
    argv = proj.argv("up", "-d")
    files = [argv[i + 1] for i, word in enumerate(argv) if word == "-f"]
    assert files == [SHOWN, "../data/apps/two-tier/never-healthy.yaml"]


def test_paths_are_shown_as_typed_in_the_notebooks_folder(tmp_path) -> None:
    assert compose.workdir() == settings.PROJECT_ROOT / "notebooks"
    assert compose.shown_path(FILE) == SHOWN
    assert compose.shown_path(settings.PROJECT_ROOT / FILE) == SHOWN
    assert compose.on_disk(SHOWN) == settings.PROJECT_ROOT / FILE
    outside = tmp_path / "state" / "course-08.env"  # the state folder: absolute
    assert compose.shown_path(outside) == str(outside.resolve())
    assert compose.on_disk(str(outside)) == outside.resolve()


def test_missing_compose_file_is_a_clear_error() -> None:
    with pytest.raises(CourseError, match="no compose file"):
        compose.project("course-08", ["data/apps/two-tier/nope.yaml"], version=VERSION)


def test_only_compose_v2_is_accepted(monkeypatch) -> None:
    monkeypatch.setattr(compose, "compose_flavour", lambda: None)
    monkeypatch.setattr(compose, "compose_v1_only", lambda: True)
    with pytest.raises(CourseError, match="end of life in July 2023") as failure:
        compose.installed()
    assert "docker-compose-plugin" in failure.value.hint
    monkeypatch.setattr(compose, "compose_v1_only", lambda: False)
    with pytest.raises(CourseError, match=r"`docker compose` \(Compose v2\) is not installed"):
        compose.project("course-08", [FILE])
    assert not hasattr(compose, "V1_COMMAND")


def test_env_file_wins_over_the_callers_environment(tmp_path, monkeypatch) -> None:
    env_file = tmp_path / "x.env"
    env_file.write_text("# comment\nAPP_PORT=5123\nDB_IMAGE = db:1\n\n", encoding="utf-8")
    assert compose.read_env_file(env_file) == {"APP_PORT": "5123", "DB_IMAGE": "db:1"}
    monkeypatch.setenv("APP_PORT", "9999")
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "someone-else")
    monkeypatch.setenv("COMPOSE_FILE", "other.yaml")
    monkeypatch.setenv("COMPOSE_PROGRESS", "json")
    monkeypatch.setenv("KEEP_ME", "1")
    proj = compose.project("course-08", [FILE], env_file, version=VERSION)
    env = compose._environment(proj)
    assert not {"APP_PORT", "COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROGRESS"} & set(env)
    assert env["KEEP_ME"] == "1"


# --- the model ------------------------------------------------------------------------------

def test_services_come_in_dependency_order() -> None:
    assert compose.service_order(MODEL) == ["db", "app"]
    chain = {"services": {"a": {"depends_on": {"c": {}}}, "b": {}, "c": {"depends_on": {"b": {}}},
                          "d": None}}
    assert compose.service_order(chain) == ["b", "c", "a", "d"]
    loop = {"services": {"x": {"depends_on": {"y": {}}}, "y": {"depends_on": {"x": {}}}}}
    assert sorted(compose.service_order(loop)) == ["x", "y"]
    assert compose.service_order({}) == []


def test_published_ports_from_the_model() -> None:
    [port] = compose.published_ports(MODEL)
    assert (port.service, port.address, port.target) == ("app", "127.0.0.1:5000", 5000)
    assert compose.published_ports(MODEL, "db") == []
    anywhere = {"services": {"web": {"ports": [{"target": 80, "published": "8080"},
                                               {"host_ip": "::1", "target": 80,
                                                "published": "8081"},
                                               {"target": 9000}]}}}
    assert [p.address for p in compose.published_ports(anywhere)] == ["0.0.0.0:8080",
                                                                      "[::1]:8081"]


def test_container_names_map_back_to_services() -> None:
    assert compose.service_of_container("course-08", "course-08-app-1") == "app"
    assert compose.service_of_container("course-08-sick", "course-08-sick-db-1") == "db"
    assert compose.service_of_container("course-08", "course-08-sick-db-1") == "sick-db"
    assert compose.service_of_container("course-08", "someone-else") is None


def test_paths_inside_the_repository_become_relative() -> None:
    relative = compose.repository_relative(MODEL)
    assert relative["secrets"]["db_password"]["file"] == \
        "data/apps/two-tier/.secrets/db_password.txt"
    assert relative["services"]["app"]["ports"][0]["target"] == 5000
    assert compose.repository_relative(["/elsewhere/x", 3, None]) == ["/elsewhere/x", 3, None]


def _fake_run(stdout: str, stderr: str = "", code: int = 0):
    def run(proj, *args, timeout=120, record=True):
        return subprocess.CompletedProcess(["docker", "compose", *args], code, stdout, stderr)
    return run


def test_config_reads_the_json_model_and_refuses_garbage(monkeypatch) -> None:
    monkeypatch.setattr(compose, "run", _fake_run('{"name": "course-08", "services": {}}'))
    assert compose.config(_project()) == {"name": "course-08", "services": {}}
    monkeypatch.setattr(compose, "run", _fake_run("name: course-08\n"))
    with pytest.raises(CourseError, match="no readable project model"):
        compose.config(_project())
    monkeypatch.setattr(compose, "run", _fake_run("", SCHEMA_ERROR.format(
        root=settings.PROJECT_ROOT), code=1))
    with pytest.raises(ComposeFileInvalid, match="service app"):
        compose.config(_project())


# --- bad files, as Compose 2.40 words them --------------------------------------------------

BROKEN = """services:
  app:
    image: x
    ports:
      - "127.0.0.1:5000:5000"
   restart: always
"""

# Compose 2.40 names the line where the enclosing block starts (line 1 here), not line 6.
YAML_ERROR = "failed to parse {path}: yaml: line 1: did not find expected key\n"
SCHEMA_ERROR = ("validating {root}/data/apps/two-tier/compose.yaml: services.app additional "
                "properties 'imag' not allowed\n")
UNDEFINED_DEPENDENCY = ('service "app" depends on undefined service "db": invalid compose '
                        "project\n")
MISSING_VARIABLE = ("error while interpolating services.app.ports.[]: required variable APP_PORT "
                    "is missing a value: APP_PORT must be set\n")


def test_yaml_errors_point_at_the_line_pyyaml_finds(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    proj = compose.project("course-08-broken", [broken], version=VERSION)
    error = compose.file_error(proj, YAML_ERROR.format(path=broken))
    assert isinstance(error, ComposeFileInvalid)
    assert "line 6" in error.message and "not valid YAML" in error.message
    assert "fix line 6" in error.hint and "docker compose -p course-08-broken" in error.hint
    assert ">   6 |    restart: always" in error.log_tail
    assert "did not find expected key" in error.log_tail


@pytest.mark.parametrize(("output", "expected"), [
    (SCHEMA_ERROR, "(service app): services.app additional properties 'imag' not allowed"),
    (UNDEFINED_DEPENDENCY, '(service app): service "app" depends on undefined service "db"'),
    (MISSING_VARIABLE, "(service app): error while interpolating services.app.ports"),
    ("WARN[0000] something harmless\nInvalid hostPort: abc\n", ": Invalid hostPort: abc"),
])
def test_other_refusals_quote_compose_and_name_the_service(output, expected) -> None:
    error = compose.file_error(_project(), output.format(root=settings.PROJECT_ROOT))
    assert isinstance(error, ComposeFileInvalid)
    assert error.message.startswith(f"Compose cannot use {SHOWN}")
    assert expected in error.message
    assert str(settings.PROJECT_ROOT) not in error.message + error.log_tail
    assert "WARN" not in error.log_tail


# --- failures of `up`, as Compose 2.40 on Engine 28.5 reports them ---------------------------

# Something outside Docker listens on the port (a socket bound in the test).
PORT_TAKEN_BY_A_PROCESS = (
    " Network course-08-clash_backend  Creating\n Network course-08-clash_backend  Created\n"
    " Container course-08-clash-db-1  Started\n Container course-08-clash-app-1  Starting\n"
    "Error response from daemon: failed to set up container networking: driver failed "
    "programming external connectivity on endpoint course-08-clash-app-1 (d47ee20efe5d6037b425"
    "aa4cc0d1e0b603f3c3f0d30606166adc36be3b8ce03c): failed to bind host port for "
    "127.0.0.1:43093:172.19.0.3:5000/tcp: address already in use\n")
# Another container publishes the port.
PORT_TAKEN_BY_A_CONTAINER = (
    " Container course-08-clash-app-1  Starting\nError response from daemon: failed to set up "
    "container networking: driver failed programming external connectivity on endpoint "
    "course-08-clash-app-1 (422b4440433c4a0001b4a89052c2dcea4d0c383726397aa36824d92184e92932): "
    "Bind for 127.0.0.1:5997 failed: port is already allocated\n")
# The port on every IPv6 address ("ports: ['5000:5000']", a process holds [::]:56207).
PORT_TAKEN_IPV6 = (
    "Error response from daemon: failed to set up container networking: driver failed "
    "programming external connectivity on endpoint course-08-clash-app-1 (7758cdf2a452): "
    "failed to bind host port for [::]:56207:172.19.0.2:5000/tcp: address already in use\n")
# Older engines and Docker Desktop word it through the userland proxy.
PORT_TAKEN_PROXY = (
    "Error response from daemon: driver failed programming external connectivity on endpoint "
    "course-08-clash-app-1 (abc): Error starting userland proxy: listen tcp4 127.0.0.1:5000: "
    "bind: address already in use\n")
# A text that names no port: the port comes from the model.
PORT_TAKEN_VAGUE = ("Error response from daemon: driver failed programming external "
                    "connectivity on endpoint course-08-clash-app-1 (abc): address already in "
                    "use\n")


@pytest.mark.parametrize(("output", "where"), [
    (PORT_TAKEN_BY_A_PROCESS, "127.0.0.1:43093"),
    (PORT_TAKEN_BY_A_CONTAINER, "127.0.0.1:5997"),
    (PORT_TAKEN_IPV6, "[::]:56207"),
    (PORT_TAKEN_PROXY, "127.0.0.1:5000"),
    (PORT_TAKEN_VAGUE, "127.0.0.1:5000"),
])
def test_port_conflicts_name_the_port_and_the_service(output, where) -> None:
    error = compose.up_error(_project(name="course-08-clash"), output, MODEL)
    assert isinstance(error, PortInUse)
    assert error.message == (f"Port {where} is already in use, so Compose could not start "
                             "service app, which publishes it.")
    assert "APP_PORT" in error.hint and error.log_tail


def test_a_port_conflict_without_model_or_endpoint_still_says_port() -> None:
    error = compose.up_error(_project(), "Error: listen tcp 0.0.0.0:8080: bind: address "
                                         "already in use\n")
    assert isinstance(error, PortInUse) and "Port 0.0.0.0:8080" in error.message


UNHEALTHY = (
    " Container course-08-sick-app-1  Created\n Container course-08-sick-db-1  Starting\n"
    " Container course-08-sick-db-1  Started\n Container course-08-sick-db-1  Waiting\n"
    " Container course-08-sick-db-1  Error\n"
    "dependency failed to start: container course-08-sick-db-1 is unhealthy\n")


def test_unhealthy_dependency_names_the_service_and_quotes_its_checks(monkeypatch) -> None:
    sick = compose.ServiceState(service="db", container="course-08-sick-db-1", state="running",
                                health="unhealthy", restarts=0, has_healthcheck=True)
    waiting = compose.ServiceState(service="app", container="course-08-sick-app-1",
                                   state="created", health="", restarts=0)
    monkeypatch.setattr(compose, "states", lambda proj: [sick, waiting])
    monkeypatch.setattr(compose, "health_log", lambda name, entries=3: "  probe exit 1: boom")
    monkeypatch.setattr(compose, "container_logs", lambda name, lines=8: "db log line")
    error = compose.up_error(_project(name="course-08-sick"), UNHEALTHY, MODEL)
    assert isinstance(error, NotReady)
    assert error.message.startswith("Service db never became healthy")
    assert "probe exit 1: boom" in error.log_tail and "db log line" in error.log_tail
    assert "app (course-08-sick-app-1): created, never started" in error.log_tail


def test_unhealthy_service_is_named_from_the_text_when_its_container_is_gone(monkeypatch) -> None:
    monkeypatch.setattr(compose, "states", lambda proj: [])
    error = compose.up_error(_project(name="course-08-sick"), UNHEALTHY, MODEL)
    assert isinstance(error, NotReady) and error.message.startswith("Service db never became")
    assert "is unhealthy" in error.log_tail


MISSING_IMAGE = (
    ' app Pulling \n app Error failed to resolve reference "docker.io/docker-course/nope-app:9": '
    'failed to do request: Head "https://registry-1.docker.io/v2/docker-course/nope-app/'
    'manifests/9": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host\n'
    'Error response from daemon: failed to resolve reference "docker.io/docker-course/nope-app:'
    '9": failed to do request: Head "https://registry-1.docker.io/v2/docker-course/nope-app/'
    'manifests/9": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host\n')


def test_missing_images_name_the_service_and_the_image(monkeypatch) -> None:
    model = {"services": {"app": {"image": "docker-course/nope-app:9"},
                          "db": {"image": "docker-course/mariadb-standin:10.11"}}}
    monkeypatch.setattr(compose, "_image_present", lambda ref: ref.startswith("docker-course/m"))
    error = compose.up_error(_project(), MISSING_IMAGE, model)
    assert isinstance(error, ImageUnavailable)
    assert error.message == ("There is no image docker-course/nope-app:9 (service app) on this "
                             "engine, and Compose could not pull it.")
    assert "no such host" in error.log_tail
    denied = "Error response from daemon: pull access denied for x, repository does not exist\n"
    assert isinstance(compose.up_error(_project(), denied, {}), ImageUnavailable)


def test_other_failures_quote_the_error_line() -> None:
    other = compose.up_error(_project(), " Container x  Creating\nError response from daemon: "
                                         "something odd\n", MODEL)
    assert type(other) is CourseError
    assert other.message == "`docker compose up` failed: something odd"


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
    assert compose.wait_ready(_project(), ["db"], timeout=1, poll=0.01) >= 0
    monkeypatch.setattr(compose, "health_log", lambda name, entries=3: "  probe exit 1: 503")
    monkeypatch.setattr(compose, "container_logs", lambda name, lines=8: "")
    with pytest.raises(NotReady, match="Service app is unhealthy") as failure:
        compose.wait_ready(_project(), ["db", "app"], timeout=1, poll=0.01)
    assert "probe exit 1: 503" in failure.value.log_tail


def test_compose_tags_are_not_taken_for_yaml_mistakes(tmp_path) -> None:
    tagged = tmp_path / "override.yaml"
    tagged.write_text("services:\n  app:\n    build: !reset null\n    ports: !override\n"
                      "      - \"127.0.0.1::5000\"\n", encoding="utf-8")
    assert compose.yaml_problem(tagged) is None
    proj = compose.project("course-08-x", [tagged], version=VERSION)
    error = compose.file_error(proj, "validating x.yaml: volumes.db-data.labels must be a "
                                     "mapping\n")
    assert "not valid YAML" not in error.message and "labels must be a mapping" in error.message
