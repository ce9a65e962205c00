"""Scheduled backups, restore and point-in-time recovery with the shipped scripts
(components/render/scripts/ndb-backup.sh, ndb-restore.sh) on clusters started from the dev
stack's rendered files, its first SQL node logging NDB changes (backup.binlog.enabled).

- PITR (make test): a write load, a backup, more writes, DROP DATABASE; the restore of that
  database from the backup plus the binlog replayed up to a time before the drop brings back
  every row committed before it, seen through both SQL nodes.
- Restore elsewhere (make test-full, marker `full`): keystone's schema migrated by its own
  bootstrap (its account NDB_STORED_USER, as ServiceDatabase makes it) and a write load; the
  backup job's loop on an every-minute schedule makes an encrypted backup; it is restored into
  a fresh 2-data-node cluster and into a 4-data-node one, each SQL node restarted in turn
  afterwards as `make restore` does (a mysqld applies the restored NDB_STORED_USER accounts
  as it joins the cluster): keystone's tables and a fixed table have the same rows and
  checksums, the load's rows committed before the backup are there, keystone's account logs
  in through both SQL nodes and keystone, its database reached through each SQL node in
  turn, issues a token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pymysql
import pytest

from config import Settings
from testbed.cluster import TestCluster
from tests.testbed.backup_support import (
    BackupJob,
    password_file,
    restart_sql_nodes,
    restore,
    stack_settings,
    started,
)
from tests.testbed.load import WriteLoad, read_back

SQL_NODES = (147, 148)
BINLOG_NODE = 147


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    with started(stack_settings(2), tmp_path_factory.mktemp("backup-source"), "127.0.1") as c:
        yield c


def connect(cluster: TestCluster, node_id: int | None = None) -> Any:
    host, port = cluster.sql_address(node_id) if node_id else cluster.endpoint()
    return pymysql.connect(host=host, port=port, user="root", password="", autocommit=True,
                           connect_timeout=10)


def wait_readable(cluster: TestCluster, table: str, timeout: float = 120) -> None:
    """A restored table reaches each SQL node's dictionary by discovery; wait for it."""
    deadline = time.monotonic() + timeout
    for node_id in SQL_NODES:
        while True:
            try:
                with connect(cluster, node_id) as conn, conn.cursor() as cur:
                    cur.execute(f"SELECT COUNT(*) FROM {table}")
                break
            except pymysql.MySQLError as error:
                if time.monotonic() > deadline:
                    raise AssertionError(f"SQL node {node_id}: {table}: {error}") from None
                time.sleep(2)


def test_point_in_time_recovery_after_drop_database(source: TestCluster,
                                                    tmp_path: Path) -> None:
    settings = stack_settings(2)
    backups = tmp_path / "backups"
    password = password_file(tmp_path)  # encrypted, as backup.encrypt is by default
    job = BackupJob(source, settings, backups, password)
    schema = f"pitr_{uuid.uuid4().hex[:8]}"
    with WriteLoad(lambda: connect(source), schema=schema, max_seconds=120) as load:
        load.wait_for_commits(200, since=time.monotonic(), timeout=60)
        done = job.run("once", "101")
        assert done.returncode == 0, done.stdout + done.stderr
        print(f"\n[pitr] backup: {done.stdout.strip().splitlines()[-1]}")
        load.wait_for_commits(200, since=time.monotonic(), timeout=60)
        result = load.stop()
    committed = {w.seq for w in result.committed()}
    # Binlog events carry whole seconds: the point in time is the first second after the
    # last commit's events were logged, and the drop comes after it.
    time.sleep(2)
    until = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.5)
    with connect(source) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {schema}")
    print(f"[pitr] {len(committed)} rows committed, {len(result.unknown)} unknown; dropped "
          f"{schema} after {until:%H:%M:%S}")

    start = time.monotonic()
    info = (backups / "101" / "backup.info").read_text()
    assert "encrypted=yes" in info, info
    done = restore(source, settings, backups, 101, password, databases=schema,
                   until=until.strftime("%Y-%m-%d %H:%M:%S"),
                   binlog_source=source, binlog_node=BINLOG_NODE)
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout.strip())
    print(f"[pitr] restore and replay: {time.monotonic() - start:.1f}s")
    wait_readable(source, f"{schema}.writes")
    for node_id in SQL_NODES:
        rows = read_back(partial(connect, source, node_id), load.table)
        check = result.verify(node_id, rows)
        print(f"[pitr] SQL node {node_id}: {check.rows} rows, lost {len(check.lost)}, "
              f"unexpected {len(check.unexpected)}")
        assert not check.lost, f"committed rows missing: {sorted(check.lost)[:20]}"
        assert not check.unexpected


KEYSTONE_TABLES = ("user", "local_user", "password", "project", "role", "assignment",
                   "endpoint", "service")


# CHECKSUM TABLE of keystone.project is not a function of its rows on NDB: the scale-out test
# (branch i14-scaleout) saw it change between two calls with the rows unchanged, and here the
# restore into 4 data nodes gave another checksum with every row equal. Its rows are compared.
UNSTABLE_CHECKSUM = {"keystone.project": "changes with its rows unchanged (i14-scaleout's "
                                         "finding, and this test's first 4-data-node run)"}


def snapshot(cluster: TestCluster, node_id: int, tables: list[str]) -> dict[str, Any]:
    """Every row (ordered by all columns) and CHECKSUM TABLE of each table, via one SQL node."""
    out: dict[str, Any] = {}
    with connect(cluster, node_id) as conn, conn.cursor() as cur:
        for table in tables:
            cur.execute(f"CHECKSUM TABLE {table}")
            checksum = cur.fetchone()[1]
            assert checksum is not None, f"{table}: no checksum on SQL node {node_id}"
            cur.execute(f"SELECT * FROM {table}")
            out[table] = (sorted(map(repr, cur.fetchall())), checksum)
    return out


def check_restored(target: TestCluster, tables: list[str], before: dict[str, Any],
                   *, load_table: str, before_backup: set[int], attempted: set[int]) -> None:
    """Every table as it was, the load's rows from before the backup there (and no row never
    written), and keystone's stored account logging in on every SQL node."""
    from tests.openstack.rendered import secrets_for

    for table in [*tables, load_table]:
        wait_readable(target, table)
    for node_id in SQL_NODES:
        after = snapshot(target, node_id, tables)
        for table in tables:
            rows, checksum = after[table]
            assert rows == before[table][0], f"{table}: rows differ, SQL node {node_id}"
            if table in UNSTABLE_CHECKSUM:
                print(f"[restore] {table}: rows identical; CHECKSUM TABLE {checksum}, before "
                      f"{before[table][1]} (not compared: {UNSTABLE_CHECKSUM[table]})")
                continue
            assert checksum == before[table][1], f"{table}: checksum differs, SQL node {node_id}"
        rows = read_back(partial(connect, target, node_id), load_table)
        assert before_backup <= rows, sorted(before_backup - rows)[:20]
        assert rows <= attempted
        # The service account came back with the stored grants: it logs in on every SQL
        # node, as HAProxy may send keystone to any.
        host, port = target.sql_address(node_id)
        pymysql.connect(host=host, port=port, user="keystone", database="keystone",
                        password=secrets_for("keystone").database_password).close()


def through_sql_node(base: type, node_id: int) -> type:
    """`base` (RenderedServices) with the services' database URL naming one SQL node instead
    of the test bed's HAProxy, so that what keystone does goes through that node."""

    class Through(base):  # type: ignore[misc]
        def addresses(self, text: str) -> str:
            host, port = self.cluster.endpoint()
            sql_host, sql_port = self.cluster.sql_address(node_id)
            return str(super().addresses(text).replace(
                f"@{host}:{port}/", f"@{sql_host}:{sql_port}/"))

    return Through


def token_through_each_sql_node(target: TestCluster, settings: Settings, workdir: Path) -> None:
    """keystone, its database URL naming each SQL node in turn, issues a token and lists the
    stack's admin: the restored service account works through every SQL node."""
    from tests.openstack.rendered import RenderedServices, memcached

    for node_id in SQL_NODES:
        folder = workdir / f"sql-{node_id}"
        with memcached("127.0.0.1") as cache:
            services = through_sql_node(RenderedServices, node_id)(settings, target, cache,
                                                                   folder)
            with services.serve("keystone", "keystone-api-1") as url:
                seen = services.keystone_client("token", url)
        host, port = target.sql_address(node_id)
        confs = [p.read_text(errors="replace") for p in folder.rglob("*.conf") if p.is_file()]
        assert any(f"@{host}:{port}/keystone" in c for c in confs), \
            f"keystone's database URL does not name SQL node {node_id}"
        assert seen["token"] and settings.openstack.admin_user in seen["users"]
        print(f"[restore] keystone through SQL node {node_id} issued a token")


@pytest.mark.full
def test_scheduled_backup_restores_into_fresh_and_larger_clusters(
        source: TestCluster, tmp_path: Path) -> None:
    from components.database import AdminEndpoint
    from tests.openstack.cluster import require_services
    from tests.openstack.rendered import RenderedServices, memcached

    require_services()
    settings = stack_settings(2)
    host, port = source.sql_address(SQL_NODES[0])
    admin = AdminEndpoint(host, port, "root", "", connect_timeout_seconds=30)
    with memcached("127.0.0.1") as cache:
        run = RenderedServices(settings, source, cache, tmp_path / "keystone").migrate(
            "keystone", admin)
    assert run.returncode == 0, run.output[-4000:]
    tables = [f"keystone.{t}" for t in KEYSTONE_TABLES]
    with connect(source) as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE fixed")
        cur.execute("CREATE TABLE fixed.items (id INT PRIMARY KEY, name VARCHAR(64) UNIQUE,"
                    " note TEXT) ENGINE=ndbcluster")
        cur.executemany("INSERT INTO fixed.items VALUES (%s, %s, %s)",
                        [(i, f"item-{i}", f"note {i} " * (i % 40)) for i in range(2000)])
    tables.append("fixed.items")
    before = snapshot(source, SQL_NODES[0], tables)

    backups = tmp_path / "backups"
    password = password_file(tmp_path)
    job = BackupJob(source, settings, backups, password, schedule="* * * * *")
    log = tmp_path / "backup-job.log"
    with WriteLoad(lambda: connect(source), max_seconds=240) as load, job.loop(log):
        start, start_wall = time.monotonic(), datetime.now(UTC)
        backup_id = job.wait_for_backup(None, timeout=150, log=log)
        backed_up = time.monotonic()
        result = load.stop()
    print(f"\n[backup] scheduled backup {backup_id} after {backed_up - start:.0f}s:\n"
          f"{log.read_text().strip()}")
    info = (backups / str(backup_id) / "backup.info").read_text()
    assert "encrypted=yes" in info and "nodes=1 2" in info, info
    # The id is the UTC minute the job began the backup (YYMMDDhhmm), and a backup holds
    # the data as of its end: every row committed before that minute began is in it.
    began = datetime.strptime(str(backup_id), "%y%m%d%H%M").replace(tzinfo=UTC)
    before_backup = {w.seq for w in result.committed(
        end=start + (began - start_wall).total_seconds())}
    assert before_backup, "no load row committed before the backup began: nothing to check"

    for count, prefix in ((2, "127.0.5"), (4, "127.0.6")):
        target_settings = stack_settings(count, binlog=False)
        with started(target_settings, tmp_path / f"target-{count}", prefix) as target:
            t0 = time.monotonic()
            done = restore(target, target_settings, backups, backup_id, password)
            assert done.returncode == 0, done.stdout + done.stderr
            restored = time.monotonic()
            restarts = restart_sql_nodes(target, target_settings)
            print(f"[restore] into {count} data nodes in {restored - t0:.1f}s, SQL nodes "
                  f"restarted in {time.monotonic() - restored:.1f}s:\n{done.stdout.strip()}\n"
                  + "".join(restarts))
            check_restored(target, tables, before, load_table=load.table,
                           before_backup=before_backup,
                           attempted={w.seq for w in result.writes})
            print(f"[restore] {count} data nodes: {len(tables)} tables identical on both SQL "
                  f"nodes, {len(before_backup)} load rows from before the backup present")
            token_through_each_sql_node(target, target_settings, tmp_path / f"keystone-{count}")
