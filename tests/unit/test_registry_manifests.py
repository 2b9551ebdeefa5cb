"""Indexes, platform manifests, attestations, Accept headers and curl lines: no engine, no network.

The index below is the shape Engine 28 (containerd image store) pushes for a BuildKit build:
one platform manifest and BuildKit's provenance attestation manifest (docs: "Image attestation
storage"), as read back from the course's distribution 2.8 registry.
"""

from __future__ import annotations

import shlex

import pytest

from helpers import manifests
from helpers.engine import registry as reg
from helpers.engine import registry_api as api
from helpers.engine import registry_auth as auth
from helpers.errors import RegistryError
from helpers.lessons import registry as lesson
from helpers.session import codec

IMAGE = "sha256:" + "b7" * 32
ATTESTATION = "sha256:" + "85" * 32
INDEX = {
    "schemaVersion": 2,
    "mediaType": manifests.OCI_INDEX,
    "manifests": [
        {"mediaType": manifests.OCI_MANIFEST, "digest": IMAGE, "size": 858,
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": manifests.OCI_MANIFEST, "digest": ATTESTATION, "size": 566,
         "annotations": {"vnd.docker.reference.digest": IMAGE,
                         "vnd.docker.reference.type": "attestation-manifest"},
         "platform": {"architecture": "unknown", "os": "unknown"}},
    ],
}
MULTI = {
    "schemaVersion": 2,
    "mediaType": manifests.DOCKER_MANIFEST_LIST,
    "manifests": [
        {"mediaType": manifests.DOCKER_MANIFEST, "digest": "sha256:" + "a1" * 32, "size": 1,
         "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
        {"mediaType": manifests.DOCKER_MANIFEST, "digest": "sha256:" + "a2" * 32, "size": 1,
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": manifests.DOCKER_MANIFEST, "digest": "sha256:" + "a3" * 32, "size": 1,
         "platform": {"architecture": "amd64", "os": "linux"}},
    ],
}
ATTESTATION_MANIFEST = {
    "schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 167,
               "digest": "sha256:" + "2e" * 32},
    "layers": [{"mediaType": "application/vnd.in-toto+json", "size": 1242,
                "digest": "sha256:" + "e6" * 32,
                "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
}


def test_the_four_accept_types_cover_indexes_and_manifests_of_both_formats() -> None:
    assert manifests.MANIFEST_TYPES == (
        "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json")
    assert {t for t in manifests.MANIFEST_TYPES if manifests.is_index(t)} == {manifests.OCI_INDEX,
                                                                   manifests.DOCKER_MANIFEST_LIST}
    assert set(manifests.MEDIA_TYPE_NAMES) == set(manifests.MANIFEST_TYPES)


def test_media_type_comes_from_the_document_or_the_content_type() -> None:
    assert manifests.media_type_of(INDEX, "text/plain") == manifests.OCI_INDEX
    assert manifests.media_type_of({}, f"{manifests.DOCKER_MANIFEST}; charset=utf-8") \
        == manifests.DOCKER_MANIFEST
    assert manifests.media_type_of("not json", "") == ""


def test_index_entries_tell_the_platform_manifest_from_the_attestation() -> None:
    image, attestation = manifests.index_entries(INDEX)
    assert (image.kind, image.platform, image.digest, image.size_bytes) == (
        "image", "linux/amd64", IMAGE, 858)
    assert (attestation.kind, attestation.platform, attestation.refers_to) == (
        "attestation", "unknown/unknown", IMAGE)


def test_unknown_platform_without_the_annotation_is_never_an_image() -> None:
    odd = {"manifests": [{"mediaType": manifests.OCI_MANIFEST, "digest": "sha256:1", "size": 2,
                          "platform": {"os": "unknown", "architecture": "unknown"}},
                         {"mediaType": manifests.OCI_MANIFEST, "digest": "sha256:2", "size": 2,
                          "annotations": {"vnd.docker.reference.type": "sbom-something"},
                          "platform": {"os": "linux", "architecture": "amd64"}}]}
    assert [e.kind for e in manifests.index_entries(odd)] == ["other", "other"]
    with pytest.raises(RegistryError, match="no manifest for linux/amd64"):
        manifests.pick_platform(manifests.index_entries(odd), "linux", "amd64")


@pytest.mark.parametrize(("wanted", "digest"), [
    (("linux", "amd64", ""), "a3"), (("linux", "arm64", "v8"), "a2"),
    (("linux", "arm", "v7"), "a1"), (("linux", "arm64", ""), "a2"),
])
def test_pick_platform_follows_os_architecture_and_variant(wanted, digest) -> None:
    chosen = manifests.pick_platform(manifests.index_entries(MULTI), *wanted)
    assert chosen.digest == "sha256:" + digest * 32


def test_pick_platform_never_picks_an_attestation_and_says_what_is_offered() -> None:
    entries = manifests.index_entries(INDEX)
    assert manifests.pick_platform(entries, "linux", "amd64").digest == IMAGE
    with pytest.raises(RegistryError) as failure:
        manifests.pick_platform(entries, "linux", "arm64", "v8")
    assert "offers: linux/amd64" in failure.value.message and "unknown" not in \
        failure.value.message
    assert "--platform" in failure.value.hint


def test_predicate_types_of_an_attestation_manifest() -> None:
    assert manifests.predicate_types(ATTESTATION_MANIFEST) == ["https://slsa.dev/provenance/v0.2"]
    assert manifests.predicate_types({"layers": [{"mediaType": "application/x"}]}) \
        == ["application/x"]


def test_each_accept_value_is_its_own_header_in_order() -> None:
    assert manifests.accept_headers(manifests.MANIFEST_TYPES) == \
        [("Accept", t) for t in manifests.MANIFEST_TYPES]
    headers = api.request_headers(manifests.MANIFEST_TYPES, auth.Credentials("student", "pw"))
    assert headers.getlist("Accept") == list(manifests.MANIFEST_TYPES)
    assert headers["Authorization"] == "Basic c3R1ZGVudDpwdw=="
    assert api.request_headers((), bearer="t0k")["Authorization"] == "Bearer t0k"
    assert "Authorization" not in api.request_headers((manifests.OCI_INDEX,))
    assert api.request_headers(()).getlist("Accept") == ["*/*"]  # as curl sends by itself


def test_the_curl_line_has_one_dash_h_per_accept_value_and_hides_the_password() -> None:
    endpoint = auth.Endpoint(kind="local", address="127.0.0.1:5001",
                            api_url="http://127.0.0.1:5001", namespace="course",
                            username="student")
    auth._GENERATED[endpoint.address] = auth.Credentials("student", "s3cret")
    try:
        line = api.curl_line(endpoint, "/v2/course/hello/manifests/1.0", method="HEAD",
                             accept=manifests.MANIFEST_TYPES)
    finally:
        auth.forget(endpoint)
    assert "s3cret" not in line
    argv = shlex.split(line)
    assert argv[:5] == ["curl", "-sS", "-I", "-u", "student:***"]
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-H"] == [
        f"Accept: {t}" for t in manifests.MANIFEST_TYPES]
    assert argv[-1] == "http://127.0.0.1:5001/v2/course/hello/manifests/1.0"
    assert argv == api.curl_arguments(argv[-1], method="HEAD", accept=manifests.MANIFEST_TYPES,
                                      username="student")


def test_a_tag_loop_keeps_its_shell_variable_unquoted() -> None:
    argv = api.curl_arguments("http://h/v2/r/manifests/$tag", accept=(manifests.OCI_INDEX,))
    assert " ".join(api._shell_word(a) for a in argv).endswith("http://h/v2/r/manifests/$tag")


def test_pushed_digest_from_aux_classic_or_status_line_containerd() -> None:
    digest = "sha256:" + "68" * 32
    assert reg.pushed_digest({"Tag": "1.0", "Digest": digest, "Size": 947}, [], "1.0") == (
        digest, 947)
    statuses = ["The push refers to repository [127.0.0.1:5001/course/hello]",
                f"1.0: digest: {digest} size: 855"]
    assert reg.pushed_digest({}, statuses, "1.0") == (digest, 855)
    assert reg.pushed_digest({}, statuses, "latest") == ("", 0)
    assert reg.pushed_digest({}, [], "1.0") == ("", 0)


def test_the_containerd_substitution_record_becomes_a_sentence() -> None:
    aux = {"manifestPushedInsteadOfIndex": True,
           "originalIndex": {"mediaType": manifests.OCI_INDEX, "digest": "sha256:" + "1" * 64},
           "selectedManifest": {"mediaType": manifests.OCI_MANIFEST, "digest": IMAGE,
                                "platform": {"os": "linux", "architecture": "amd64"}}}
    note = reg.substitution_note(aux)
    assert "pushed the linux/amd64 manifest sha256:b7b7b7b7b7b7" in note
    assert "index sha256:111111111111" in note
    assert reg.substitution_note({"Digest": "x"}) == ""


@pytest.mark.parametrize(("engine_says", "plain"), [
    ("push access denied, repository does not exist or may require authorization: "
     "authorization failed: no basic auth credentials", "no basic auth credentials"),
    ("unknown: unexpected status from HEAD request to http://127.0.0.1:5001/v2/course/hello/"
     "blobs/sha256:12: 401 Unauthorized", "did not accept the credentials (401 Unauthorized)"),
    ("dial tcp 127.0.0.1:5001: connect: connection refused", "connection refused"),
])
def test_refusals_read_plainly(engine_says: str, plain: str) -> None:
    said = reg.refusal_reason(engine_says)
    assert plain in said and "\n" not in said


def test_a_stale_login_gets_the_log_in_again_hint() -> None:
    endpoint = auth.Endpoint(kind="local", address="127.0.0.1:59998", api_url="", namespace="c",
                            username="u")
    auth._SESSIONS[endpoint.address] = auth.Credentials("u", "old")
    try:
        assert "log in again" in reg._push_hint("x: 401 Unauthorized", endpoint)
    finally:
        auth.forget(endpoint)
    assert "log in first" in reg._push_hint("x: 401 Unauthorized", endpoint)


def test_layer_rows_match_containerd_blob_ids_too() -> None:
    diff_ids = ["sha256:" + "d" * 64, "sha256:" + "e" * 64]
    manifest = {"layers": [{"digest": "sha256:" + "7d21b975984e" + "0" * 52, "size": 68_512_238},
                           {"digest": "sha256:" + "1204254f41d2" + "0" * 52, "size": 291}]}
    events = [reg.LayerEvent("7d21b975984e", "Layer already exists"),
              reg.LayerEvent("1204254f41d2", "Pushed"),
              reg.LayerEvent("abc96209fab8", "Pushed")]  # the attestation blob: not a layer
    rows = lesson.layer_rows(diff_ids, manifest, events)
    assert [(r.layer, r.status, r.size_bytes, r.sent) for r in rows] == [
        ("7d21b975984e", "Layer already exists", 68_512_238, False),
        ("1204254f41d2", "Pushed", 291, True)]


def test_pull_outcome_keeps_already_exists_when_containerd_unpacks_afterwards() -> None:
    held = reg.LayerEvent("aa", "Pull complete",
                          history=["Pulling fs layer", "Already exists", "Pull complete"])
    fetched = reg.LayerEvent("bb", "Pull complete",
                             history=["Pulling fs layer", "Download complete", "Pull complete"])
    classic = reg.LayerEvent("cc", "Already exists")
    assert [lesson.pull_outcome(e) for e in (held, fetched, classic)] == [
        "Already exists", "Pull complete", "Already exists"]


def test_fold_records_each_distinct_status_once() -> None:
    from helpers.progress import Progress

    stream = [{"status": "Pulling fs layer", "id": "aa"}, {"status": "Downloading", "id": "aa"},
              {"status": "Already exists", "id": "aa"}, {"status": "Already exists", "id": "aa"},
              {"status": "Pull complete", "id": "aa"}]
    layers, *_ = reg._fold(iter(stream), Progress("t", quiet=True))
    assert layers["aa"].history == ["Pulling fs layer", "Already exists", "Pull complete"]


def test_api_answer_names_its_media_type_and_registry_error() -> None:
    refused = api.ApiAnswer(url="u", status=404, headers={"Content-Type": "application/json"},
                            body={"errors": [{"code": "MANIFEST_UNKNOWN", "message":
                                              "OCI index found, but accept header does not "
                                              "support OCI indexes"}]})
    assert refused.error.startswith("MANIFEST_UNKNOWN: OCI index found")
    with pytest.raises(RegistryError, match="HTTP 404: MANIFEST_UNKNOWN"):
        api.require_ok(refused, "Reading")
    ok = api.ApiAnswer(url="u", status=200, headers={"Content-Type": manifests.OCI_INDEX}, body="")
    assert ok.media_type == manifests.OCI_INDEX and ok.error == ""


def test_new_results_round_trip_through_the_replay_codec() -> None:
    view = api.ManifestView(repository="course/hello", reference="1.0", digest="sha256:i",
                            media_type=manifests.OCI_INDEX, platform="linux/amd64",
                            platform_digest=IMAGE, manifest={"layers": []},
                            entries=manifests.index_entries(INDEX),
                            attestations={ATTESTATION: ["https://slsa.dev/provenance/v0.2"]},
                            size_bytes=855)
    event = reg.LayerEvent("aa", "Pull complete", 3, ["Already exists", "Pull complete"])
    for value in (view, event):
        assert codec.decode(codec.encode(value)) == value


def test_pull_rows_cover_every_layer_even_those_the_engine_did_not_list() -> None:
    diff_ids = ["sha256:" + "d" * 64, "sha256:" + "e" * 64, "sha256:" + "f" * 64]
    manifest = {"layers": [{"digest": "sha256:" + "7d21b975984e" + "0" * 52, "size": 100},
                           {"digest": "sha256:" + "1204254f41d2" + "0" * 52, "size": 20},
                           {"digest": "sha256:" + "6261032c7d4d" + "0" * 52, "size": 3}]}
    events = [reg.LayerEvent("1204254f41d2", "Pull complete",
                             history=["Pulling fs layer", "Already exists", "Pull complete"]),
              reg.LayerEvent("6261032c7d4d", "Pull complete",
                             history=["Download complete", "Pull complete"])]
    rows = lesson.pull_rows(diff_ids, manifest, events)
    assert [(r.layer, r.status, r.sent) for r in rows] == [
        ("7d21b975984e", lesson.NOT_LISTED, False), ("1204254f41d2", "Already exists", False),
        ("6261032c7d4d", "Pull complete", True)]
    report = lesson.PullReport(reference="r", digest="d", status="s", seconds=0.1,
                               layers_downloaded=1, layers_already_here=2, image_id="i",
                               rows=rows)
    table = lesson.pull_table(report)
    assert list(table.columns) == ["id", "what the pull did", "size_bytes"]
    assert list(table["size_bytes"]) == [100, 20, 3]
