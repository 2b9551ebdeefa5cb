"""deploy/jupyterhub: chart values that validate against Zero to JupyterHub's values schema, and
a pod shape the course works in (one engine per learner, sharing the notebook's network
namespace, the socket and the home folder at the same paths), without a cluster."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "jupyterhub"
SCHEMA = ROOT.parent / "shared" / "schemas" / "z2jh-values.schema.yaml"
VALUES = ("values.yaml", "values-sysbox.yaml")


def _values(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def _without_required(node):
    """A values file overrides the chart's defaults, so required keys come from the chart."""
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


@pytest.fixture(scope="module")
def validator():
    if not SCHEMA.exists():
        pytest.skip("../shared/schemas/z2jh-values.schema.yaml is not here")
    schema = _without_required(yaml.safe_load(SCHEMA.read_text()))
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.mark.parametrize("name", VALUES)
def test_values_validate_against_the_chart_schema(validator, name: str) -> None:
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in validator.iter_errors(_values(name))]
    assert errors == []


def test_the_schema_check_is_real(validator) -> None:
    broken = copy.deepcopy(_values("values.yaml"))
    broken["singleuser"]["storage"]["homeMountPoint"] = "/home/jovyan"  # a typo of a real key
    assert list(validator.iter_errors(broken))
    broken = copy.deepcopy(_values("values.yaml"))
    broken["singleuser"]["cpu"]["limit"] = "two"
    assert list(validator.iter_errors(broken))


def _dind(values: dict) -> dict:
    containers = values["singleuser"]["extraContainers"]
    (dind,) = [c for c in containers if c["name"] == "dind"]
    return dind


def _arg(container: dict, flag: str) -> list[str]:
    return [a.split("=", 1)[1] for a in container["args"] if a.startswith(f"{flag}=")]


@pytest.mark.parametrize("name", VALUES)
def test_one_engine_per_learner_on_a_shared_unix_socket(name: str) -> None:
    values = _values(name)
    user = values["singleuser"]
    dind = _dind(values)
    assert dind["image"].startswith("docker:") and dind["image"].endswith("-dind")
    hosts = _arg(dind, "--host")
    assert len(hosts) == 1 and hosts[0].startswith("unix://"), "a unix socket, never TCP"
    socket = Path(hosts[0].removeprefix("unix://"))
    assert user["extraEnv"]["DOCKER_HOST"] == hosts[0]
    assert {"name": "DOCKER_TLS_CERTDIR", "value": ""} in dind["env"]
    shared = {m["name"]: m["mountPath"] for m in dind["volumeMounts"]}
    notebook = {m["name"]: m["mountPath"] for m in user["storage"]["extraVolumeMounts"]}
    socket_volumes = [n for n, path in notebook.items() if path == str(socket.parent)]
    assert socket_volumes and shared[socket_volumes[0]] == str(socket.parent)
    assert _arg(dind, "--group") == [str(user["fsGid"])], "the notebook user's group owns it"
    assert user["uid"] != 0 and user["extraEnv"]["COURSE_MODE"] == "live"


@pytest.mark.parametrize("name", VALUES)
def test_engine_scratch_and_the_home_at_the_same_path(name: str) -> None:
    values = _values(name)
    storage = values["singleuser"]["storage"]
    dind = _dind(values)
    mounts = {m["mountPath"]: m["name"] for m in dind["volumeMounts"]}
    volumes = {v["name"]: v for v in storage["extraVolumes"]}
    for path in ("/var/lib/docker", "/var/lib/containerd"):
        assert "emptyDir" in volumes[mounts[path]], f"{path} is per-pod scratch"
    home = storage["homeMountPath"]
    assert mounts[home] == storage["dynamic"]["volumeNameTemplate"], \
        "the engine must see the learner's home at the notebook's path (bind mounts)"
    assert values["singleuser"]["extraEnv"]["COURSE_ROOT"].startswith(home + "/")
    assert values["singleuser"]["defaultUrl"].endswith("/notebooks/01_containers_vs_vms.ipynb")
    course_dir = values["singleuser"]["extraEnv"]["COURSE_ROOT"].removeprefix(home + "/")
    assert values["singleuser"]["defaultUrl"].startswith(f"/lab/tree/{course_dir}/notebooks/")


@pytest.mark.parametrize("name", VALUES)
def test_smaller_mtu_and_a_mirror_the_network_policy_lets_through(name: str) -> None:
    values = _values(name)
    dind = _dind(values)
    assert int(_arg(dind, "--mtu")[0]) < 1500
    assert "bridge=com.docker.network.driver.mtu=" in " ".join(dind["args"])
    mirror = _arg(dind, "--registry-mirror")[0]
    port = int(re.search(r":(\d+)$", mirror).group(1))
    service_name = mirror.split("//", 1)[1].split(".", 1)[0]
    documents = list(yaml.safe_load_all((DEPLOY / "registry-mirror.yaml").read_text()))
    (service,) = [d for d in documents if d["kind"] == "Service"]
    assert service["metadata"]["name"] == service_name
    assert service["spec"]["ports"][0]["port"] == port
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    policy = values["singleuser"]["networkPolicy"]
    assert policy["enabled"]
    allowed = [rule for rule in policy["egress"]
               if any(p["port"] == port for p in rule["ports"])
               and any(t["podSelector"]["matchLabels"].items() <= labels.items()
                       for t in rule["to"])]
    assert allowed, "the singleuser policy blocks private IPs: the mirror needs its own rule"
    assert any(i["name"] == "docker" for i in values["prePuller"]["extraImages"].values())


def test_the_default_variant_is_privileged_and_sysbox_is_not() -> None:
    assert _dind(_values("values.yaml"))["securityContext"]["privileged"] is True
    sysbox = _values("values-sysbox.yaml")
    assert sysbox["singleuser"]["extraPodConfig"]["runtimeClassName"] == "sysbox-runc"
    for container in sysbox["singleuser"]["extraContainers"]:
        assert container.get("securityContext", {}).get("privileged") is not True


def test_the_two_variants_differ_only_where_sysbox_needs_it() -> None:
    plain, sysbox = _values("values.yaml"), _values("values-sysbox.yaml")
    for values in (plain, sysbox):
        _dind(values).pop("securityContext")
        values["singleuser"].pop("extraPodConfig", None)
        values["singleuser"].pop("extraAnnotations", None)
    assert plain == sysbox


def test_user_image_is_non_root_with_the_cli_compose_and_live_mode() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.M)
    assert users and users[-1] not in ("root", "0"), "the image must end as the notebook user"
    for plugin in ("docker-buildx", "docker-compose"):
        assert f"cli-plugins/{plugin}" in dockerfile
    assert "/usr/local/bin/docker " in dockerfile
    assert "COURSE_MODE=live" in dockerfile
    values = _values("values.yaml")["singleuser"]["extraEnv"]
    assert f"DOCKER_HOST={values['DOCKER_HOST']}" in dockerfile
    assert "pip install --no-cache-dir '/opt/docker-course[lab]'" in dockerfile  # not editable
    copied = re.findall(r"^COPY (deploy/jupyterhub/\S+)", dockerfile, flags=re.M)
    assert copied and all((ROOT / path).is_file() for path in copied)
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)
    hook = (DEPLOY / "before-notebook.sh").read_text()
    assert hook.startswith("#!/usr/bin/env bash") and "cp -rn /opt/docker-course/." in hook
