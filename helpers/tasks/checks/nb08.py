"""The checks of notebook 08's "Your turn" tasks: a Compose project of the learner's own.

Compose puts labels on every container it creates (``com.docker.compose.project``,
``…service``, ``…depends_on``); the checks read those and the containers' state, so they see
what Compose made from the learner's file, not the file itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ...engine import compose
from ..registry import Verdict, register
from ._common import _http_status, _task

# The learner's compose.yaml, one way (the notebook shows it as a file to edit).
STACK_FILE = """services:
  db:
    image: <database-image>
    environment:
      MYSQL_RANDOM_ROOT_PASSWORD: "yes"
      MYSQL_DATABASE: messages
      MYSQL_USER: app
      MYSQL_PASSWORD: change-me
    volumes:
      - db-data:/var/lib/mysql
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "-uapp", "-pchange-me"]
      interval: 2s
      retries: 30
  app:
    image: docker-course/flask-app:1.0
    ports:
      - "127.0.0.1::5000"
    environment:
      MYSQL_HOST: db
      MYSQL_DATABASE: messages
      MYSQL_USER: app
      MYSQL_PASSWORD: change-me
    depends_on:
      db:
        condition: service_healthy
volumes:
  db-data:
"""

UP = "docker compose -p {project} -f {project}/compose.yaml up -d --wait"
# Compose leaves depends_on out of a service's config hash: changing only depends_on does not
# recreate the container, and the running one keeps its old dependency label (2.40.3).
RECREATE = ("`docker compose -p {project} up -d --force-recreate app` (a change of depends_on "
            "alone does not make Compose recreate the container).")


def _write_file_line(folder: str) -> str:
    """One shell line that writes :data:`STACK_FILE` into ``folder``/compose.yaml."""
    quoted = "' '".join(STACK_FILE.rstrip("\n").split("\n"))
    return f"printf '%s\\n' '{quoted}' > {folder}/compose.yaml"


def _not_up(task_id: str, project: str) -> Verdict:
    up = UP.format(project=project)
    return _task(task_id).verdict(
        False, f"project {project} is not up: no container carries the label "
               f"com.docker.compose.project={project}.",
        f"in the folder that holds your compose.yaml: `docker compose -p {project} up -d` "
        f"(from the notebooks folder: `{up}`).")


def _services(project: str) -> dict[str, list[compose.ServiceState]]:
    found: dict[str, list[compose.ServiceState]] = {}
    for current in compose.states(project):
        found.setdefault(current.service, []).append(current)
    return found


@register("08.wait-for-healthy",
          goal="In a folder my-stack, write a compose.yaml with a service db (the course's "
               "database image) that has a health check and a service app "
               "(docker-course/flask-app:1.0) that starts only once db is healthy "
               "(depends_on: condition: service_healthy); bring it up as project my-stack.",
          names={"project": "my-stack"}, objects=(("project", "project"),),
          solution=("mkdir -p {project}", _write_file_line("{project}"),
                    UP.format(project="{project}"), "docker compose -p {project} ps"))
def wait_for_healthy(names: Mapping[str, str]) -> Verdict:
    """db has a health check and is healthy; every app container waits for it and runs."""
    task, project = _task("08.wait-for-healthy"), names["project"]
    services = _services(project)
    if not services:
        return _not_up(task.id, project)
    for wanted in ("db", "app"):
        if wanted not in services:
            return task.verdict(False, f"project {project} has no service {wanted} (its "
                                       f"services: {', '.join(sorted(services))}).",
                                f"name the services `db` and `app` in compose.yaml, then "
                                f"`docker compose -p {project} up -d`.")
    db = services["db"][0]
    if not db.has_healthcheck:
        return task.verdict(False, "db has no health check, so Compose has no \"healthy\" to "
                                   "wait for.",
                            "add to db: `healthcheck: test: [\"CMD\", \"mysqladmin\", "
                            "\"ping\", \"-h\", \"127.0.0.1\", \"-uapp\", \"-pchange-me\"]`, "
                            "`interval: 2s`, `retries: 30`; then `docker compose -p "
                            f"{project} up -d` (Compose recreates what changed).")
    for app in services["app"]:
        condition = app.depends_on.get("db")
        if condition is None:
            return task.verdict(False, f"app ({app.container}) does not depend on db: Compose "
                                       "may start it first.",
                                "add to app: `depends_on: db: condition: service_healthy`, "
                                f"then {RECREATE.format(project=project)}")
        if condition != "service_healthy":
            return task.verdict(False, f"app waits for db with condition {condition}, not "
                                       "service_healthy: it starts as soon as db's container "
                                       "has started, before the database answers.",
                                "write the long form: `depends_on: db: condition: "
                                f"service_healthy`, then {RECREATE.format(project=project)}")
    if db.state != "running":
        return task.verdict(False, f"db ({db.container}) is {db.state}, not running.",
                            f"`docker compose -p {project} logs db` says why.")
    if db.health != "healthy":
        probes = compose.health_log(db.container, 1).strip()
        said = f" Its last probe: {probes}" if probes else ""
        if db.health == "unhealthy":
            return task.verdict(False, f"db is unhealthy: its health check failed every "
                                       f"time.{said}",
                                "run the check's command yourself: `docker compose -p "
                                f"{project} exec db mysqladmin ping -h 127.0.0.1 -uapp "
                                "-pchange-me`; the user and password must be the ones in "
                                "db's environment.")
        return task.verdict(False, f"db's health check has not passed yet ({db.health}).",
                            f"wait a few seconds and check again; `docker compose -p "
                            f"{project} ps` shows the health.")
    for app in services["app"]:
        if app.state != "running":
            return task.verdict(False, f"app ({app.container}) is {app.state}, not running.",
                                f"`docker compose -p {project} logs app` says why; then "
                                f"`docker compose -p {project} up -d`.")
        if app.health == "unhealthy":
            return task.verdict(False, f"app ({app.container}) runs but is unhealthy: its "
                                       "/health cannot reach the database.",
                                "app needs MYSQL_HOST: db and the same MYSQL_DATABASE, "
                                "MYSQL_USER and MYSQL_PASSWORD as db.")
    return task.verdict(True, f"app waits for db's health check (service_healthy); db is "
                              f"healthy and {len(services['app'])} app container(s) run.")


def _default_name(project: str, service: str, container: str) -> bool:
    return re.fullmatch(rf"{re.escape(project)}-{re.escape(service)}-\d+", container) is not None


@register("08.scale-app",
          goal="Run two containers of my-stack's app service, each published on 127.0.0.1 at "
               "a host port Docker picks (\"127.0.0.1::5000\").",
          names={"project": "my-stack", "replicas": "2"}, objects=(("project", "project"),),
          solution=("docker compose -p {project} -f {project}/compose.yaml up -d --wait "
                    "--scale app={replicas}", "docker compose -p {project} ps"))
def scale_app(names: Mapping[str, str]) -> Verdict:
    """Exactly N app containers run, each with 5000 published on 127.0.0.1 and answering."""
    task, project, replicas = _task("08.scale-app"), names["project"], int(names["replicas"])
    scale = f"docker compose -p {project} up -d --scale app={replicas}"
    services = _services(project)
    if not services:
        return _not_up(task.id, project)
    apps = services.get("app", [])
    if not apps:
        return task.verdict(False, f"project {project} has no service app.",
                            f"do 08.wait-for-healthy first, then `{scale}`.")
    fixed = [a.container for a in apps if not _default_name(project, "app", a.container)]
    if fixed and len(apps) < replicas:
        return task.verdict(False, f"app has a fixed container_name ({fixed[0]}): a container "
                                   "name is unique on an engine, so Compose cannot make a "
                                   "second one.",
                            f"delete the `container_name:` line, then `{scale}`.")
    stuck = [a for a in apps if a.state != "running"]
    if stuck:
        taken = {(ip, port) for a in apps if a.state == "running"
                 for _, ip, port in a.bindings if port}
        clash = [(ip, port) for _, ip, port in stuck[0].bindings if (ip, port) in taken]
        if clash:
            ip, port = clash[0]
            return task.verdict(False, f"{stuck[0].container} is {stuck[0].state}, not "
                                       f"running: it asks for host port {ip or '0.0.0.0'}:"
                                       f"{port}, which another app container already has.",
                                "a host port can be published once: leave the host port out "
                                "(`\"127.0.0.1::5000\"`) so Docker picks a free one for each "
                                f"container, then `{scale}`.")
        return task.verdict(False, f"{stuck[0].container} is {stuck[0].state}, not running.",
                            f"`docker compose -p {project} logs app` says why.")
    if len(apps) != replicas:
        return task.verdict(False, f"{project} has {len(apps)} app container(s), not "
                                   f"{replicas}.", f"`{scale}`.")
    answers = []
    for app in apps:
        published = [(ip, port) for target, ip, port in app.bindings if target == 5000]
        if not published:
            return task.verdict(False, f"{app.container} does not publish port 5000.",
                                "add to app: `ports: [\"127.0.0.1::5000\"]`, then "
                                f"`{scale}`.")
        if any(ip not in ("127.0.0.1",) for ip, _ in published):
            return task.verdict(False, f"{app.container} publishes 5000 on every interface, "
                                       "so other machines may connect.",
                                "put the address first: `\"127.0.0.1::5000\"`, then "
                                f"`{scale}`.")
        port = str(app.ports.get(5000, ""))
        if not port or _http_status(port, "/health") is None:
            return task.verdict(False, f"nothing answers HTTP at {app.container}'s port "
                                       f"127.0.0.1:{port or '?'}.",
                                f"`docker compose -p {project} logs app` says why.")
        answers.append(f"127.0.0.1:{port}")
    return task.verdict(True, f"{replicas} app containers run, answering on "
                              f"{' and '.join(answers)}; Compose named them "
                              f"{project}-app-1 … -{replicas}.")
