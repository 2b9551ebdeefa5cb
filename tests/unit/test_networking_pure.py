"""Pure parts of notebook 07: probe scripts and their output, mysql batch output, the chart."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pandas as pd
import pytest
from matplotlib.figure import Figure

from helpers.engine import networking as net
from helpers.lessons import networking as lessons
from helpers.lessons import two_tier


def test_probe_script_probes_every_target_in_parallel_and_is_valid_sh() -> None:
    script = net.probe_script([("web", 5000), ("10.0.0.2", 3306)], timeout=2)
    assert "probe web 5000 &" in script and "probe 10.0.0.2 3306 &" in script
    assert script.rstrip().endswith("wait")
    assert "nc -w 2" in script and "timeout 5" in script
    subprocess.run(["sh", "-n", "-c", script], check=True)  # parses as POSIX sh


@pytest.mark.parametrize("bad", [("web; rm -rf /", 80), ("a b", 80), ("", 80), ("web", 0),
                                 ("web", 70000), ("$(id)", 80)])
def test_probe_script_refuses_what_is_not_a_host_and_port(bad) -> None:
    with pytest.raises(ValueError):
        net.probe_script([bad])


def test_probe_script_needs_targets() -> None:
    with pytest.raises(ValueError):
        net.probe_script([])


@pytest.mark.parametrize(("code", "line", "outcome"), [
    (0, "hello from course-07-a2", "reachable"),
    (0, "", "reachable"),
    (1, "nc: bad address 'course-07-b1'", "name not resolved"),
    (1, "nc: timed out", "no answer"),
    (143, "", "no answer"),
    (1, "nc: can't connect to remote host (10.0.0.2): Connection refused", "refused"),
])
def test_classify(code: int, line: str, outcome: str) -> None:
    assert net.classify(code, line) == outcome


def test_parse_probe_output_keeps_probe_lines_only() -> None:
    output = ("noise\nPROBE|web|5000|0|hello from web\n"
              "PROBE|db|3306|1|nc: bad address 'db'\nPROBE|broken\n"
              "PROBE|10.0.0.9|80|1|nc: timed out | really\n")
    found = net.parse_probe_output("src", output)
    assert [(p.target, p.port, p.outcome) for p in found] == [
        ("web", 5000, "reachable"), ("db", 3306, "name not resolved"),
        ("10.0.0.9", 80, "no answer")]
    assert found[0].reachable and not found[1].reachable
    assert found[2].detail == "nc: timed out | really"


def test_readable_probe_cli_is_a_command_a_learner_can_type() -> None:
    line = net.readable_probe_cli("course-07-a1", [("course-07-a2", 8080)])
    assert line.startswith("docker exec course-07-a1 sh -c 'for t in course-07-a2:8080;")


def test_mysql_client_command_uses_the_containers_own_credentials() -> None:
    plain = two_tier.client_command("mysqladmin", ["PATH", "MYSQL_USER", "MYSQL_PASSWORD"],
                                    "ping")
    assert plain == 'mysqladmin -h 127.0.0.1 -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" ping'
    files = two_tier.client_command("mysql", ["MYSQL_USER", "MYSQL_PASSWORD_FILE"], "-B")
    assert '-p"$(cat "$MYSQL_PASSWORD_FILE")"' in files
    root = two_tier.client_command("mysql", ["MYSQL_ROOT_PASSWORD_FILE"], "")
    assert root == 'mysql -h 127.0.0.1 -uroot -p"$(cat "$MYSQL_ROOT_PASSWORD_FILE")"'


def test_sql_argument_keeps_dollar_backtick_and_quotes_literal() -> None:
    sql = 'SELECT "a", `b`, \'$HOME\' FROM t WHERE x = "\\n"'
    word = two_tier.sql_argument(sql)
    done = subprocess.run(["sh", "-c", f"printf %s {word}"], capture_output=True, text=True,
                          check=True)
    assert done.stdout == sql


def test_parse_batch_output_unescapes_and_types_columns() -> None:
    text = ("id\ttext\tcreated_at\n"
            "1\tWelcome\t2026-01-01 10:00:00\n"
            "2\ttab\\there\\nnew line \\\\ slash\tNULL\n")
    frame = two_tier.parse_batch_output(text)
    assert list(frame.columns) == ["id", "text", "created_at"]
    assert frame["id"].tolist() == [1, 2]
    assert frame.loc[1, "text"] == "tab\there\nnew line \\ slash"
    assert pd.isna(frame.loc[1, "created_at"])
    assert two_tier.parse_batch_output("").empty
    header_only = two_tier.parse_batch_output("id\ttext\n")
    assert list(header_only.columns) == ["id", "text"] and header_only.empty


def test_parse_engine_time_handles_nanoseconds_and_the_zero_time() -> None:
    parsed = two_tier.parse_engine_time("2026-11-28T09:31:09.123456789Z")
    assert parsed == datetime(2026, 11, 28, 9, 31, 9, 123456, tzinfo=UTC)
    assert two_tier.parse_engine_time("2026-11-28T09:31:09Z").second == 9
    assert two_tier.parse_engine_time("0001-01-01T00:00:00Z") is None
    assert two_tier.parse_engine_time("") is None


def test_race_timeline_puts_events_on_the_apps_clock() -> None:
    race = two_tier.StartupRace(app="w", database="d", app_head_start_seconds=2.0,
                                database_ready_seconds=3.04, app_ready_seconds=6.0,
                                waiting_lines=2, first_waiting_line="waiting for database",
                                app_status="running", app_restarts=0)
    timeline = two_tier.race_timeline(race)
    assert timeline["seconds after app start"].tolist() == [0.0, 2.0, 5.0, 6.0]


def test_names_follow_the_prefix() -> None:
    parts = two_tier.names("course-07")
    assert (parts.network, parts.app, parts.database, parts.volume) == (
        "course-07-net", "course-07-web", "course-07-db", "course-07-dbdata")


def _probe_frame() -> pd.DataFrame:
    rows = []
    layout = {"a1": "net-a", "a2": "net-a", "d1": "bridge (default)"}
    outcome = {("a1", "a2", "name"): "reachable", ("a1", "a2", "IP"): "reachable",
               ("a2", "a1", "name"): "reachable", ("a2", "a1", "IP"): "reachable"}
    for source, source_net in layout.items():
        for target, target_net in layout.items():
            if source == target:
                continue
            for by in ("name", "IP"):
                default = "name not resolved" if by == "name" else "no answer"
                rows.append({"source": source, "source network": source_net, "target": target,
                             "target network": target_net, "by": by, "address": target,
                             "port": 8080, "outcome": outcome.get((source, target, by),
                                                                  default), "detail": ""})
    return pd.DataFrame(rows, columns=lessons.COLUMNS)


def test_matrix_table_has_sources_as_rows_and_dashes_for_itself() -> None:
    table = lessons.matrix_table(_probe_frame(), by="IP")
    assert table.loc["a1", "a2"] == "reachable" and table.loc["a1", "d1"] == "no answer"
    assert table.loc["a1", "a1"] == "—"
    assert list(table.columns) == list(table.index) == ["a1", "a2", "d1"]


def test_matrix_chart_draws_one_labelled_panel_per_way_of_addressing() -> None:
    figure = lessons.matrix_chart(_probe_frame())
    assert isinstance(figure, Figure)
    panels = [a for a in figure.axes if a.get_title()]
    assert [a.get_title() for a in panels] == ["by container name", "by IP address"]
    assert panels[0].get_ylabel().startswith("source")
    assert all(a.get_xlabel().startswith("target") for a in panels)
    ticks = [t.get_text() for t in panels[0].get_xticklabels()]
    assert ticks[0].startswith("a1") and ticks[-1].startswith("d1")  # diagonal is "itself"
    legend = figure.legends[0]
    assert any("no answer" in t.get_text() for t in legend.get_texts())
