"""Waste, duplicates and efficiency: every rule, with expectations derived from the inputs."""

from __future__ import annotations

import json

import pytest
from anatomy_builders import (
    APP_CONF_V1,
    APP_CONF_V2,
    BIG,
    CACHE_A,
    CACHE_B,
    CACHE_NEW,
    ENV_FILE,
    INNER,
    NOTES_FIRST,
    NOTES_SECOND,
    PRIVATE_KEY,
    SAME_SIZE_1,
    SAME_SIZE_2,
    TOOL,
    Image,
    demo_image,
    directory,
    file,
    layer_tar,
    legacy_archive,
    multi_platform_archive,
    oci_archive,
    opaque,
    step,
    symlink,
    whiteout,
)

from helpers.anatomy import analyse, analyse_image, read_image, short_step
from helpers.anatomy.model import WASTE_REASONS, ImageAnatomy

STATUS = b"Package: demo\nVersion: 1.0\n\n"
LAYER_BYTES = [
    sum(map(len, [APP_CONF_V1, SAME_SIZE_1, SAME_SIZE_2, BIG, INNER, CACHE_A, CACHE_B, TOOL,
                  PRIVATE_KEY, STATUS])),
    sum(map(len, [APP_CONF_V2, TOOL, ENV_FILE])),
    len(NOTES_FIRST) + len(NOTES_SECOND),
    len(CACHE_NEW),
]
EXPECTED_WASTE = {  # (path, layer that stores it) -> (bytes, reason, layer that hides it)
    ("etc/app.conf", 0): (len(APP_CONF_V1), "overwritten", 1),
    ("root/.ssh/id_rsa", 0): (len(PRIVATE_KEY), "deleted", 1),
    ("data/big.bin", 0): (len(BIG), "deleted", 2),
    ("data/sub/inner.txt", 0): (len(INNER), "deleted", 2),
    ("notes.txt", 2): (len(NOTES_FIRST), "overwritten", 2),
    ("cache/a.tmp", 0): (len(CACHE_A), "opaque", 3),
    ("cache/b.tmp", 0): (len(CACHE_B), "opaque", 3),
}

ALL_SHAPES = {
    "legacy": lambda image: legacy_archive(image),
    "oci": lambda image: oci_archive(image),
    "gzip": lambda image: oci_archive(image, compression="gzip"),
    "zstd": lambda image: oci_archive(image, compression="zstd", docker_manifest=False),
    "multi-platform": lambda image: multi_platform_archive(image, Image(
        layers=[layer_tar(file("x", "y"))], history=[step("ADD x /")],
        architecture="arm64")),
}


@pytest.fixture(scope="module", params=list(ALL_SHAPES))
def report(request: pytest.FixtureRequest):
    return analyse_image(ALL_SHAPES[request.param](demo_image()))


def test_totals_waste_and_efficiency(report) -> None:
    total = sum(LAYER_BYTES)
    wasted = sum(size for size, _, _ in EXPECTED_WASTE.values())
    assert report.total_bytes == total
    assert report.wasted_bytes == wasted
    assert report.efficiency == pytest.approx(1 - wasted / total)
    assert report.visible_bytes == total - wasted


def test_each_wasted_file_with_its_reason(report) -> None:
    found = {(w.path, w.layer): (w.size_bytes, w.reason, w.hidden_by)
             for w in report.wasted_files}
    assert found == EXPECTED_WASTE
    sizes = [w.size_bytes for w in report.wasted_files]
    assert sizes == sorted(sizes, reverse=True)


def test_the_visible_copy_is_never_waste(report) -> None:
    wasted = {(w.path, w.layer) for w in report.wasted_files}
    assert ("etc/app.conf", 1) not in wasted  # the new version stays
    assert ("notes.txt", 2) in wasted and len([w for w in report.wasted_files
                                               if w.path == "notes.txt"]) == 1
    assert ("cache/new.tmp", 3) not in wasted  # added after the opaque reset


def test_per_layer_breakdown(report) -> None:
    by_layer = {layer.index: layer for layer in report.layers}
    assert [by_layer[i].size_bytes for i in range(4)] == LAYER_BYTES
    waste_stored = [sum(s for (_, layer), (s, _, _) in EXPECTED_WASTE.items() if layer == i)
                    for i in range(4)]
    assert [by_layer[i].wasted_bytes for i in range(4)] == waste_stored
    # Layer 0: 12 regular files (the hard link and the symlink are not regular files).
    assert by_layer[0].files == 12
    assert (by_layer[0].added, by_layer[0].modified, by_layer[0].deleted) == (14, 0, 0)
    assert (by_layer[1].added, by_layer[1].modified, by_layer[1].deleted) == (2, 1, 1)
    assert (by_layer[2].added, by_layer[2].modified, by_layer[2].deleted) == (1, 0, 2)
    assert (by_layer[3].added, by_layer[3].modified, by_layer[3].deleted) == (1, 0, 2)
    assert by_layer[2].step == "RUN rm -rf /data"


def test_content_duplicates(report) -> None:
    assert [(g.paths, g.size_bytes, g.wasted_bytes) for g in report.duplicates] == [
        (("opt/copy-of-tool", "usr/bin/tool"), len(TOOL), len(TOOL))]
    assert report.duplicate_bytes == len(TOOL)


def test_largest_visible_files(report) -> None:
    visible_sizes = {
        "usr/bin/tool": len(TOOL), "opt/copy-of-tool": len(TOOL),
        "etc/app.conf": len(APP_CONF_V2), "notes.txt": len(NOTES_SECOND),
    }
    top = report.largest_files[:4]
    assert {f.path: f.size_bytes for f in top} == visible_sizes


def test_to_json_has_the_agreed_keys_and_is_serialisable(report) -> None:
    data = report.to_json()
    assert list(data) == ["image", "total_bytes", "wasted_bytes", "efficiency",
                          "duplicate_bytes", "layers", "wasted_files", "duplicates", "secrets"]
    assert data["image"] == "course/demo:1"
    for layer in data["layers"]:
        assert {"index", "diff_id", "created_by", "size_bytes", "files",
                "wasted_bytes"} <= set(layer)
    for item in data["wasted_files"]:
        assert {"path", "layer", "size_bytes", "reason"} <= set(item)
        assert item["reason"] in WASTE_REASONS
    for group in data["duplicates"]:
        assert {"paths", "size_bytes", "wasted_bytes"} <= set(group)
    for finding in data["secrets"]:
        assert {"path_or_key", "layer", "kind"} <= set(finding)
    json.dumps(data)


def test_frames_for_notebooks(report) -> None:
    layers = report.layers_frame()
    assert list(layers.index) == [0, 1, 2, 3]
    assert layers["size_bytes"].sum() == report.total_bytes
    assert report.wasted_frame()["size_bytes"].sum() == report.wasted_bytes
    assert len(report.wasted_frame(top=2)) == 2
    assert report.duplicates_frame()["copies"].tolist() == [2]
    assert set(report.secrets_frame()["kind"]) >= {"private-key", "env-file"}
    assert report.largest_frame()["size_bytes"].is_monotonic_decreasing
    assert report.summary_frame().loc["course/demo:1", "wasted_bytes"] == report.wasted_bytes


def test_empty_image_is_fully_efficient() -> None:
    image = Image(layers=[layer_tar()], history=[step("WORKDIR /app")])
    report = analyse_image(legacy_archive(image))
    assert (report.total_bytes, report.wasted_bytes, report.efficiency) == (0, 0, 1.0)


def test_equal_sizes_with_different_content_and_empty_files_are_not_duplicates() -> None:
    image = Image(layers=[layer_tar(file("a", SAME_SIZE_1), file("b", SAME_SIZE_2),
                                    file("e1", b""), file("e2", b""))],
                  history=[step("COPY . /")])
    assert analyse_image(legacy_archive(image)).duplicates == []


def test_duplicates_across_layers_and_hidden_copies() -> None:
    payload = b"same bytes " * 30
    image = Image(
        layers=[
            layer_tar(file("a/one", payload), file("a/two", payload)),
            layer_tar(file("b/three", payload), whiteout("a/two")),
        ],
        history=[step("COPY a /a"), step("COPY b /b")])
    report = analyse_image(oci_archive(image, compression="gzip"))
    (group,) = report.duplicates
    assert group.paths == ("a/one", "b/three")  # the deleted copy is waste, not a duplicate
    assert group.layers == (0, 1)
    assert group.wasted_bytes == len(payload)
    assert report.wasted_bytes == len(payload)


def test_directory_whiteout_removes_only_that_subtree() -> None:
    image = Image(
        layers=[layer_tar(file("srv/data/x", b"1" * 10), file("srv/data/deep/y", b"2" * 20),
                          file("srv/database", b"3" * 30), file("srv/data.txt", b"4" * 40))],
        history=[step("COPY srv /srv")])
    image.layers.append(layer_tar(whiteout("srv/data")))
    image.history.append(step("RUN rm -rf /srv/data"))
    report = analyse_image(legacy_archive(image))
    assert {w.path for w in report.wasted_files} == {"srv/data/x", "srv/data/deep/y"}
    assert report.wasted_bytes == 30


def test_file_replacing_a_directory_hides_its_contents() -> None:
    image = Image(
        layers=[layer_tar(directory("conf"), file("conf/a", b"a" * 5), file("conf/b", b"b" * 6)),
                layer_tar(symlink("conf", "/etc/conf"))],
        history=[step("COPY conf /conf"), step("RUN ln -s /etc/conf /conf")])
    report = analyse_image(legacy_archive(image))
    assert {(w.path, w.reason) for w in report.wasted_files} == {
        ("conf/a", "overwritten"), ("conf/b", "overwritten")}


def test_opaque_directory_keeps_entries_of_its_own_layer() -> None:
    image = Image(
        layers=[layer_tar(file("var/cache/old", b"o" * 9)),
                layer_tar(opaque("var/cache"), file("var/cache/new", b"n" * 4))],
        history=[step("RUN fill"), step("RUN reset")])
    report = analyse_image(oci_archive(image))
    assert [(w.path, w.reason, w.hidden_by) for w in report.wasted_files] == [
        ("var/cache/old", "opaque", 1)]
    assert [f.path for f in report.largest_files] == ["var/cache/new"]


def test_recreating_a_deleted_file_in_a_later_layer() -> None:
    image = Image(
        layers=[layer_tar(file("app/config", b"v1" * 10)),
                layer_tar(whiteout("app/config")),
                layer_tar(file("app/config", b"v3" * 3))],
        history=[step("COPY a"), step("RUN rm"), step("COPY b")])
    report = analyse_image(legacy_archive(image))
    assert [(w.path, w.layer, w.reason, w.hidden_by) for w in report.wasted_files] == [
        ("app/config", 0, "deleted", 1)]
    assert report.layers[2].added == 1 and report.layers[2].modified == 0


def test_analyse_accepts_an_archive_already_read() -> None:
    archive = read_image(legacy_archive(demo_image()))
    assert analyse(archive, top=3).largest_files == analyse_image(
        legacy_archive(demo_image()), top=3).largest_files
    assert len(analyse(archive, top=3).largest_files) == 3


@pytest.mark.parametrize("created_by, expected", [
    ("/bin/sh -c #(nop)  CMD [\"python\"]", 'CMD ["python"]'),
    ("/bin/sh -c apt-get update && apt-get install -y curl", "RUN apt-get update && "
                                                             "apt-get install -y curl"),
    ("RUN /bin/sh -c pip install -r requirements.txt # buildkit",
     "RUN pip install -r requirements.txt"),
    ("RUN |1 TOKEN=abc123secret /bin/sh -c make # buildkit", "RUN make"),
    ("|2 A=1 B=2 /bin/sh -c make install", "RUN make install"),
    ("COPY app.py /app/ # buildkit", "COPY app.py /app/"),
    ("ENV DB_PASSWORD=hunter2hunter2", "ENV DB_PASSWORD=****"),
])
def test_short_step(created_by: str, expected: str) -> None:
    assert short_step(created_by) == expected


def test_short_step_truncates_long_lines() -> None:
    text = "RUN " + "x" * 200
    assert len(short_step(text, width=40)) == 40
    assert short_step(text, width=40).endswith("…")


def test_record_round_trip_for_replay(report) -> None:
    record = json.loads(json.dumps(report.to_record()))  # as stored on disk
    assert ImageAnatomy.from_record(record) == report
