"""Issue 13 (notebooks 02, 04, 05, 08): the course's Dockerfiles, the seed's files and the
pure helpers that show the seed's mistakes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from helpers import build_folders, course, settings
from helpers.lessons import compose as lesson
from helpers.lessons import registry

FLASK = settings.APPS_DIR / "flask-app"
SEED = settings.APPS_DIR / "seed"
TWO_TIER = settings.APPS_DIR / "two-tier"


def _instructions(path) -> list[str]:
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_app_dockerfile_copies_the_code_last_and_keeps_its_contract() -> None:
    lines = _instructions(FLASK / "Dockerfile")
    index = {name: next(i for i, line in enumerate(lines) if line.startswith(name))
             for name in ("RUN useradd", "RUN pip install", "COPY app.py", "USER 10001")}
    assert index["RUN useradd"] < index["RUN pip install"] < index["COPY app.py"]
    # nothing but settings after the code: no step that makes a layer
    assert all(not line.startswith(("RUN", "COPY", "ADD"))
               for line in lines[index["COPY app.py"] + 1:])
    assert "ARG REQUIREMENTS=requirements.txt" in lines
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in lines
    assert any(line.startswith("HEALTHCHECK") for line in lines)


def test_no_dockerfile_binds_a_fixed_port_that_env_port_cannot_change() -> None:
    for name in ("Dockerfile", "Dockerfile.single", "Dockerfile.single-tidy",
                 "Dockerfile.multistage", "Dockerfile.cachemount", "Dockerfile.copy-first"):
        lines = _instructions(FLASK / name)
        cmd = next(line for line in lines if line.startswith("CMD"))
        assert "--bind" not in cmd and cmd.startswith('CMD ["gunicorn"'), name
        assert any("PORT=5000" in line for line in lines if line.startswith("ENV")), name


def test_copy_first_variant_copies_everything_before_pip() -> None:
    lines = _instructions(FLASK / "Dockerfile.copy-first")
    assert lines.index("COPY . .") < next(i for i, line in enumerate(lines)
                                          if line.startswith("RUN pip install"))


def test_tidy_single_stage_installs_and_purges_in_one_step() -> None:
    runs = [line for line in _instructions(FLASK / "Dockerfile.single-tidy")
            if line.startswith("RUN apt-get")]
    assert len(runs) == 1
    assert all(word in runs[0] for word in ("apt-get install", "pip install", "purge",
                                            "rm -rf /var/lib/apt/lists/*"))
    assert len([line for line in _instructions(FLASK / "Dockerfile.single-tidy")
                if line.startswith("FROM")]) == 1


def test_seed_dockerfile_keeps_its_mistakes() -> None:
    text = (SEED / "Dockerfile").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "Builder stage"
    assert re.search(r"^FROM \S+ as builder$", text, re.M)
    assert "--target=/app/deps" in text and "PYTHONPATH" not in text
    assert "EXPOSE 80" in text and 'CMD ["python", "app.py"]' in text
    assert "python:3.9" in text
    corrected = (SEED / "Dockerfile.corrected").read_text(encoding="utf-8")
    assert "PYTHONPATH=/opt/deps" in corrected and " AS builder" in corrected
    assert "EXPOSE 5000" in corrected and "gunicorn" in corrected


def test_comment_out_first_line(tmp_path: Path) -> None:
    for text, wanted in (("Builder stage\nFROM x\n", "# Builder stage\nFROM x\n"),
                         ("# ok\nFROM x\n", "# ok\nFROM x\n")):
        (tmp_path / "Dockerfile").write_text(text, encoding="utf-8")
        build_folders.comment_out_first_line(tmp_path / "Dockerfile")
        assert (tmp_path / "Dockerfile").read_text(encoding="utf-8") == wanted


def test_seed_compose_file_keeps_its_mistakes_and_the_override_holds_the_plumbing() -> None:
    seed = yaml.safe_load((SEED / "compose.yaml").read_text(encoding="utf-8"))
    assert "version" in seed and "networks" not in seed
    assert seed["services"]["app"]["container_name"] == "flask-app"
    assert seed["services"]["app"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "healthcheck" not in seed["services"]["db"]
    assert seed["services"]["app"]["environment"]["MYSQL_USER"] == "root"
    assert "labels" not in str(seed)  # course plumbing stays in the override
    override = (SEED / "course.override.yaml").read_text(encoding="utf-8")
    assert "io.docker-course.notebook" in override and "127.0.0.1:" in override


def test_minimal_compose_file_has_no_course_plumbing() -> None:
    text = (TWO_TIER / "compose.minimal.yaml").read_text(encoding="utf-8")
    model = yaml.safe_load(text)
    assert set(model["services"]) == {"db", "app"} and "version" not in model
    assert "docker-course" not in text and "labels" not in text and "${" not in text


def _stack(model: dict) -> lesson.Stack:
    return lesson.Stack(project="course-08-seed", compose="docker compose 2.40.3",
                        files=["data/apps/seed/compose.yaml"], env_file="x.env", settings={},
                        app_port=5123, services=list(model["services"]), model=model)


def test_plain_passwords_masks_values_and_tells_files_apart() -> None:
    table = lesson.plain_passwords(_stack({"services": {
        "db": {"environment": {"MYSQL_ROOT_PASSWORD": "rootpassword", "MYSQL_DATABASE": "m"}},
        "app": {"environment": {"MYSQL_PASSWORD_FILE": "/run/secrets/db_password"}}}}))
    assert list(table["variable"]) == ["MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD_FILE"]
    assert table.iloc[0]["value"] == "**** (12 characters)"
    assert "rootpassword" not in table.to_string()
    assert list(table["in docker inspect"]) == [True, False]


def test_push_report_summary_hides_the_layer_rows() -> None:
    report = registry.PushReport(reference="r", digest="sha256:" + "0" * 64, seconds=1.0,
                                 layers_sent=1, layers_reused=0, bytes_sent=10,
                                 bytes_reused=0, layers=[registry.LayerRow(
                                     position=1, layer="abc", status="Pushed", size_bytes=10,
                                     sent=True)])
    assert "LayerRow" not in repr(report) and "LayerRow" not in report._repr_html_()


def test_build_after_edit_takes_a_dockerfile() -> None:
    import inspect

    assert "dockerfile" in inspect.signature(course.build_after_edit).parameters


def test_scale_result_is_plain_data() -> None:
    result = lesson.ScaleResult(service="app", asked=2, exit_code=1, message="WARNING: …",
                                containers=["flask-app"])
    assert result.containers == ["flask-app"] and "ScaleResult" in repr(result)
