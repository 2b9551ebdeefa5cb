"""Pure parts of issue 13's helpers: CLI lines, exit codes, df rows, port lines, display."""

from __future__ import annotations

import pandas as pd

from helpers import display
from helpers.engine import inspect_more
from helpers.lessons import isolation, lifecycle, networking


def test_run_cli_is_built_from_the_arguments() -> None:
    line = inspect_more.run_cli("busybox", "web", ["sh", "-c", "exit 1"], init=True,
                                restart="on-failure:3", publish=["127.0.0.1::8080"],
                                add_hosts={"host.docker.internal": "host-gateway"},
                                volumes=["/cache"])
    assert line == ("docker run -d --name web --init --restart on-failure:3 -v /cache "
                    "-p 127.0.0.1::8080 --add-host host.docker.internal:host-gateway busybox "
                    "sh -c 'exit 1'")


def test_port_bindings_for_chosen_and_engine_picked_ports() -> None:
    assert inspect_more.port_bindings(["127.0.0.1:8088:8080", "127.0.0.1::8080",
                                       "127.0.0.1:53:53/udp"]) == {
        "8080/tcp": [("127.0.0.1", 8088), ("127.0.0.1",)], "53/udp": [("127.0.0.1", 53)]}


def test_exit_meanings() -> None:
    assert isolation.exit_meaning(137).startswith("137 = 128 + 9")
    assert isolation.exit_meaning(143).startswith("143 = 128 + 15")
    assert isolation.exit_meaning(0).startswith("0:")
    assert isolation.exit_meaning(3) == "3: the app's own exit code"


def test_restart_case_names() -> None:
    assert lifecycle.restart_case_name("c", "on-failure:3", 1) == "c-on-failure-3-exit1"


def test_disk_usage_rows_from_a_df_report() -> None:
    report = {
        "LayersSize": 1000,
        "Images": [{"Size": 600, "SharedSize": 100, "Containers": 1,
                    "Labels": {"io.docker-course.image": "true"}},
                   {"Size": 400, "SharedSize": 100, "Containers": 0, "Labels": None}],
        "Containers": [{"SizeRw": 10, "State": "running", "Labels": {"k": "true"}},
                       {"SizeRw": 5, "State": "exited", "Labels": {}}],
        "Volumes": [{"UsageData": {"Size": 50, "RefCount": 0}, "Labels": {"k": "true"}},
                    {"UsageData": {"Size": -1, "RefCount": 1}, "Labels": None}],
        "BuildCache": [{"Size": 7, "InUse": False, "Shared": False},
                       {"Size": 3, "InUse": True, "Shared": False}],
    }
    rows = {r["kind"]: r for r in lifecycle.disk_usage_rows(report, "k", "io.docker-course.image")}
    assert rows["images"] == {"kind": "images", "total": 2, "in use": 1, "size_bytes": 1000,
                              "reclaimable_bytes": 300, "made by the course": 1}
    assert rows["containers"]["reclaimable_bytes"] == 5
    assert rows["containers"]["made by the course"] == 1
    assert rows["local volumes"]["size_bytes"] == 50  # an unknown size (-1) counts as 0
    assert rows["build cache"]["reclaimable_bytes"] == 7


def test_published_rows() -> None:
    assert networking.published_rows(["8080/tcp -> 127.0.0.1:32768"]) == [
        {"container port": "8080/tcp", "host address": "127.0.0.1", "host port": 32768}]


def test_mib_sizes_read_back_in_mib() -> None:
    assert display._cell("limit_bytes", 64 * 2**20) == "64 MiB (67,108,864 bytes)"
    assert display._cell("size_bytes", 290_304) == "290 kB (290,304 bytes)"


def test_whole_table_cuts_nothing() -> None:
    frame = pd.DataFrame({"example": ["docker run " + "x" * 120] * 70})
    shown = display.whole(frame)
    assert shown._repr_html_().count("<tr") == 71
    assert "…" not in shown._repr_html_() and "..." not in shown._repr_html_()


def test_retry_on_vanished_asks_again_after_a_404(monkeypatch) -> None:
    import docker.errors

    monkeypatch.setattr(inspect_more.time, "sleep", lambda _: None)
    answers = iter([docker.errors.NotFound("snapshot does not exist"), {"Images": []}])

    def flaky():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert inspect_more.retry_on_vanished(flaky) == {"Images": []}
