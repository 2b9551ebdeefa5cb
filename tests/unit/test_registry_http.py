"""The registry HTTP API client against a small fake registry: basic auth, bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from helpers import journal
from helpers.engine import registry as reg

MANIFEST = json.dumps({"schemaVersion": 2, "layers": [{"size": 3}]}).encode()
BASIC = "Basic " + base64.b64encode(b"student:s3cret-pw").decode()


class FakeRegistry(BaseHTTPRequestHandler):
    """Basic auth on /basic/…, token auth (like Docker Hub) on /v2/…; a token endpoint."""

    seen: ClassVar[list[dict]] = []

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlparse(self.path)
        auth = self.headers.get("Authorization", "")
        FakeRegistry.seen.append({"path": url.path, "auth": auth,
                                  "accept": self.headers.get("Accept", "")})
        port = self.server.server_address[1]
        if url.path == "/token":
            query = parse_qs(url.query)
            if auth != BASIC or query.get("scope") != ["repository:alice/x:pull"]:
                return self._send(401)
            return self._send(200, json.dumps({"token": "t0k"}).encode())
        if url.path.startswith("/basic/"):
            if auth != BASIC:
                return self._send(401, b'{"errors":[]}',
                                  {"WWW-Authenticate": 'Basic realm="fake"'})
            return self._send(200, b'{"repositories": ["course/hello"]}',
                              {"Content-Type": "application/json"})
        if auth != "Bearer t0k":
            challenge = (f'Bearer realm="http://127.0.0.1:{port}/token",service="fake",'
                         'scope="repository:alice/x:pull"')
            return self._send(401, b"{}", {"WWW-Authenticate": challenge})
        if url.path == "/v2/alice/x/manifests/1.0":
            digest = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
            return self._send(200, MANIFEST, {"Docker-Content-Digest": digest,
                                              "Content-Type": reg.MANIFEST_V2})
        return self._send(404, b'{"errors": [{"code": "NAME_UNKNOWN"}]}')


@pytest.fixture
def fake(tmp_path, monkeypatch) -> Iterator[reg.Endpoint]:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    endpoint = reg.Endpoint(kind="local", address=f"127.0.0.1:{port}",
                            api_url=f"http://127.0.0.1:{port}", namespace="alice",
                            username="student")
    reg._GENERATED[endpoint.address] = reg.Credentials("student", "s3cret-pw")
    FakeRegistry.seen = []
    try:
        yield endpoint
    finally:
        reg.forget(endpoint)
        server.shutdown()
        server.server_close()


def test_basic_auth_is_sent_and_the_journal_masks_the_password(fake) -> None:
    answer = reg.api_request(fake, "/basic/_catalog")
    assert answer.status == 200 and answer.body == {"repositories": ["course/hello"]}
    assert FakeRegistry.seen[-1]["auth"] == BASIC
    line = journal.read()[-1].cli
    assert line == f"curl -sS -u student:*** {fake.api_url}/basic/_catalog"
    assert "s3cret-pw" not in journal.journal_path().read_text()


def test_anonymous_requests_carry_no_credentials(fake) -> None:
    answer = reg.api_request(fake, "/basic/_catalog", anonymous=True)
    assert answer.status == 401 and answer.headers["WWW-Authenticate"] == 'Basic realm="fake"'
    assert FakeRegistry.seen[-1]["auth"] == ""
    assert "-u" not in journal.read()[-1].cli


def test_bearer_challenge_is_answered_with_a_token_for_the_scope(fake) -> None:
    answer = reg.api_request(fake, "/v2/alice/x/manifests/1.0", accept=(reg.MANIFEST_V2,),
                             scope="repository:alice/x:pull")
    assert answer.status == 200
    assert [s["path"] for s in FakeRegistry.seen] == ["/v2/alice/x/manifests/1.0", "/token",
                                                      "/v2/alice/x/manifests/1.0"]
    assert FakeRegistry.seen[-1]["auth"] == "Bearer t0k"
    assert FakeRegistry.seen[-1]["accept"] == reg.MANIFEST_V2
    assert answer.digest_of_body == answer.headers["Docker-Content-Digest"]


def test_head_returns_the_digest_header_without_a_body(fake) -> None:
    answer = reg.api_request(fake, "/v2/alice/x/manifests/1.0", method="HEAD",
                             scope="repository:alice/x:pull", journal_it=False)
    assert answer.status == 200 and answer.body == ""
    assert answer.headers["Docker-Content-Digest"].startswith("sha256:")
    assert journal.read() == []


def test_errors_become_one_readable_registry_error(fake) -> None:
    answer = reg.api_request(fake, "/v2/alice/x/manifests/9.9", scope="repository:alice/x:pull")
    with pytest.raises(reg.RegistryError, match="HTTP 404") as failure:
        reg.require_ok(answer, "Reading the manifest")
    assert "NAME_UNKNOWN" in failure.value.log_tail and failure.value.hint


def test_an_unreachable_registry_is_one_readable_error(fake) -> None:
    gone = reg.Endpoint(kind="local", address="127.0.0.1:9", api_url="http://127.0.0.1:9",
                        namespace="c", username="u")
    with pytest.raises(reg.RegistryError, match="failed: ConnectionError"):
        reg.api_request(gone, "/v2/")
