"""Secrets left in layers, in the config's Env and in the history: found, located, masked."""

from __future__ import annotations

import json

import pytest
from anatomy_builders import (
    DB_PASSWORD,
    ENV_FILE,
    NPM_TOKEN,
    PRIVATE_KEY,
    Image,
    demo_image,
    file,
    layer_tar,
    legacy_archive,
    oci_archive,
    opaque,
    step,
)

from helpers.anatomy import analyse_image, mask, redact
from helpers.anatomy.secrets import ContentScanner, is_sensitive_name, scan_env, scan_history

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7h8"  # 36 characters after the prefix
AWS_KEY_ID = "AKIA" + "ABCDEFGHIJKLMNOP"


@pytest.fixture(scope="module")
def demo_findings():
    return analyse_image(oci_archive(demo_image(), compression="zstd")).secrets


def _by_key(findings):
    return {(f.path_or_key, f.source): f for f in findings}


def test_private_key_deleted_later_is_still_reported(demo_findings) -> None:
    key = _by_key(demo_findings)[("root/.ssh/id_rsa", "file")]
    assert (key.layer, key.kind, key.visible) == (0, "private-key", False)
    assert "deleted in layer 1" in key.note and "still in the image" in key.note


def test_env_file_still_visible(demo_findings) -> None:
    env_file = _by_key(demo_findings)[("app/.env", "file")]
    assert (env_file.layer, env_file.kind, env_file.visible) == (1, "env-file", True)
    assert "DB_PASSWORD" in env_file.detail


def test_env_password_reported_once_from_config_env_at_the_layer_it_sits_on(
        demo_findings) -> None:
    env = [f for f in demo_findings if f.path_or_key == "DB_PASSWORD"]
    assert len(env) == 1  # the ENV history line is the same secret: not listed twice
    (finding,) = env
    assert (finding.source, finding.kind, finding.layer) == ("env", "secret-variable", 0)
    assert f"({len(DB_PASSWORD)} characters)" in finding.detail


def test_build_argument_in_a_run_line(demo_findings) -> None:
    arg = _by_key(demo_findings)[("NPM_TOKEN", "history")]
    assert (arg.kind, arg.layer) == ("build-arg", 1)  # the step that made layer 1
    assert "step 2" in arg.note


def test_no_secret_value_leaks_into_any_output(demo_findings) -> None:
    report = analyse_image(legacy_archive(demo_image()))
    outputs = [
        json.dumps(report.to_json()),
        repr(report.secrets),
        report.layers_frame().to_string(),
        report.secrets_frame().to_string(),
    ]
    secret_texts = [DB_PASSWORD, NPM_TOKEN, PRIVATE_KEY.decode().splitlines()[1]]
    for output in outputs:
        for secret in secret_texts:
            assert secret not in output


def test_history_secret_without_env_entry() -> None:
    image = Image(
        layers=[layer_tar(file("app/main.py", "print('hi')"))],
        history=[
            step(f"/bin/sh -c #(nop)  ENV API_KEY={GITHUB_TOKEN}", empty=True),
            step(f"/bin/sh -c #(nop)  ARG GITHUB_TOKEN={GITHUB_TOKEN}", empty=True),
            step("/bin/sh -c mysql --password hunter2 -e 'select 1'"),
            step("/bin/sh -c #(nop)  ENV API_KEY=", empty=True),  # cleared: not in Env now
        ],
        env=["PATH=/usr/bin", "API_KEY="],
    )
    findings = analyse_image(legacy_archive(image)).secrets
    kinds = {(f.path_or_key, f.kind, f.source) for f in findings}
    assert ("API_KEY", "secret-variable", "history") in kinds
    assert ("GITHUB_TOKEN", "build-arg", "history") in kinds
    assert ("--password", "secret-flag", "history") in kinds
    assert all(f.visible for f in findings)
    env_steps = [f for f in findings if f.path_or_key == "API_KEY"]
    assert env_steps[0].layer is None  # set before any layer existed


def test_settings_and_references_are_not_secrets() -> None:
    env = ["MYSQL_ALLOW_EMPTY_PASSWORD=yes", "MYSQL_PASSWORD_FILE=/run/secrets/db",
           "DB_PASSWORD=$DB_PASSWORD_FROM_HOST", "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
           "TOKENIZERS_PARALLELISM=false", "PYTHON_VERSION=3.12.4", "PWD=/app"]
    assert scan_env(env) == []


@pytest.mark.parametrize("name", ["DB_PASSWORD", "PGPASSWORD", "MYSQL_ROOT_PASSWORD",
                                  "GITHUB_TOKEN", "API_KEY", "APIKEY", "SECRET_KEY",
                                  "AWS_SECRET_ACCESS_KEY", "NPM_AUTH_TOKEN", "DB_PASS"])
def test_sensitive_names(name: str) -> None:
    assert is_sensitive_name(name)


def test_url_with_password_and_tokens_in_env() -> None:
    hits = scan_env([
        "DATABASE_URL=postgres://app:s3cret@db:5432/app",
        f"GH={GITHUB_TOKEN}",
        "PUBLIC_URL=https://example.org/path",
    ])
    assert {(h.key, h.kind) for h in hits} == {("DATABASE_URL", "url-credentials"),
                                               ("GH", "token")}
    assert all("s3cret" not in h.detail and GITHUB_TOKEN not in h.detail for h in hits)


def test_token_in_a_run_line_is_found_and_masked() -> None:
    history = [{"created_by": f"RUN /bin/sh -c curl -H 'Authorization: token {GITHUB_TOKEN}' "
                              "https://api.github.com # buildkit"}]
    hits = scan_history(history, skip_env_keys=lambda _: False)
    assert [(h.kind, h.step) for h in hits] == [("token", 0)]
    assert GITHUB_TOKEN not in redact(history[0]["created_by"])


SCANNER = ContentScanner()


@pytest.mark.parametrize("path, content, kind", [
    ("home/app/.aws/credentials", b"[default]\naws_secret_access_key = abc/def\n",
     "credentials-file"),
    ("root/.netrc", b"machine example.org login me password pw123\n", "credentials-file"),
    ("app/.npmrc", b"//registry.npmjs.org/:_authToken=npm_abcdef\n", "credentials-file"),
    ("root/.docker/config.json", b'{"auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}}}',
     "credentials-file"),
    ("app/certs/server.key", PRIVATE_KEY, "private-key"),
    ("etc/ssh/ssh_host_ed25519_key", PRIVATE_KEY, "private-key"),
    ("app/settings.py", f"TOKEN = '{GITHUB_TOKEN}'\n".encode(), "token"),
    ("srv/deploy.sh", f"export AWS_ACCESS_KEY_ID={AWS_KEY_ID}\n".encode(), "token"),
    ("app/.env.production", ENV_FILE, "env-file"),
    ("root/.ssh/id_ed25519", b"anything non-empty", "private-key"),
])
def test_content_scanner_finds(path: str, content: bytes, kind: str) -> None:
    assert SCANNER.wants(path, len(content))
    assert kind in {hit.kind for hit in SCANNER.scan(path, content)}


@pytest.mark.parametrize("path, content", [
    ("app/.npmrc", b"registry=https://registry.npmjs.org/\n"),
    ("root/.docker/config.json", b'{"credsStore": "desktop", "auths": {"ghcr.io": {}}}'),
    ("app/settings.py", b"TOKEN = os.environ['TOKEN']\n"),
    ("etc/ssl/certs/ca.pem", b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
])
def test_content_scanner_ignores_harmless_files(path: str, content: bytes) -> None:
    assert SCANNER.scan(path, content) == [] or not SCANNER.wants(path, len(content))


@pytest.mark.parametrize("path, size", [
    ("usr/lib/python3/dist-packages/tests/keys/test.key", 500),  # vendored test fixture
    ("app/node_modules/pkg/test/fixture.pem", 500),
    ("usr/lib/x86_64-linux-gnu/libssl.so.3", 600_000),
    ("app/.env.example", 100),
    ("app/data/huge.json", 10 << 20),
    ("var/lib/dpkg/status", 4000),
])
def test_content_scanner_skips_noise_without_reading_it(path: str, size: int) -> None:
    assert not SCANNER.wants(path, size)


def test_secret_hidden_by_opaque_whiteout_or_overwritten() -> None:
    image = Image(
        layers=[layer_tar(file("conf/.env", ENV_FILE), file("keys/deploy.pem", PRIVATE_KEY)),
                layer_tar(opaque("conf"), file("keys/deploy.pem", b"not a key any more"))],
        history=[step("COPY . /"), step("RUN cleanup")])
    findings = _by_key(analyse_image(legacy_archive(image)).secrets)
    env_file = findings[("conf/.env", "file")]
    key = findings[("keys/deploy.pem", "file")]
    assert not env_file.visible and "opaque whiteout in layer 1" in env_file.note
    assert not key.visible and "overwritten in layer 1" in key.note


def test_mask_and_redact_never_show_characters_of_the_value() -> None:
    assert mask("hunter2") == "**** (7 characters)"
    text = ("ENV DB_PASSWORD=hunter2 API_TOKEN='x y z' HOME=/root "
            "--password=opensesame postgres://u:pw@h/db")
    masked = redact(text)
    for secret in ("hunter2", "x y z", "opensesame", ":pw@"):
        assert secret not in masked
    assert "HOME=/root" in masked
