"""The Zero to JupyterHub pod's shape, live: a learner's notebook container next to its own engine.

deploy/jupyterhub/values.yaml gives each learner a pod of two containers sharing one network
namespace: the course's user image (non-root, DOCKER_HOST on a unix socket) and a privileged
docker-in-docker sidecar, with the socket in a shared volume, scratch volumes for
/var/lib/docker and /var/lib/containerd, and the home volume at the same path in both. This test
builds that pod on the machine's engine, without Kubernetes and without a registry:

- the engine container: this machine's dockerd, containerd and runc (.ci/docker-stack) in an
  image on the course's python stand-in (tests/live/pod/Dockerfile.engine), run ``--privileged``
  with the chart's dind arguments, volumes and mount paths, read from values.yaml;
- the user container: the hub image rebuilt on the python stand-in (tests/live/pod/Dockerfile.user),
  started with ``--network container:<engine>`` (the pod's shared network namespace), the socket
  and home volumes, and the chart's ``extraEnv``;
- the inner engine starts empty, with no registry: it gets the course's images as a classroom
  does, from a folder written by ``python -m helpers images-archive`` (COURSE_IMAGE_ARCHIVE).

Inside the user container, as the notebook user: the image's start hook, ``python -m helpers
preflight`` (ready), notebook 01 live under nbval-lax, a port published by the inner engine
answers on the container's own 127.0.0.1, and a folder of the home volume bind-mounts with its
files. Everything is named ``course-pod-test-<hex>-…`` and removed afterwards, pass or fail
(the build cache stays, so a second run reuses the image layers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from helpers import resolver, settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "jupyterhub"
POD = Path(__file__).resolve().parent / "pod"
ENGINE_BINARIES = ("dockerd", "containerd", "containerd-shim-runc-v2", "runc", "docker-proxy",
                   "docker-init")
ARCHIVE_IN_POD = "/srv/images-archive"
BUILD_SECONDS = 1200  # a first build installs the course's dependencies from the package index
NOTEBOOK_SECONDS = 900


def _docker(*args: str, timeout: float = 120, check: bool = True,
            ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise AssertionError(f"`docker {' '.join(args)}` exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def _unavailable(reason: str) -> None:
    """Skip on a machine that cannot build the pod; under COURSE_REQUIRE_ENGINE=1 fail instead."""
    if settings.require_engine():
        pytest.fail(reason)
    pytest.skip(reason)


def _find_engine_binaries() -> dict[str, Path]:
    """dockerd and its companions: .ci/docker-stack's unpacked stack first, then PATH."""
    stack = settings.cache_dir() / "docker-stack" / "root" / "usr"
    folders = [stack / "bin", stack / "sbin",
               *(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p),
               Path("/usr/bin"), Path("/usr/sbin"), Path("/usr/libexec/docker")]
    found: dict[str, Path] = {}
    for name in ENGINE_BINARIES:
        for folder in folders:
            candidate = folder / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                found[name] = candidate.resolve()
                break
        else:
            _unavailable(f"no {name} on this machine (run `.ci/docker-stack install`)")
    return found


def _find_cli() -> dict[str, Path]:
    """The docker CLI, and the buildx and Compose plugins it uses (paths from `docker info`)."""
    cli = shutil.which("docker")
    if cli is None:
        _unavailable("no docker CLI on PATH")
    info = json.loads(_docker("info", "--format", "{{json .ClientInfo.Plugins}}").stdout)
    plugins = {p["Name"]: Path(p["Path"]).resolve() for p in info or [] if not p.get("Err")}
    found = {"docker": Path(cli).resolve()}
    for name in ("buildx", "compose"):
        if name not in plugins:
            _unavailable(f"the docker CLI has no {name} plugin")
        found[f"docker-{name}"] = plugins[name]
    return found


def _stage(files: dict[str, Path], folder: Path) -> Path:
    """Hard links (copies across file systems) under the names the Dockerfiles COPY."""
    folder.mkdir(parents=True)
    for name, source in files.items():
        try:
            os.link(source, folder / name)
        except OSError:
            shutil.copy2(source, folder / name)
    return folder


def _dind_sidecar(values: dict) -> dict:
    (dind,) = [c for c in values["singleuser"]["extraContainers"] if c["name"] == "dind"]
    return dind


class Pod:
    """The names of one test pod's objects, and their removal."""

    def __init__(self) -> None:
        prefix = f"course-pod-test-{uuid.uuid4().hex[:8]}"
        self.engine_image = f"{prefix}-engine:test"
        self.user_image = f"{prefix}-user:test"
        self.engine = f"{prefix}-engine"
        self.user = f"{prefix}-user"
        self.volumes: dict[str, str] = {}  # mount path in the pod -> volume name
        self.prefix = prefix
        self.builds: list[subprocess.Popen[str]] = []

    def volume(self, path: str) -> str:
        name = f"{self.prefix}-{path.strip('/').replace('/', '-')}"
        self.volumes[path] = name
        return name

    def engine_log(self) -> str:
        done = _docker("logs", "--tail", "40", self.engine, check=False)
        return (done.stdout + done.stderr)[-4000:]

    def remove(self) -> None:
        for proc in self.builds:  # a build still running would tag its image after this
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        _docker("rm", "--force", "--volumes", self.user, self.engine, check=False, timeout=120)
        for name in self.volumes.values():
            _docker("volume", "rm", "--force", name, check=False)
        _docker("image", "rm", "--force", self.user_image, self.engine_image, check=False)


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[Pod]:
    made = Pod()
    try:
        yield made
    finally:
        made.remove()
        shutil.rmtree(tmp_path / "images-archive", ignore_errors=True)  # tens of MB


def _build(tag: str, dockerfile: Path, context: Path, bin_folder: Path,
           base: str) -> subprocess.Popen[str]:
    """``docker build`` with the host's network: RUN steps reach the package index through the
    machine's gateway (the stand-in base trusts the host's CA certificates)."""
    return subprocess.Popen(
        ["docker", "build", "--quiet", "--network", "host", "--file", str(dockerfile),
         "--build-context", f"bin={bin_folder}", "--build-arg", f"BASE_IMAGE={base}",
         "--tag", tag, str(context)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen[str], what: str, timeout: float) -> None:
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        raise AssertionError(f"{what} took over {timeout:.0f} s:\n{output[-3000:]}") from None
    assert proc.returncode == 0, f"{what} failed:\n{output[-3000:]}"


def _in_user(pod: Pod, *command: str, timeout: float = 180,
             workdir: str | None = None) -> subprocess.CompletedProcess[str]:
    args = ["exec"] + (["--workdir", workdir] if workdir else []) + [pod.user, *command]
    return _docker(*args, timeout=timeout, check=False)


def _report(done: subprocess.CompletedProcess[str], pod: Pod) -> str:
    return (f"exit {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}\n"
            f"--- engine container log ---\n{pod.engine_log()}")


def test_notebook_01_runs_live_in_the_hub_pod_shape(pod: Pod, tmp_path: Path) -> None:
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    single = values["singleuser"]
    dind = _dind_sidecar(values)
    env = {k: str(v) for k, v in single["extraEnv"].items()}
    home = single["storage"]["homeMountPath"]
    socket = env["DOCKER_HOST"].removeprefix("unix://")
    timings: dict[str, float] = {}
    started = time.monotonic()

    python_base = resolver.resolve("python").reference
    bin_folder = _stage({**_find_engine_binaries(), **_find_cli()}, tmp_path / "bin")
    builds = [(_build(pod.engine_image, POD / "Dockerfile.engine", POD, bin_folder, python_base),
               "the engine image"),
              (_build(pod.user_image, POD / "Dockerfile.user", ROOT, bin_folder, python_base),
               "the user image")]
    pod.builds += [proc for proc, _ in builds]
    # The instructor's step for a classroom without a registry, while the images build
    archive = tmp_path / "images-archive"
    saved = subprocess.run([sys.executable, "-m", "helpers", "images-archive", str(archive),
                            "--only", "shell", "python"],
                           capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    timings["images archive"] = time.monotonic() - started
    for proc, what in builds:
        _finish(proc, f"building {what}", BUILD_SECONDS)
    pod.builds.clear()
    timings["builds"] = time.monotonic() - started

    # The home volume as the kubelet hands it over (fsGroup: group `users` may write)
    home_volume = pod.volume(home)
    _docker("run", "--rm", "--user", "0", "--mount", f"type=volume,src={home_volume},dst={home}",
            "--entrypoint", "sh", pod.user_image, "-c",
            f"chown {single['uid']}:{single['fsGid']} {home} && chmod 2775 {home}")

    # The sidecar: the chart's arguments, environment and mounts
    mounts: list[str] = []
    for mount in dind["volumeMounts"]:
        path = mount["mountPath"]
        name = home_volume if path == home else pod.volume(path)
        mounts += ["--mount", f"type=volume,src={name},dst={path}"]
    dind_env = [f"--env={e['name']}={e['value']}" for e in dind.get("env", [])]
    assert dind["securityContext"]["privileged"] is True
    _docker("run", "--detach", "--name", pod.engine, "--privileged", *mounts, *dind_env,
            pod.engine_image, *dind["args"])

    # The notebook container joins the engine's network namespace; the chart's extraVolumeMounts
    # (the socket) and the home volume at the same path
    user_mounts = ["--mount", f"type=volume,src={home_volume},dst={home}"]
    for mount in single["storage"]["extraVolumeMounts"]:
        (volume_name,) = [n for p, n in pod.volumes.items() if p == mount["mountPath"]]
        user_mounts += ["--mount", f"type=volume,src={volume_name},dst={mount['mountPath']}"]
    user_env = [f"--env={k}={v}" for k, v in env.items()]
    _docker("run", "--detach", "--name", pod.user, "--network", f"container:{pod.engine}",
            *user_mounts, "--mount", f"type=bind,src={archive},dst={ARCHIVE_IN_POD},readonly",
            *user_env, f"--env=COURSE_IMAGE_ARCHIVE={ARCHIVE_IN_POD}",
            pod.user_image, "sleep", "infinity")

    course = env["COURSE_ROOT"]
    hook = _in_user(pod, "bash", "/usr/local/bin/before-notebook.d/50-docker-course.sh",
                    timeout=120)
    assert hook.returncode == 0 and "no engine socket" not in hook.stderr, _report(hook, pod)
    whoami = _in_user(pod, "sh", "-c", f"id -u; stat -c %g {socket}")
    assert whoami.stdout.split() == [str(single["uid"]), str(single["fsGid"])], \
        _report(whoami, pod)
    timings["pod up"] = time.monotonic() - started

    preflight = _in_user(pod, "python", "-m", "helpers", "preflight", workdir=course,
                         timeout=300)
    assert preflight.returncode == 0 and "Ready." in preflight.stdout, _report(preflight, pod)
    assert f"{env['DOCKER_HOST']} (DOCKER_HOST)" in preflight.stdout, preflight.stdout
    for key in ("shell", "python"):  # the inner engine starts empty: the archive is seen
        assert f"image: {key}" in preflight.stdout
        assert f"in archive {ARCHIVE_IN_POD}" in preflight.stdout.split(f"image: {key}")[1] \
            .splitlines()[0], preflight.stdout
    timings["preflight"] = time.monotonic() - started

    notebook = _in_user(pod, "python", "-m", "pytest", "-x", "-p", "no:cacheprovider",
                        "--nbval-lax", "--nbval-current-env",
                        "notebooks/01_containers_vs_vms.ipynb",
                        workdir=course, timeout=NOTEBOOK_SECONDS)
    assert notebook.returncode == 0, _report(notebook, pod)
    assert " passed" in notebook.stdout, notebook.stdout
    timings["notebook 01"] = time.monotonic() - started

    # What the course relies on in the pod: a published port answers on the notebook
    # container's own 127.0.0.1, and a folder of the home volume is the same folder for the
    # engine (the course bind-mounts paths it names)
    shell = resolver.resolve("shell").reference
    probe = _in_user(pod, "sh", "-c", f"""
set -e
docker run --detach --name {pod.prefix}-web --publish 127.0.0.1:8080:8000 {shell} \
  httpd -f -p 8000 -h /etc >/dev/null
trap 'docker rm --force {pod.prefix}-web >/dev/null' EXIT
python -c '
import time, urllib.request
for _ in range(50):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:8080/hostname", timeout=2).status)
        break
    except OSError:
        time.sleep(0.2)
'
docker run --rm --mount type=bind,src={course}/data/apps,dst=/apps,readonly {shell} ls /apps
""", timeout=120)
    assert probe.returncode == 0, _report(probe, pod)
    lines = probe.stdout.split()
    assert lines[0] == "200", _report(probe, pod)
    assert "signals" in lines, _report(probe, pod)
    timings["pod checks"] = time.monotonic() - started
    print("pod test timings (s, cumulative): "
          + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
