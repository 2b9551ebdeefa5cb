"""Repository conventions, checked offline: the GitHub workflow against GitHub's workflow schema
(as vendored by check-jsonschema), the pre-commit config, .gitattributes, the instructor guide."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the key `on` as True
    return workflow.get("on", workflow.get(True))


def _steps_text(job: dict) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) for step in job["steps"])


def test_workflow_validates_against_the_github_workflow_schema() -> None:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema comes with .[dev]")
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "github-workflows.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    workflow = {("on" if key is True else key): value for key, value in _workflow().items()}
    assert [e.message for e in validator.iter_errors(workflow)] == []
    broken = {**workflow, "jobs": {"test": {**workflow["jobs"]["test"], "runs-on": None,
                                            "stepz": []}}}
    assert list(validator.iter_errors(broken)), "the schema must catch a broken job"


def test_workflow_runs_make_test_on_a_hosted_runner_on_push_pr_and_weekly() -> None:
    workflow = _workflow()
    triggers = _triggers(workflow)
    assert {"push", "pull_request", "schedule", "workflow_dispatch"} <= set(triggers)
    (cron,) = [entry["cron"] for entry in triggers["schedule"]]
    fields = cron.split()
    assert len(fields) == 5 and fields[2] == "*" and fields[3] == "*" and fields[4].isdigit(), \
        "once a week"
    test = workflow["jobs"]["test"]
    assert test["runs-on"].startswith("ubuntu-")
    assert re.search(r"^make test$", _steps_text(test), flags=re.M)
    assert set(test["strategy"]["matrix"]["store"]) == {"overlay2", "containerd"}
    assert workflow["permissions"] == {"contents": "read"}


def test_workflow_has_the_lowest_versions_and_the_recording_jobs() -> None:
    jobs = _workflow()["jobs"]
    assert "make lowest" in _steps_text(jobs["lowest"])
    record = jobs["record"]
    assert "make record" in _steps_text(record)
    (upload,) = [s for s in record["steps"] if str(s.get("uses", "")).startswith(
        "actions/upload-artifact@")]
    assert "data/recordings/" in upload["with"]["path"]
    assert "pull_request" not in record.get("if", ""), "recording is not for every pull request"
    assert "schedule" in record["if"] and "workflow_dispatch" in record["if"]


def test_workflow_actions_are_pinned_to_a_major_and_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step["uses"]
            for target in re.findall(r"\bmake (\w[\w-]*)", str(step.get("run", ""))):
                assert re.search(rf"^{target}:", makefile, flags=re.M), f"no make target {target}"


def _pyproject_pin(name: str) -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["optional-dependencies"]["dev"]:
        if requirement.startswith(f"{name}=="):
            return requirement
    raise AssertionError(f"{name} is not pinned in .[dev]")


def test_pre_commit_config_is_valid_and_uses_the_pinned_tools() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "check-github-workflows", "check-devcontainer", "launch-configs"} <= set(hooks)
    assert hooks["ruff"]["additional_dependencies"] == [_pyproject_pin("ruff")]
    assert "vendor.github-workflows" in hooks["check-github-workflows"]["entry"]
    assert re.match(hooks["check-github-workflows"]["files"], ".github/workflows/ci.yml")
    assert "devContainer.base.schema.json" in hooks["check-devcontainer"]["entry"]
    assert re.match(hooks["check-devcontainer"]["files"], ".devcontainer/devcontainer.json")
    for test_file in re.findall(r"tests/unit/\S+\.py", hooks["launch-configs"]["entry"]):
        assert (ROOT / test_file).is_file(), test_file
    if shutil.which("pre-commit") or (Path(sys.executable).parent / "pre-commit").exists():
        binary = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
        done = subprocess.run([binary, "validate-config", ".pre-commit-config.yaml"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_gitattributes_diff_notebooks_with_nbdime_and_mark_recordings_generated() -> None:
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(["git", "check-attr", "diff", "merge", "linguist-generated", "eol",
                           "--", "notebooks/01_containers_vs_vms.ipynb",
                           "data/recordings/01.json", ".devcontainer/start-lab"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    attributes = set(done.stdout.splitlines())
    assert "notebooks/01_containers_vs_vms.ipynb: diff: jupyternotebook" in attributes
    assert "notebooks/01_containers_vs_vms.ipynb: merge: jupyternotebook" in attributes
    assert "data/recordings/01.json: linguist-generated: true" in attributes
    assert ".devcontainer/start-lab: eol: lf" in attributes


def test_instructor_guide_covers_timing_checklist_failures_cleanup_and_the_hub() -> None:
    guide = (ROOT / "docs" / "instructor-guide.md").read_text()
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"| {notebook.name[:2]} " in guide, f"no timing for notebook {notebook.name[:2]}"
    for words in ("make preflight", "make images-archive", "docker login", "pull limit",
                  "python -m helpers cleanup", "COURSE_MODE=replay", "deploy/jupyterhub",
                  "MTU", "Sysbox", "registry-mirror.yaml"):
        assert words in guide, words
