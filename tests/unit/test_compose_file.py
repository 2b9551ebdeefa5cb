"""The two-tier compose file keeps its promises; secrets and env files are written safely."""

from __future__ import annotations

import stat

import yaml

from helpers import labels, settings
from helpers.lessons import compose as lesson

FOLDER = settings.APPS_DIR / "two-tier"


def _document() -> dict:
    return yaml.safe_load((FOLDER / "compose.yaml").read_text(encoding="utf-8"))


def test_no_version_key_so_v1_and_v2_read_the_compose_specification() -> None:
    assert "version" not in _document()


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


def test_images_and_port_come_from_variables_and_ports_stay_on_loopback() -> None:
    services = _document()["services"]
    assert services["db"]["image"] == "${DB_IMAGE:-mysql:8.4}"
    assert services["app"]["image"].startswith("${APP_IMAGE:-")
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


def test_every_object_compose_creates_carries_the_course_labels() -> None:
    document = _document()
    keys = {labels.COURSE_KEY, labels.NOTEBOOK_KEY}
    for section in ("services", "networks", "volumes"):
        for name, spec in document[section].items():
            assert keys <= set(spec["labels"]), (section, name)
    assert document["services"]["app"]["labels"][labels.NOTEBOOK_KEY] == "${COURSE_NOTEBOOK:-08}"


def test_env_example_names_every_variable_the_file_uses() -> None:
    import re

    used = set(re.findall(r"\$\{(\w+)", (FOLDER / "compose.yaml").read_text(encoding="utf-8")))
    example = (FOLDER / ".env.example").read_text(encoding="utf-8")
    documented = {line.split("=")[0] for line in example.splitlines()
                  if line and not line.startswith("#")}
    assert used <= documented
    assert "PASSWORD" not in "".join(documented)


def test_secrets_are_generated_once_private_and_readable_by_containers(tmp_path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services: {}\nsecrets:\n  a:\n    file: ./.secrets/a.txt\n  b:\n    file: ./b.txt\n",
        encoding="utf-8")
    files = [tmp_path / "compose.yaml"]
    written = lesson.ensure_secrets(files)
    assert sorted(p.name for p in written) == ["a.txt", "b.txt"]
    secret = tmp_path / ".secrets" / "a.txt"
    first = secret.read_text(encoding="utf-8")
    assert len(first) >= 24
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert lesson.ensure_secrets(files) == []  # kept: the volume remembers the old password
    assert secret.read_text(encoding="utf-8") == first


def test_secret_files_of_a_broken_file_are_skipped(tmp_path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n   b: [\n", encoding="utf-8")
    assert lesson.secret_files([tmp_path / "compose.yaml"]) == []


def test_env_file_holds_settings_only(tmp_path) -> None:
    path = tmp_path / "course-08.env"
    lesson.write_env_file(path, {"APP_PORT": "5000", "DB_IMAGE": "mysql:8.4"}, "course-08")
    text = path.read_text(encoding="utf-8")
    assert "APP_PORT=5000\nDB_IMAGE=mysql:8.4\n" in text and text.startswith("#")


def test_interpolation_for_display() -> None:
    values = {"APP_PORT": "5123"}
    assert lesson._interpolate("127.0.0.1:${APP_PORT:-5000}:5000", values) == \
        "127.0.0.1:5123:5000"
    assert lesson._interpolate("${DB_IMAGE:-mysql:8.4}", values) == "mysql:8.4"
