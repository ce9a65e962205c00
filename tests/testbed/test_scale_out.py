"""2 -> 4 data nodes on a running cluster under a continuous write load, as `pulumi up` runs it.

The dev stack's cluster starts from its rendered files; keystone's own migrations and a
table of 20,000 rows (a TEXT column, a unique key) give it data. Then the stack is rendered
again with `dataNodes.count: 4` and every step the program's graph holds runs against the
live processes in the graph's order (components/ndb/cluster.py): the deployed topology's
check, the management node replaced with the new config.ini and its gate, node group 0's
rolling restart, each SQL node's restart (by the rendered script; the test bed stops and
starts the mysqld when the script asks, as `docker restart` would), the new data nodes
started one by one behind their member gates and the group gate, the SQL gate, and the
rendered ndb-scale-out.sh. The write load runs through HAProxy all along.

Asserted: every NDB table's fragments have their primaries on all four data nodes (the
Operator's COUNT(DISTINCT current_primary)), every table's rows and CHECKSUM TABLE (but
keystone.project's, see UNSTABLE_CHECKSUM) are what they were before, read through both SQL
nodes; no committed write lost; a second run of the scale-out
changes nothing; and with four data nodes deployed, 4 -> 2 and another noOfReplicas are
refused by the check before anything runs. Printed: the per-table times and memory, each
step's time, the longest write stall.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from components.ndb.deployed import DeployedTopologyProvider
from components.render.artifacts import ClusterArtifacts
from components.render.shell import Script
from config import load_settings
from config.settings import Settings
from config.topology import deployed_record
from testbed.cluster import TestCluster
from testbed.pytest_support import check_sql_nodes_series, require_testbed
from testbed.rendered import cluster_files
from tests.openstack.cluster import admin_endpoint, require_services
from tests.openstack.rendered import RenderedServices, memcached
from tests.stacks import modified, raw_settings
from tests.testbed.load import LoadResult, Verification, WriteLoad, read_back, summary

pytestmark = pytest.mark.full

SQL_NODES = (147, 148)
ROWS = 20_000
# CHECKSUM TABLE keystone.project gives another value from one call to the next, before any
# reorganisation too, while SELECT * returns the same rows on both SQL nodes. The likely cause,
# read from the source and not reproduced on its own: CHECKSUM TABLE adds the row buffer's
# bytes behind a NULL column (sql_table.cc, mysql_checksum_table), which NDB leaves as the row
# read before had them, and the root domain's row has parent_id NULL (README "Day-2
# operations"). Its rows are compared instead.
UNSTABLE_CHECKSUM = {"keystone.project"}


class Refused(Exception):
    """The deployed topology's check failed: nothing may run."""


def settings(count: int, replicas: int = 2) -> Settings:
    data = {**raw_settings("dev")["dataNodes"], "count": count, "noOfReplicas": replicas}
    return load_settings(modified("dev", "dataNodes", data))


def check_record(old: Settings, new: Settings, artifacts: ClusterArtifacts) -> None:
    """The first step of the graph: the record's check, old inputs against new."""
    from config import build_topology

    provider = DeployedTopologyProvider()
    result = provider.check(deployed_record(old, build_topology(old)),
                            deployed_record(new, artifacts.topology))
    if result.failures:
        raise Refused("\n".join(f"{f.property}: {f.reason}" for f in result.failures))


def run_script(text: str, env: dict[str, str], timeout: float
               ) -> subprocess.CompletedProcess[str]:
    """`bash -c text`; past `timeout` seconds it is killed and the result says so (exit code
    124, as timeout(1)), with the output it had written, instead of raising: a step that
    outlives its bound still shows how far it got."""
    try:
        return subprocess.run(["bash", "-c", text], env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as expired:
        def text_of(out: str | bytes | None) -> str:
            return out.decode(errors="replace") if isinstance(out, bytes) else out or ""

        return subprocess.CompletedProcess(
            expired.cmd, 124, text_of(expired.stdout),
            f"{text_of(expired.stderr)}\nkilled: still running after {timeout:.0f} s\n")


def scale_out_timeout(tables: int) -> float:
    """Seconds the scale-out may take for `tables` NDB tables before it counts as hung: the
    reorganisation is some 8 s per NDB object a table has (itself, each unique index, each
    BLOB/TEXT column; README "Day-2 operations") and its rows' copy; 90 s a table is four
    objects at twice the pace measured, for a machine shared with other work."""
    return 300 + 90 * tables


class Steps:
    """Runs the rendered scripts against the test bed as the program's commands run them."""

    def __init__(self, cluster: TestCluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.ndb_mgm = workdir / "ndb_mgm"
        self.ndb_mgm.write_text(f'#!/bin/sh\nexec {shlex.join(cluster.tool("ndb_mgm"))} "$@"\n')
        self.ndb_mgm.chmod(0o755)
        # What `docker restart <container>` is to a deployment: the script asks, the test
        # bed stops the mysqld (SIGTERM, as docker stop) and starts it, the script goes on.
        self.restart = workdir / "restart-sql"
        self.restart.write_text('#!/bin/sh\nrm -f "$0.done"\necho "$1" > "$0.request"\n'
                                'while [ ! -e "$0.done" ]; do sleep 0.2; done\n')
        self.restart.chmod(0o755)
        self.times: dict[str, float] = {}

    def run(self, label: str, script: Script, timeout: float = 900, **extra: str) -> str:
        env = {**os.environ,
               **{k: self.cluster.localise(v) for k, v in script.environment.items()},
               "NDB_MGM": str(self.ndb_mgm), **extra}
        result: dict[str, Any] = {}

        def target() -> None:
            result["done"] = run_script(script.text, env, timeout)

        began = time.monotonic()
        thread = threading.Thread(target=target)
        thread.start()
        request = Path(f"{self.restart}.request")
        while thread.is_alive():
            if request.exists():
                node_id = int(request.read_text())
                request.unlink()
                self.cluster.terminate_node(node_id)
                self.cluster.start_node(node_id)
                Path(f"{self.restart}.done").write_text("restarted\n")
            thread.join(0.2)
        self.times[label] = time.monotonic() - began
        done: subprocess.CompletedProcess[str] = result["done"]
        print(f"\n[scale-out] --- {label}: exit {done.returncode}, "
              f"{self.times[label]:.1f} s\n{done.stdout}{done.stderr}", flush=True)
        assert done.returncode == 0, f"{label} failed: {done.stderr[-2000:]}"
        return done.stdout

    def scale_out(self, artifacts: ClusterArtifacts, label: str, tables: int) -> str:
        folder = self.cluster.workdir / f"node-{SQL_NODES[0]}"
        return self.run(label, artifacts.scale_out, timeout=scale_out_timeout(tables),
                        SQL_EXEC=str(self.cluster.workdir / "sql-exec"),
                        SQL_ROOT_PASSWORD_FILE=str(folder / "root-password"),
                        SQL_SOCKET=str(folder / "mysqld.sock"))


def grow(steps: Steps, old: Settings, new: Settings, tables: int) -> ClusterArtifacts:
    """Everything `pulumi up` does for the change old -> new, in the graph's order."""
    cluster = steps.cluster
    files, artifacts = cluster_files(new)
    check_record(old, new, artifacts)  # raises Refused before any step
    added = [n for n in cluster.reconfigure(files) if n.kind == "data"]
    old_groups = {n.node_group for n in artifacts.topology.data
                  if n.node_id not in {a.node_id for a in added}}
    # The management node's container is replaced (its upload changed), then its gate.
    began = time.monotonic()
    for mgm in artifacts.topology.management:
        cluster.terminate_node(mgm.node_id)
        cluster.start_node(mgm.node_id)
        steps.run(f"gate {mgm.name}", artifacts.management_gates[mgm.index])
    steps.times["management node replaced"] = time.monotonic() - began
    # Each existing group's rolling restart runs (its config.ini hash changed); a new
    # group's is created, which runs nothing.
    for group, arts in zip(artifacts.topology.node_groups, artifacts.node_groups, strict=True):
        if group[0].node_group in old_groups:
            steps.run(f"rolling restart of group {group[0].node_group}", arts.rolling_restart)
    # Each SQL node's restart (the data node ids changed), one after the other.
    for sql, script in zip(artifacts.topology.sql, artifacts.sql_restarts, strict=True):
        steps.run(f"restart {sql.name}", script, SQL_RESTART=f"{steps.restart} {sql.node_id}")
    # The new containers, replica by replica behind their member gates, then the group gate.
    for group, arts in zip(artifacts.topology.node_groups, artifacts.node_groups, strict=True):
        if group[0].node_group in old_groups:
            continue
        for node, gate in zip(group, arts.member_gates, strict=True):
            cluster.launch_data_node(node.node_id)
            steps.run(f"gate {node.name}", gate)
        steps.run(f"gate group {group[0].node_group}", arts.group_gate)
    steps.run("SQL gate", artifacts.sql_gate)
    steps.scale_out(artifacts, "scale-out", tables)
    return artifacts


def fill(cluster: TestCluster) -> None:
    host, port = cluster.sql_address(SQL_NODES[0])
    import pymysql

    with pymysql.connect(host=host, port=port, user="root", password="",
                         autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE scale")
        cur.execute("CREATE TABLE scale.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL,"
                    " qty INT, note TEXT, UNIQUE KEY (name), KEY (qty)) ENGINE=ndbcluster")
        for start in range(0, ROWS, 1000):
            cur.executemany("INSERT INTO scale.items VALUES (%s, %s, %s, %s)",
                            [(i, f"item-{i:06d}", i % 997, f"note {i} " * (i % 20))
                             for i in range(start, min(start + 1000, ROWS))])


def ndb_tables(cluster: TestCluster, node_id: int) -> list[tuple[str, str]]:
    out = cluster.sql(node_id, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES"
                               " WHERE ENGINE = 'ndbcluster' ORDER BY 1, 2")
    return [tuple(line.split("\t")) for line in out.splitlines() if line]  # type: ignore[misc]


def checksums(cluster: TestCluster, node_id: int, tables: list[tuple[str, str]]
              ) -> dict[str, str]:
    names = ", ".join(f"`{s}`.`{t}`" for s, t in tables)
    out = cluster.sql(node_id, f"CHECKSUM TABLE {names}", timeout=300)
    found = dict(line.split("\t") for line in out.splitlines() if line)
    assert all(v != "NULL" for v in found.values()), found
    return found


def spread(cluster: TestCluster, node_id: int) -> dict[str, int]:
    """Every NDB table -> on how many data nodes its fragments' primaries are."""
    out = cluster.sql(node_id, (
        "SELECT CONCAT(t.database_name, '.', t.table_name), COUNT(DISTINCT f.current_primary)"
        " FROM ndbinfo.dictionary_tables t JOIN ndbinfo.table_fragments f USING (table_id)"
        " JOIN information_schema.TABLES i ON i.TABLE_SCHEMA = t.database_name"
        " AND i.TABLE_NAME = t.table_name AND i.ENGINE = 'ndbcluster' GROUP BY 1"), timeout=120)
    return {name: int(n) for name, n in (line.split("\t") for line in out.splitlines() if line)}


def report(steps: Steps, result: LoadResult, checks: list[Verification],
           window: tuple[float, float], tables: int) -> None:
    began, ended = window
    print("\n" + summary("2 -> 4 data nodes, whole run", result, checks))
    print(summary("2 -> 4 data nodes, scale-out window", result, checks, began, ended))
    for label, seconds in steps.times.items():
        print(f"[scale-out] {label}: {seconds:.1f} s")
    print(f"[scale-out] all steps: {ended - began:.1f} s; longest write stall in them "
          f"{result.longest_stall(began, ended):.2f} s; {tables} NDB tables")


def rows(cluster: TestCluster, node_id: int, table: tuple[str, str]) -> list[str]:
    """Every row of a table as the mysql client prints it, sorted."""
    return sorted(cluster.sql(node_id, f"SELECT * FROM `{table[0]}`.`{table[1]}`",
                              timeout=300).splitlines())


def assert_same_rows(cluster: TestCluster, node_id: int, tables: list[tuple[str, str]],
                     before: dict[str, list[str]]) -> None:
    """Row for row what `before` holds; the differing rows printed (a checksum alone does not
    say what changed)."""
    differ = []
    for table in tables:
        name = f"{table[0]}.{table[1]}"
        now = rows(cluster, node_id, table)
        if now != before[name]:
            gone = sorted(set(before[name]) - set(now))[:5]
            new = sorted(set(now) - set(before[name]))[:5]
            differ.append(f"{name}: {len(before[name])} -> {len(now)} rows; "
                          f"gone {gone}; new {new}")
    assert not differ, f"SQL node {node_id}:\n" + "\n".join(differ)


def assert_in_group_1(cluster: TestCluster) -> None:
    show = cluster.ndb_mgm("show")
    assert re.search(r"id=3\s.*Nodegroup: 1", show), show
    assert re.search(r"id=4\s.*Nodegroup: 1", show), show


def test_two_to_four_data_nodes_under_write_load(tmp_path_factory: pytest.TempPathFactory
                                                 ) -> None:
    require_testbed()
    require_services()
    workdir = tmp_path_factory.mktemp("scale-out")
    two, four = settings(2), settings(4)
    files, _ = cluster_files(two)
    with TestCluster(files, workdir / "cluster") as cluster:
        cluster.start(timeout=900)
        check_sql_nodes_series(cluster)
        with memcached("127.0.0.1") as address:
            services = RenderedServices(two, cluster, address, workdir / "services")
            migrated = services.migrate("keystone", admin_endpoint(cluster))
            assert migrated.returncode == 0, migrated.output[-3000:]
        fill(cluster)
        tables = ndb_tables(cluster, SQL_NODES[0])
        checked = [(s, t) for s, t in tables if s != "mysql"]
        assert sum(s == "keystone" for s, _ in checked) >= 40, checked
        before = checksums(cluster, SQL_NODES[0], checked)
        rows_before = {f"{t[0]}.{t[1]}": rows(cluster, SQL_NODES[0], t) for t in checked}
        steps = Steps(cluster, workdir)
        connect: Callable[[], Any] = partial(
            _connect, cluster.endpoint(), connect_timeout=5, read_timeout=60, write_timeout=60)
        # Bounded by time only (at some 500 writes/s the default 500,000 rows end it early),
        # and by a time longer than every step's bound together: the test stops it.
        bound = 3600 + scale_out_timeout(len(tables))
        with WriteLoad(connect, max_rows=10_000_000, max_seconds=bound) as load:
            assert load.wait_for_commits(50, 0.0, timeout=60) >= 50
            began = time.monotonic()
            artifacts = grow(steps, two, four, len(tables))
            ended = time.monotonic()
            assert load.wait_for_commits(50, ended, timeout=120) >= 50, "no commits after"
        result = load.result()

        # The figures first, so that a failed check below still leaves them.
        checks = [result.verify(n, read_back(partial(_connect, cluster.sql_address(n)),
                                             load.table)) for n in SQL_NODES]
        report(steps, result, checks, (began, ended), len(tables))
        assert all(not c.lost and not c.unexpected for c in checks), checks

        # Every NDB table on all four data nodes, the rows as they were on both SQL nodes.
        on = spread(cluster, SQL_NODES[0])
        assert len(on) >= len(tables) and set(on.values()) == {4}, on
        for node_id in SQL_NODES:
            assert_same_rows(cluster, node_id, checked, rows_before)
            now = checksums(cluster, node_id, checked)
            assert {k: v for k, v in now.items() if k not in UNSTABLE_CHECKSUM} == \
                {k: v for k, v in before.items() if k not in UNSTABLE_CHECKSUM}, node_id
        assert_in_group_1(cluster)

        # The new nodes restarted (group 1's rolling restart, as a later config change runs
        # it): config.ini says NodeGroup=1 for them, the cluster's own record keeps them there.
        steps.run("rolling restart of group 1 (after)", artifacts.node_groups[1].rolling_restart)
        assert_in_group_1(cluster)

        # Run again: nothing left to do.
        again = steps.scale_out(artifacts, "scale-out again", len(tables))
        assert "creating a node group" not in again
        assert re.search(r"0 of \d+ NDB tables reorganised", again), again
        assert "reorganised in" not in again.split("scale-out done")[0]
        # The stack rendered again for 4 is the same text: nothing to restart.
        assert cluster_files(four)[0].config_ini == cluster.files.config_ini

        # With four deployed: fewer data nodes and another replica count are refused by the
        # check, before any step - the management node keeps running as it was.
        pids = cluster.process_groups()
        for refused, key in ((settings(2), "dataNodes.count"),
                             (settings(4, replicas=1), "dataNodes.noOfReplicas")):
            with pytest.raises(Refused, match=key) as error:
                grow(steps, four, refused, len(tables))
            print(f"[scale-out] refused: {error.value}")
        assert cluster.process_groups() == pids
        assert cluster.files.config_ini == cluster_files(four)[0].config_ini


def _connect(address: tuple[str, int], **kwargs: Any) -> Any:
    import pymysql

    host, port = address
    return pymysql.connect(host=host, port=port, user="root", password="", autocommit=True,
                           **kwargs)
