"""Pure parts of the core: units, codec, journal, errors, build-stream parsing, stand-in tars."""

from __future__ import annotations

import io
import json
import tarfile

import pandas as pd
import pytest

from helpers import journal, labels, ports, rootfs
from helpers.engine.build import BuildFold, BuildResult, BuildStep, _failure
from helpers.errors import CourseError
from helpers.session import codec
from helpers.standins.busybox import rootfs_tar
from helpers.units import human_bytes, human_seconds


@pytest.mark.parametrize(("size", "shown"), [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"),
                                             (183_086_264, "183 MB"), (1_030_000_000, "1.0 GB"),
                                             (-2_500_000, "-2.5 MB")])
def test_human_bytes_uses_decimal_units_like_docker(size: int, shown: str) -> None:
    assert human_bytes(size) == shown


def test_human_seconds() -> None:
    assert human_seconds(0.25) == "250 ms" and human_seconds(12.34) == "12.3 s"
    assert human_seconds(600) == "10.0 min"


def test_codec_round_trips_dataclasses_frames_and_containers() -> None:
    frame = pd.DataFrame({"n": [1, 2], "t": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                          "s": ["a", "b"]})
    result = BuildResult(tag="t:1", image_id="sha256:x", size_bytes=5, seconds=1.5,
                         steps=[BuildStep(1, "FROM x", 0.5, True, ["---> a"])], cli="docker b")
    value = {"frame": frame, "result": result, "pair": (1, "x"), "ints": {3: "three"},
             "nan": float("nan")}
    back = codec.decode(json.loads(json.dumps(codec.encode(value))))
    assert back["result"] == result
    assert back["pair"] == (1, "x") and back["ints"] == {3: "three"}
    assert list(back["frame"]["n"]) == [1, 2]
    assert back["frame"]["t"].dtype.kind == "M"
    assert back["nan"] != back["nan"]


def test_codec_refuses_handles() -> None:
    with pytest.raises(TypeError, match="plain data"):
        codec.encode(object())


def test_journal_records_and_forgets_per_notebook(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path))
    labels.set_notebook("01")
    with journal.capture() as captured:
        journal.record("docker run --rm busybox true")
    labels.set_notebook("02")
    journal.record("docker build -t app .")
    assert [c.cli for c in captured] == ["docker run --rm busybox true"]
    assert [c.notebook for c in journal.read()] == ["01", "02"]
    journal.forget("01")
    assert [c.cli for c in journal.read()] == ["docker build -t app ."]
    (tmp_path / "journal.jsonl").write_text("not json\n", encoding="utf-8")
    assert journal.read() == []


def test_labels_reject_blank_notebook_names() -> None:
    with pytest.raises(ValueError):
        labels.set_notebook("two words")
    assert labels.for_new_object("07") == {labels.COURSE_KEY: "true", labels.NOTEBOOK_KEY: "07"}


def test_course_error_renders_message_hint_and_log() -> None:
    error = CourseError("It broke.", hint="Fix it.", log_tail="line 1\nline 2\n")
    assert error.render() == "It broke.\nWhat to do: Fix it.\nLast log lines:\nline 1\nline 2"
    assert error._render_traceback_()[0] == "CourseError: It broke."


def _rawjson(**message) -> str:
    return json.dumps(message)


def _log(vertex: str, text: str) -> str:
    import base64

    return _rawjson(logs=[{"vertex": vertex, "stream": 1,
                           "data": base64.b64encode(text.encode()).decode()}])


WARNING = "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


T0, T1, T2 = "2026-11-30T14:09:11.241456722Z", "2026-11-30T14:09:12.75Z", "2026-11-30T14:09:15Z"


def test_buildkit_progress_is_folded_into_steps_with_cache_flags_and_times() -> None:
    fold = BuildFold()
    lines = [
        _rawjson(vertexes=[{"digest": "sha256:i", "name": "[internal] load build definition"}]),
        _rawjson(vertexes=[{"digest": "sha256:a", "name": "[builder 1/3] FROM base",
                            "started": T0, "completed": T0}]),
        _rawjson(vertexes=[{"digest": "sha256:b", "name": "[builder 2/3] RUN pip install -r r.txt",
                            "cached": True, "started": T0, "completed": T0}]),
        _rawjson(vertexes=[{"digest": "sha256:c", "name": "[builder 3/3] RUN broken",
                            "started": T1}]),
        _log("sha256:c", "sh: broken: not found\n"),
        _rawjson(vertexes=[{"digest": "sha256:c", "name": "[builder 3/3] RUN broken",
                            "started": T1, "completed": T2,
                            "error": 'process "/bin/sh -c broken" did not complete '
                                     "successfully: exit code: 127"}]),
        _rawjson(warnings=[{"vertex": "sha256:i", "level": 1,
                            "short": _b64(WARNING)}]),
    ]
    assert all(fold.feed(line) for line in lines)
    assert not fold.feed("ERROR: failed to build: failed to solve: process ... exit code: 127")
    assert [s.number for s in fold.steps] == [1, 2, 3]
    assert [s.stage for s in fold.steps] == ["builder"] * 3
    assert fold.steps[1].cached and not fold.steps[0].cached and fold.cached == 1
    assert fold.steps[2].instruction == "RUN broken" and fold.steps[2].seconds == 2.25
    assert fold.warnings == [WARNING]
    failure = _failure("app:1", fold, ["ERROR: failed to build: exit code: 127"])
    assert failure.step == "3" and "exit code: 127" in failure.message
    assert "sh: broken: not found" in failure.log_tail


def test_a_parse_error_fails_before_any_step_with_the_dockerfile_excerpt() -> None:
    fold = BuildFold()
    other = ["Dockerfile:1", "--------------------", "   1 | >>> Builder stage",
             "--------------------",
             "ERROR: failed to build: failed to solve: dockerfile parse error on line 1: "
             "unknown instruction: Builder"]
    failure = _failure("app:1", fold, other)
    assert "before any step" in failure.message and "unknown instruction" in failure.message
    assert ">>> Builder stage" in failure.log_tail


def test_free_port_avoids_a_taken_one() -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        assert not ports.is_free(taken)
        assert ports.free_port(taken) != taken


def test_busybox_rootfs_has_applet_links(tmp_path) -> None:
    fake = tmp_path / "busybox"
    fake.write_text("#!/bin/sh\necho sh ls cat busybox\n")
    fake.chmod(0o755)
    with tarfile.open(fileobj=io.BytesIO(rootfs_tar(fake))) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin/busybox"].isfile()
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert "bin/busybox" in members and members["tmp"].mode == 0o1777
    assert "root:x:0:0" in tar_text(rootfs_tar(fake), "etc/passwd")


def tar_text(data: bytes, name: str) -> str:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read().decode()


PEM = "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n"


def test_host_extra_certificates_are_the_difference(tmp_path, monkeypatch) -> None:
    host = tmp_path / "host.pem"
    host.write_text(PEM.format("STOCK") + PEM.format("PROXY-CA"))
    monkeypatch.setenv("SSL_CERT_FILE", str(host))
    extra = rootfs.host_extra_certificates(PEM.format("STOCK").encode())
    assert len(extra) == 1 and b"PROXY-CA" in extra[0]
