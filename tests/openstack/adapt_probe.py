"""Run by a service venv's python with OPENSTACK_NDB_ADAPT=1 (not imported by the tests):
exercises ndb_adapt's runtime rules on a real SQL node and prints what the server holds.

    python adapt_probe.py HOST PORT DATABASE
"""

from __future__ import annotations

import json
import sys

import pymysql


def main() -> None:
    host, port, database = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    conn = pymysql.connect(host=host, port=port, user="root", password="", database=database,
                           autocommit=False)
    cur = conn.cursor()
    cur.execute("CREATE TABLE parent (id INTEGER NOT NULL, PRIMARY KEY (id))ENGINE=InnoDB")
    cur.execute("CREATE TABLE child (\n\tid INTEGER NOT NULL, \n\tparent_id INTEGER, \n\t"
                "body TEXT, \n\tPRIMARY KEY (id), \n\tFOREIGN KEY(parent_id) REFERENCES "
                "parent (id) ON DELETE CASCADE\n)ENGINE=InnoDB")
    cur.execute("CREATE TABLE other (id INTEGER NOT NULL, PRIMARY KEY (id))ENGINE=InnoDB")
    cur.execute("INSERT INTO parent VALUES (1), (2)")
    cur.execute("INSERT INTO child VALUES (10, 1, 'a'), (11, 1, 'b'), (20, 2, 'c')")
    conn.commit()
    # One transaction: other work, then the parent delete the cascade must follow.
    cur.execute("INSERT INTO other VALUES (7)")
    cur.execute("SAVEPOINT sa_savepoint_1")
    cur.execute("RELEASE SAVEPOINT sa_savepoint_1")
    cur.execute("DELETE FROM parent WHERE parent.id = %(id_1)s", {"id_1": 1})
    conn.commit()
    cur.execute("SELECT id FROM child ORDER BY id")
    children = [r[0] for r in cur.fetchall()]
    cur.execute("SELECT id FROM other")
    other = [r[0] for r in cur.fetchall()]
    cur.execute("INSERT INTO other VALUES (8)")
    rollback_error = commit_error = None
    try:
        cur.execute("ROLLBACK TO SAVEPOINT sa_savepoint_2")
    except pymysql.err.OperationalError as error:
        rollback_error = error.args[0]
    try:  # the transaction is gone: nothing may commit before the caller rolls back
        conn.commit()
    except pymysql.err.OperationalError as error:
        commit_error = error.args[0]
    cur.execute("SELECT id FROM other ORDER BY id")
    after_rollback = [r[0] for r in cur.fetchall()]
    cur.execute("SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE()")
    tables = {str(r[0]): str(r[1]) for r in cur.fetchall()}
    print(json.dumps({"children": children, "other": other, "rollback_error": rollback_error,
                      "commit_error": commit_error,
                      "after_rollback": after_rollback, "engines": tables,
                      "duplicate": _duplicate_through_oslo_db(host, port, database)}))


def _duplicate_through_oslo_db(host: str, port: int, database: str) -> str:
    """A multi-row INSERT hitting an existing primary key, through oslo.db's engine (its
    exception filters), as placement's resource class sync does: InnoDB says 1062 and oslo.db
    raises DBDuplicateEntry; NDB says 1022, which ndb_adapt reports as 1062."""
    # The service venv's packages, not the program's.
    import sqlalchemy as sa  # type: ignore[import-not-found]
    from oslo_db import exception  # type: ignore[import-not-found]
    from oslo_db.sqlalchemy import engines  # type: ignore[import-not-found]

    engine = engines.create_engine(
        f"mysql+pymysql://root:@{host}:{port}/{database}?charset=utf8")
    table = sa.Table("other", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": 9}, {"id": 7}])  # 7 exists
    except exception.DBDuplicateEntry as error:
        return f"DBDuplicateEntry {error.columns}"
    except Exception as error:  # reported, and the test names it
        return f"{type(error).__name__}: {error}"
    finally:
        engine.dispose()
    return "no error"


if __name__ == "__main__":
    main()
