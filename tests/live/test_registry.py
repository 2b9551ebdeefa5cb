"""A private registry on the real engine: login, push, pull back, digests, and what goes wrong."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests

from helpers import catalog, course, journal, labels, manifests, ports, resolver, settings
from helpers.engine import images, objects
from helpers.engine import registry as reg
from helpers.engine import registry_api as api
from helpers.engine import registry_auth as auth
from helpers.engine.cleanup import BASE_NOTEBOOK, cleanup
from helpers.errors import CourseError, ImageUnavailable, LoginFailed, PullFailed, PushFailed
from helpers.lessons import registry as lesson
from helpers.scoping import scoped

HELLO = settings.APPS_DIR / "registry" / "hello"
DOCKER_CONFIG = Path.home() / ".docker" / "config.json"


def _config_snapshot() -> str | None:
    return DOCKER_CONFIG.read_text() if DOCKER_CONFIG.exists() else None


def _tool(image: resolver.ResolvedImage) -> tuple[str, str]:
    if image.is_official:
        return "python", resolver.resolve("python").reference
    return "htpasswd", image.reference


class Lab:
    """One registry and two builds of the sample image, shared by the tests of this module."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.image = resolver.resolve("registry")
        tool, tool_image = _tool(self.image)
        self.endpoint = reg.start_local(self.image.reference, name=f"{scope}-registry",
                                        host_port=ports.free_port(), tool_image=tool_image,
                                        tool=tool)
        self.v1 = course.build_image(f"docker-course/{scope}-hello:1.0", context=HELLO,
                                     build_args={"RELEASE": "1.0"})
        self.v2 = course.build_image(f"docker-course/{scope}-hello:1.1", context=HELLO,
                                     build_args={"RELEASE": "1.1"})
        # a third release for the tests that look at what a tag points at: its last layer is
        # never pushed by the layer-reuse tests
        self.v3 = course.build_image(f"docker-course/{scope}-hello:2.0", context=HELLO,
                                     build_args={"RELEASE": "2.0"})


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    scope = f"test-{uuid.uuid4().hex[:8]}"
    with scoped(scope, tmp_path_factory.mktemp("state")):
        made = None
        try:
            made = Lab(scope)
            yield made
        finally:
            if made is not None:
                auth.forget(made.endpoint)
            cleanup(scope)


def _course_containers(scope: str) -> list[str]:
    found = docker.from_env().containers.list(all=True, filters=labels.filters(scope))
    return sorted(c.name for c in found)


def test_standin_is_labelled_as_a_base_and_runs_like_registry_2(lab: Lab) -> None:
    if lab.image.is_official:
        pytest.skip("the official registry:2 is in use here")
    assert lab.image.reference == catalog.get("registry").standin
    attrs = docker.from_env().images.get(lab.image.reference).attrs
    config = attrs["Config"]
    assert config["Labels"][labels.IMAGE_NOTEBOOK_KEY] == BASE_NOTEBOOK
    assert config["Entrypoint"] == ["/entrypoint.sh"]
    assert config["Cmd"] == ["/etc/docker/registry/config.yml"]
    assert "5000/tcp" in config["ExposedPorts"] and "/var/lib/registry" in config["Volumes"]
    code, output = reg._run_tool(lab.image.reference, ["--version"], env={}, volumes={},
                                 shown="--version")
    assert code == 0 and "registry" in output and "2.8" in output


def test_registry_listens_on_loopback_only(lab: Lab) -> None:
    bindings = reg.port_bindings(lab.endpoint.container)
    assert bindings and {b["host address"] for b in bindings} == {"127.0.0.1"}
    host_config = docker.from_env().containers.get(lab.endpoint.container).attrs["HostConfig"]
    assert {b["HostIp"] for b in host_config["PortBindings"]["5000/tcp"]} == {"127.0.0.1"}
    # and from another address of this machine, nothing answers on that port
    try:
        other = socket.gethostbyname(socket.gethostname())
    except OSError:
        other = ""
    if other and not other.startswith("127."):
        with pytest.raises(requests.RequestException):
            requests.get(f"http://{other}:{lab.endpoint.host_port}/v2/", timeout=3)


def test_registry_refuses_anonymous_api_and_unauthenticated_push(lab: Lab) -> None:
    auth.logout(lab.endpoint)
    answer = api.api_request(lab.endpoint, "/v2/_catalog", anonymous=True)
    assert answer.status == 401 and "Basic" in answer.headers["WWW-Authenticate"]
    target = lab.endpoint.repository("refused:1")
    with pytest.raises(PushFailed) as failure:
        reg.push(lab.v1.tag, target, lab.endpoint, quiet=True)
    assert isinstance(failure.value, CourseError)
    assert "no basic auth credentials" in failure.value.message
    assert failure.value.message.count("\n") == 0 and "log in first" in failure.value.hint
    assert images.inspect(target) is None  # the tag made for the push is gone again


def test_wrong_password_is_one_clear_error_and_changes_nothing(lab: Lab) -> None:
    before = _config_snapshot()
    containers_before = _course_containers(lab.scope)
    with pytest.raises(LoginFailed) as failure:
        lesson.login(lab.endpoint, password="not-the-password")
    assert "refused the login of 'student'" in failure.value.message
    assert "401" in failure.value.message and failure.value.hint
    assert "not-the-password" not in failure.value.render()
    assert not auth.logged_in(lab.endpoint.address)
    assert _course_containers(lab.scope) == containers_before
    assert _config_snapshot() == before


def test_pushing_an_image_that_does_not_exist_is_clear_and_leaves_nothing(lab: Lab) -> None:
    lesson.login(lab.endpoint)
    containers_before = _course_containers(lab.scope)
    with pytest.raises(ImageUnavailable, match="no image called"):
        lesson.push(lab.endpoint, f"docker-course/{lab.scope}-missing:0", "missing:0")
    assert images.inspect(lab.endpoint.repository("missing:0")) is None
    assert _course_containers(lab.scope) == containers_before
    assert api.api_request(lab.endpoint, "/v2/course/missing/tags/list").status == 404


def test_push_pull_round_trip_keeps_the_digest(lab: Lab) -> None:
    before = _config_snapshot()
    lesson.login(lab.endpoint)
    pushed = lesson.push(lab.endpoint, lab.v1.tag, "hello:1.0")
    assert pushed.digest.startswith("sha256:") and pushed.layers_sent == len(pushed.layers)
    assert pushed.bytes_sent > 1_000_000  # the base layer went up
    lesson.remove_local([pushed.reference, lab.v1.tag])
    assert images.inspect(pushed.reference) is None
    pulled = lesson.pull(lab.endpoint, "hello:1.0")
    assert pulled.digest == pushed.digest
    # the image ID is the config digest (classic store) or the index digest (containerd store)
    assert pulled.image_id == lab.v1.image_id
    assert pulled.status.startswith("Downloaded newer image for ")
    assert len(pulled.rows) == len(pushed.layers)  # every layer accounted for, listed or not
    assert pulled.layers_downloaded + pulled.layers_already_here == len(pulled.rows)
    assert [r.size_bytes for r in pulled.rows] == [r.size_bytes for r in pushed.layers]
    evidence = lesson.digest_evidence(lab.endpoint, "hello:1.0", pushed, pulled)
    assert evidence["same as pushed"].all(), evidence
    assert set(evidence["digest"]) == {pushed.digest}
    assert _config_snapshot() == before  # docker login here never writes config.json


def test_what_the_tag_points_at_matches_the_image_store(lab: Lab) -> None:
    """containerd store: an OCI index with the platform manifest and BuildKit's attestation;
    classic store: one Docker v2 manifest. Either way the layers table reads the right one."""
    lesson.login(lab.endpoint)
    pushed = lesson.push(lab.endpoint, lab.v3.tag, "layout:1.1")  # as built, never pulled
    assert pushed.note == ""
    entries = lesson.index_table(lab.endpoint, "layout:1.1")
    trial = lesson.accept_trial(lab.endpoint, "layout:1.1")
    assert trial.loc["all four manifest types", "HTTP status"] == 200
    layers = lesson.manifest_layers(lab.endpoint, "layout:1.1")
    assert len(layers) == 1 + len(pushed.layers)
    assert layers.loc["layer 1", "size_bytes"] > 1_000_000
    if pushed.pushed == "OCI image index":
        assert images_store() == "containerd"
        kinds = list(entries["what it is"])
        assert kinds[0].startswith("platform manifest (a pull here uses this one)")
        assert entries.iloc[0]["digest"] == pushed.platform_manifest != pushed.digest
        attestations = entries[entries["platform"] == "unknown/unknown"]
        assert len(attestations) >= 1  # BuildKit's default provenance (min mode)
        assert all(w.startswith("attestation of " + pushed.platform_manifest[:19])
                   for w in attestations["what it is"])
        assert any("slsa.dev/provenance" in w for w in attestations["what it is"])
        refused = trial.loc["Docker v2 manifest only"]
        assert refused["HTTP status"] == 404
        assert "accept header does not support OCI indexes" in refused["registry error"]
    else:
        assert pushed.pushed.startswith("Docker v2 manifest")
        assert list(entries["what it is"]) == ["the tag points at this manifest directly: "
                                               "no index"]
        assert entries.iloc[0]["digest"] == pushed.digest == pushed.platform_manifest
        assert trial.loc["Docker v2 manifest only", "HTTP status"] == 200


def test_re_pushing_a_pulled_image_keeps_the_platform_manifest(lab: Lab) -> None:
    """containerd store: a pulled image holds one platform and no attestations, so the engine
    pushes the platform manifest instead of the index, and says so; the digests stay honest."""
    lesson.login(lab.endpoint)
    local = course.build_image(f"docker-course/{lab.scope}-hello:again", context=HELLO,
                               build_args={"RELEASE": "again"}).tag
    built = lesson.push(lab.endpoint, local, "again:1.1")
    pulled_name = lab.endpoint.repository("again:1.1")
    lesson.remove_local([pulled_name, local])  # as in the notebook: no local copy is left
    lesson.pull(lab.endpoint, "again:1.1")
    again = lesson.push(lab.endpoint, pulled_name, "again:copy")
    tags = lesson.tags(lab.endpoint, "again")
    assert tags.loc["copy", "digest"] == again.digest
    if built.pushed == "OCI image index":
        assert "pushed the linux/" in again.note and again.note.endswith("that digest")
        assert again.digest == built.platform_manifest != built.digest
        assert again.pushed == "OCI image manifest"
    else:
        assert again.note == "" and again.digest == built.digest


def images_store() -> str:
    """Which image store the engine runs: "containerd" (snapshotter) or the graph driver."""
    info = docker.from_env().info()
    status = dict(info.get("DriverStatus") or [])
    return "containerd" if "io.containerd.snapshotter" in str(status.get("driver-type", "")) \
        else str(info.get("Driver"))


def test_printed_curl_lines_send_what_the_helper_sent(lab: Lab) -> None:
    """Printed = executed: the journaled curl line, with the password filled in, gets the very
    manifest bytes (same digest) the helper got."""
    lesson.login(lab.endpoint)
    source = lab.v1.tag if images.inspect(lab.v1.tag) else lab.endpoint.repository("hello:1.0")
    lesson.push(lab.endpoint, source, "hello:1.0")
    path = "/v2/course/hello/manifests/1.0"
    answer = api.api_request(lab.endpoint, path, accept=manifests.MANIFEST_TYPES)
    line = journal.read()[-1].cli
    assert line == api.curl_line(lab.endpoint, path, accept=manifests.MANIFEST_TYPES)
    assert line.count("-H 'Accept: ") == len(manifests.MANIFEST_TYPES)
    password = auth.generated_credentials(lab.endpoint.address).password
    typed = subprocess.run(line.replace("***", password), shell=True, capture_output=True,
                           check=True, timeout=30).stdout
    assert "sha256:" + hashlib.sha256(typed).hexdigest() == answer.digest_of_body


def test_a_push_with_a_wrong_password_is_one_clear_error_and_leaves_nothing(lab: Lab) -> None:
    """A login that went stale (the registry's password changed): PushFailed, tag removed."""
    target = lab.endpoint.repository("stale:1")
    containers_before = _course_containers(lab.scope)
    auth._SESSIONS[lab.endpoint.address] = auth.Credentials("student", "not-the-password")
    try:
        with pytest.raises(PushFailed) as failure:
            reg.push(lab.v2.tag, target, lab.endpoint, quiet=True)
    finally:
        auth.logout(lab.endpoint)
    message = failure.value.message
    assert message.startswith(f"Pushing {target} failed: ") and "401 Unauthorized" in message
    assert "log in again" in failure.value.hint
    assert "not-the-password" not in failure.value.render()
    assert images.inspect(target) is None
    assert _course_containers(lab.scope) == containers_before
    lesson.login(lab.endpoint)
    assert api.api_request(lab.endpoint, "/v2/course/stale/tags/list").status == 404


def test_second_push_sends_only_the_new_layer(lab: Lab) -> None:
    lesson.login(lab.endpoint)
    lesson.push(lab.endpoint, lab.v1.tag if images.inspect(lab.v1.tag) else
                lab.endpoint.repository("hello:1.0"), "hello:1.0")
    second = lesson.push(lab.endpoint, lab.v2.tag, "hello:1.1")
    assert second.layers_sent == 1 and second.layers_reused == len(second.layers) - 1
    assert second.bytes_sent < 10_000 < second.bytes_reused
    frame = lesson.reuse_frame({"1.1": second})
    assert int(frame.loc["1.1", "bytes_sent"]) == second.bytes_sent
    tags = lesson.tags(lab.endpoint, "hello")
    assert {"1.0", "1.1"} <= set(tags.index)
    assert tags.loc["1.1", "digest"] == second.digest
    listed = lesson.catalog(lab.endpoint)
    assert "course/hello" in listed.index


def test_passwords_stay_out_of_results_journal_and_files(lab: Lab) -> None:
    password = auth.generated_credentials(lab.endpoint.address).password
    assert password not in repr(lab.endpoint) and password not in json.dumps(
        lab.endpoint.__dict__)
    lines = journal.journal_path().read_text(encoding="utf-8")
    assert password not in lines and "REGISTRY_PASSWORD=***" in lines
    secret_file = Path(lab.endpoint.password_file)
    assert secret_file.read_text().strip() == password
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"


def test_password_file_made_with_python_works_for_the_official_image_path(scope) -> None:
    """registry:2 has no htpasswd: the course makes the bcrypt file in the Python image."""
    image = resolver.resolve("registry").reference
    python = resolver.resolve("python").reference
    endpoint = reg.start_local(image, name=f"{scope}-registry", host_port=ports.free_port(),
                               tool_image=python, tool="python")
    try:
        assert auth.login(endpoint) == "Login Succeeded"
        assert api.api_request(endpoint, "/v2/_catalog").status == 200
    finally:
        auth.forget(endpoint)


def test_cleanup_removes_the_registry_and_spares_hand_made_objects(scope, shell_image) -> None:
    engine = docker.from_env()
    mine = f"hand-made-{uuid.uuid4().hex[:6]}"
    engine.containers.create(shell_image, ["true"], name=mine)
    engine.volumes.create(mine)
    engine.networks.create(mine)
    image = resolver.resolve("registry")
    tool, tool_image = _tool(image)
    endpoint = reg.start_local(image.reference, name=f"{scope}-registry",
                               host_port=ports.free_port(), tool_image=tool_image, tool=tool)
    try:
        report = cleanup(scope)
        assert report.containers == [f"{scope}-registry"]
        assert sorted(report.volumes) == [f"{scope}-registry-auth", f"{scope}-registry-data"]
        assert engine.containers.list(all=True, filters=labels.filters(scope)) == []
        assert engine.volumes.list(filters=labels.filters(scope)) == []
        assert images.inspect(image.reference) is not None  # the base image is kept
        engine.containers.get(mine)
        engine.volumes.get(mine)
        assert [n.name for n in engine.networks.list(names=[mine])] == [mine]
    finally:
        auth.forget(endpoint)
        engine.containers.get(mine).remove(force=True)
        engine.volumes.get(mine).remove()
        for network in engine.networks.list(names=[mine]):
            network.remove()


def test_a_failed_start_leaves_nothing(scope) -> None:
    """A registry image that cannot make the password file: no container, no volume remain."""
    shell = resolver.resolve("shell").reference  # busybox has neither htpasswd nor python3
    with pytest.raises(CourseError):
        reg.start_local(resolver.resolve("registry").reference, name=f"{scope}-registry",
                        host_port=ports.free_port(), tool_image=shell, tool="python")
    assert _course_containers(scope) == []
    assert docker.from_env().volumes.list(filters=labels.filters(scope)) == []
    assert objects.remove_volume(f"{scope}-registry-auth") is False


def test_pushing_under_another_name_mounts_every_blob(lab: Lab) -> None:
    """The notebook's exercise: nothing is uploaded, the blobs are mounted across repositories."""
    lesson.login(lab.endpoint)
    source = lab.v1.tag if images.inspect(lab.v1.tag) else lab.endpoint.repository("hello:1.0")
    original = lesson.push(lab.endpoint, source, "hello:1.0")
    copy = lesson.push(lab.endpoint, source, "hello-copy:1.0")
    assert copy.bytes_sent == 0 and copy.layers_reused == len(copy.layers)
    assert all(row.status.startswith(("Mounted from", "Layer already exists"))
               for row in copy.layers)
    assert copy.digest == original.digest
    assert "course/hello-copy" in lesson.catalog(lab.endpoint).index


def test_pulling_a_tag_that_does_not_exist_is_clear(lab: Lab) -> None:
    lesson.login(lab.endpoint)
    with pytest.raises(PullFailed, match=r"Pulling .*hello:9\.9 failed") as failure:
        lesson.pull(lab.endpoint, "hello:9.9")
    assert "manifest unknown" in failure.value.message.lower() or "not found" in \
        failure.value.message.lower()
    assert images.inspect(lab.endpoint.repository("hello:9.9")) is None
