"""Faults under a continuous write load, on a cluster started from the rendered dev stack.

Each test runs the bounded write load (tests/testbed/load.py) through HAProxy, injects one
fault, lets the cluster recover, then reads every committed write back through each SQL node
directly: nothing committed may be lost. Stalls and rates are printed, not asserted (two
cores shared with other test clusters make timings noisy); the only timing bound is the
generous one in which commits must resume after a fault.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from tests.stacks import settings_for
from tests.testbed.conftest import RenderedCluster, start_rendered
from tests.testbed.load import LoadResult, Verification, WriteLoad, read_back, summary

# A data node killed with -9 is noticed when its transporters drop (at once on loopback) or
# at the latest after missed heartbeats (4 x HeartbeatIntervalDbDb, 5 s by default): commits
# must resume well within this.
RESUME_LIMIT = 60.0
COMMITS_AFTER = 50  # commits required after each fault, to show the service came back


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderedCluster]:
    # Its own cluster: these tests kill and restart nodes, which other modules must not see.
    yield from start_rendered(settings_for("dev"), tmp_path_factory.mktemp("faults-cluster"))


def endpoint_connect(rc: RenderedCluster) -> Callable[[], Any]:
    # Short timeouts: a write hanging on a dead node should turn into an `unknown` outcome
    # and a reconnect, not block the load for minutes.
    return partial(rc.connect, rc.cluster.endpoint(), connect_timeout=5, read_timeout=30,
                   write_timeout=30)


def verify_everywhere(rc: RenderedCluster, load: WriteLoad,
                      result: LoadResult) -> list[Verification]:
    checks = []
    for sql in rc.artifacts.topology.sql:
        connect = partial(rc.connect, rc.cluster.sql_address(sql.node_id))
        checks.append(result.verify(sql.node_id, read_back(connect, load.table)))
    return checks


def assert_nothing_lost(label: str, result: LoadResult, checks: list[Verification],
                        window: tuple[float, float]) -> None:
    print()
    print(summary(f"{label}, whole run", result, checks))
    print(summary(f"{label}, fault window", result, checks, *window))
    for check in checks:
        print(f"[load]   SQL node {check.node_id}: {check.rows} rows, lost {len(check.lost)}, "
              f"unknown present {check.unknown_present}")
        assert not check.lost, f"node {check.node_id} lacks committed {sorted(check.lost)[:10]}"
        assert not check.unexpected, f"rows never written: {sorted(check.unexpected)[:10]}"


def wait_status(rc: RenderedCluster, pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, out := rc.cluster.ndb_mgm("all status"), re.M):
        assert time.monotonic() < deadline, f"no {pattern!r} after {timeout}s:\n{out}"
        time.sleep(0.5)
    return out


def data_nodes_started(rc: RenderedCluster) -> None:
    status = rc.cluster.ndb_mgm("all status")
    for node in rc.artifacts.topology.data:
        assert f"Node {node.node_id}: started" in status, status


def test_kill_a_data_node_under_load(cluster: RenderedCluster) -> None:
    victim = cluster.artifacts.topology.node_groups[0][0].node_id
    with WriteLoad(endpoint_connect(cluster), max_seconds=420) as load:
        assert load.wait_for_commits(COMMITS_AFTER, 0.0, 60) >= COMMITS_AFTER
        killed = time.monotonic()
        cluster.cluster.kill_node(victim)
        wait_status(cluster, rf"^Node {victim}: not connected", RESUME_LIMIT)
        detected = time.monotonic()
        # The other replica carries the node group alone now.
        resumed = load.wait_for_commits(COMMITS_AFTER, detected, RESUME_LIMIT)
        assert resumed >= COMMITS_AFTER, f"only {resumed} commits after node {victim} died"
        cluster.cluster.start_node(victim)  # waits until it is `started` again
        rejoined = time.monotonic()
        assert load.wait_for_commits(COMMITS_AFTER, rejoined, RESUME_LIMIT) >= COMMITS_AFTER
        result = load.stop()
    data_nodes_started(cluster)
    print(f"\n[faults] node {victim} failure detected after {detected - killed:.1f} s, "
          f"rejoined after {rejoined - killed:.1f} s; "
          f"commits while it was down: {len(result.committed(detected, rejoined))}")
    assert_nothing_lost(f"kill -9 data node {victim}", result,
                        verify_everywhere(cluster, load, result), (killed, rejoined))


def test_kill_an_sql_node_under_load(cluster: RenderedCluster) -> None:
    topo = cluster.artifacts.topology
    by_address = {cluster.cluster.sql_address(s.node_id)[0]: s.node_id for s in topo.sql}
    with WriteLoad(endpoint_connect(cluster), max_seconds=300) as load:
        assert load.wait_for_commits(COMMITS_AFTER, 0.0, 60) >= COMMITS_AFTER
        victim = by_address[load.server]  # the SQL node the load is on right now
        killed = time.monotonic()
        cluster.cluster.kill_node(victim)
        # Its connections drop; HAProxy sends the reconnect to the other SQL node.
        resumed = load.wait_for_commits(COMMITS_AFTER, killed, RESUME_LIMIT)
        assert resumed >= COMMITS_AFTER, f"only {resumed} commits after SQL node {victim} died"
        assert by_address[load.server] != victim
        cluster.cluster.start_node(victim)  # waits until it sees all data nodes STARTED
        restarted = time.monotonic()
        assert load.wait_for_commits(COMMITS_AFTER, restarted, RESUME_LIMIT) >= COMMITS_AFTER
        result = load.stop()
    print(f"\n[faults] SQL node {victim} back after {restarted - killed:.1f} s")
    assert_nothing_lost(f"kill -9 SQL node {victim}", result,
                        verify_everywhere(cluster, load, result), (killed, restarted))
    assert_endpoint_reaches_every_sql_node(cluster)


def assert_endpoint_reaches_every_sql_node(rc: RenderedCluster, timeout: float = 60) -> None:
    """HAProxy takes a restarted SQL node back once its health check passes (rise 2)."""
    expected = {rc.cluster.sql_address(s.node_id)[0] for s in rc.artifacts.topology.sql}
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while seen != expected:
        assert time.monotonic() < deadline, f"HAProxy only reached {seen} of {expected}"
        # Held open together: leastconn then has to spread them over the healthy servers.
        conns = [rc.connect(rc.cluster.endpoint()) for _ in range(4)]
        try:
            for conn in conns:
                with conn.cursor() as cur:
                    cur.execute("SELECT @@bind_address")
                    seen.add(cur.fetchone()[0])
        finally:
            for conn in conns:
                conn.close()
        time.sleep(1)


def test_rolling_restart_script_under_load(cluster: RenderedCluster) -> None:
    script = cluster.artifacts.node_groups[0].rolling_restart
    with WriteLoad(endpoint_connect(cluster), max_seconds=600) as load:
        assert load.wait_for_commits(COMMITS_AFTER, 0.0, 60) >= COMMITS_AFTER
        began = time.monotonic()
        try:
            run = cluster.run_script(script, timeout=540)
        except subprocess.TimeoutExpired as timeout:
            pytest.fail(f"rolling restart still running after 540 s:\n{_text(timeout.stdout)}"
                        f"{_text(timeout.stderr)}\n{cluster.cluster.ndb_mgm('all status')}")
        ended = time.monotonic()
        assert run.returncode == 0, run.stdout + run.stderr
        assert "rolling restart done" in run.stdout
        assert load.wait_for_commits(COMMITS_AFTER, ended, RESUME_LIMIT) >= COMMITS_AFTER
        result = load.stop()
    data_nodes_started(cluster)
    # `started` alone would also hold if no node had restarted at all: their uptimes show
    # that every data node really went down and came back while the script ran.
    took = time.monotonic() - began
    with cluster.connect(cluster.cluster.endpoint()) as conn, conn.cursor() as cur:
        cur.execute("SELECT node_id, uptime FROM ndbinfo.nodes")
        uptimes = dict(cur.fetchall())
    assert set(uptimes) == {n.node_id for n in cluster.artifacts.topology.data}
    assert all(up < took for up in uptimes.values()), f"uptimes {uptimes}, script {took:.0f}s"
    during = len(result.committed(began, ended))
    print(f"\n[faults] rolling restart script took {ended - began:.1f} s; "
          f"commits during it: {during}; data node uptimes after it: {uptimes}")
    print("\n".join(f"[script] {line}" for line in run.stdout.splitlines()
                    if "restart" in line))
    assert during > 0, "no write committed during the rolling restart"
    assert_nothing_lost("rolling restart of node group 0", result,
                        verify_everywhere(cluster, load, result), (began, ended))


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""
