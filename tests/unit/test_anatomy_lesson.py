"""Notebook 04's plain data: it records and replays as itself, its tables and charts read well."""

from __future__ import annotations

import json

import pytest
from anatomy_builders import demo_image, legacy_archive
from matplotlib.figure import Figure

from helpers import build_folders
from helpers import charts as anatomy_charts
from helpers.anatomy import ImageAnatomy, analyse_image
from helpers.anatomy.model import SecretHit
from helpers.anatomy.secrets import ContentScanner
from helpers.lessons import anatomy as lesson
from helpers.session import codec


@pytest.fixture(scope="module")
def demo() -> ImageAnatomy:
    return analyse_image(legacy_archive(demo_image()))


def test_anatomy_round_trips_through_the_replay_codec(demo: ImageAnatomy) -> None:
    recorded = json.loads(json.dumps(codec.encode(demo)))  # what data/recordings/ stores
    again = codec.decode(recorded)
    assert isinstance(again, ImageAnatomy) and again == demo
    assert isinstance(again.duplicates[0].paths, tuple)
    trimmed = demo.trimmed(1)
    assert codec.decode(json.loads(json.dumps(codec.encode(trimmed)))) == trimmed
    assert ImageAnatomy.from_record(json.loads(json.dumps(trimmed.to_record()))) == trimmed


def test_trimmed_keeps_the_totals(demo: ImageAnatomy) -> None:
    small = demo.trimmed(1)
    assert len(small.wasted_files) == 1 and small.wasted_files[0] == demo.wasted_files[0]
    assert small.wasted_file_count == len(demo.wasted_files) > 1
    assert small.duplicate_group_count == len(demo.duplicates)
    assert (small.total_bytes, small.wasted_bytes, small.efficiency, small.duplicate_bytes) == (
        demo.total_bytes, demo.wasted_bytes, demo.efficiency, demo.duplicate_bytes)
    assert demo.wasted_file_count == len(demo.wasted_files)  # untrimmed: the list is the count


def test_tables_are_humanized(demo: ImageAnatomy) -> None:
    layers = lesson.layers_table(demo)
    assert list(layers.columns) == ["step", "size_bytes", "files", "added", "modified",
                                    "deleted", "wasted_bytes"]
    assert all(str(value).endswith("B") for value in layers["size_bytes"])
    assert layers["step"].iloc[0] == "ADD rootfs.tar /"
    table = lesson.compare_table(demo, demo.trimmed(2))
    assert table["efficiency"].iloc[0].endswith(" %")
    assert lesson.compare(demo)["efficiency"].iloc[0] == demo.efficiency
    wasted = lesson.wasted_table(demo, top=3)
    assert len(wasted) == 3 and set(wasted["reason"]) <= {"overwritten", "deleted", "opaque"}
    duplicates = lesson.duplicates_table(demo)
    assert duplicates["paths"].iloc[0] == "opt/copy-of-tool, usr/bin/tool"
    secrets = lesson.secrets_table(demo)
    assert "root/.ssh/id_rsa" in set(secrets["path_or_key"])
    assert not lesson.largest_table(demo, top=2).empty


def test_charts_label_their_units(demo: ImageAnatomy) -> None:
    summary = lesson.compare(demo, demo.trimmed(1))
    figures = [
        anatomy_charts.size_comparison_chart(summary),
        anatomy_charts.layer_stack_chart({"first": demo.layers_frame(),
                                          "second": demo.layers_frame()}),
        anatomy_charts.layer_bars_chart(demo.layers_frame()),
        anatomy_charts.files_chart(demo.wasted_frame(), title="wasted", colour_by="reason"),
        anatomy_charts.files_chart(demo.largest_frame(), title="largest"),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        axes = figure.axes[0]
        assert "bytes" in (axes.get_xlabel() + axes.get_ylabel())
        assert axes.get_title()
        figure.canvas.draw()  # lays out without errors


def test_the_throwaway_secrets_look_real_to_the_scanner() -> None:
    scanner = ContentScanner()
    key = build_folders.throwaway_key().encode()
    env = build_folders.throwaway_env().encode()
    assert key.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert scanner.wants("src/id_rsa", len(key)) and scanner.wants("src/.env", len(env))
    assert SecretHit("src/id_rsa", "private-key", "private key material") \
        in scanner.scan("src/id_rsa", key)
    assert [hit.kind for hit in scanner.scan("src/.env", env)] == ["env-file"]
    assert build_folders.throwaway_key() != build_folders.throwaway_key()  # fresh every build


def test_binary_files_are_skipped_quickly_but_named_ones_are_not() -> None:
    scanner = ContentScanner()
    binary = b"\0\1\2PRIVATE KEY-----" + b"\0" * 100
    assert scanner.scan("app/data.bin", binary) == []
    named = b"\0" + b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
    assert [hit.kind for hit in scanner.scan("home/me/.ssh/id_rsa", named)] == ["private-key"]
