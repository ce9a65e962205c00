"""Run by a service venv's python with the services' start-up hook (OPENSTACK_NDB_ADAPT=1,
ndb_adapt/site on PYTHONPATH), not imported by the tests: one runtime case of
tests/openstack/test_runtime_cases.py against the SQL endpoint, printing what happened as
one JSON line.

    python runtime_probe.py CASE HOST PORT DATABASE [ARG]
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pymysql

# The service venv's packages (not the program's venv): oslo.db, SQLAlchemy.
import sqlalchemy as sa  # type: ignore[import-not-found]

# Run as a script: this folder is on sys.path.
from neutron_ddl import ML2_PORT_BINDINGS  # type: ignore[import-not-found]
from oslo_db import api as oslo_db_api  # type: ignore[import-not-found]
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import engines  # type: ignore[import-not-found]
from sqlalchemy import orm

SQL_MODE = "STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE," \
           "ERROR_FOR_DIVISION_BY_ZERO"  # components.render.ndb.SERVICE_SQL_MODE


class Probe:
    def __init__(self, host: str, port: int, database: str) -> None:
        self.host, self.port, self.database = host, port, database

    def connect(self, **kwargs: Any) -> Any:
        return pymysql.connect(host=self.host, port=self.port, user="root", password="",
                               database=self.database, **kwargs)

    def engine(self) -> Any:
        """oslo.db's engine, as the services make it (its exception filters, its mode)."""
        return engines.create_engine(
            f"mysql+pymysql://root:@{self.host}:{self.port}/{self.database}?charset=utf8mb4",
            mysql_sql_mode=SQL_MODE)

    def ddl(self, *statements: str) -> None:
        conn = self.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def rows(self, sql: str) -> list[Any]:
        conn = self.connect(autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return [r[0] if len(r) == 1 else list(r) for r in cur.fetchall()]
        finally:
            conn.close()


def lock_wait(p: Probe, hold: str) -> dict[str, Any]:
    """(a) Connection 1 holds a row FOR UPDATE for `hold` seconds; connection 2 updates it."""
    p.ddl("CREATE TABLE counter (id INTEGER NOT NULL, value INTEGER NOT NULL, "
          "PRIMARY KEY (id)) ENGINE=InnoDB", "INSERT INTO counter VALUES (1, 0)")
    holder, waiter = p.connect(), p.connect()
    with holder.cursor() as cur:
        cur.execute("SELECT value FROM counter WHERE id = 1 FOR UPDATE")

    def release() -> None:
        time.sleep(float(hold))
        holder.commit()

    threading.Thread(target=release).start()
    started = time.monotonic()
    error = None
    try:
        with waiter.cursor() as cur:
            cur.execute("UPDATE counter SET value = value + 1 WHERE id = 1")
        waiter.commit()
    except pymysql.err.MySQLError as failed:
        error = list(failed.args)
    waited = time.monotonic() - started
    return {"waited_s": round(waited, 2), "error": error,
            "value": p.rows("SELECT value FROM counter")}


def retry_loop(p: Probe, stop_file: str) -> dict[str, Any]:
    """(b) Two-statement transactions under oslo.db's retry decorator, from 4 threads, until
    `stop_file` exists (the test kills and restarts a data node meanwhile)."""
    p.ddl("CREATE TABLE first (id INTEGER NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB",
          "CREATE TABLE second (id INTEGER NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB")
    engine = p.engine()
    attempts: list[int] = []
    retried: dict[str, int] = {}
    committed: list[int] = []
    escaped: list[str] = []

    @oslo_db_api.wrap_db_retry(max_retries=20, retry_interval=0.2, max_retry_interval=2,  # type: ignore[untyped-decorator]
                               retry_on_deadlock=True, retry_on_disconnect=True)
    def transaction(i: int) -> None:
        attempts.append(i)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO first VALUES (:i)"), {"i": i})
                conn.execute(sa.text("INSERT INTO second VALUES (:i)"), {"i": i})
        except db_exc.DBError as error:
            kind = f"{type(error).__name__} {getattr(error.inner_exception, 'args', [''])[0]}"
            retried[kind] = retried.get(kind, 0) + 1
            raise

    def worker(base: int) -> None:
        i = base
        while not Path(stop_file).exists() and not escaped:
            i += 1
            try:
                transaction(i)
            except Exception as error:  # what escaped the decorator
                escaped.append(f"{type(error).__name__}: {str(error)[:400]}")
                return
            committed.append(i)

    Path(stop_file + ".running").write_text("1")
    threads = [threading.Thread(target=worker, args=(k * 10_000_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    first = set(p.rows("SELECT id FROM first"))
    second = set(p.rows("SELECT id FROM second"))
    done = set(committed)
    return {"committed": len(done), "attempts": len(attempts), "failed_attempts": retried,
            "escaped": escaped, "missing": sorted((done - first) | (done - second))[:20]}


def statement_error(p: Probe, catch: str) -> dict[str, Any]:
    """(c) INSERT a 1; INSERT b duplicate (caught); INSERT a 2; COMMIT, through oslo.db.
    catch: 'duplicate' (what InnoDB raises, DBDuplicateEntry) or 'any' (every DBError)."""
    p.ddl("CREATE TABLE a (id INTEGER NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB",
          "CREATE TABLE b (id INTEGER NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB",
          "INSERT INTO b VALUES (5)")
    engine = p.engine()
    caught = raised = None
    handled = db_exc.DBDuplicateEntry if catch == "duplicate" else db_exc.DBError
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO a VALUES (1)"))
            try:
                conn.execute(sa.text("INSERT INTO b VALUES (5)"))
            except handled as error:
                caught = type(error).__name__
            conn.execute(sa.text("INSERT INTO a VALUES (2)"))
    except db_exc.DBError as error:
        raised = type(error).__name__
    engine.dispose()
    return {"caught": caught, "raised": raised, "a": sorted(p.rows("SELECT id FROM a"))}


def nested_duplicate(p: Probe, _arg: str) -> dict[str, Any]:
    """(d) nova's instance_tag_add race: a row written, then in a savepoint
    (session.begin_nested()) a tag that already exists; the duplicate is caught; commit."""
    metadata = sa.MetaData()
    instances = sa.Table("instances", metadata,
                         sa.Column("uuid", sa.String(36), primary_key=True),
                         mysql_engine="InnoDB")
    tags = sa.Table("tags", metadata,
                    sa.Column("resource_id", sa.String(36), primary_key=True),
                    sa.Column("tag", sa.String(80), primary_key=True),
                    mysql_engine="InnoDB")
    engine = p.engine()
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(tags.insert().values(resource_id="u1", tag="web"))
    session_maker = orm.sessionmaker(bind=engine)
    caught = error = None
    try:
        with session_maker.begin() as session:
            session.execute(instances.insert().values(uuid="u1"))
            try:
                with session.begin_nested():
                    session.execute(tags.insert().values(resource_id="u1", tag="web"))
            except db_exc.DBDuplicateEntry as duplicate:
                caught = f"DBDuplicateEntry {duplicate.columns}"
    except Exception as failed:
        error = f"{type(failed).__name__}: {str(failed)[:300]}"
    engine.dispose()
    return {"caught": caught, "error": error, "instances": p.rows("SELECT uuid FROM instances"),
            "tags": p.rows("SELECT tag FROM tags")}


def large_delete(p: Probe, rows: str) -> dict[str, Any]:
    """(e) One DELETE of `rows` rows in one statement, as nova-manage db purge issues it
    (`with conn.begin(): conn.execute(table.delete().where(col < before))`)."""
    count = int(rows)
    p.ddl("CREATE TABLE shadow_instance_actions (id INTEGER NOT NULL, created_at DATETIME, "
          "action VARCHAR(255), PRIMARY KEY (id)) ENGINE=InnoDB")
    conn = p.connect(autocommit=True)
    with conn.cursor() as cur:
        for start in range(0, count, 5000):
            cur.execute("INSERT INTO shadow_instance_actions VALUES " + ",".join(
                f"({i}, '2020-01-01 00:00:00', 'create')"
                for i in range(start, min(count, start + 5000))))
    conn.close()
    engine = p.engine()
    table = sa.Table("shadow_instance_actions", sa.MetaData(), autoload_with=engine)
    started = time.monotonic()
    error = deleted = None
    try:
        with engine.connect() as conn, conn.begin():
            deleted = conn.execute(
                table.delete().where(table.c.created_at < "2021-01-01")).rowcount
    except db_exc.DBError as failed:
        error = str(failed.inner_exception)[:300]
    engine.dispose()
    return {"deleted": deleted, "error": error, "seconds": round(time.monotonic() - started, 2),
            "left": p.rows("SELECT COUNT(*) FROM shadow_instance_actions")[0]}




def wide_table(p: Probe, _arg: str) -> dict[str, Any]:
    """(f) neutron's first CREATE TABLE ml2_port_bindings in a utf8mb4 database; an INSERT
    that omits profile and vif_details; the port's delete takes its binding along."""
    error = None
    try:
        p.ddl("CREATE TABLE ports (id VARCHAR(36) NOT NULL, PRIMARY KEY (id))ENGINE=InnoDB",
              ML2_PORT_BINDINGS, "INSERT INTO ports VALUES ('p1')",
              "INSERT INTO ml2_port_bindings (port_id, host, vif_type) VALUES ('p1', 'h', 'ovs')")
    except pymysql.err.MySQLError as failed:
        return {"error": list(failed.args)}
    binding = p.rows("SELECT profile, vif_details, vnic_type FROM ml2_port_bindings")
    columns = p.rows("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_DEFAULT, IS_NULLABLE FROM "
                     "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
                     "TABLE_NAME = 'ml2_port_bindings' ORDER BY ORDINAL_POSITION")
    engine = p.rows("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                    "DATABASE() AND TABLE_NAME = 'ml2_port_bindings'")
    p.ddl("DELETE FROM ports WHERE id = 'p1'")
    return {"error": error, "binding": binding, "columns": columns, "engine": engine,
            "after_port_delete": p.rows("SELECT COUNT(*) FROM ml2_port_bindings")[0]}


def _lock_kinds(p: Probe) -> list[list[str]]:
    """NDB's row locks now (ndbinfo.cluster_locks), by transaction: what each holds (H) or
    waits for (W), on which kind of object, the row or the unique index row."""
    rows = p.rows(
        "SELECT l.transid, o.fq_name, l.mode, l.state, l.op FROM ndbinfo.cluster_locks l "
        "LEFT JOIN ndbinfo.dict_obj_info o ON o.id = l.tableid ORDER BY l.transid, l.lock_num")
    named: dict[str, set[str]] = {}
    for transid, name, mode, state, op in rows:
        kind = "unique index row" if str(name).endswith("$unique") else \
            "BLOB part" if "NDB$BLOB" in str(name) else "row"
        named.setdefault(str(transid), set()).add(f"{mode}{state} {op} {kind}")
    return [sorted(kinds) for kinds in named.values()]


def unique_read_race(p: Probe, rounds: str) -> dict[str, Any]:
    """(g) nova's build_requests (nova 34.0.0's table: MEDIUMTEXT/TEXT columns, a unique key
    on instance_uuid): nova-api's read of a build request by instance_uuid (a reader
    transaction: SELECT ... LIMIT 1, then rollback) and nova-conductor's delete of it
    (DELETE ... WHERE instance_uuid, commit), started together, `rounds` times or until two
    of them took over 5 s (a deadlock: NDB has none of InnoDB's detection)."""
    metadata = sa.MetaData()
    table = sa.Table(
        "build_requests", metadata,
        sa.Column("created_at", sa.DateTime), sa.Column("updated_at", sa.DateTime),
        sa.Column("id", sa.Integer, primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("instance_uuid", sa.String(36)),
        sa.Column("instance", sa.Text().with_variant(sa.dialects.mysql.MEDIUMTEXT(), "mysql")),
        sa.Column("block_device_mappings",
                  sa.Text().with_variant(sa.dialects.mysql.MEDIUMTEXT(), "mysql")),
        sa.Column("tags", sa.Text()),
        sa.UniqueConstraint("instance_uuid", name="uniq_build_requests0instance_uuid"),
        sa.Index("build_requests_project_id_idx", "project_id"),
        sa.Index("build_requests_instance_uuid_idx", "instance_uuid"),
        mysql_engine="InnoDB", mysql_charset="utf8")
    engine = p.engine()
    metadata.create_all(engine)
    seen: dict[str, Any] = {"escaped": [], "read": {"row": 0, "none": 0}, "deleted": 0}
    slow: list[dict[str, Any]] = []
    done = 0
    for i in range(int(rounds)):
        uuid = f"00000000-0000-0000-0000-{i:012d}"
        with engine.begin() as conn:
            conn.execute(table.insert().values(
                project_id="p" * 32, instance_uuid=uuid, instance="{" + "i" * 12_000 + "}",
                block_device_mappings="[" + "b" * 3_000 + "]", tags="[]"))
        took, locks = _race_round(p, engine, table, uuid, seen)
        done += 1
        if max(took.values()) > 5:
            slow.append({"round": i, "read_s": round(took["read"], 2),
                         "delete_s": round(took["delete"], 2), "locks": locks})
            if len(slow) == 2:
                break
    engine.dispose()
    return {"rounds": done, "deadlocks": slow, "escaped": seen["escaped"], "reads": seen["read"],
            "deleted": seen["deleted"],
            "left": p.rows("SELECT COUNT(*) FROM build_requests")[0]}


def _race_round(p: Probe, engine: Any, table: Any, uuid: str, seen: dict[str, Any]
                ) -> tuple[dict[str, float], list[list[str]]]:
    """One round of (g): the read and the delete of one row, released together; the seconds
    each took, and NDB's locks 2 s in if either still waits."""
    took: dict[str, float] = {}
    start = threading.Barrier(2)

    def read() -> None:
        start.wait()
        began = time.monotonic()
        try:
            with engine.connect() as conn:  # a reader: rolled back when it closes
                row = conn.execute(sa.select(table).where(
                    table.c.instance_uuid == uuid).limit(1)).first()
            seen["read"]["row" if row is not None else "none"] += 1
        except db_exc.DBError as error:
            seen["escaped"].append(f"read: {type(error).__name__} {error.inner_exception}"[:300])
        took["read"] = time.monotonic() - began

    def delete() -> None:
        start.wait()
        began = time.monotonic()
        try:
            with engine.begin() as conn:
                seen["deleted"] += conn.execute(
                    table.delete().where(table.c.instance_uuid == uuid)).rowcount
        except db_exc.DBError as error:
            seen["escaped"].append(f"delete: {type(error).__name__} {error.inner_exception}"[:300])
        took["delete"] = time.monotonic() - began

    threads = [threading.Thread(target=read), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    threads[0].join(2)
    threads[1].join(0.01)
    locks = _lock_kinds(p) if any(t.is_alive() for t in threads) else []
    for thread in threads:
        thread.join()
    return took, locks


CASES = {"lock_wait": lock_wait, "retry_loop": retry_loop, "statement_error": statement_error,
         "nested_duplicate": nested_duplicate, "large_delete": large_delete,
         "wide_table": wide_table, "unique_read_race": unique_read_race}


def main() -> None:
    case, host, port, database = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    arg = sys.argv[5] if len(sys.argv) > 5 else ""
    print(json.dumps(CASES[case](Probe(host, port, database), arg)))


if __name__ == "__main__":
    main()
