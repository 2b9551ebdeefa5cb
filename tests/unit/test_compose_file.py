"""The two-tier compose file keeps its promises; secrets, env files and the services table."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import journal, labels, settings
from helpers.lessons import compose as lesson

FOLDER = settings.APPS_DIR / "two-tier"


def _document() -> dict:
    return yaml.safe_load((FOLDER / "compose.yaml").read_text(encoding="utf-8"))


def test_no_version_key_it_is_obsolete_in_the_compose_specification() -> None:
    assert "version" not in _document()
    header = (FOLDER / "compose.yaml").read_text(encoding="utf-8")
    assert "docker-compose" not in header and "docker compose up -d" in header


def test_app_waits_for_a_healthy_database_and_always_restarts() -> None:
    services = _document()["services"]
    assert services["app"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["app"]["restart"] == "always"
    for name in ("db", "app"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL")
        assert "curl" not in " ".join(check["test"]) and "wget" not in " ".join(check["test"])
        assert check["interval"] and check["retries"] >= 3


def test_database_health_check_passes_credentials() -> None:
    test = " ".join(_document()["services"]["db"]["healthcheck"]["test"])
    assert "mysqladmin ping" in test and "-uroot" in test
    assert "/run/secrets/db_root_password" in test and "$$(" in test


def test_images_are_named_plainly_and_ports_stay_on_loopback() -> None:
    services = _document()["services"]
    assert services["db"]["image"] == "mysql:8.4"
    assert services["app"]["image"] == "docker-course/flask-app:1.0"
    assert services["app"]["ports"] == ["127.0.0.1:${APP_PORT:-5000}:5000"]
    for name, spec in services.items():
        for port in spec.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_no_password_is_written_in_the_yaml() -> None:
    document = _document()
    for spec in document["services"].values():
        for key, value in (spec.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert key.endswith("_FILE") and value.startswith("/run/secrets/"), key
    assert set(document["secrets"]) == {"db_root_password", "db_password"}
    assert all(entry["file"].startswith("./.secrets/") for entry in document["secrets"].values())
    ignored = (FOLDER / ".gitignore").read_text(encoding="utf-8")
    assert ".secrets/" in ignored and "*.env" in ignored


def test_data_lives_in_a_named_volume_and_the_init_script_is_mounted() -> None:
    document = _document()
    mounts = document["services"]["db"]["volumes"]
    assert "db-data:/var/lib/mysql" in mounts
    init = next(m for m in mounts if "/docker-entrypoint-initdb.d" in m)
    folder = FOLDER / init.split(":")[0]
    assert list(folder.glob("*.sql")), "the init folder holds an SQL script"


def test_the_file_learners_copy_holds_no_course_plumbing() -> None:
    text = (FOLDER / "compose.yaml").read_text(encoding="utf-8")
    assert "labels" not in _document()["services"]["db"] and "x-course-labels" not in text
    assert "io.docker-course" not in text and "COURSE_NOTEBOOK" not in text
    assert "DB_IMAGE" not in text and "APP_IMAGE" not in text


# compose.yaml as `docker compose config --format json` (2.40.3) models it, trimmed.
LEARNER_MODEL = {
    "services": {"db": {"image": "mysql:8.4"}, "app": {"image": "docker-course/flask-app:1.0"},
                 "tools": {"image": "busybox"}},
    "networks": {"backend": {"name": "course-08_backend"},
                 "shared": {"name": "shared", "external": True}},
    "volumes": {"db-data": {"name": "course-08_db-data"}},
    "secrets": {"db_password": {"name": "course-08_db_password", "file": "/x/.secrets/p.txt"},
                "token": {"name": "course-08_token", "environment": "TOKEN"}},
}


def test_the_course_override_labels_everything_swaps_images_and_moves_secrets(
        tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))  # its journal
    swaps = {"mysql:8.4": "docker-course/mariadb-standin:10.11",
             "docker-course/flask-app:1.0": "docker-course/flask-app:1.0"}
    document = lesson.course_override(LEARNER_MODEL, tmp_path, swaps, "08")
    marks = {labels.COURSE_KEY: labels.COURSE_VALUE, labels.NOTEBOOK_KEY: "08"}
    assert document["services"] == {
        "db": {"labels": marks, "image": "docker-course/mariadb-standin:10.11"},
        "app": {"labels": marks}, "tools": {"labels": marks}}
    assert document["networks"] == {"backend": {"labels": marks}}  # external: not Compose's
    assert document["volumes"] == {"db-data": {"labels": marks}}
    assert document["secrets"] == {"db_password": {"file": str(tmp_path / "secrets" /
                                                               "db_password.txt")}}
    labelled = {"volumes": {"db-data": {"labels": marks}}, "services": {}}
    assert lesson.course_override(labelled, tmp_path, {}, "08") == {}  # nothing to add
    path = tmp_path / "course.override.yaml"
    lesson.write_override(path, document, "course-08")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# The course's plumbing") and yaml.safe_load(text) == document
    # Compose reads YAML 1.2: a notebook label 08 unquoted would not be a string there
    assert 'io.docker-course.notebook: "08"' in text and "managed: \"true\"" in text


def test_the_course_files_of_a_project_live_in_the_state_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path))
    folder = lesson.project_folder("course-08")
    assert folder == tmp_path / "compose" / "course-08"
    assert settings.DATA_DIR not in folder.parents


def test_env_example_names_every_variable_the_file_uses() -> None:
    import re

    used = set(re.findall(r"\$\{(\w+)", (FOLDER / "compose.yaml").read_text(encoding="utf-8")))
    example = (FOLDER / ".env.example").read_text(encoding="utf-8")
    documented = {line.split("=")[0] for line in example.splitlines()
                  if line and not line.startswith("#")}
    assert used <= documented
    assert "PASSWORD" not in "".join(documented)


def _model(folder) -> dict:
    """Secrets as `docker compose config --format json` prints them: paths resolved."""
    return {"secrets": {"a": {"name": "p_a", "file": f"{folder}/.secrets/a.txt"},
                        "b": {"name": "p_b", "file": f"{folder}/b.txt"},
                        "c": {"name": "p_c", "environment": "TOKEN"}}}


def test_secrets_are_generated_once_private_and_readable_by_containers(tmp_path,
                                                                      monkeypatch) -> None:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))  # its journal
    model = _model(tmp_path)
    written = lesson.ensure_secrets(model)
    assert sorted(p.name for p in written) == ["a.txt", "b.txt"]
    secret = tmp_path / ".secrets" / "a.txt"
    first = secret.read_text(encoding="utf-8")
    assert len(first) >= 24
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert lesson.ensure_secrets(model) == []  # kept: the volume remembers the old password
    assert secret.read_text(encoding="utf-8") == first


def test_relative_secret_paths_start_at_the_repository() -> None:
    model = {"secrets": {"x": {"file": "data/apps/two-tier/.secrets/x.txt"}}}
    assert lesson.secret_files(model) == [FOLDER / ".secrets" / "x.txt"]
    assert lesson.secret_files({}) == []


def test_env_file_holds_settings_only(tmp_path) -> None:
    path = tmp_path / "course-08.env"
    lesson.write_env_file(path, {"APP_PORT": "5000", "DB_IMAGE": "mysql:8.4"}, "course-08")
    text = path.read_text(encoding="utf-8")
    assert "APP_PORT=5000\nDB_IMAGE=mysql:8.4\n" in text and text.startswith("#")


# The services of compose.yaml as `docker compose config --format json` (2.40.3) printed them,
# with repository paths made relative (engine.repository_relative).
MODEL = {
    "services": {
        "app": {
            "depends_on": {"db": {"condition": "service_healthy", "required": True}},
            "healthcheck": {"test": ["CMD", "python", "healthcheck.py"], "interval": "2s"},
            "image": "docker-course/flask-app:1.0",
            "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 5000,
                       "published": "5123", "protocol": "tcp"}],
            "restart": "always",
            "secrets": [{"source": "db_password", "target": "/run/secrets/db_password"}],
        },
        "db": {
            "healthcheck": {"test": ["CMD-SHELL", "mysqladmin ping --silent"]},
            "image": "docker-course/mariadb-standin:10.11",
            "restart": "unless-stopped",
            "volumes": [{"type": "volume", "source": "db-data", "target": "/var/lib/mysql",
                         "volume": {}},
                        {"type": "bind", "source": "data/apps/two-tier/compose-initdb",
                         "target": "/docker-entrypoint-initdb.d", "read_only": True}],
        },
    },
}


def test_services_table_shows_compose_s_own_model() -> None:
    stack = lesson.Stack(project="course-08", compose="docker compose 2.40.3",
                         files=["data/apps/two-tier/compose.yaml"],
                         env_file="data/apps/two-tier/course-08.env", settings={},
                         app_port=5123, services=["db", "app"], model=MODEL)
    table = lesson.services_table(stack)
    assert list(table.index) == ["db", "app"]
    assert table.loc["app", "depends on"] == "db (service_healthy)"
    assert table.loc["app", "ports"] == "127.0.0.1:5123->5000/tcp"
    assert table.loc["app", "health check"] == "python healthcheck.py"
    assert table.loc["db", "health check"] == "mysqladmin ping --silent"
    assert table.loc["db", "volumes"] == ("db-data → /var/lib/mysql, data/apps/two-tier/"
                                          "compose-initdb → /docker-entrypoint-initdb.d (ro)")
    assert table.loc["app", "secrets"] == "db_password" and table.loc["db", "secrets"] == "–"
    assert table.loc["db", "restart"] == "unless-stopped"
    assert "model" not in repr(stack._repr_html_())  # the model stays out of the summary


# --- the printed lines make the same files ----------------------------------------------------

def _typed(lines: list[str], here: Path, there: Path) -> None:
    """Type ``lines`` with bash, the state folder ``here`` of the Python run made ``there``."""
    for line in lines:
        done = subprocess.run(["bash", "-c", line.replace(str(here), str(there))],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{line}: {done.stderr}"


def _project_files(monkeypatch, here: Path) -> list[str]:
    """What prepare writes for a two-tier project (its engine calls left out), in its order;
    the lines it printed."""
    monkeypatch.setenv("COURSE_STATE_DIR", str(here))
    folder = lesson.project_folder("course-08")
    model = {**LEARNER_MODEL, "secrets": {
        "db_password": {"name": "course-08_db_password", "file": "/x/.secrets/p.txt"},
        "db_root_password": {"name": "course-08_db_root_password", "file": "/x/.secrets/r.txt"}}}
    with journal.capture() as captured:
        lesson.make_folder(folder)
        lesson.write_env_file(folder / "course-08.env", {"APP_PORT": "5000", "ODD": "$x 'q'"},
                              "course-08")
        document = lesson.course_override(model, folder, {"mysql:8.4": "db:1"}, "08")
        lesson.write_override(folder / "course.override.yaml", document, "course-08")
        lesson.ensure_secrets(document)
    return [command.cli for command in captured]


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_the_printed_lines_make_the_project_s_files_and_never_show_a_password(
        monkeypatch, tmp_path) -> None:
    here, there = tmp_path / "python state", tmp_path / "typed state"  # spaces: quoted
    lines = _project_files(monkeypatch, here)
    assert lines[0].startswith("mkdir -p ") and lines[1].startswith("cat > ")
    _typed(lines, here, there)
    made, typed = here / "compose" / "course-08", there / "compose" / "course-08"
    python_files, typed_files = _contents(made), _contents(typed)
    assert sorted(python_files) == sorted(typed_files) == [
        "course-08.env", "course.override.yaml", "secrets/db_password.txt",
        "secrets/db_root_password.txt"]
    for name in ("course-08.env", "course.override.yaml"):  # the override names its folder
        assert python_files[name].replace(bytes(here), bytes(there)) == typed_files[name], name
    assert "ODD=$x 'q'\n" in python_files["course-08.env"].decode()
    for folder, files in ((made, python_files), (typed, typed_files)):
        assert stat.S_IMODE((folder / "secrets").stat().st_mode) == 0o700
        for name in ("secrets/db_password.txt", "secrets/db_root_password.txt"):
            password = files[name]  # what `openssl rand -base64 24` prints
            assert len(password) == 33 and password.endswith(b"\n")
            assert len(base64.b64decode(password)) == lesson.PASSWORD_BYTES
            assert password.decode().strip() not in "\n".join(lines)
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644
    assert python_files["secrets/db_password.txt"] != typed_files["secrets/db_password.txt"]


def test_the_lines_are_the_same_on_every_run_and_keep_the_passwords(monkeypatch,
                                                                    tmp_path) -> None:
    here, there = tmp_path / "python", tmp_path / "typed"
    first = _project_files(monkeypatch, here)
    _typed(first, here, there)
    kept = _contents(here / "compose" / "course-08"), _contents(there / "compose" / "course-08")
    again = _project_files(monkeypatch, here)
    _typed(again, here, there)
    assert again == first  # printed whatever the state folder holds
    assert _contents(here / "compose" / "course-08") == kept[0]  # a volume remembers them
    assert _contents(there / "compose" / "course-08") == kept[1]


def test_a_here_document_refuses_what_it_cannot_write(tmp_path) -> None:
    assert lesson.heredoc(tmp_path / "f", "a\n") == f"cat > {tmp_path}/f <<'EOF'\na\nEOF"
    for text in ("no newline at the end", "a\nEOF\nb\n"):
        with pytest.raises(ValueError):
            lesson.heredoc(tmp_path / "f", text)


def test_the_override_reads_short_and_the_same_as_its_document(tmp_path) -> None:
    document = lesson.course_override(LEARNER_MODEL, tmp_path, {"mysql:8.4": "db:1"}, "08")
    text = lesson.override_text(document, "course-08")
    assert yaml.safe_load(text) == document
    lines = text.splitlines()
    assert lines[lines.index("  app:") + 1] == (
        '    labels: {io.docker-course.managed: "true", io.docker-course.notebook: "08"}')
    assert f"  db_password: {{file: {tmp_path}/secrets/db_password.txt}}" in lines
    assert len(lines) <= 20
