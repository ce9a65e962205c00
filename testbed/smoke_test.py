"""Smoke test of the real NDB test bed: a hand-written 1 mgm + 2 data + 2 SQL + haproxy cluster.

Needs testbed/provision.sh to have run. Skips when its env file is missing, except under
CI=true, where a missing test bed is a failure.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from testbed.cluster import ClusterFiles, NodeSpec, TestCluster
from testbed.pytest_support import check_sql_nodes_series, require_testbed

CONFIG_INI = """\
[ndbd default]
NoOfReplicas=2
DataMemory=256M
DataDir=/var/lib/mysql-cluster
# Small redo log: an initial start formats it, and the default (1 GiB per node) is slow.
NoOfFragmentLogFiles=4
FragmentLogFileSize=16M

[ndb_mgmd]
NodeId=1
HostName=172.28.0.10
DataDir=/var/lib/mysql-cluster
ArbitrationRank=1

[ndbd]
NodeId=2
HostName=172.28.0.11

[ndbd]
NodeId=3
HostName=172.28.0.12

[mysqld]
NodeId=51
HostName=172.28.0.21

[mysqld]
NodeId=52
HostName=172.28.0.22

[api]
[api]
"""

MY_CNF = """\
[mysqld]
ndbcluster
ndb-connectstring=172.28.0.10:1186
ndb-nodeid={node_id}
default_storage_engine=ndbcluster
bind-address={address}
port=3306
datadir=/var/lib/mysql
"""

HAPROXY_CFG = """\
global
    daemon
    chroot /var/lib/haproxy
    user haproxy
    maxconn 256

defaults
    mode tcp
    timeout connect 5s
    timeout client 1m
    timeout server 1m

frontend mysql
    bind *:3306
    default_backend sql

backend sql
    server sql51 172.28.0.21:3306 check
    server sql52 172.28.0.22:3306 check
"""

NODES = [
    NodeSpec("mgm", 1, "172.28.0.10", 1186),
    NodeSpec("data", 2, "172.28.0.11", None),
    NodeSpec("data", 3, "172.28.0.12", None),
    NodeSpec("sql", 51, "172.28.0.21", 3306),
    NodeSpec("sql", 52, "172.28.0.22", 3306),
    NodeSpec("haproxy", None, "172.28.0.30", 3306),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    testbed = require_testbed()
    files = ClusterFiles(
        config_ini=CONFIG_INI,
        my_cnf={
            51: MY_CNF.format(node_id=51, address="172.28.0.21"),
            52: MY_CNF.format(node_id=52, address="172.28.0.22"),
        },
        haproxy_cfg=HAPROXY_CFG,
        nodes=NODES,
    )
    workdir: Path = tmp_path_factory.mktemp("ndb")
    with TestCluster(files, workdir, testbed=testbed) as tc:
        tc.start(timeout=600)
        check_sql_nodes_series(tc)
        yield tc


def _connect(address: tuple[str, int]) -> Any:
    host, port = address
    return pymysql.connect(host=host, port=port, user="root", password="", autocommit=True)


def test_data_nodes_started(cluster: TestCluster) -> None:
    status = cluster.ndb_mgm("ALL STATUS")
    assert "Node 2: started" in status
    assert "Node 3: started" in status
    show = cluster.ndb_mgm("show")
    assert "id=51" in show and "id=52" in show


def test_ndb_table_shared_between_sql_nodes(cluster: TestCluster) -> None:
    table = f"smoke_{uuid.uuid4().hex[:8]}"
    with _connect(cluster.sql_address(51)) as a, a.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS smoke")
        cur.execute(f"CREATE TABLE smoke.{table} (id INT PRIMARY KEY, v VARCHAR(20))")
        cur.execute(f"INSERT INTO smoke.{table} VALUES (1, 'from 51')")
    with _connect(cluster.sql_address(52)) as b, b.cursor() as cur:
        cur.execute(f"SELECT v FROM smoke.{table} WHERE id = 1")
        assert cur.fetchone() == ("from 51",)
        cur.execute(
            "SELECT ENGINE FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = 'smoke' AND TABLE_NAME = %s",
            (table,),
        )
        assert cur.fetchone() == ("ndbcluster",)


def test_haproxy_endpoint(cluster: TestCluster) -> None:
    with _connect(cluster.endpoint()) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM ndbinfo.nodes WHERE status = 'STARTED'")
        assert cur.fetchone() == (2,)


def test_mapping_is_loopback(cluster: TestCluster) -> None:
    prefix = os.environ.get("NDB_TESTBED_ADDRESS_PREFIX", "127.0.1")
    assert cluster.sql_address(51) == (f"{prefix}.4", 3306)
    assert cluster.endpoint() == (f"{prefix}.6", 3306)
    config_ini = (cluster.workdir / "config.ini").read_text()
    assert f"HostName={prefix}.2" in config_ini
    assert "172.28" not in config_ini
    assert (
        f"ndb-connectstring={cluster.connectstring}"
        in (cluster.workdir / "node-51" / "my.cnf").read_text()
    )


def _wait_for(cluster: TestCluster, text: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while (status := cluster.ndb_mgm("ALL STATUS")) and text not in status:
        assert time.monotonic() < deadline, status
        time.sleep(1)
    return status


def test_kill_and_restart_data_node(cluster: TestCluster) -> None:
    cluster.kill_node(3)
    _wait_for(cluster, "Node 3: not connected")
    with _connect(cluster.sql_address(51)) as conn, conn.cursor() as cur:
        # One replica of the node group is enough to keep serving.
        cur.execute("CREATE TABLE IF NOT EXISTS smoke.survivor (id INT PRIMARY KEY)")
        cur.execute("REPLACE INTO smoke.survivor VALUES (1)")
    cluster.start_node(3)
    assert "Node 3: started" in cluster.ndb_mgm("ALL STATUS")


def test_kill_and_restart_sql_node(cluster: TestCluster) -> None:
    cluster.kill_node(52)
    cluster.start_node(52)
    with _connect(cluster.sql_address(52)) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM smoke.survivor")
        assert cur.fetchone() == (1,)
