"""The registry HTTP API client against a small fake registry: basic auth, bearer tokens,
content negotiation (an OCI index the way distribution 2.8 serves it), and printed = executed:
the journaled curl line, run for real, sends exactly the helper's headers."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from helpers import journal, manifests
from helpers.engine import registry_api as api
from helpers.engine import registry_auth as auth
from helpers.errors import RegistryError

MANIFEST = json.dumps({"schemaVersion": 2, "layers": [{"size": 3}]}).encode()
BASIC = "Basic " + base64.b64encode(b"student:s3cret-pw").decode()
PLATFORM = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST,
                       "config": {"digest": "sha256:c0", "size": 2},
                       "layers": [{"digest": "sha256:l1", "size": 70}]}).encode()
PLATFORM_DIGEST = "sha256:" + hashlib.sha256(PLATFORM).hexdigest()
ATTESTATION = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST, "layers": [
    {"mediaType": "application/vnd.in-toto+json", "size": 9, "digest": "sha256:e6",
     "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}]}).encode()
ATTESTATION_DIGEST = "sha256:" + hashlib.sha256(ATTESTATION).hexdigest()
INDEX = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": [
    {"mediaType": manifests.OCI_MANIFEST, "digest": PLATFORM_DIGEST, "size": len(PLATFORM),
     "platform": {"os": "linux", "architecture": "amd64"}},
    {"mediaType": manifests.OCI_MANIFEST, "digest": ATTESTATION_DIGEST, "size": len(ATTESTATION),
     "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                     "vnd.docker.reference.digest": PLATFORM_DIGEST},
     "platform": {"os": "unknown", "architecture": "unknown"}}]}).encode()
INDEX_DIGEST = "sha256:" + hashlib.sha256(INDEX).hexdigest()
# what distribution 2.8 keeps under course/hello: the tag 1.0 is an index, and its manifests
STORED = {"1.0": (manifests.OCI_INDEX, INDEX), INDEX_DIGEST: (manifests.OCI_INDEX, INDEX),
          PLATFORM_DIGEST: (manifests.OCI_MANIFEST, PLATFORM),
          ATTESTATION_DIGEST: (manifests.OCI_MANIFEST, ATTESTATION)}


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
        accepted = self.headers.get_all("Accept") or []
        FakeRegistry.seen.append({"path": url.path, "auth": auth, "method": self.command,
                                  "accept": ", ".join(accepted), "accept_lines": accepted})
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
            if url.path.startswith("/basic/v2/course/hello/manifests/"):
                return self._negotiate(url.path.rsplit("/", 1)[1], accepted)
            return self._send(200, b'{"repositories": ["course/hello"]}',
                              {"Content-Type": "application/json"})
        if auth != "Bearer t0k":
            challenge = (f'Bearer realm="http://127.0.0.1:{port}/token",service="fake",'
                         'scope="repository:alice/x:pull"')
            return self._send(401, b"{}", {"WWW-Authenticate": challenge})
        if url.path == "/v2/alice/x/manifests/1.0":
            digest = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
            return self._send(200, MANIFEST, {"Docker-Content-Digest": digest,
                                              "Content-Type": manifests.DOCKER_MANIFEST})
        return self._send(404, b'{"errors": [{"code": "NAME_UNKNOWN"}]}')


    def _negotiate(self, reference: str, accepted: list[str]) -> None:
        """distribution 2.8's rule: serve the stored format only if the client accepts it."""
        if reference not in STORED:
            return self._send(404, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}')
        media_type, body = STORED[reference]
        types = {t.strip() for line in accepted for t in line.split(",")}
        if media_type not in types:
            kind = "index" if media_type == manifests.OCI_INDEX else "manifest"
            message = (f"OCI {kind} found, but accept header does not support OCI {kind}"
                       f"{'es' if kind == 'index' else 's'}")
            return self._send(404, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN",
                                                           "message": message}]}).encode(),
                              {"Content-Type": "application/json; charset=utf-8"})
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        return self._send(200, body, {"Content-Type": media_type,
                                      "Docker-Content-Digest": digest})


@pytest.fixture
def fake(tmp_path, monkeypatch) -> Iterator[auth.Endpoint]:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    endpoint = auth.Endpoint(kind="local", address=f"127.0.0.1:{port}",
                            api_url=f"http://127.0.0.1:{port}", namespace="alice",
                            username="student")
    auth._GENERATED[endpoint.address] = auth.Credentials("student", "s3cret-pw")
    FakeRegistry.seen = []
    try:
        yield endpoint
    finally:
        auth.forget(endpoint)
        server.shutdown()
        server.server_close()


def test_basic_auth_is_sent_and_the_journal_masks_the_password(fake) -> None:
    answer = api.api_request(fake, "/basic/_catalog")
    assert answer.status == 200 and answer.body == {"repositories": ["course/hello"]}
    assert FakeRegistry.seen[-1]["auth"] == BASIC
    line = journal.read()[-1].cli
    assert line == f"curl -sS -u student:*** {fake.api_url}/basic/_catalog"
    assert "s3cret-pw" not in journal.journal_path().read_text()


def test_anonymous_requests_carry_no_credentials(fake) -> None:
    answer = api.api_request(fake, "/basic/_catalog", anonymous=True)
    assert answer.status == 401 and answer.headers["WWW-Authenticate"] == 'Basic realm="fake"'
    assert FakeRegistry.seen[-1]["auth"] == ""
    assert "-u" not in journal.read()[-1].cli


def test_bearer_challenge_is_answered_with_a_token_for_the_scope(fake) -> None:
    answer = api.api_request(fake, "/v2/alice/x/manifests/1.0", accept=(manifests.DOCKER_MANIFEST,),
                             scope="repository:alice/x:pull")
    assert answer.status == 200
    assert [s["path"] for s in FakeRegistry.seen] == ["/v2/alice/x/manifests/1.0", "/token",
                                                      "/v2/alice/x/manifests/1.0"]
    assert FakeRegistry.seen[-1]["auth"] == "Bearer t0k"
    assert FakeRegistry.seen[-1]["accept_lines"] == [manifests.DOCKER_MANIFEST]
    assert answer.digest_of_body == answer.headers["Docker-Content-Digest"]


def test_head_returns_the_digest_header_without_a_body(fake) -> None:
    answer = api.api_request(fake, "/v2/alice/x/manifests/1.0", method="HEAD",
                             scope="repository:alice/x:pull", journal_it=False)
    assert answer.status == 200 and answer.body == ""
    assert answer.headers["Docker-Content-Digest"].startswith("sha256:")
    assert journal.read() == []


def test_errors_become_one_readable_registry_error(fake) -> None:
    answer = api.api_request(fake, "/v2/alice/x/manifests/9.9", scope="repository:alice/x:pull")
    with pytest.raises(RegistryError, match="HTTP 404") as failure:
        api.require_ok(answer, "Reading the manifest")
    assert "NAME_UNKNOWN" in failure.value.log_tail and failure.value.hint


def test_an_unreachable_registry_is_one_readable_error(fake) -> None:
    gone = auth.Endpoint(kind="local", address="127.0.0.1:9", api_url="http://127.0.0.1:9",
                        namespace="c", username="u")
    with pytest.raises(RegistryError, match="failed: ConnectionError"):
        api.api_request(gone, "/v2/")


def _basic_endpoint(fake: auth.Endpoint) -> auth.Endpoint:
    """The fake's basic-auth half, seen as a registry whose API lives under /basic."""
    endpoint = auth.Endpoint(kind="local", address=fake.address, api_url=fake.api_url + "/basic",
                            namespace="course", username="student")
    return endpoint


def test_all_four_types_are_sent_as_four_accept_lines_and_the_index_comes_back(fake) -> None:
    endpoint = _basic_endpoint(fake)
    answer = api.api_request(endpoint, "/v2/course/hello/manifests/1.0",
                             accept=manifests.MANIFEST_TYPES)
    assert FakeRegistry.seen[-1]["accept_lines"] == list(manifests.MANIFEST_TYPES)
    assert answer.status == 200 and answer.media_type == manifests.OCI_INDEX
    assert answer.digest_of_body == INDEX_DIGEST == answer.headers["Docker-Content-Digest"]


def test_without_the_index_type_the_registry_refuses_like_distribution_2_8(fake) -> None:
    endpoint = _basic_endpoint(fake)
    answer = api.api_request(endpoint, "/v2/course/hello/manifests/1.0",
                             accept=(manifests.DOCKER_MANIFEST,))
    assert answer.status == 404
    assert answer.error == ("MANIFEST_UNKNOWN: OCI index found, but accept header does not "
                            "support OCI indexes")


def test_read_manifest_follows_the_index_to_the_platform_manifest(fake) -> None:
    endpoint = _basic_endpoint(fake)
    view = api.read_manifest(endpoint, "course/hello", "1.0", platform=("linux", "amd64", ""),
                             with_attestations=True)
    assert (view.digest, view.media_type, view.platform) == (INDEX_DIGEST, manifests.OCI_INDEX,
                                                             "linux/amd64")
    assert view.platform_digest == PLATFORM_DIGEST and view.manifest["layers"][0]["size"] == 70
    assert view.attestations == {ATTESTATION_DIGEST: ["https://slsa.dev/provenance/v0.2"]}
    paths = [s["path"].rsplit("/", 1)[1] for s in FakeRegistry.seen]
    assert paths == ["1.0", PLATFORM_DIGEST, ATTESTATION_DIGEST]
    # children are asked for with exactly the media type the index lists for them
    assert [s["accept_lines"] for s in FakeRegistry.seen[1:]] == [[manifests.OCI_MANIFEST]] * 2
    lines = [c.cli for c in journal.read()]
    assert len(lines) == 3 and lines[0].count("-H 'Accept: ") == 4


def test_read_manifest_of_a_plain_manifest_has_no_entries(fake) -> None:
    endpoint = _basic_endpoint(fake)
    view = api.read_manifest(endpoint, "course/hello", PLATFORM_DIGEST, journal_it=False)
    assert view.entries == [] and view.platform_digest == view.digest == PLATFORM_DIGEST
    assert view.media_type == manifests.OCI_MANIFEST and view.size_bytes == len(PLATFORM)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("accept", [manifests.MANIFEST_TYPES, (manifests.DOCKER_MANIFEST,), ()])
def test_the_printed_curl_line_sends_exactly_the_helpers_headers(fake, method, accept) -> None:
    """Printed = executed: run the journaled line (password filled in) and compare requests."""
    endpoint = _basic_endpoint(fake)
    answer = api.api_request(endpoint, "/v2/course/hello/manifests/1.0", method=method,
                             accept=accept)
    helper = FakeRegistry.seen[-1]
    line = journal.read()[-1].cli
    typed = subprocess.run(line.replace("***", "s3cret-pw"), shell=True, capture_output=True,
                           timeout=30, check=False)
    by_curl = FakeRegistry.seen[-1]
    assert by_curl is not helper
    for key in ("path", "method", "auth", "accept_lines"):
        assert by_curl[key] == helper[key], key
    if method == "GET" and answer.status == 200:
        assert typed.stdout == INDEX
        assert "sha256:" + hashlib.sha256(typed.stdout).hexdigest() == answer.digest_of_body
    elif method == "GET":
        assert json.loads(typed.stdout) == answer.body  # the same refusal, word for word
