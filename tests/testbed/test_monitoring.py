"""Monitoring on the test bed: Debian's builds of the shipped exporters and of Prometheus, run
from the rendered files against a real NDB cluster (the dev stack with monitoring on).

Checked for real: the exporter account's statements on each SQL node; mysqld_exporter and
sql_exporter logging in with it and exporting every metric the rules and the dashboard use;
HAProxy's exporter on the SQL endpoint; Prometheus loading the rendered configuration and the
shipped rules; every dashboard query returning data; and killing a data node firing
NdbDataNodeDown and NdbNodeGroupAtRisk within their `for` plus one evaluation interval, one
scrape interval and one ndbinfo query interval (printed as `[monitoring]` lines).

The only changes to what a deployment runs: every address and port is the test bed's (the
rendering functions are given the test bed's endpoints), and the intervals are 1 s."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from components.render.monitoring import (
    dashboard_queries,
)
from config.loader import load_settings
from config.sql_check import check_endpoint
from config.topology import build_topology
from tests.stacks import modified
from tests.testbed.conftest import RenderedCluster, start_rendered
from tests.testbed.monitoring_harness import INTERVAL_S, Monitoring, monitor
from tools.status import Access, gather, render_text

# NdbDataNodeDown's `for` in components/render/monitoring/ndb-alerts.yml.
DATA_NODE_DOWN_FOR_S = 30


def monitoring_settings() -> Any:
    raw = modified("dev", "monitoring", {
        "enabled": True, "scrapeIntervalSeconds": INTERVAL_S,
        "evaluationIntervalSeconds": INTERVAL_S, "memoryPerDatabaseIntervalSeconds": 60})
    return load_settings(raw)


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitoring]:
    workdir = tmp_path_factory.mktemp("monitoring")
    for bed in start_rendered(monitoring_settings(), workdir / "cluster"):
        with monitor(bed, workdir) as running:
            yield running


def _up(mon: Monitoring) -> bool:
    try:
        result = mon.query("up")
    except OSError:
        return False
    return len(result) >= 5 and all(r["value"][1] == "1" for r in result)


def test_every_exporter_is_scraped_and_no_alert_fires_on_a_healthy_cluster(
        monitoring: Monitoring) -> None:
    took = monitoring.wait("every target up", lambda: _up(monitoring), 120)
    print(f"\n[monitoring] every target up {took:.1f} s after Prometheus started")
    jobs = {r["metric"]["job"] for r in monitoring.query("up")}
    assert jobs == {"ndbinfo", "mysqld", "haproxy", "prometheus"}
    monitoring.wait("the data nodes' metrics",
                    lambda: len(monitoring.query('sql_ndb_data_node{col="started"} == 1')) == 2,
                    60)
    ready = monitoring.query("mysql_global_status_ndb_number_of_ready_data_nodes")
    assert sorted(r["value"][1] for r in ready) == ["2", "2"], ready
    time.sleep(3 * INTERVAL_S)
    assert monitoring.firing() <= {"NdbBackupTooOld"}, monitoring.firing()


def test_every_dashboard_query_returns_data(monitoring: Monitoring) -> None:
    cluster = monitoring.bed.cluster
    # The backup job's id: the UTC minute (YYMMDDhhmm), which the last-backup query reads.
    backup_id = datetime.now(UTC).strftime("%y%m%d%H%M")
    cluster.ndb_mgm(f"START BACKUP {backup_id} WAIT COMPLETED", timeout=120)
    empty: list[str] = []

    def all_answer() -> bool:
        empty[:] = [title for title, expr in dashboard_queries() if not monitoring.query(expr)]
        return not empty

    try:
        took = monitoring.wait("every dashboard query answering", all_answer, 150)
    except AssertionError:
        raise AssertionError(f"dashboard panels without data: {empty}") from None
    print(f"\n[monitoring] all {len(dashboard_queries())} dashboard queries answered "
          f"{took:.1f} s after the backup")
    monitoring.wait("the backup's id in ndbinfo.backup_id", lambda: [
        r["value"][1] for r in monitoring.query('sql_ndb_last_backup{col="id"}')]
        == [str(int(backup_id))], 30)
    age = float(monitoring.query('time() - sql_ndb_last_backup{col="timestamp_seconds"}')
                [0]["value"][1])
    assert 0 <= age < 180, age
    databases = {r["metric"]["schema"] for r in monitoring.query(
        'sql_ndb_database_memory{col="bytes"}')}
    assert "mysql" in databases, databases


def status_access(bed: RenderedCluster) -> Access:
    """What `make status TESTBED=1` reads (testbed/__main__.py writes the same state)."""
    settings, cluster = bed.settings, bed.cluster
    topology = build_topology(settings)
    host, port = cluster.endpoint()
    return Access(
        ndb_mgm=[*cluster.tool("ndb_mgm"), "-c", cluster.connectstring],
        sql_host=host, sql_port=port, sql_user="root", sql_password="",
        checks={n.name: cluster.localise(f"http://{check_endpoint(settings, topology, n)}/")
                for n in topology.sql},
        cluster_log=["cat", *map(str, cluster.cluster_logs())])


def test_status_shows_the_cluster(monitoring: Monitoring) -> None:
    status = gather(status_access(monitoring.bed))
    print("\n" + render_text(status, "make status (test bed)"))
    assert not status.problems, status.problems
    kinds = {(n.kind, n.node_id) for n in status.nodes}
    assert {("MGM", 145), ("NDB", 1), ("NDB", 2), ("API", 147), ("API", 148)} <= kinds
    data = [n for n in status.nodes if n.kind == "NDB"]
    assert all(n.state == "STARTED" and n.version == "9.7.2" and n.node_group == 0
               for n in data), data
    assert all(n.data_memory_total == 512 << 20 and (n.data_memory_used or 0) > 0
               for n in data), data
    assert status.sql_nodes_connected == 2
    assert all(answer.startswith("200") for answer in status.backends.values()), \
        status.backends
    assert set(status.backends) == {"ndb-sql-1", "ndb-sql-2"}
    assert status.last_backup is not None and status.last_backup["time"] is not None
    assert "mysql" in status.memory_per_database


def test_a_killed_data_node_fires_its_alerts(monitoring: Monitoring) -> None:
    assert "NdbDataNodeDown" not in monitoring.firing()
    killed_at = time.monotonic()
    monitoring.bed.cluster.kill_node(2)
    seen = monitoring.wait(
        "the killed node in the metrics",
        lambda: bool(monitoring.query('sql_ndb_data_node{node_id="2",col="started"} == 0')), 60)
    monitoring.wait("NdbDataNodeDown firing",
                            lambda: "NdbDataNodeDown" in monitoring.firing(), 90)
    total = time.monotonic() - killed_at
    print(f"\n[monitoring] data node 2 killed: metric {seen:.1f} s, NdbDataNodeDown firing "
          f"{total:.1f} s after the kill (for {DATA_NODE_DOWN_FOR_S} s + intervals of "
          f"{INTERVAL_S} s)")
    # for + one evaluation + one scrape + one ndbinfo query interval, and 5 s for a loaded
    # 2-core machine (Prometheus evaluates on its own clock, not on the scrape's).
    assert total <= DATA_NODE_DOWN_FOR_S + 3 * INTERVAL_S + 5, total
    monitoring.wait("NdbNodeGroupAtRisk firing",
                    lambda: "NdbNodeGroupAtRisk" in monitoring.firing(), 30)


def test_status_shows_the_killed_node_and_the_cluster_logs_alerts(
        monitoring: Monitoring) -> None:
    status = gather(status_access(monitoring.bed))
    text = render_text(status, "make status (test bed, data node 2 killed)")
    print("\n" + text)
    node2 = next(n for n in status.nodes if n.kind == "NDB" and n.node_id == 2)
    assert node2.address is None and node2.state.startswith(("not connected", "NOT_CONNECTED"))
    assert any("Node 2" in line for line in status.alerts), status.alerts
    assert "ALERT" in text
