"""The two-tier app: the sample Flask app and a MySQL-compatible database on one network.

Used by notebook 07 (step by step, app first, to show the start-up race) and reusable by
notebook 08 to compare the same app by hand with the Compose version:

- :func:`names` — the object names for a prefix (network, app, database, volume);
- :func:`create_network`, :func:`start_app`, :func:`start_database`, :func:`startup_race` —
  the steps; :func:`start_two_tier` does them all and removes what it made if a step fails;
- :func:`query_database`, :func:`messages_in_database` — read the table *through the
  database* (the ``mysql`` client inside its container, which exists in both ``mysql:8.4`` and
  the MariaDB stand-in); :func:`post_message`, :func:`app_messages` — through the app;
- :func:`topology` — networks, addresses and published ports of the containers;
  :func:`volume_exists` — is a (data) volume there;
- :func:`teardown` — remove what a prefix's two-tier app left behind (course objects only).

Passwords are generated at run time (``secrets``), kept in this process only, handed to the
containers as environment variables (masked as ``***`` in every CLI line), and never returned
in a result. Queries use the credentials already in the database container's environment
(``$MYSQL_USER``, ``$MYSQL_PASSWORD`` or their ``*_FILE`` forms), so they work the same on a
container started by Compose.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .. import journal, resolver, settings
from ..display import FactsView
from ..engine import containers, objects
from ..engine import networking as net
from ..engine.containers import ContainerInfo
from ..engine.objects import NetworkInfo
from ..errors import CourseError, NotReady, tail
from ..session import action
from ..session import secrets as kept_secrets

APP_IMAGE = "docker-course/flask-app:1.0"
APP_PORT = 5000
DB_PORT = 3306
DATABASE = "messages"
DB_USER = "app"
INIT_DIR = settings.APPS_DIR / "two-tier" / "initdb"
BROKEN_INIT_DIR = settings.APPS_DIR / "two-tier" / "broken-initdb"
WAITING_MARK = "waiting for database"
INIT_MARK = "/docker-entrypoint-initdb.d/"

@dataclass(frozen=True)
class TwoTierNames(FactsView):
    """The names of the objects of one two-tier app."""

    network: str
    app: str
    database: str
    volume: str


def names(prefix: str = "course-07") -> TwoTierNames:
    return TwoTierNames(network=f"{prefix}-net", app=f"{prefix}-web",
                        database=f"{prefix}-db", volume=f"{prefix}-dbdata")


@dataclass
class DatabaseInfo(FactsView):
    """A database container that answered: where it is and how long it took."""

    name: str
    image: str
    network: str
    volume: str
    database: str
    user: str
    published_ports: str
    seconds_until_ready: float
    init_log: list[str] = field(default_factory=list)
    note: str = ""
    cli: str = ""


@dataclass
class StartupRace(FactsView):
    """What happened when the app started before its database."""

    app: str
    database: str
    app_head_start_seconds: float
    database_ready_seconds: float
    app_ready_seconds: float
    waiting_lines: int
    first_waiting_line: str
    app_status: str
    app_restarts: int


@dataclass
class TwoTierApp(FactsView):
    names: TwoTierNames
    database: DatabaseInfo
    app: ContainerInfo
    race: StartupRace

    @property
    def url(self) -> str:
        return self.app.url()


# --- pure helpers ----------------------------------------------------------------------------

def _credential(keys: list[str], name: str, fallback: str) -> str:
    if name in keys:
        return f'"${name}"'
    if f"{name}_FILE" in keys:
        return f'"$(cat "${name}_FILE")"'
    return fallback


def client_command(program: str, env_names: list[str], arguments: str) -> str:
    """A shell line running a MySQL client with the credentials from the container's env.

    The values stay inside the container: the line names ``$MYSQL_USER`` and
    ``$MYSQL_PASSWORD`` (or reads their ``*_FILE``), falling back to root's password.
    """
    user = _credential(env_names, "MYSQL_USER", "")
    password = _credential(env_names, "MYSQL_PASSWORD", "")
    if not user or not password:
        user, password = "root", _credential(env_names, "MYSQL_ROOT_PASSWORD", '""')
    return f"{program} -h 127.0.0.1 -u{user} -p{password} {arguments}".rstrip()


def sql_argument(sql: str) -> str:
    """The SQL as a double-quoted shell word (so ``$`` and backticks stay literal)."""
    escaped = sql.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") \
        .replace("`", "\\`")
    return f'"{escaped}"'


def _unescape(value: str) -> str | None:
    if value == "NULL":
        return None
    out, i = [], 0
    replacements = {"t": "\t", "n": "\n", "\\": "\\", "0": "\0"}
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in replacements:
            out.append(replacements[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_batch_output(text: str) -> pd.DataFrame:
    """``mysql -B`` output (a header line, then tab-separated rows, escaped) as a DataFrame.

    Columns whose every value is an integer become integers; NULL becomes a missing value.
    """
    lines = [line for line in text.splitlines() if line != ""]
    if not lines:
        return pd.DataFrame()
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        values = [_unescape(v) for v in line.split("\t")]
        values += [None] * (len(header) - len(values))
        rows.append(values[:len(header)])
    frame = pd.DataFrame(rows, columns=header)
    for column in frame.columns:
        cells = frame[column]
        if len(cells) and all(isinstance(v, str) and v.lstrip("-").isdigit() for v in cells):
            frame[column] = cells.astype(int)
    return frame


def parse_engine_time(value: str) -> datetime | None:
    """``2026-01-02T03:04:05.123456789Z`` (the engine's nanoseconds) as an aware datetime."""
    if not value or value.startswith("0001-"):
        return None
    text = value.rstrip("Z")
    if "." in text:
        whole, fraction = text.split(".", 1)
        digits = "".join(ch for ch in fraction if ch.isdigit())[:6]
        text = f"{whole}.{digits.ljust(6, '0')}"
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None


def race_timeline(race: StartupRace) -> pd.DataFrame:
    """The start-up race as events on one clock (seconds after the app started)."""
    head = race.app_head_start_seconds
    rows = [("app container started", 0.0),
            ("database container started", head),
            ("database accepts connections", head + race.database_ready_seconds),
            ("app answers /health", race.app_ready_seconds)]
    frame = pd.DataFrame(rows, columns=["event", "seconds after app start"])
    frame["seconds after app start"] = frame["seconds after app start"].round(1)
    return frame.set_index("event")


# --- engine steps ----------------------------------------------------------------------------

def _passwords_for(database_name: str) -> dict[str, str]:
    """This kernel's passwords for a database container (root and user), made on first use."""
    return kept_secrets.passwords(database_name, "root", "user")


@action
def volume_exists(name: str) -> bool:
    """``docker volume ls --filter name=…``: is there a volume of exactly that name?"""
    journal.record(f"docker volume ls --filter name=^{name}$")
    return net.volume_exists(name)


@action
def create_network(name: str) -> NetworkInfo:
    """``docker network create``: the user-defined bridge both tiers join."""
    return objects.create_network(name)


@action
def start_app(name: str, *, network: str, database: str, image: str = APP_IMAGE,
              port: int | None = APP_PORT, database_name: str = DATABASE,
              user: str = DB_USER) -> ContainerInfo:
    """Run the app on ``network``, told to use the database container called ``database``.

    It does not wait: the app itself waits for its database (and logs that it does). Published
    on 127.0.0.1 only; ``--restart on-failure`` so a crash would show as a restart.
    """
    passwords = _passwords_for(database)
    env = {"MYSQL_HOST": database, "MYSQL_DATABASE": database_name, "MYSQL_USER": user,
           "MYSQL_PASSWORD": passwords["user"]}
    info = containers.run(image, name=name, env=env, network=network,
                          ports_wanted={APP_PORT: port}, restart="on-failure",
                          extra_cli=[f"--network {network}", "--restart on-failure"])
    if info.note:
        from .. import display

        display.note(info.note, kind="warn")
    return info


def _client_line(name: str, program: str, arguments: str, *,
                 sql: str | None = None) -> tuple[list[str], str]:
    """The exec command running a client in ``name``, and its CLI line (no secret in it)."""
    keys = net.env_keys(name)
    if sql is not None:
        database = _credential(keys, "MYSQL_DATABASE", "")
        if not database:
            raise CourseError(f"Container {name} has no MYSQL_DATABASE in its environment.",
                              hint="is it the database container of the two-tier app?")
        arguments = f"{arguments} {database} -e {sql_argument(sql)}"
    script = client_command(program, keys, arguments)
    return ["sh", "-c", script], f"docker exec {name} sh -c {shlex.quote(script)}"


def _wait_database(name: str, timeout: float) -> float:
    """Poll ``mysqladmin ping`` over TCP inside the container until the server answers."""
    command, cli = _client_line(name, "mysqladmin", "--connect-timeout=2 ping")
    started = time.monotonic()
    last = "no answer yet"
    while time.monotonic() - started < timeout:
        state = containers.container_state(name)
        if state in ("exited", "dead", "missing"):
            journal.record(cli, ok=False, seconds=time.monotonic() - started)
            raise NotReady(f"The database container {name} stopped during start-up, before it "
                           "accepted connections.",
                           hint="read its last log lines below (a failing init script in "
                                "/docker-entrypoint-initdb.d, a missing MYSQL_* variable …), "
                                "fix the cause and start it again.",
                           log_tail=tail(containers.logs(name, journal_it=False)))
        code, out, err = net.exec_quiet(name, command)
        if code == 0 and "alive" in out:
            seconds = round(time.monotonic() - started, 2)
            journal.record(cli, seconds=seconds)
            return seconds
        last = (err or out).strip().splitlines()[-1] if (err or out).strip() else f"exit {code}"
        time.sleep(0.5)
    journal.record(cli, ok=False, seconds=time.monotonic() - started)
    raise NotReady(f"The database {name} did not accept connections within {timeout:.0f} s "
                   f"(last answer: {last}).",
                   hint="a first start initialises the data files and can be slow on a busy "
                        "machine: try a longer timeout; otherwise read the log lines below.",
                   log_tail=tail(containers.logs(name, journal_it=False)))


@action
def start_database(name: str, *, network: str, volume: str, image: str | None = None,
                   init_dir: Path | None = INIT_DIR, database_name: str = DATABASE,
                   user: str = DB_USER, command: list[str] | None = None,
                   timeout: float = 120) -> DatabaseInfo:
    """Run the database on ``network`` with its data on ``volume``; wait until it answers.

    No port is published: only containers on the same network reach it. If it never becomes
    ready, :class:`NotReady` carries its log tail, and the container (and the volume, if this
    call created it) are removed, so nothing half-initialised is left behind.
    """
    reference = image or resolver.resolve("database").reference
    containers.remove_if_ours(name)
    passwords = _passwords_for(name)
    note = ""
    if not kept_secrets.initialised(name) and objects.remove_volume(volume):
        note = (f"removed the data volume {volume} of an earlier run: its passwords are not "
                "known to this session, so the database initialises afresh")
    created_volume = not net.volume_exists(volume)
    objects.create_volume(volume)
    mounts = {volume: {"bind": "/var/lib/mysql", "mode": "rw"}}
    extra = [f"--network {network}", f"-v {volume}:/var/lib/mysql"]
    scripts: list[str] = []
    if init_dir is not None:
        folder = Path(init_dir).resolve()
        if not folder.is_dir():
            raise CourseError(f"The init folder {folder} does not exist.",
                              hint="pass init_dir=None, or a folder of *.sql files.")
        mounts[str(folder)] = {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"}
        # absolute: a relative source would depend on the terminal's folder (and CLIs before
        # 23.0 reject a relative -v source)
        extra.append("-v " + shlex.quote(f"{folder}:/docker-entrypoint-initdb.d:ro"))
        scripts = sorted(p.name for p in folder.iterdir() if p.is_file())
    env = {"MYSQL_ROOT_PASSWORD": passwords["root"], "MYSQL_DATABASE": database_name,
           "MYSQL_USER": user, "MYSQL_PASSWORD": passwords["user"]}
    try:
        info = containers.run(reference, name=name, env=env, network=network, volumes=mounts,
                              command=command, extra_cli=extra)
        seconds = _wait_database(name, timeout)
    except BaseException:  # a failure or an interrupt: remove what this call made
        with contextlib.suppress(CourseError):
            containers.remove(name)
            if created_volume:
                objects.remove_volume(volume)
        kept_secrets.mark_initialised(name, False)
        raise
    kept_secrets.mark_initialised(name)
    logs = containers.logs(name, lines=400, journal_it=False)
    init_log = [line.strip() for line in logs.splitlines() if INIT_MARK in line][:10]
    published = net.published_bindings(name)
    return DatabaseInfo(name=name, image=reference, network=network, volume=volume,
                        database=database_name, user=user,
                        published_ports=", ".join(f"{b.host_ip}:{b.host_port}->"
                                                  f"{b.container_port}" for b in published)
                        or "none", seconds_until_ready=seconds,
                        init_log=init_log or [f"no init scripts ran ({', '.join(scripts)})"
                                              if scripts else "no init folder mounted"],
                        note=note, cli=info.cli)


def _name_of(app: ContainerInfo | str) -> str:
    return app if isinstance(app, str) else (app.name or app.id)


@action
def waiting_lines(app: ContainerInfo | str, *, at_least: int = 1,
                  timeout: float = 30) -> list[str]:
    """The app's "waiting for database" log lines, once there are ``at_least`` of them."""
    name = _name_of(app)
    deadline = time.monotonic() + timeout
    found: list[str] = []
    while time.monotonic() < deadline:
        found = [line.strip() for line in containers.logs(name, lines=200, journal_it=False)
                 .splitlines() if WAITING_MARK in line]
        if len(found) >= at_least or containers.container_state(name) != "running":
            break
        time.sleep(0.5)
    journal.record(f"docker logs {name} 2>&1 | grep '{WAITING_MARK}'")
    return found


def _since(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return round(max((end - start).total_seconds(), 0.0), 2)


@action
def startup_race(app: ContainerInfo, database: DatabaseInfo | str, *,
                 timeout: float = 90) -> StartupRace:
    """Wait for the app to answer, then read from its logs and state how it got there."""
    app_name = _name_of(app)
    database_name = database if isinstance(database, str) else database.name
    containers.wait_http(app, "/health", timeout=timeout)
    journal.record(f"curl {app.url(path='/health')}")
    answered = datetime.now(UTC)
    logs = containers.logs(app_name, lines=400)
    waited = [line.strip() for line in logs.splitlines() if WAITING_MARK in line]
    journal.record(f"docker inspect --format '{{{{.RestartCount}}}} {{{{.State.Status}}}}' "
                   f"{app_name}")
    app_start = parse_engine_time(net.started_at(app_name))
    db_start = parse_engine_time(net.started_at(database_name))
    db_ready = database.seconds_until_ready if isinstance(database, DatabaseInfo) else 0.0
    return StartupRace(app=app_name, database=database_name,
                       app_head_start_seconds=_since(app_start, db_start),
                       database_ready_seconds=db_ready,
                       app_ready_seconds=_since(app_start, answered),
                       waiting_lines=len(waited),
                       first_waiting_line=waited[0] if waited else "",
                       app_status=containers.container_state(app_name),
                       app_restarts=net.restart_count(app_name))


def _network_exists(name: str) -> bool:
    return any(row.name == name for row in net.network_rows([name]))


def foreign_objects(parts: TwoTierNames) -> list[str]:
    """The objects with these names that exist and that the course did not make."""
    found = [f"container {name}" for name in (parts.app, parts.database)
             if containers.is_ours(name) is False]
    if _network_exists(parts.network) and not objects.network_is_ours(parts.network):
        found.append(f"network {parts.network}")
    if net.volume_exists(parts.volume) and not objects.volume_is_ours(parts.volume):
        found.append(f"volume {parts.volume}")
    return found


@action
def start_two_tier(prefix: str = "course-07", *, app_image: str = APP_IMAGE,
                   db_image: str | None = None, port: int | None = APP_PORT,
                   init_dir: Path | None = INIT_DIR, timeout: float = 120) -> TwoTierApp:
    """Network, app (first), database, then wait for both; on failure remove what it made.

    Raises :class:`CourseError` before creating anything when a container, network or volume
    of these names exists that the course did not make (it names them and touches none);
    :class:`NotReady` when a tier never answers (what this call made is removed again).
    """
    parts = names(prefix)
    foreign = foreign_objects(parts)
    if foreign:
        raise CourseError(f"The two-tier app {prefix!r} needs names that objects the course "
                          f"did not create already use: {', '.join(foreign)}. The course "
                          "leaves them alone.",
                          hint="rename or remove them yourself, or start the app under another "
                               "prefix (`start_two_tier('my-prefix')`).")
    made_network = not _network_exists(parts.network)
    made_volume = not net.volume_exists(parts.volume)
    try:
        create_network(parts.network)
        app = start_app(parts.app, network=parts.network, database=parts.database,
                        image=app_image, port=port)
        database = start_database(parts.database, network=parts.network, volume=parts.volume,
                                  image=db_image, init_dir=init_dir, timeout=timeout)
        race = startup_race(app, database, timeout=timeout)
    except BaseException:  # a failure or an interrupt: remove what this call made, only that
        with contextlib.suppress(CourseError):  # (the engine may be gone: cleanup later)
            containers.remove(parts.app)
            containers.remove(parts.database)
            if made_volume:
                objects.remove_volume(parts.volume)
            if made_network:
                objects.remove_network(parts.network)
        raise
    return TwoTierApp(names=parts, database=database, app=containers.get(parts.app), race=race)


@action
def query_database(database: str, sql: str) -> pd.DataFrame:
    """Run SQL with the ``mysql`` client inside the database container; the rows it printed."""
    command, cli = _client_line(database, "mysql", "-B", sql=sql)
    code, out, err = net.exec_quiet(database, command)
    journal.record(cli, ok=code == 0)
    if code != 0:
        raise CourseError(f"The query failed inside {database} (exit {code}).",
                          hint="check the SQL, and that the database is running "
                               f"(`docker logs {database}`).", log_tail=tail(err or out))
    return parse_batch_output(out)


@action
def messages_in_database(database: str) -> pd.DataFrame:
    """The ``messages`` table, read through the database (not through the app)."""
    frame = query_database(database, "SELECT id, text, created_at FROM messages ORDER BY id")
    return frame.set_index("id") if "id" in frame else frame


def _container_info(app: ContainerInfo | str) -> ContainerInfo:
    return containers.get(app) if isinstance(app, str) else app


@action
def post_message(app: ContainerInfo | str, text: str) -> dict:
    """``POST /api/messages`` through the app's published port; the stored message."""
    from .. import course

    answer = course.http_post(_container_info(app), "/api/messages", {"text": text})
    if answer.status != 201 or not isinstance(answer.body, dict):
        raise CourseError(f"The app refused the message (HTTP {answer.status}): {answer.body}",
                          hint="is the app ready? `docker logs` shows why.")
    return answer.body


@action
def app_messages(app: ContainerInfo | str) -> pd.DataFrame:
    """``GET /api/messages``: the messages as the app sees them."""
    from .. import course

    answer = course.http_get(_container_info(app), "/api/messages")
    frame = pd.DataFrame(answer.body if isinstance(answer.body, list) else [],
                         columns=["id", "text", "created_at"])
    return frame.set_index("id")


@action
def topology(container_names: list[str]) -> pd.DataFrame:
    """Each container's networks, addresses, and where (if anywhere) it is published."""
    journal.record("docker inspect --format '{{json .NetworkSettings.Networks}} "
                   "{{json .HostConfig.PortBindings}}' " + " ".join(container_names))
    rows = []
    for name in container_names:
        points = net.endpoints(name)
        published = net.published_bindings(name)
        rows.append({"container": name,
                     "networks": ", ".join(e.network for e in points),
                     "IP address": ", ".join(e.ip for e in points),
                     "published on host": ", ".join(f"{b.host_ip}:{b.host_port} -> "
                                                    f"{b.container_port}" for b in published)
                     or "nothing",
                     "host addresses": ", ".join(sorted({b.host_ip for b in published}))})
    return pd.DataFrame(rows).set_index("container")


@action
def teardown(prefix: str = "course-07") -> pd.DataFrame:
    """Remove a prefix's two-tier containers, network and volume (course objects only).

    Objects of those names that the course did not make are left alone: the course's own are
    removed, then :class:`CourseError` names the others.
    """
    parts = names(prefix)
    removed = []
    foreign = foreign_objects(parts)
    for name in (parts.app, parts.database):
        if f"container {name}" not in foreign and containers.is_ours(name):
            containers.remove(name)
            removed.append(("container", name))
    if f"network {parts.network}" not in foreign and objects.remove_network(parts.network):
        removed.append(("network", parts.network))
    if f"volume {parts.volume}" not in foreign and objects.remove_volume(parts.volume):
        removed.append(("volume", parts.volume))
    kept_secrets.forget(parts.database)
    if foreign:
        done = ", ".join(f"{kind} {name}" for kind, name in removed) or "nothing"
        raise CourseError(f"Removed {done}; left {', '.join(foreign)} alone: the course did not "
                          "create it.",
                          hint="those are yours: remove them yourself if you no longer need "
                               "them.")
    return pd.DataFrame(removed, columns=["kind", "name"])
