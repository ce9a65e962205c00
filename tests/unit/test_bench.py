"""The bench's own pieces: the Galera peer's files as Kolla-Ansible 20.5.0 writes them,
sysbench's report parsed, the side-by-side table and the figures it is built from."""

from __future__ import annotations

import configparser
import os
import subprocess
import time
from pathlib import Path

import pytest

from bench.cpu import cpu_seconds
from bench.galera.render import (
    Member,
    buffer_pool_mb,
    clustercheck_cnf,
    haproxy_cfg,
    member_cnf,
)
from bench.report import ratio
from bench.side_by_side import ROWS, table
from bench.sysbench import Endpoint, SysbenchError, command, parse_report
from testbed.pytest_support import require_tool
from tests.testbed.load import LoadResult, Write

MEMBERS = [Member(f"galera-{i}", f"127.0.3.{i}", f"/srv/galera-{i}") for i in (1, 2, 3)]
# A real `sysbench oltp_write_only run --percentile=99` report (sysbench 1.0.20, Debian 12).
SYSBENCH_OUTPUT = Path(__file__).parent / "fixtures" / "sysbench-oltp-write-only.txt"


def parsed(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(allow_no_value=True, strict=False)
    parser.read_string("\n".join(line for line in text.splitlines()
                                 if not line.startswith("#")))
    return parser


def test_member_cnf_carries_kollas_galera_settings() -> None:
    cnf = parsed(member_cnf(MEMBERS[1], MEMBERS, buffer_pool=1024))["mysqld"]
    assert cnf["binlog_format"] == "ROW"
    assert cnf["innodb_autoinc_lock_mode"] == "2"
    assert cnf["wsrep_sst_method"] == "mariabackup"
    assert cnf["wsrep_slave_threads"] == "4"
    assert cnf["wsrep_on"] == "ON"
    assert cnf["max_connections"] == "10000"
    assert cnf["innodb_log_file_size"] == "'2048M'"
    assert cnf["innodb_buffer_pool_size"] == "'1024M'"
    assert cnf["wsrep_cluster_address"] == (
        "gcomm://127.0.3.1:4567,127.0.3.2:4567,127.0.3.3:4567")
    assert cnf["wsrep_node_address"] == "127.0.3.2:4567"
    assert cnf["bind-address"] == "127.0.3.2"
    assert cnf["datadir"] == "/srv/galera-2/data/"
    # No innodb_flush_log_at_trx_commit: 20.5.0 leaves InnoDB's default (1, durable).
    assert "innodb_flush_log_at_trx_commit" not in cnf


def test_buffer_pool_is_kollas_formula_over_the_members_of_one_host() -> None:
    assert buffer_pool_mb(24_000, 3) == 3200
    assert buffer_pool_mb(24_000, 1) == 8192  # Kolla's cap


def test_haproxy_sends_clients_to_one_member_and_keeps_the_others_as_backups() -> None:
    text = haproxy_cfg(MEMBERS, "127.0.3.10", stats_socket="/run/h.sock")
    servers = [line.split() for line in text.splitlines() if line.strip().startswith("server")]
    assert [s[1] for s in servers] == ["galera-1", "galera-2", "galera-3"]
    assert [s[-1] == "backup" for s in servers] == [False, True, True]
    for server in servers:
        assert " ".join(server[3:12]) == "check port 4569 inter 2000 rise 2 fall 5"
    assert "    option httpchk" in text
    assert "    bind 127.0.3.10:3306" in text


def test_haproxy_accepts_the_peers_config(tmp_path: Path) -> None:
    haproxy = require_tool("haproxy")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(haproxy_cfg(MEMBERS, "127.0.3.10", stats_socket=str(tmp_path / "s"),
                               maxconn=4000))
    result = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_clustercheck_reads_no_password_from_its_command_line() -> None:
    assert clustercheck_cnf(MEMBERS[0], "root") == (
        "[client]\nsocket=/srv/galera-1/mariadbd.sock\nuser=root\n")


def test_clustercheck_script_passes_shellcheck() -> None:
    shellcheck = require_tool("shellcheck")
    script = Path(__file__).resolve().parents[2] / "bench" / "galera" / "clustercheck.sh"
    result = subprocess.run([shellcheck, "--severity=style", str(script)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_sysbench_report_is_parsed() -> None:
    report = parse_report(SYSBENCH_OUTPUT.read_text())
    assert report.transactions_per_s > 0
    assert report.queries_per_s > report.transactions_per_s
    assert report.p99_ms > 0
    assert report.ignored_errors >= 0


@pytest.mark.parametrize("broken", ["FATAL: mysql_drv_query() returned error 1297", ""])
def test_sysbench_failures_are_never_figures(broken: str) -> None:
    with pytest.raises(SysbenchError):
        parse_report(SYSBENCH_OUTPUT.read_text() + broken if broken else "no report")


def test_sysbench_command_has_no_password() -> None:
    argv = command("oltp_write_only", "run", Endpoint("127.0.1.6", 3306, "root"),
                   engine="ndbcluster", threads=8, seconds=30)
    assert not [a for a in argv if "password" in a]
    assert "--mysql-storage-engine=ndbcluster" in argv
    assert "--auto-inc=off" in argv  # the same ids on both sides (sysbench.command)
    assert argv[-1] == "run"


def test_latency_percentiles_use_nearest_rank() -> None:
    writes = [Write(i, 0.0, (i + 1) / 1000, "committed") for i in range(100)]
    result = LoadResult(writes, 0, 0.0, 1.0)
    assert result.latency_percentiles((50, 99, 100)) == pytest.approx([0.050, 0.099, 0.100])
    assert LoadResult([], 0, 0.0, 1.0).latency_percentiles((50,)) == []


def test_cpu_seconds_counts_this_process_group() -> None:
    group = os.getpgrp()
    before = cpu_seconds([group])[group]
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert cpu_seconds([group])[group] - before >= 0.2


def test_table_gives_every_row_with_its_ratio() -> None:
    results: dict[str, dict[str, dict[str, float]]] = {"ndb": {}, "galera": {}}
    for side, value in (("ndb", 3.0), ("galera", 2.0)):
        for workload, figure, _, _ in ROWS:
            results[side].setdefault(workload, {})[figure] = value
    lines = table(results).splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert all(line.endswith("| 3.00 | 2.00 | 1.50 |") for line in lines[2:])
    assert ratio(0.0, 0.0) == "="
    assert ratio(None, 1.0) == "-"
    assert ratio(float("nan"), 1.0) == "-"
    assert ratio(1.0, 0.0) == "∞"
    assert "| - | 2.00 | - |" in table({"galera": results["galera"]})


def test_a_repeated_figure_is_the_median_with_its_range() -> None:
    from bench import workloads

    values = iter([3.0, 1.0, 2.0])
    run = workloads.repeated(lambda side, progress: {"tps": next(values)})
    figures = run(None, lambda line: None)  # type: ignore[arg-type]
    assert figures == {"tps": 2.0, "tps_min": 1.0, "tps_max": 3.0}
    shown = table({"ndb": {"one client": {"writes_per_s": 2.0, "writes_per_s_min": 1.0,
                                          "writes_per_s_max": 3.0}}})
    assert "| 2.00 (1.00-3.00) | - | - |" in shown


def test_a_streamed_process_gives_its_lines_and_is_killed_past_its_limit() -> None:
    from bench.process import stream

    lines: list[str] = []
    assert stream(["sh", "-c", "echo one; echo two >&2"], 10, lines.append) == 0
    assert lines == ["one\n", "two\n"]
    began = time.monotonic()
    assert stream(["sleep", "30"], 0.5, lines.append) < 0
    assert time.monotonic() - began < 10
