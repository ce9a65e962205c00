"""ndb_adapt's runtime rules without a server (the real cluster runs them in
tests/openstack/test_runtime_cases.py): whole-transaction rollbacks NDB does silently
reported as 1213 and the transaction poisoned until rollback, INSERT inside a savepoint as
INSERT IGNORE, ROLLBACK TO SAVEPOINT with nothing to undo not sent, and the oversized-row
rule keeping a VARCHAR's default and never growing a row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymysql
import pytest

from ndb_adapt import ddl, hook, recover, rewrite, txn
from tests.openstack.neutron_ddl import ML2_PORT_BINDINGS

Reply = Callable[["_Cursor"], int]


class _Connection:
    """A PyMySQL connection as ndb_adapt's hook sees it: scripted replies by statement."""

    host, port, db = "127.0.0.1", 3306, b"db"

    def __init__(self, replies: dict[str, Reply], warnings: list[tuple[str, int, str]]
                 ) -> None:
        self.replies = replies
        self.warnings = warnings
        self.sent: list[str] = []
        self.rollbacks = 0

    autocommit = False

    def get_autocommit(self) -> bool:
        return self.autocommit

    def cursor(self, _cls: Any = None) -> _Cursor:
        return _Cursor(self)

    def rollback(self) -> None:
        self.rollbacks += 1
        hook.transaction_of(self).reset()


class _Result:
    def __init__(self, warning_count: int) -> None:
        self.warning_count = warning_count


class _Cursor:
    def __init__(self, conn: _Connection) -> None:
        self.connection = conn
        self.rowcount = 0
        self._result = _Result(0)
        self._rows: list[tuple[Any, ...]] = []

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def close(self) -> None:
        pass


def _original(cursor: _Cursor, sql: str, _args: Any = None) -> int:
    conn = cursor.connection
    if sql == "SHOW WARNINGS":
        cursor._rows = list(conn.warnings)
        return len(cursor._rows)
    conn.sent.append(sql)
    for prefix, reply in conn.replies.items():
        if sql.startswith(prefix):
            cursor.rowcount = reply(cursor)
            return cursor.rowcount
    cursor.rowcount = 1
    return 1


def _run(conn: _Connection, sql: str) -> int:
    result: int = hook._Adapted(_Cursor(conn), _original).statement(sql, None)
    return result


def _fails(code: int, message: str) -> Reply:
    def reply(_cursor: _Cursor) -> int:
        raise pymysql.err.error_map.get(code, pymysql.err.OperationalError)(code, message)
    return reply


@pytest.fixture(autouse=True)
def _adapt_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSTACK_NDB_ADAPT", "1")


DUPLICATE = ("Error", 1062, "Duplicate entry '5' for key 'b.PRIMARY'")
ROLLED_BACK = ("Error", 1622, "Storage engine NDB does not support rollback for this "
               "statement. Transaction rolled back and must be restarted")


def test_error_with_1622_is_1213_and_poisons_until_rollback() -> None:
    # (c): INSERT a 1; INSERT b duplicate; INSERT a 2; COMMIT - NDB lost "a 1" at the
    # duplicate (1622); the caller must not commit "a 2" alone.
    conn = _Connection({"INSERT INTO b": _fails(1062, DUPLICATE[2])},
                       [("Warning", 1296, "Got error 630"), DUPLICATE, ROLLED_BACK])
    _run(conn, "INSERT INTO a VALUES (1)")
    with pytest.raises(pymysql.err.OperationalError) as raised:
        _run(conn, "INSERT INTO b VALUES (5)")
    assert raised.value.args[0] == 1213 and "Deadlock found" in raised.value.args[1]
    assert "1062" in raised.value.args[1] and "1622" in raised.value.args[1]
    with pytest.raises(pymysql.err.OperationalError, match="Deadlock found"):
        _run(conn, "INSERT INTO a VALUES (2)")  # refused, never sent
    assert conn.sent == ["INSERT INTO a VALUES (1)", "INSERT INTO b VALUES (5)"]
    _run(conn, "SHOW WARNINGS")  # diagnostics still answer
    conn.rollback()
    _run(conn, "INSERT INTO a VALUES (2)")  # a new transaction
    assert conn.sent[-1] == "INSERT INTO a VALUES (2)"


def test_error_without_1622_is_raised_as_it_is() -> None:
    # The first statement of a transaction fails alone: nothing else was lost.
    conn = _Connection({"INSERT INTO b": _fails(1062, DUPLICATE[2])},
                       [("Warning", 1296, "Got error 630"), DUPLICATE])
    with pytest.raises(pymysql.err.IntegrityError):
        _run(conn, "INSERT INTO b VALUES (5)")
    _run(conn, "INSERT INTO a VALUES (2)")
    assert not hook.transaction_of(conn).aborted


@pytest.mark.parametrize(("before", "mapped"), [("SELECT id FROM b", False),
                                               ("SELECT id FROM b WHERE id = 5 FOR UPDATE", True),
                                               ("UPDATE b SET id = 6 WHERE id = 7", False)])
def test_after_plain_reads_the_error_is_raised_as_it_is(before: str, mapped: bool) -> None:
    # placement's resource class sync: SELECT, then a multi-row INSERT that may meet a
    # concurrent worker's rows, caught as DBDuplicateEntry. NDB's rollback after plain reads
    # loses nothing; after a locking read it loses the locks the caller relies on.
    def nothing(_cursor: _Cursor) -> int:
        return 0

    conn = _Connection({"INSERT INTO b": _fails(1062, DUPLICATE[2]), "UPDATE": nothing},
                       [DUPLICATE, ROLLED_BACK])
    _run(conn, before)
    with pytest.raises(pymysql.err.MySQLError) as raised:
        _run(conn, "INSERT INTO b VALUES (5)")
    assert raised.value.args[0] == (1213 if mapped else 1062)
    assert bool(hook.transaction_of(conn).aborted) == mapped


def test_temporary_ndb_error_is_1213() -> None:
    # (b): a node failure (NDB 286, 4010) aborts the NDB transaction; 1297 is no oslo.db
    # deadlock, 1213 is.
    message = "Got temporary error 286 'Node failure caused abort of transaction' from NDBCLUSTER"
    conn = _Connection({"UPDATE": _fails(1297, message)}, [])
    with pytest.raises(pymysql.err.OperationalError) as raised:
        _run(conn, "UPDATE t SET v = 1")
    assert raised.value.args[0] == 1213 and "286" in raised.value.args[1]
    assert txn.whole_transaction_lost(1297, [])
    assert not txn.whole_transaction_lost(1205, [1297])  # 266 lock wait, first statement
    assert txn.whole_transaction_lost(1297, [], holds_work=False)
    assert not hook.transaction_of(conn).aborted  # it was the first statement: nothing lost
    autocommit = _Connection({"UPDATE": _fails(1297, message)}, [])
    autocommit.autocommit = True
    with pytest.raises(pymysql.err.OperationalError, match="Deadlock found"):
        _run(autocommit, "UPDATE t SET v = 1")
    assert not hook.transaction_of(autocommit).aborted  # its own transaction: nothing to refuse


LOCK_WAIT = "Lock wait timeout exceeded; try restarting transaction"
TIMED_OUT = ("Warning", 1297, "Got temporary error 266 'Time-out in NDB, probably caused by "
             "deadlock' from NDBCLUSTER")


def _times_out(times: int) -> Reply:
    """1205 (NDB 266) the first `times` sends, then one row."""
    sends: list[int] = []

    def reply(_cursor: _Cursor) -> int:
        sends.append(1)
        if len(sends) <= times:
            raise pymysql.err.OperationalError(1205, LOCK_WAIT)
        return 1
    return reply


@pytest.mark.parametrize("before", [None, "SELECT id FROM build_requests WHERE id = 1"])
def test_lock_wait_that_lost_nothing_is_sent_again(before: str | None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # (g): nova-conductor's DELETE of a build request, deadlocked 10 s with nova-api's read
    # of it; NDB aborted a transaction that had at most read: send the statement again.
    delete = "DELETE FROM build_requests WHERE build_requests.instance_uuid = 'u1'"
    conn = _Connection({"DELETE": _times_out(1)},
                       [TIMED_OUT] + ([ROLLED_BACK] if before else []))
    if before:
        _run(conn, before)
    assert _run(conn, delete) == 1
    assert conn.sent[-2:] == [delete, delete]
    assert not hook.transaction_of(conn).aborted
    assert "rule=lock_wait table=build_requests" in capsys.readouterr().err


def test_lock_wait_is_sent_again_at_most_twice() -> None:
    conn = _Connection({"DELETE": _times_out(3)}, [TIMED_OUT])
    with pytest.raises(pymysql.err.OperationalError) as raised:
        _run(conn, "DELETE FROM t WHERE id = 1")
    assert raised.value.args[0] == 1205  # as it is: oslo.db's DBDeadlock
    assert conn.sent == ["DELETE FROM t WHERE id = 1"] * (1 + txn.LOCK_WAIT_RETRIES)
    assert _run(conn, "DELETE FROM t WHERE id = 1") == 1  # a new statement, new attempts


@pytest.mark.parametrize("before", ["UPDATE t SET v = 1 WHERE id = 2",
                                    "SELECT v FROM t WHERE id = 2 FOR UPDATE"])
def test_lock_wait_after_work_is_never_sent_again(before: str) -> None:
    # NDB rolled back the change or the lock taken before: 1213, the whole transaction.
    conn = _Connection({"DELETE": _times_out(1)}, [TIMED_OUT, ROLLED_BACK])
    _run(conn, before)
    with pytest.raises(pymysql.err.OperationalError) as raised:
        _run(conn, "DELETE FROM t WHERE id = 1")
    assert raised.value.args[0] == 1213 and "1205" in raised.value.args[1]
    assert conn.sent == [before, "DELETE FROM t WHERE id = 1"]


def test_lock_wait_in_autocommit_is_sent_again_after_earlier_changes() -> None:
    conn = _Connection({"DELETE": _times_out(1)}, [TIMED_OUT])
    conn.autocommit = True
    _run(conn, "UPDATE t SET v = 1 WHERE id = 2")  # committed on its own
    assert _run(conn, "DELETE FROM t WHERE id = 1") == 1
    assert conn.sent.count("DELETE FROM t WHERE id = 1") == 2


def test_lock_wait_that_wrote_outside_ndb_is_not_sent_again() -> None:
    # 1196: a MyISAM (temporary) table kept rows the failed statement wrote.
    conn = _Connection({"INSERT": _times_out(1)},
                       [TIMED_OUT, ("Warning", 1196, "Some non-transactional changed tables "
                                    "couldn't be rolled back")])
    with pytest.raises(pymysql.err.OperationalError, match="Lock wait"):
        _run(conn, "INSERT INTO tmp SELECT id FROM t")
    assert conn.sent == ["INSERT INTO tmp SELECT id FROM t"]


def test_ddl_failing_with_a_lock_wait_is_not_sent_again() -> None:
    conn = _Connection({"ALTER": _times_out(1)}, [TIMED_OUT])
    with pytest.raises(pymysql.err.OperationalError, match="Lock wait"):
        _run(conn, "ALTER TABLE t ADD COLUMN c INTEGER")
    assert conn.sent == ["ALTER TABLE t ADD COLUMN c INTEGER"]


def test_lock_wait_inside_a_savepoint_keeps_its_bookkeeping() -> None:
    # nova's instance_tag_add: the INSERT inside the savepoint (sent as INSERT IGNORE) is
    # sent again, still as INSERT IGNORE, and RELEASE finds its savepoint.
    conn = _Connection({"INSERT IGNORE": _times_out(1)}, [TIMED_OUT])
    _run(conn, "SAVEPOINT sa_1")
    _run(conn, "INSERT INTO tags VALUES ('u1', 'web')")
    assert conn.sent == ["INSERT IGNORE INTO tags VALUES ('u1', 'web')"] * 2
    assert hook.transaction_of(conn).savepoints == [("sa_1", 0)]
    _run(conn, "RELEASE SAVEPOINT sa_1")
    assert hook.transaction_of(conn).savepoints == []


def test_only_lock_waits_are_sent_again() -> None:
    assert txn.send_again_after_lock_wait(1205, [1297], False, False, 0)
    assert not txn.send_again_after_lock_wait(1205, [1297], True, False, 0)
    assert txn.send_again_after_lock_wait(1205, [1297], True, True, 1)
    assert not txn.send_again_after_lock_wait(1205, [], False, False, txn.LOCK_WAIT_RETRIES)
    assert not txn.send_again_after_lock_wait(1213, [], False, False, 0)
    assert not txn.send_again_after_lock_wait(1062, [], False, False, 0)


def test_commit_of_a_poisoned_transaction_rolls_back_and_raises() -> None:
    class Connection:
        def __init__(self) -> None:
            self.done: list[str] = []

        def commit(self) -> None:
            self.done.append("commit")

        def rollback(self) -> None:
            self.done.append("rollback")

        def begin(self) -> None:
            self.done.append("begin")

    hook._patch_transaction_ends(Connection)
    conn = Connection()
    hook.transaction_of(conn).aborted = "1062 ..., with 1622"
    with pytest.raises(pymysql.err.OperationalError, match="Deadlock found"):
        conn.commit()
    assert conn.done == ["rollback"]
    conn.commit()
    assert conn.done == ["rollback", "commit"]


def test_commit_failing_with_a_temporary_error_is_1213() -> None:
    class Connection:
        def commit(self) -> None:
            raise pymysql.err.OperationalError(
                1297, "Got temporary error 4010 'Node failure caused abort of transaction'")

        def rollback(self) -> None:
            pass

        def begin(self) -> None:
            pass

    hook._patch_transaction_ends(Connection)
    with pytest.raises(pymysql.err.OperationalError) as raised:
        Connection().commit()
    assert raised.value.args[0] == 1213 and "4010" in raised.value.args[1]


def _duplicate_ignored(cursor: _Cursor) -> int:
    cursor._result = _Result(1)
    return 0


def test_duplicate_inside_a_savepoint_keeps_the_transaction() -> None:
    # (d), nova's instance_tag_add: SAVEPOINT; INSERT of an existing tag; ROLLBACK TO
    # SAVEPOINT; the caller catches the duplicate; COMMIT keeps the earlier row.
    conn = _Connection({"INSERT IGNORE INTO tags": _duplicate_ignored},
                       [("Warning", 1062, "Duplicate entry 'u1-t' for key 'tags.PRIMARY'")])
    _run(conn, "INSERT INTO instances (uuid) VALUES ('u1')")
    _run(conn, "SAVEPOINT sa_savepoint_1")
    with pytest.raises(pymysql.err.IntegrityError) as raised:
        _run(conn, "INSERT INTO tags (resource_id, tag) VALUES ('u1', 't')")
    assert raised.value.args == (1062, "Duplicate entry 'u1-t' for key 'tags.PRIMARY'")
    assert _run(conn, "ROLLBACK TO SAVEPOINT sa_savepoint_1") == 0
    assert conn.sent == ["INSERT INTO instances (uuid) VALUES ('u1')",
                         "INSERT IGNORE INTO tags (resource_id, tag) VALUES ('u1', 't')"]
    assert conn.rollbacks == 0 and not hook.transaction_of(conn).aborted


def test_rollback_to_savepoint_after_a_change_is_still_a_full_rollback() -> None:
    conn = _Connection({}, [])
    _run(conn, "SAVEPOINT sa_savepoint_1")
    _run(conn, "UPDATE t SET v = 2 WHERE id = 1")
    with pytest.raises(pymysql.err.OperationalError, match="no savepoints"):
        _run(conn, "ROLLBACK TO SAVEPOINT sa_savepoint_1")
    assert conn.rollbacks == 1
    with pytest.raises(pymysql.err.OperationalError, match="Deadlock"):
        _run(conn, "INSERT INTO t VALUES (3)")  # poisoned until the caller rolls back


def test_insert_ignore_that_wrote_adjusted_values_rolls_back() -> None:
    # NULL into NOT NULL inside a savepoint: INSERT IGNORE writes '' where the plain INSERT
    # would have failed; only a full rollback undoes that.
    def written(cursor: _Cursor) -> int:
        cursor._result = _Result(1)
        return 1

    conn = _Connection({"INSERT IGNORE": written},
                       [("Warning", 1048, "Column 'tag' cannot be null")])
    _run(conn, "SAVEPOINT s1")
    with pytest.raises(pymysql.err.IntegrityError, match="cannot be null"):
        _run(conn, "INSERT INTO tags (resource_id, tag) VALUES ('u1', NULL)")
    assert conn.rollbacks == 1 and hook.transaction_of(conn).aborted


def test_insert_ignore_only_for_plain_inserts() -> None:
    assert txn.as_insert_ignore("INSERT INTO t VALUES (1)") == "INSERT IGNORE INTO t VALUES (1)"
    assert txn.as_insert_ignore("  insert\n\tINTO t VALUES (1)") == \
        "  insert IGNORE\n\tINTO t VALUES (1)"
    assert txn.as_insert_ignore("INSERT IGNORE INTO t VALUES (1)") is None
    assert txn.as_insert_ignore("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE v = 1") is None
    done = txn.IgnoredInsert(0, (("Warning", 1062, "d"), ("Note", 1287, "x")))
    assert done.skipped_only and not done.clean
    assert not txn.IgnoredInsert(1, (("Warning", 1062, "d"),)).skipped_only  # partial
    assert txn.IgnoredInsert(1, (("Note", 1287, "x"),)).clean


def test_savepoint_bookkeeping() -> None:
    state = txn.Transaction()
    state.savepoint("a")
    state.record("UPDATE t SET v = 1", 0)  # matched nothing: no change
    state.savepoint("b")
    assert state.unchanged_since("a") and state.unchanged_since("b")
    state.record("INSERT INTO t VALUES (1)", 1)
    assert not state.unchanged_since("b")
    state.record("SELECT 1", 1)
    state.release("b")
    assert [s[0] for s in state.savepoints] == ["a"] and not state.unchanged_since("zz")
    state.record("COMMIT", 0)
    assert state.savepoints == [] and state.changes == 0




@pytest.mark.parametrize("charset", ["utf8mb3", "utf8mb4"])
def test_oversized_row_keeps_defaults_and_never_grows_a_row(charset: str) -> None:
    # (f): in utf8mb4 the row is 34,460 bytes; the two VARCHAR(4095) DEFAULT '' are what
    # must go, not the 260-byte VARCHAR(64) (a TEXT takes 272).
    remembered: list[tuple[str, ...]] = []
    lookup = rewrite.Lookup(lambda: charset, lambda _t: {},
                            lambda *key: remembered.append(key))
    out = rewrite.rewrite(ML2_PORT_BINDINGS, lookup)
    assert out is not None
    before = ddl.parse_create_table(ML2_PORT_BINDINGS)
    after = ddl.parse_create_table(out)
    assert before is not None and after is not None
    size = {c.name: c.row_bytes(charset) for c in before.columns}
    new = {c.name: c.row_bytes(charset) for c in after.columns}
    assert all(new[name] <= size[name] for name in size)
    if charset == "utf8mb3":  # 25,860 bytes: fits as it is
        assert out == ML2_PORT_BINDINGS.replace("ENGINE=InnoDB", "ENGINE=NDBCLUSTER")
        return
    assert sum(size.values()) == 34_460 and sum(new.values()) <= rewrite.ROW_BUDGET
    columns = {c.name: c.definition for c in after.columns}
    assert columns["profile"] == "TEXT DEFAULT ('') NOT NULL"  # the default kept
    assert columns["vif_type"] == "VARCHAR(64) NOT NULL"
    # the TEXT child cannot keep NDB's cascade: RESTRICT, emulated by ndb_adapt.cascade
    assert "ON DELETE RESTRICT" in out and remembered == [
        ("ml2_port_bindings", "port_id", "ports", "id")]


def test_text_default_forms() -> None:
    assert rewrite.text_default("TEXT DEFAULT 'it''s' NOT NULL") == \
        "TEXT DEFAULT ('it''s') NOT NULL"
    assert rewrite.text_default("TEXT DEFAULT NULL") == "TEXT DEFAULT NULL"
    assert rewrite.text_default("TEXT NOT NULL") == "TEXT NOT NULL"
    assert rewrite.text_default("TEXT DEFAULT (uuid())") is None  # left alone
    assert recover.sql_string("a'b\\c") == "'a''b\\\\c'"
