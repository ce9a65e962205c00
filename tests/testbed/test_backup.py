"""Backup and restore on a cluster started from the rendered dev stack, the manual's way.

`START BACKUP WAIT COMPLETED` makes every data node write its share of the data to
`<BackupDataDir or DataDir>/BACKUP/BACKUP-<id>/`; ndb_restore then restores the metadata
once (`-m`) and each node's data (`-r`) through one of the free [api] slots the program
renders for tools. The restored tables must hold exactly the rows backed up, seen from every
SQL node.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.stacks import settings_for
from tests.testbed.conftest import RenderedCluster, start_rendered

ROWS = 3000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderedCluster]:
    # Its own cluster: the test drops a database and restores into it.
    yield from start_rendered(settings_for("dev"), tmp_path_factory.mktemp("backup-cluster"))


def fill(rc: RenderedCluster, schema: str) -> None:
    with rc.connect(rc.cluster.endpoint()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {schema}")
        # A blob column (NDB keeps those in a separate parts table) and a unique secondary
        # index: both must come back from the backup, not only the plain columns.
        cur.execute(f"CREATE TABLE {schema}.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL,"
                    " qty INT, note TEXT, UNIQUE KEY (name)) ENGINE=ndbcluster")
        cur.execute(f"CREATE TABLE {schema}.events (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
                    " item INT NOT NULL, at DATETIME(6) NOT NULL, KEY (item))"
                    " ENGINE=ndbcluster")
        for start in range(0, ROWS, 500):
            ids = range(start, min(start + 500, ROWS))
            cur.executemany(f"INSERT INTO {schema}.items VALUES (%s, %s, %s, %s)",
                            [(i, f"item-{i:05d}", i * 7 % 101,
                              None if i % 10 == 0 else f"note {i} " * (i % 50)) for i in ids])
            cur.executemany(f"INSERT INTO {schema}.events (item, at) VALUES (%s, NOW(6))",
                            [(i,) for i in ids])


def snapshot(rc: RenderedCluster, schema: str, node_id: int) -> dict[str, Any]:
    """Every row and the server's checksum of each table, read through one SQL node."""
    tables: dict[str, Any] = {}
    with rc.connect(rc.cluster.sql_address(node_id)) as conn, conn.cursor() as cur:
        for table in ("items", "events"):
            cur.execute(f"SELECT * FROM {schema}.{table} ORDER BY id")
            rows = cur.fetchall()
            cur.execute(f"CHECKSUM TABLE {schema}.{table}")
            checksum = cur.fetchone()[1]
            # NULL is what a missing table gets: two NULLs would compare equal.
            assert checksum is not None, f"CHECKSUM TABLE {schema}.{table} on node {node_id}: NULL"
            tables[table] = (rows, checksum)
    return tables


def start_backup(rc: RenderedCluster) -> int:
    out = rc.cluster.ndb_mgm("START BACKUP WAIT COMPLETED", timeout=300)
    match = re.search(r"Backup (\d+) started from node \d+ completed", out)
    assert match, f"no completed backup in:\n{out}"
    return int(match.group(1))


def backup_dirs(rc: RenderedCluster, backup_id: int) -> dict[int, Path]:
    """Data node id -> the folder holding its part of the backup. The test bed rewrites
    DataDir to workdir/ndb (a default section) or workdir/node-<id>, so search the workdir
    for each node's control file rather than assume one."""
    found: dict[int, Path] = {}
    for node in rc.artifacts.topology.data:
        ctl = list(rc.cluster.workdir.rglob(f"BACKUP-{backup_id}.{node.node_id}.ctl"))
        assert len(ctl) == 1, f"node {node.node_id}: backup control files {ctl}"
        assert ctl[0].parent.name == f"BACKUP-{backup_id}"
        found[node.node_id] = ctl[0].parent
    return found


def ndb_restore(rc: RenderedCluster, *args: str) -> str:
    # Runs in the test bed's root, where the workdir is bind-mounted at the same path, so the
    # backup folder has the same name inside.
    argv = [*rc.cluster.tool("ndb_restore"), "-c", rc.cluster.connectstring, *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_visible(rc: RenderedCluster, schema: str, node_id: int, timeout: float = 90) -> None:
    """A table restored straight into NDB reaches an SQL node's data dictionary by discovery
    (on first use) or the metadata check; wait until this node can read both tables."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with rc.connect(rc.cluster.sql_address(node_id)) as conn, conn.cursor() as cur:
                for table in ("items", "events"):
                    cur.execute(f"SELECT COUNT(*) FROM {schema}.{table}")
            return
        except Exception as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"SQL node {node_id}: {schema} not visible: {error}") from None
            time.sleep(2)


def test_backup_then_restore_after_drop_database(cluster: RenderedCluster) -> None:
    schema = f"backup_{uuid.uuid4().hex[:8]}"
    sql_ids = [s.node_id for s in cluster.artifacts.topology.sql]
    fill(cluster, schema)
    before = snapshot(cluster, schema, sql_ids[0])
    assert len(before["items"][0]) == ROWS and len(before["events"][0]) == ROWS

    backup_id = start_backup(cluster)
    dirs = backup_dirs(cluster, backup_id)
    with cluster.connect(cluster.cluster.endpoint()) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {schema}")
        # The schema itself is the SQL nodes' business (ndb_restore restores NDB tables);
        # created once, schema distribution makes it on every SQL node.
        cur.execute(f"CREATE DATABASE {schema}")

    restore = ("-b", str(backup_id), f"--include-databases={schema}")
    first, *_ = dirs
    ndb_restore(cluster, "-n", str(first), *restore, "-m", f"--backup-path={dirs[first]}")
    for node_id, folder in dirs.items():
        out = ndb_restore(cluster, "-n", str(node_id), *restore, "-r",
                          f"--backup-path={folder}")
        print(f"\n[backup] node {node_id}: {out.strip().splitlines()[-1]}")

    for node_id in sql_ids:
        wait_visible(cluster, schema, node_id)
        after = snapshot(cluster, schema, node_id)
        for table in ("items", "events"):
            rows, checksum = after[table]
            print(f"[backup] SQL node {node_id} {schema}.{table}: {len(rows)} rows, "
                  f"checksum {checksum} (before {before[table][1]})")
            assert rows == before[table][0], f"{table} differs on SQL node {node_id}"
            assert checksum == before[table][1]
