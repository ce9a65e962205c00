"""The dev and prod stacks' rendered files run a real NDB Cluster; the gates work on it."""

from __future__ import annotations

import time
import uuid

from components.render.artifacts import all_scripts, render_cluster
from config import load_settings
from tests.stacks import modified
from tests.testbed.conftest import RenderedCluster


def test_dev_cluster_reaches_started(dev_cluster: RenderedCluster) -> None:
    status = dev_cluster.cluster.ndb_mgm("all status")
    for node in dev_cluster.artifacts.topology.data:
        assert f"Node {node.node_id}: started" in status
    show = dev_cluster.cluster.ndb_mgm("show")
    for sql in dev_cluster.artifacts.topology.sql:
        assert f"id={sql.node_id}\t@" in show or f"id={sql.node_id} @" in show


def test_every_gate_passes_on_the_started_cluster(dev_cluster: RenderedCluster) -> None:
    # Only the readiness gates: every other script changes the cluster (restarts, the
    # scale-out, backups) or ran when the test bed started (the check accounts).
    scripts = {name: text for name, text in all_scripts(dev_cluster.artifacts).items()
               if name.startswith("gate-")}
    assert len(scripts) == 7  # mgmd, 2 members, the group, 2 SQL nodes, the SQL pool
    for name, text in scripts.items():
        result = dev_cluster.run_script(text)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert "ready:" in result.stdout, name


def test_a_gate_fails_naming_the_missing_node(dev_cluster: RenderedCluster) -> None:
    quick = load_settings(modified("dev", "gates", {"timeoutSeconds": 10, "pollSeconds": 2}))
    artifacts = render_cluster(quick)
    cluster = dev_cluster.cluster
    cluster.kill_node(2)
    try:
        # kill -9 is noticed after missed heartbeats; until then mgmd still says `started`.
        deadline = time.monotonic() + 120
        while "Node 2: not connected" not in cluster.ndb_mgm("all status"):
            assert time.monotonic() < deadline, "node 2's failure was never detected"
            time.sleep(1)
        result = dev_cluster.run_script(artifacts.node_groups[0].group_gate)
        assert result.returncode != 0
        assert "node(s) 2 not ready after 10s" in result.stderr
        assert "Last status seen" in result.stderr
        assert "Node 1: started" in result.stderr  # the status it last saw is shown
        assert "waiting for data nodes started: node(s) 2" in result.stdout  # progress
        # The member gate of node 2 knows this is no initial start (node 1 is started),
        # so it waits for `started`, not merely `connected`, and fails the same way.
        member = dev_cluster.run_script(artifacts.node_groups[0].member_gates[1])
        assert member.returncode != 0 and "data node restart" in member.stderr
    finally:
        cluster.start_node(2)
    assert dev_cluster.run_script(artifacts.node_groups[0].group_gate).returncode == 0


def test_endpoint_spreads_over_sql_nodes_that_share_ndb_tables(
    dev_cluster: RenderedCluster,
) -> None:
    cluster = dev_cluster.cluster
    seen = set()
    for _ in range(6):
        with dev_cluster.connect(cluster.endpoint()) as conn, conn.cursor() as cur:
            cur.execute("SELECT @@bind_address")
            seen.add(cur.fetchone()[0])
    assert len(seen) == 2  # HAProxy reaches both SQL nodes (leastconn, both healthy)

    schema = f"shared_{uuid.uuid4().hex[:8]}"
    with dev_cluster.connect(cluster.endpoint()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {schema}")
        # As an OpenStack migration writes it: InnoDB. Engine enforcement makes it NDB.
        cur.execute(f"CREATE TABLE {schema}.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB")
        cur.execute("SHOW WARNINGS")
        codes = {row[1] for row in cur.fetchall()}
        assert {3161, 1266} <= codes
        cur.execute(f"INSERT INTO {schema}.t VALUES (1, 'one'), (2, 'two')")
    for sql in dev_cluster.artifacts.topology.sql:
        address = cluster.sql_address(sql.node_id)
        with dev_cluster.connect(address) as conn, conn.cursor() as cur:
            cur.execute("SELECT engine FROM information_schema.tables "
                        "WHERE table_schema = %s AND table_name = 't'", (schema,))
            assert cur.fetchone()[0].lower() == "ndbcluster"
            cur.execute(f"SELECT id, v FROM {schema}.t ORDER BY id")
            assert cur.fetchall() == ((1, "one"), (2, "two"))


def test_temporary_tables_still_work(dev_cluster: RenderedCluster) -> None:
    """NDB has no temporary tables: default_tmp_storage_engine must not be a disabled one."""
    endpoint = dev_cluster.cluster.endpoint()
    with dev_cluster.connect(endpoint, database="mysql") as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE tmp_probe (id INT)")
        cur.execute("INSERT INTO tmp_probe VALUES (1)")
        cur.execute("SELECT COUNT(*) FROM tmp_probe")
        assert cur.fetchone()[0] == 1
