"""ndb_adapt's statement rules, without a server: what each rewrite does to real DDL shapes
(SQLAlchemy's CREATE TABLE layout, as the services' migrations emit it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndb_adapt import ddl, recover, rewrite

LOOKUP = rewrite.Lookup(lambda: "utf8mb3", lambda _table: {
    "name": ("varchar", 765), "body": ("text", 65535)})


def test_engine_innodb_becomes_ndbcluster_and_temporary_myisam(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = rewrite.rewrite("CREATE TABLE t (\n\tid INTEGER NOT NULL\n)ENGINE=InnoDB CHARSET=utf8",
                          LOOKUP)
    assert out is not None and "ENGINE=NDBCLUSTER" in out
    tmp = rewrite.rewrite("CREATE TEMPORARY TABLE t (id INT) ENGINE=InnoDB", LOOKUP)
    assert tmp is not None and "ENGINE=MyISAM" in tmp
    assert "rule=engine table=t" in capsys.readouterr().err


def test_cascade_dropped_only_when_child_has_text() -> None:
    create = ("CREATE TABLE project_option (\n\tproject_id VARCHAR(64) NOT NULL, \n\t"
              "option_value TEXT, \n\tPRIMARY KEY (project_id), \n\tFOREIGN KEY(project_id) "
              "REFERENCES project (id) ON DELETE CASCADE\n)ENGINE=InnoDB CHARSET=utf8")
    out = rewrite.rewrite(create, LOOKUP)
    assert out is not None and "CASCADE" not in out and "ON DELETE RESTRICT" in out
    plain = create.replace("option_value TEXT", "option_value VARCHAR(10)")
    kept = rewrite.rewrite(plain, LOOKUP)
    assert kept is not None and "ON DELETE CASCADE" in kept


@pytest.mark.parametrize("column", ["location POINT", "area GEOMETRY", "doc JSON"])
def test_cascade_dropped_when_child_has_json_or_geometry(column: str) -> None:
    # NDB stores these as blobs too and refuses the cascade with 21034 (measured:
    # ndb_probe.BOUNDARY_TABLES' geometry_cascade_child, test_ndb_fit's json_cascade_child).
    create = (f"CREATE TABLE child (\n\tid INTEGER NOT NULL, \n\tparent_id INTEGER, \n\t"
              f"{column}, \n\tPRIMARY KEY (id), \n\tFOREIGN KEY(parent_id) REFERENCES parent "
              "(id) ON DELETE CASCADE\n)ENGINE=InnoDB")
    out = rewrite.rewrite(create, LOOKUP)
    assert out is not None and "CASCADE" not in out and "ON DELETE RESTRICT" in out


def test_oversized_row_retypes_largest_unindexed_varchar() -> None:
    create = ("CREATE TABLE big (\n\tid VARCHAR(255) NOT NULL, \n\ta VARCHAR(8000), \n\t"
              "b VARCHAR(4000), \n\tc VARCHAR(20), \n\tPRIMARY KEY (id)\n)ENGINE=InnoDB "
              "CHARSET=utf8mb4")
    out = rewrite.rewrite(create, LOOKUP)
    assert out is not None
    table = ddl.parse_create_table(out)
    assert table is not None
    types = {c.name: c.data_type for c in table.columns}
    assert types == {"id": "varchar", "a": "text", "b": "varchar", "c": "varchar"}
    assert sum(c.row_bytes("utf8mb4") for c in table.columns) <= rewrite.ROW_BUDGET


def test_prefix_index() -> None:
    create = ("CREATE TABLE t (\n\tname VARCHAR(255), \n\tbody TEXT, \n\t"
              "KEY ix_name (name(100)), \n\tKEY ix_body (body(200))\n)ENGINE=InnoDB")
    out = rewrite.rewrite(create, LOOKUP)
    assert out is not None and "ix_name (`name`)" in out and "ix_body" not in out
    assert rewrite.rewrite("CREATE INDEX ix ON t (body(100))", LOOKUP) is None
    assert rewrite.rewrite("CREATE INDEX ix ON t (name(10))", LOOKUP) == \
        "CREATE INDEX ix ON t (`name`)"


def test_prefix_index_too_long_keeps_leading_columns() -> None:
    # nova's migrations_by_host_nodes_and_status_idx, as its initial migration creates it.
    create = ("CREATE TABLE migrations (\n\tid INTEGER NOT NULL AUTO_INCREMENT, \n\t"
              "source_compute VARCHAR(255), \n\tdest_compute VARCHAR(255), \n\t"
              "source_node VARCHAR(255), \n\tdest_node VARCHAR(255), \n\t"
              "status VARCHAR(255), \n\tdeleted INTEGER, \n\tPRIMARY KEY (id), \n\t"
              "INDEX ix (deleted, source_compute(100), dest_compute(100), source_node(100), "
              "dest_node(100), status)\n)ENGINE=InnoDB CHARSET=utf8")
    out = rewrite.rewrite(create, LOOKUP)
    assert out is not None
    assert "INDEX ix (`deleted`, `source_compute`, `dest_compute`, `source_node`)" in out


def test_savepoints_classified() -> None:
    assert rewrite.savepoint_kind("SAVEPOINT sa_savepoint_1") == "savepoint"
    assert rewrite.savepoint_kind("RELEASE SAVEPOINT sa_savepoint_1") == "release"
    assert rewrite.savepoint_kind("ROLLBACK TO SAVEPOINT sa_savepoint_1") == "rollback"
    assert rewrite.savepoint_kind("ROLLBACK") is None


def test_ndb_codes_from_message_and_warnings() -> None:
    error = Exception(1025, "Error on rename of './nova/#sql-1' (errno: 241 ...)")
    warnings = [("Warning", 1296, "Got error 21081 'Drop index not allowed' from NDB")]
    assert {1025, 241, 1296, 21081} <= recover.error_codes(error, warnings)


@pytest.mark.parametrize(("flag", "patched"), [("1", True), ("observe", True), ("", False)])
def test_sitecustomize_patches_only_when_enabled(flag: str, patched: bool) -> None:
    import subprocess
    import sys

    from tests.openstack.migrations import ADAPT_PATH

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ADAPT_PATH), "OPENSTACK_NDB_ADAPT": flag}
    probe = ("import pymysql.cursors as c; "
             "print(hasattr(c.Cursor, '_ndb_adapt_original_execute'))")
    # -c with the repo's venv python: site runs sitecustomize from PYTHONPATH first.
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, check=True, cwd="/")
    assert done.stdout.strip() == str(patched), done.stderr


def test_shipped_files_work_alone(tmp_path: Path) -> None:
    """What the program uploads is self-contained: a copy outside the repo, on PYTHONPATH as
    CONTAINER_ENV says, patches PyMySQL in a fresh interpreter."""
    import subprocess
    import sys

    import ndb_adapt

    root = tmp_path
    for relative, content in ndb_adapt.files().items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    # limits.py is shared with ndb_fit but is part of ndb_adapt, so it ships (and the patched
    # interpreter below imports it: hook -> rewrite -> ddl -> limits).
    assert {"ndb_adapt/site/sitecustomize.py", "ndb_adapt/limits.py"} <= set(ndb_adapt.files())
    site = ndb_adapt.CONTAINER_ENV["PYTHONPATH"].replace(ndb_adapt.CONTAINER_ROOT, str(root))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": site, "OPENSTACK_NDB_ADAPT": "1"}
    probe = ("import sys, pymysql.cursors as c, ndb_adapt; "
             "print(hasattr(c.Cursor, '_ndb_adapt_original_execute'), ndb_adapt.__file__)")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, check=True, cwd="/")
    patched, origin = done.stdout.split()
    assert patched == "True" and origin.startswith(str(root)), done.stdout + done.stderr


class _FakeSession:
    """The service's connection as Recovery sees it: scripted failures, recorded SQL."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.sent: list[str] = []
        self.ran: list[str] = []
        self.reconnects = 0

    def send(self, sql: str) -> int:
        self.sent.append(sql)
        if self.failures:
            raise self.failures.pop(0)
        return 0

    def query(self, sql: str, _args: object = ()) -> list[tuple[object, ...]]:
        if "REFERENTIAL_CONSTRAINTS" in sql:
            return [("fk_child", "child", "db", "parent", "NO ACTION", "CASCADE", "pid", "id")]
        if "information_schema.COLUMNS" in sql:
            return [("pid",), ("id",)]
        return []

    def recovery(self) -> recover.Recovery:
        return recover.Recovery(self.ran.append, self.query,
                                self._reconnect, lambda: [])

    def _reconnect(self) -> None:
        self.reconnects += 1


def test_foreign_keys_dropped_and_readded_around_rejected_ddl() -> None:
    import pymysql

    error = pymysql.err.OperationalError(
        1296, "Got error 21081 'Drop index not allowed: used by a foreign key' from NDBCLUSTER")
    session = _FakeSession([error])
    session.recovery().execute("DROP INDEX ix_pid ON child", session.send)
    assert session.sent == ["DROP INDEX ix_pid ON child"] * 2
    assert session.ran[0] == "ALTER TABLE `child` DROP FOREIGN KEY `fk_child`"
    assert session.ran[1].startswith("ALTER TABLE `child` ADD CONSTRAINT `fk_child` FOREIGN KEY")
    assert "ON DELETE CASCADE" in session.ran[1]


def test_stale_sql_table_reconnects_and_retries() -> None:
    import pymysql

    error = pymysql.err.InternalError(1296, "Got error 241 'Invalid schema object version' "
                                            "from NDBCLUSTER on '#sql-1a2b_4'")
    session = _FakeSession([error])
    session.recovery().execute("ALTER TABLE t ADD COLUMN c INT", session.send)
    assert session.reconnects == 1 and len(session.sent) == 2


def test_unrelated_errors_are_raised_unchanged() -> None:
    import pymysql

    error = pymysql.err.IntegrityError(1062, "Duplicate entry")
    session = _FakeSession([error])
    with pytest.raises(pymysql.err.IntegrityError):
        session.recovery().execute("ALTER TABLE t ADD UNIQUE (c)", session.send)
    assert session.ran == [] and session.reconnects == 0
