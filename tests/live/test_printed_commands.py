"""Every command line a recorded notebook run printed, typed in a terminal opened in notebooks/.

The notebooks print a ``$ docker …`` (or ``$ curl …``) line for each thing a helper did, and
promise that a learner who types it gets the same thing (DESIGN.md, "Printed = executed"). The
recordings (data/recordings/NN.json) keep those lines: each recorded helper call has its
``journal``, the lines the notebook showed under it, in order. This test takes them per
notebook and runs them one after the other with bash, in notebook order, the way a learner
would type them in a JupyterLab terminal whose working folder is notebooks/.

Where: a private engine (``.ci/docker-stack scratch start``: Engine 28 in a network namespace
of its own, with its own socket and state), so the lines keep the course's own names (course-*
containers, docker-course/flask-app:1.0, ports 5000, 5001…) without touching the shared engine
or anyone's objects there. Each line runs inside that namespace (its 127.0.0.1 is the private
engine's published ports), with DOCKER_HOST pointing at the private engine. The namespace gets
outbound access through slirp4netns (user-mode networking: no host routes or firewall rules
change), so builds can reach the package index. The course's base images are copied in from
the main engine (``docker save | docker load``) and kept there, like its build cache.

What "succeeds" means: exit status 0, and for curl an HTTP answer below 400 (a .curlrc with
``--fail-with-body`` in the run's CURL_HOME; the line is typed unchanged). Every printed line
is run, not only docker and curl: the others (``echo … >``, ``mkdir``, ``sha256sum``) make the
state the next docker line needs, as they do for the learner. Lines that cannot succeed
standalone are in EXCEPTIONS below, with the reason; a line whose failure is the lesson must
fail when typed too. Every exception must still match a printed line. A readiness check the
helper repeated until the service answered (RETRIED) is typed again for up to a minute. A line
ending in ``&`` (``docker compose watch``) is a background job of the terminal, and ``kill -INT
$!`` signals that job, as bash does when the learner types them in one terminal (``Jobs``).

The machine the recording was made on is translated, never the command: its checkout folder
(``/…/data/apps/…``) becomes this checkout, and its course cache folder (``/…/docker-course/``
before ``work/`` or ``state/``) a folder of this test. The run's working folder mirrors
notebooks/ (links to its files, and to the repository's other folders beside it), so files the
lines write (``docker save -o …``) stay in the test's own folder. ``docker login
--password-stdin`` reads the password the learner types: the test types it (the masked
``***`` the lines show, which is also the password they set). Everything the lines create
(containers, images, volumes, networks, the login) is removed afterwards, also when a line
fails; the copied base images and the build cache stay on the private engine for the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest
import scratch_engine

from helpers import catalog, resolver, settings
from helpers.session.recording import recording_path

ROOT = settings.PROJECT_ROOT
NETNS_PATH = Path("/run/netns") / scratch_engine.NETNS
TAP = "tap-printed"  # the namespace's way out, made and removed by this test (slirp4netns)
MASQUERADE = ["POSTROUTING", "-o", TAP, "-j", "MASQUERADE"]
LINE_TIMEOUT = 600  # seconds; an uncached build of notebook 04's compiled wheel takes ~1 min
NOTEBOOKS = [f"{n:02d}" for n in range(1, 11)]

# The printed lines that cannot succeed when typed, and why. Key: a regular expression searched
# in "NN: <line>" (NN the notebook; "NN!: <line>" when the recording marks the line as failed;
# "  (2nd time)" and so on appended to a line printed before in the same notebook). Value:
#   ("fails", why)      failing is the point: it is run and must fail when typed too;
#   ("skip", why)       not run;
#   ("bug", why)        not run: a known, reported bug of the helper that printed it;
#   ("after-bug", why)  not run: it needs what a "bug" line of its notebook would have made
#                       (stale, like any entry matching no line, once that notebook has none).
# The first entry that matches a line applies.
EXCEPTIONS: dict[str, tuple[str, str]] = {
    # not docker or curl, or not run by the helper either
    r"^\d\d!?: python -m helpers ": (
        "skip", "the course's own command line (python -m helpers), tested with the CLI"),
    r"  # [^#]*: not run": (
        "skip", "shown for reference only: the line itself says the tool is not here"),
    r"^09!: docker pull (aquasec/trivy|anchore/grype):": (
        "skip", "needs Docker Hub, which CI cannot reach (the recorded run could not either)"),
    # failing is the point
    r"^01: docker run --rm --memory 64m --memory-swap 64m .* bytearray\(256 ": (
        "fails", "256 MiB under a 64 MiB limit: the kernel kills it (exit 137), the lesson"),
    r"^02!: docker build -t docker-course/broken-app:1\.0 ": (
        "fails", "the broken app's build fails on purpose"),
    r"^04!: docker build -t docker-course/seed-04:1\.0 .* /\S*/data/apps/seed$": (
        "fails", "the seed's own Dockerfile fails to build, as the notebook shows"),
    r"^04!?: docker run --rm docker-course/seed-04:1\.0 python -c 'import flask; ": (
        "fails", "the seed's image cannot import Flask (pip --target, no PYTHONPATH): the "
                 "notebook shows the ModuleNotFoundError"),
    r"^05!: docker push 127\.0\.0\.1:5001/course/hello:1\.0$": (
        "fails", "pushing before `docker login` is refused by the registry"),
    r"^05: curl -sS http://127\.0\.0\.1:5001/v2/$": (
        "fails", "asks before logging in: the registry's 401 answer is the lesson"),
    r"^06: docker run --rm --user 10001:10001 -v course-06-owned:/data .*echo written'$": (
        "fails", "uid 10001 cannot write to the root-owned volume until root chowns it"),
    r"^06: docker run --rm (-v course-06-data:/data:ro|--read-only) .*> /(data/notes|etc/motd)": (
        "fails", "writing to a read-only volume or root filesystem is refused, the lesson"),
    r"^07!: docker exec course-07-db-broken ": (
        "fails", "the database with the broken init script never answers, on purpose"),
    r"^08!: docker compose -p course-08-(broken|sick|seed) ": (
        "fails", "the broken, never-healthy and seed projects fail on purpose"),
    # values of the recorded run that every run picks anew
    r"^05: .*course/hello(@|/manifests/)sha256:[0-9a-f]{64}": (
        "skip", "a digest of the recorded run's image; each build makes a new one"),
    r"^06: docker volume inspect [0-9a-f]{64}$": (
        "skip", "the anonymous volume's name is a random id the engine picks each run"),
    r"^07: curl http://127\.0\.0\.1:(?!8088/|5000/)\d+/$": (
        "skip", "the host port the engine picked at random for `-p 127.0.0.1::8080`"),
}

RETRIED = re.compile(r"^curl |mysqladmin .* ping|^docker logs .* \| grep ")  # the helper waited
RETRY_SECONDS = 60
BACKGROUND = re.compile(r"\s&$")  # a job the terminal runs in the background (compose watch)
KILL_LAST_JOB = re.compile(r"^kill(?: -(?P<signal>[A-Z]+))? \$!$")  # `$!`: that job
JOB_SECONDS = 3  # a background job must still run (or have ended well) this long after it began


# --- the printed lines (pure) ------------------------------------------------------------------

ORDINALS = {2: "2nd", 3: "3rd"}


@dataclass(frozen=True)
class Printed:
    """One printed line: the notebook, the line, whether it succeeded when recorded, and how
    many times the notebook had printed the same line up to here (1 the first time)."""

    notebook: str
    cli: str
    ok: bool
    nth: int = 1

    @property
    def subject(self) -> str:
        """What EXCEPTIONS patterns are searched in (see there)."""
        again = f"  ({ORDINALS.get(self.nth, f'{self.nth}th')} time)" if self.nth > 1 else ""
        return f"{self.notebook}{'' if self.ok else '!'}: {self.cli}{again}"


DOCKER_OR_CURL = re.compile(r"(?:^|;\s*do\s+|\|\s*)(?:time\s+)?(?:docker|curl)\s")


def is_docker_or_curl(line: str) -> bool:
    """A line that runs ``docker`` or ``curl`` (also after ``time``, in a ``for … do`` loop)."""
    return bool(DOCKER_OR_CURL.search(line))


def printed_lines(notebook: str) -> list[Printed]:
    """Every line notebook ``notebook`` printed in its recorded run, in order."""
    path = recording_path(notebook)
    calls = json.loads(path.read_text(encoding="utf-8"))["calls"] if path.exists() else []
    seen: Counter = Counter()
    lines = []
    for entry in (entry for call in calls for entry in call.get("journal", [])):
        seen[entry["cli"]] += 1
        lines.append(Printed(notebook, entry["cli"], bool(entry.get("ok", True)),
                             seen[entry["cli"]]))
    return lines


def exception_for(line: Printed) -> tuple[str, str, str] | None:
    """(pattern, kind, reason) of the EXCEPTIONS entry that applies to ``line``, or None."""
    for pattern, (kind, reason) in EXCEPTIONS.items():
        if re.search(pattern, line.subject):
            return pattern, kind, reason
    return None


CHECKOUT = re.compile(r"(?<![\w.-])(/[^\s'\"=,:]+?)(?=/data/apps/)")
CACHE = re.compile(r"(?<![\w.-])(/[^\s'\"=,:]*/docker-course)(?=/(work|state)/)")


def translated(line: str, cache: Path) -> str:
    """``line`` with the recording machine's checkout and course cache folders made this run's
    (the checkout: this repository; the cache: ``cache``)."""
    line = CHECKOUT.sub(str(ROOT), line)
    return CACHE.sub(str(cache), line)


# --- the private engine ------------------------------------------------------------------------

WANTED = "with a way out to run the printed lines on"


def _unavailable(reason: str):
    scratch_engine.unavailable(reason, WANTED)


def _in_netns(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net={NETNS_PATH}", *argv], capture_output=True,
                          text=True, check=False, **kwargs)


@dataclass
class Private:
    """The private engine: its address, and what this module started (stopped at the end)."""

    host: str
    started_engine: bool = False
    slirp: subprocess.Popen | None = None

    def engine(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=120)


def _open_way_out(private: Private) -> None:
    """slirp4netns gives the namespace a default route; the namespace's own NAT lets the
    engine's containers (and build steps) use it."""
    if _in_netns("ip", "link", "show", TAP).returncode != 0:
        private.slirp = subprocess.Popen(
            ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
             "--netns-type=path", str(NETNS_PATH), TAP],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(50):
            if _in_netns("ip", "route", "show", "default").stdout.strip():
                break
            time.sleep(0.1)
        else:
            _unavailable("slirp4netns did not configure the namespace")
    if _in_netns("iptables", "-t", "nat", "-C", *MASQUERADE).returncode != 0:
        _in_netns("iptables", "-t", "nat", "-A", *MASQUERADE)


def _close_way_out(private: Private) -> None:
    _in_netns("iptables", "-t", "nat", "-D", *MASQUERADE)
    if private.slirp is not None:
        private.slirp.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            private.slirp.wait(10)


def _layers(client: docker.DockerClient, reference: str) -> list[str] | None:
    try:
        return client.api.inspect_image(reference)["RootFS"]["Layers"]
    except docker.errors.ImageNotFound:
        return None


def _copy_images(private: Private, lines: list[Printed]) -> None:
    """The course's images the lines name, copied from the main engine when missing or older."""
    text = "\n".join(line.cli for line in lines)
    main = docker.from_env(timeout=300)
    target = private.engine()
    for image in catalog.CATALOG.values():
        named = [ref for ref in (image.standin, image.official) if ref in text]
        if not named:
            continue
        source = resolver.resolve(image.key).reference
        wanted = _layers(main, source)
        for reference in named:
            if _layers(target, reference) == wanted:
                continue
            save = subprocess.Popen(["docker", "save", source], stdout=subprocess.PIPE)
            load = subprocess.run(["docker", "load", "-q"], stdin=save.stdout,
                                  env={**os.environ, "DOCKER_HOST": private.host},
                                  capture_output=True, text=True, check=False)
            save.wait()
            assert load.returncode == 0 and save.returncode == 0, load.stderr
            if source != reference:
                target.images.get(source).tag(reference)


@pytest.fixture(scope="module")
def private() -> Iterator[Private]:
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "nsenter", "slirp4netns",
                                                                "iptables")):
        _unavailable("it needs root, ip, nsenter, iptables and slirp4netns (apt-get install "
                     "slirp4netns)")
    with scratch_engine.alone():  # the cleanup removes what is new there: nobody else's
        host, started = scratch_engine.address(WANTED)
        made = Private(host=host, started_engine=started)
        try:
            _open_way_out(made)
            _copy_images(made, [line for nb in NOTEBOOKS for line in printed_lines(nb)])
            yield made
        finally:
            _close_way_out(made)
            if made.started_engine:
                scratch_engine.stack("stop")


# --- what a notebook's lines made, removed afterwards -------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    containers: frozenset[str]
    networks: frozenset[str]
    volumes: frozenset[str]
    images: frozenset[str]
    tags: frozenset[str]


def snapshot(client: docker.DockerClient) -> Snapshot:
    images = client.images.list(all=True)
    return Snapshot(
        containers=frozenset(c.id for c in client.containers.list(all=True)),
        networks=frozenset(n.id for n in client.networks.list()),
        volumes=frozenset(v.name for v in client.volumes.list()),
        images=frozenset(i.id for i in images),
        tags=frozenset(t for i in images for t in i.tags))


def remove_new(client: docker.DockerClient, before: Snapshot) -> list[str]:
    """Remove every object that is not in ``before``; returns what could not be removed."""
    left = []
    for container in client.containers.list(all=True):
        if container.id not in before.containers:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
    for network in client.networks.list():
        if network.id not in before.networks:
            try:
                network.remove()
            except docker.errors.APIError as exc:
                left.append(f"network {network.name}: {exc.explanation}")
    for volume in client.volumes.list():
        if volume.name not in before.volumes:
            try:
                volume.remove(force=True)
            except docker.errors.APIError as exc:
                left.append(f"volume {volume.name}: {exc.explanation}")
    for image in client.images.list(all=True):
        for tag in image.tags:
            if tag not in before.tags and image.id in before.images:
                client.images.remove(tag)
    for _ in range(3):  # children before parents (the classic store keeps intermediates)
        for image in client.images.list(all=True):
            if image.id not in before.images:
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image.id, force=True)
    left += [f"image {i.tags or i.id}" for i in client.images.list(all=True)
             if i.id not in before.images]
    return left


def terminal(tmp_path: Path) -> tuple[Path, Path]:
    """A working folder that stands for notebooks/ (links to its files, the repository's other
    folders beside it) and the course cache folder of this run."""
    mirror = tmp_path / "course"
    (mirror / "notebooks").mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in ("notebooks", ".git"):
            (mirror / entry.name).symlink_to(entry)
    for entry in (ROOT / "notebooks").iterdir():
        (mirror / "notebooks" / entry.name).symlink_to(entry)
    cache = tmp_path / "cache" / "docker-course"
    cache.mkdir(parents=True)
    return mirror / "notebooks", cache


def type_line(line: str, cwd: Path, env: dict[str, str], *,
              retry: bool) -> subprocess.CompletedProcess:
    """Run one line with bash inside the private engine's network namespace; with ``retry``,
    again each second for up to RETRY_SECONDS until it succeeds (a learner who asks a service
    that is still starting asks again; the helper waited for it too)."""
    stdin = "***\n" if line.rstrip().endswith("--password-stdin") else ""  # typed at the prompt
    deadline = time.monotonic() + (RETRY_SECONDS if retry else 0)
    while True:
        try:
            done = subprocess.run(["nsenter", f"--net={NETNS_PATH}", "bash", "-c", line],
                                  cwd=cwd, env=env, input=stdin, capture_output=True,
                                  text=True, errors="replace", timeout=LINE_TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(line, 124, "", f"ran past {LINE_TIMEOUT} s")
        if done.returncode == 0 or time.monotonic() > deadline:
            return done
        time.sleep(1)


class Jobs:
    """The background jobs of the terminal: a line ending in ``&`` starts one (its output goes
    to a file), ``kill [-SIGNAL] $!`` signals the last one, as bash does for the learner (one
    bash per line cannot: ``$!`` is the state of one shell); jobs still running when the
    notebook's lines are done get SIGINT (Ctrl+C), then SIGKILL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[subprocess.Popen] = []

    def start(self, line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
        """Start ``line`` without its ``&``; after JOB_SECONDS, exit status 0 while it runs."""
        log = self.folder / f"job-{len(self.started) + 1}.log"
        with log.open("w", encoding="utf-8") as out:
            job = subprocess.Popen(["nsenter", f"--net={NETNS_PATH}", "bash", "-c",
                                    BACKGROUND.sub("", line)], cwd=cwd, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.started.append(job)
        try:
            code = job.wait(JOB_SECONDS)
        except subprocess.TimeoutExpired:
            code = 0
        return subprocess.CompletedProcess(line, code, log.read_text(errors="replace"), "")

    def kill_last(self, line: str, found: re.Match) -> subprocess.CompletedProcess:
        """``kill -SIGNAL $!``: fails, as bash's does, when there is no job or it has ended."""
        if not self.started or self.started[-1].poll() is not None:
            return subprocess.CompletedProcess(line, 1, "", "kill: no such job running")
        job = self.started[-1]
        os.kill(job.pid, getattr(signal, f"SIG{found['signal'] or 'TERM'}"))
        with contextlib.suppress(subprocess.TimeoutExpired):
            job.wait(15)
        return subprocess.CompletedProcess(line, 0, "", "")

    def stop(self) -> None:
        for job in self.started:
            for how in (signal.SIGINT, signal.SIGKILL):
                if job.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(job.pid, how)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    job.wait(15)


# --- the tests -----------------------------------------------------------------------------------

def test_every_exception_matches_a_printed_line():
    lines = [line for nb in NOTEBOOKS for line in printed_lines(nb)]
    stale = [pattern for pattern in EXCEPTIONS
             if not any(re.search(pattern, line.subject) for line in lines)]
    assert not stale, f"exceptions that match no printed line any more: {stale}"
    buggy = {line.notebook for line in lines
             if (found := exception_for(line)) and found[1] == "bug"}
    orphans = [pattern for pattern, (kind, _) in EXCEPTIONS.items() if kind == "after-bug"
               and not any(re.search(pattern, line.subject) for line in lines
                           if line.notebook in buggy)]
    assert not orphans, f"after-bug exceptions whose notebook has no bug line left: {orphans}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_printed_lines_work_when_typed(notebook, private, tmp_path):
    lines = printed_lines(notebook)
    assert any(is_docker_or_curl(line.cli) for line in lines), \
        f"notebook {notebook}'s recording printed no docker or curl line"
    cwd, cache = terminal(tmp_path)
    (tmp_path / "docker-config").mkdir()
    (tmp_path / ".curlrc").write_text("--fail-with-body\n", encoding="utf-8")
    env = {**os.environ, "DOCKER_HOST": private.host,
           "DOCKER_CONFIG": str(tmp_path / "docker-config"), "CURL_HOME": str(tmp_path)}
    client = private.engine()
    before = snapshot(client)
    problems, counts, started = [], Counter(), time.monotonic()
    jobs = Jobs(tmp_path)
    try:
        for line in lines:
            found = exception_for(line)
            kind = "docker/curl" if is_docker_or_curl(line.cli) else "other"
            if found and found[1] != "fails":
                counts[f"{kind} not run ({found[1]})"] += 1
                continue
            typed = translated(line.cli, cache)
            if BACKGROUND.search(typed):
                done = jobs.start(typed, cwd, env)
            elif kill := KILL_LAST_JOB.match(typed):
                done = jobs.kill_last(typed, kill)
            else:
                done = type_line(typed, cwd, env, retry=not found and bool(RETRIED.search(typed)))
            counts[f"{kind} run" + (", failing on purpose" if found else "")] += 1
            output = (done.stdout + done.stderr).strip()[-600:]
            if found:
                if done.returncode == 0:
                    problems.append(f"`{typed}` succeeded, but it is listed as failing on "
                                    f"purpose ({found[2]})")
            elif done.returncode != 0:
                problems.append(f"`{typed}` exited {done.returncode}:\n{output}")
    finally:
        jobs.stop()
        left = remove_new(client, before)
    seconds = time.monotonic() - started
    print(f"\nnotebook {notebook}: {len(lines)} lines printed, {dict(sorted(counts.items()))}, "
          f"{seconds:.0f} s")
    assert not left, f"could not remove: {left}"
    assert not problems, (f"notebook {notebook}: {len(problems)} printed line(s) do not work "
                          "when typed in notebooks/:\n\n" + "\n\n".join(problems))
