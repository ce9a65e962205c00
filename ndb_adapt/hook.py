"""The DB-API patch: PyMySQL's Cursor.execute, for DDL and savepoint statements only.

Everything else (the services' queries) goes straight to PyMySQL after one prefix test, so
the runtime cost is a string check per statement. The adaptation's own reads run on a
separate cursor through the unpatched method, so they never recurse into the rules.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from typing import Any

from ndb_adapt import cascade, recover, rewrite, txn
from ndb_adapt.ddl import table_of
from ndb_adapt.log import note

_DDL_HEADS = ("CREATE", "ALTER", "DROP", "RENAME", "SAVEPOINT", "RELEASE", "ROLLBACK")
_DELETE_HEAD = "DELETE"
_DML_HEADS = ("SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "(")
_INSERT_HEAD = "INSERT"
# NDB answers an INSERT whose primary key a concurrent transaction has just inserted with
# MySQL 1022 "Can't write; duplicate key in table" (NDB 630 "Tuple already existed when
# attempting to insert"), an OperationalError, where InnoDB gives 1062 "Duplicate entry",
# an IntegrityError. oslo.db turns only the latter into DBDuplicateEntry, which the services
# catch to resolve such races (placement's resource class sync at start-up, seen failing on
# the test bed with two uWSGI workers).
ER_DUP_KEY, ER_DUP_ENTRY, NDB_TUPLE_EXISTS = 1022, 1062, 630
_INSERT_TABLE = re.compile(r"^\s*INSERT\s+(?:IGNORE\s+)?(?:INTO\s+)?`?([\w$]+)`?", re.I)
# The first table a DML statement names, for the log line only.
_DML_TABLE = re.compile(r"^\s*(?:UPDATE|DELETE\b.*?\bFROM|SELECT\b.*?\bFROM)\s+`?([\w$]+)`?",
                        re.I | re.S)
_PATCHED = "_ndb_adapt_original_execute"
_TRANSACTION = "_ndb_adapt_transaction"
_OURS = "_ndb_adapt_raised"


def install() -> bool:
    try:
        from pymysql import connections, cursors
    except ImportError:
        return False
    if hasattr(cursors.Cursor, _PATCHED):
        return True
    original = cursors.Cursor.execute
    setattr(cursors.Cursor, _PATCHED, original)

    def execute(self: Any, query: Any, args: Any = None) -> Any:
        text = query.decode() if isinstance(query, (bytes, bytearray)) else query
        if not isinstance(text, str):
            return original(self, query, args)
        return _Adapted(self, original).statement(text, args)

    cursors.Cursor.execute = execute
    _patch_transaction_ends(connections.Connection)
    return True


def transaction_of(conn: Any) -> txn.Transaction:
    """ndb_adapt's record of the connection's current transaction (ndb_adapt.txn)."""
    state = getattr(conn, _TRANSACTION, None)
    if state is None:
        state = txn.Transaction()
        setattr(conn, _TRANSACTION, state)
    return state


def _patch_transaction_ends(connection: Any) -> None:
    """commit(), rollback() and begin() end ndb_adapt's record of the transaction; COMMIT of
    a transaction NDB already rolled back (poisoned) fails as 1213 and rolls back instead,
    and a temporary NDB error at COMMIT (1297) is reported as 1213."""
    commit, rollback, begin = connection.commit, connection.rollback, connection.begin

    def patched_commit(self: Any) -> Any:
        import ndb_adapt

        if ndb_adapt.mode() != "on":
            return commit(self)
        state = transaction_of(self)
        lost = state.aborted
        state.reset()
        if lost:
            rollback(self)
            note("whole_transaction", "", f"COMMIT refused: {lost}")
            raise _ours(txn.ER_LOCK_DEADLOCK, txn.deadlock_message(lost))
        try:
            return commit(self)
        except Exception as error:
            if _code(error) != txn.ER_GET_TEMPORARY_ERRMSG:
                raise
            why = f"{txn.ER_GET_TEMPORARY_ERRMSG} {_text(error)} at COMMIT"
            note("whole_transaction", "", f"{why} -> 1213")
            raise _ours(txn.ER_LOCK_DEADLOCK, txn.deadlock_message(why)) from error

    def patched_rollback(self: Any) -> Any:
        transaction_of(self).reset()
        return rollback(self)

    def patched_begin(self: Any) -> Any:
        transaction_of(self).reset()
        return begin(self)

    connection.commit = patched_commit
    connection.rollback = patched_rollback
    connection.begin = patched_begin


def _code(error: BaseException) -> int | None:
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    return args[0] if args and isinstance(args[0], int) else None


def _text(error: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    return str(args[1]) if len(args) > 1 else str(error)


def _ours(code: int, message: str) -> Exception:
    """An error ndb_adapt raises itself, never mapped again: PyMySQL's class for the code
    (1213 and 1178 are OperationalError, 1062 and 1452 IntegrityError)."""
    from pymysql import err

    cls: type[Exception] = err.error_map.get(code, err.OperationalError)
    error = cls(code, message)
    setattr(error, _OURS, True)
    return error


def _autocommit(conn: Any) -> bool:
    """The session's autocommit flag as the server last reported it (no round trip)."""
    try:
        return bool(conn.get_autocommit())
    except Exception:
        return False


def _table(statement: str) -> str:
    match = _INSERT_TABLE.match(statement) or _DML_TABLE.match(statement)
    return table_of(statement) or (match.group(1) if match else "")


class _Adapted:
    """One adapted statement on one cursor."""

    def __init__(self, cursor: Any, original: Any) -> None:
        self.cursor = cursor
        self.original = original

    @property
    def conn(self) -> Any:
        return self.cursor.connection

    def query(self, sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
        from pymysql import cursors

        cur = self.conn.cursor(cursors.Cursor)
        try:
            self.original(cur, sql, tuple(args) or None)
            return list(cur.fetchall())
        finally:
            cur.close()

    def run(self, sql: str) -> Any:
        return self.query(sql)

    def statement(self, text: str, args: Any) -> Any:
        """Every statement: the rules by its head, and (adaptation on) the transaction's
        record - NDB's silent whole-transaction rollbacks reported as 1213, savepoints."""
        import ndb_adapt

        if ndb_adapt.mode() != "on":
            return self.dispatch(text, args)
        state = transaction_of(self.conn)
        if state.aborted and not txn.accepted_when_poisoned(text):
            note("whole_transaction", _table(text), f"{text.strip()[:40]!r} refused: "
                 f"{state.aborted}")
            raise _ours(txn.ER_LOCK_DEADLOCK, txn.deadlock_message(state.aborted))
        retried = 0
        while True:
            try:
                result = self.dispatch(text, args)
                break
            except Exception as error:
                codes = self.failure_codes(error)
                if codes is None:
                    raise
                mapped = self.whole_transaction(error, text, state, codes)
                if mapped is not None:
                    raise mapped from error
                if not self.send_again(error, text, state, codes, retried):
                    raise
                retried += 1
        state.record(text, int(self.cursor.rowcount or 0))
        return result

    def failure_codes(self, error: BaseException) -> set[int] | None:
        """The server's codes behind a failed statement (the error's and SHOW WARNINGS'); None
        for an error of ndb_adapt's own, of the client (a lost connection has no warnings),
        or not from the database."""
        code = _code(error)
        if getattr(error, _OURS, False) or code is None or code >= 2000 or \
                not recover.is_db_error(error):
            return None
        return recover.failure_codes(error, self.warnings)

    def send_again(self, error: BaseException, text: str, state: txn.Transaction,
                   codes: set[int], retried: int) -> bool:
        """A lock wait timeout that lost nothing but the statement (ndb_adapt.txn): log it and
        say to send the statement again."""
        code = _code(error)
        if code is None or not text.lstrip()[:8].upper().startswith(_DML_HEADS):
            return False  # DDL commits implicitly: not a statement of the transaction
        if not txn.send_again_after_lock_wait(code, sorted(codes), state.holds_work,
                                              _autocommit(self.conn), retried):
            return False
        # The record stays as it is: nothing changed and no lock was taken before (or
        # autocommit), and savepoints of such a transaction had nothing to undo either.
        # Both sides of a deadlock may time out together: a random pause, so that their second
        # attempts do not start in the same millisecond (one round deadlocked twice in a row,
        # 21.5 s, before it).
        time.sleep(random.uniform(0, txn.LOCK_WAIT_JITTER_SECONDS))
        note("lock_wait", _table(text), f"{code} {_text(error)[:80]} {sorted(codes)} with "
             f"nothing of the transaction lost: {text.strip()[:40]!r} sent again "
             f"({retried + 1}/{txn.LOCK_WAIT_RETRIES})")
        return True

    def dispatch(self, text: str, args: Any) -> Any:
        head = text.lstrip()[:9].upper()
        if head.startswith(_DELETE_HEAD):
            return self.delete(text, args)
        if head.startswith(_INSERT_HEAD):
            return self.insert(text, args)
        if not head.startswith(_DDL_HEADS):
            return self.original(self.cursor, text, args)
        return self.execute(text, args)

    def whole_transaction(self, error: BaseException, text: str, state: txn.Transaction,
                          codes: set[int]) -> Exception | None:
        """1213 if NDB rolled back the whole transaction behind this error (1297, or 1622
        among the session's conditions, `codes`); the transaction stays poisoned until
        rollback."""
        code = _code(error)
        if code is None:
            return None
        held = state.holds_work
        if not txn.whole_transaction_lost(code, sorted(codes), held):
            return None
        why = f"{code} {_text(error)[:200]}"
        if code != txn.ER_GET_TEMPORARY_ERRMSG:
            why += f", with {txn.ER_WARN_ENGINE_TRANSACTION_ROLLBACK}"
        state.reset()
        if not held or _autocommit(self.conn):  # nothing lost that a later COMMIT could miss
            note("whole_transaction", _table(text), f"{why} -> 1213")
        else:
            state.aborted = why
            note("whole_transaction", _table(text), f"{why} -> 1213; statements refused "
                 "until rollback")
        return _ours(txn.ER_LOCK_DEADLOCK, txn.deadlock_message(why))

    def warnings(self) -> list[tuple[Any, ...]]:
        return self.query("SHOW WARNINGS")

    def reconnect(self) -> None:
        """A new session with the same sql_mode, time zone, FK checks, database, autocommit."""
        state: tuple[Any, ...] | None = None
        with contextlib.suppress(Exception):
            state = self.query("SELECT @@SESSION.sql_mode, @@SESSION.time_zone, "
                               "@@SESSION.foreign_key_checks, DATABASE()")[0]
        autocommit = self.conn.get_autocommit()
        with contextlib.suppress(Exception):
            self.conn.close()
        self.conn.connect()
        if state is not None:
            self.query("SET SESSION sql_mode = %s, time_zone = %s, foreign_key_checks = %s",
                       state[:3])
            if state[3]:
                self.conn.select_db(state[3])
        self.conn.autocommit(autocommit)

    def lookup(self) -> rewrite.Lookup:
        def charset() -> str:
            return str(self.query("SELECT @@character_set_database")[0][0])

        def column_types(table: str) -> dict[str, tuple[str, int]]:
            rows = self.query(
                "SELECT COLUMN_NAME, DATA_TYPE, COALESCE(CHARACTER_OCTET_LENGTH, 8) FROM "
                "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                (table,))
            return {str(r[0]).lower(): (str(r[1]).lower(), int(r[2])) for r in rows}

        return rewrite.Lookup(charset, column_types, self.remember_cascade)

    def _where(self) -> tuple[str, str]:
        db = self.conn.db
        database = db.decode() if isinstance(db, (bytes, bytearray)) else str(db or "")
        return f"{self.conn.host}:{self.conn.port}", database

    def remember_cascade(self, child: str, cols: str, parent: str, pcols: str) -> None:
        cascade.remember(self.query, self._where(), (child, cols, parent, pcols))

    def delete(self, text: str, args: Any) -> Any:
        """A DELETE: the children of remembered cascades first, then the statement."""
        entries = cascade.registry(*self._where(), self.query)
        if entries:
            cascade.cascade_first(text, args, entries, self.delete)
        return self.original(self.cursor, text, args)

    def insert(self, text: str, args: Any) -> Any:
        """An INSERT: NDB's duplicate primary key (1022/630) reported as MySQL's 1062."""
        from pymysql import err

        import ndb_adapt

        if ndb_adapt.mode() != "on":
            return self.original(self.cursor, text, args)
        state = transaction_of(self.conn)
        ignoring = txn.as_insert_ignore(text) if state.savepoints else None
        if ignoring is not None:
            return self.insert_in_savepoint(ignoring, args, state)
        try:
            return self.original(self.cursor, text, args)
        except err.OperationalError as error:
            if not error.args or error.args[0] != ER_DUP_KEY:
                raise
            if NDB_TUPLE_EXISTS not in recover.failure_codes(error, self.warnings):
                raise
            match = _INSERT_TABLE.match(text)
            table = match.group(1) if match else ""
            note("duplicate_key", table, f"{ER_DUP_KEY} / NDB {NDB_TUPLE_EXISTS} -> "
                                         f"{ER_DUP_ENTRY} (IntegrityError), as InnoDB reports it")
            raise err.IntegrityError(
                ER_DUP_ENTRY, f"Duplicate entry '?' for key '{table}.PRIMARY'") from error

    def insert_in_savepoint(self, ignoring: str, args: Any, state: txn.Transaction) -> Any:
        """An INSERT inside a savepoint, sent as INSERT IGNORE (ndb_adapt.txn): a duplicate
        skips the row instead of losing the NDB transaction; the error InnoDB gives is raised
        here, and the ROLLBACK TO SAVEPOINT that follows has nothing to undo."""
        result = self.original(self.cursor, ignoring, args)
        count = getattr(getattr(self.cursor, "_result", None), "warning_count", None)
        if count == 0:
            return result
        done = txn.IgnoredInsert(int(self.cursor.rowcount or 0),
                                 txn.warning_rows(self.warnings()))
        if done.clean:
            return result
        table = _table(ignoring)
        _, code, message = done.problems[0]
        if done.skipped_only:
            note("savepoint", table, f"INSERT inside a savepoint sent as INSERT IGNORE: {code} "
                 "raised, nothing written, the transaction kept")
            raise _ours(code, message)
        # Rows were written (some of a multi-row INSERT, or adjusted values) where the plain
        # INSERT would have failed and written nothing: only a full rollback undoes them.
        self.conn.rollback()
        state.aborted = f"INSERT IGNORE inside a savepoint wrote rows with {code} {message!r}"
        note("savepoint", table, f"{state.aborted}: whole transaction rolled back, {code} "
             "raised, statements refused until rollback")
        raise _ours(code, message)

    def execute(self, text: str, args: Any) -> Any:
        import ndb_adapt

        if ndb_adapt.mode() == "observe":
            return self._observe(text, args)
        kind = rewrite.savepoint_kind(text)
        if kind is not None:
            return self._savepoint(kind, text)
        adapted = rewrite.rewrite(text, self.lookup())
        if adapted is None:
            return 0
        recovery = recover.Recovery(self.run, self.query, self.reconnect, self.warnings,
                                    self.remember_cascade)
        return recovery.execute(adapted, lambda sql: self.original(self.cursor, sql, args))

    def _observe(self, text: str, args: Any) -> Any:
        """Send unchanged; on failure log the NDB codes (SHOW WARNINGS) before re-raising."""
        try:
            return self.original(self.cursor, text, args)
        except Exception as error:
            if recover.is_db_error(error):
                codes = recover.failure_codes(error, self.warnings)
                note("failed", table_of(text), f"codes={sorted(codes)}")
            raise

    def _savepoint(self, kind: str, text: str) -> Any:
        """NDB has no savepoints (MySQL 1178 once an NDB table is in the transaction)."""
        import ndb_adapt

        state = transaction_of(self.conn)
        name = rewrite.savepoint_name(text)
        if kind != "rollback":
            if kind == "savepoint":
                state.savepoint(name)
            else:
                state.release(name)
            note("savepoint", "", f"{text.strip()[:60]!r} not sent: NDB has no savepoints")
            return 0
        if ndb_adapt.mode() == "on" and state.unchanged_since(name):
            state.rolled_back_to(name)
            note("savepoint", "", f"ROLLBACK TO SAVEPOINT {name}: no row changed since the "
                 "SAVEPOINT, nothing to undo: not sent")
            return 0
        # A partial rollback cannot be done: undo the whole transaction and say so, so the
        # caller never commits the outer part believing only the inner part was undone; the
        # transaction stays poisoned, so nothing sent after the error commits either.
        self.conn.rollback()
        state.aborted = "ROLLBACK TO SAVEPOINT after changes (NDB has no savepoints)"
        note("savepoint", "", "ROLLBACK TO SAVEPOINT: whole transaction rolled back, error "
             "raised (NDB has no savepoints)")
        raise _ours(
            1178, "ndb_adapt: NDB has no savepoints; the whole transaction was rolled back")
