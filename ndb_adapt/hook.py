"""The DB-API patch: PyMySQL's Cursor.execute, for DDL and savepoint statements only.

Everything else (the services' queries) goes straight to PyMySQL after one prefix test, so
the runtime cost is a string check per statement. The adaptation's own reads run on a
separate cursor through the unpatched method, so they never recurse into the rules.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from ndb_adapt import cascade, recover, rewrite
from ndb_adapt.ddl import table_of
from ndb_adapt.log import note

_DDL_HEADS = ("CREATE", "ALTER", "DROP", "RENAME", "SAVEPOINT", "RELEASE", "ROLLBACK")
_DELETE_HEAD = "DELETE"
_INSERT_HEAD = "INSERT"
# NDB answers an INSERT whose primary key a concurrent transaction has just inserted with
# MySQL 1022 "Can't write; duplicate key in table" (NDB 630 "Tuple already existed when
# attempting to insert"), an OperationalError, where InnoDB gives 1062 "Duplicate entry",
# an IntegrityError. oslo.db turns only the latter into DBDuplicateEntry, which the services
# catch to resolve such races (placement's resource class sync at start-up, seen failing on
# the test bed with two uWSGI workers).
ER_DUP_KEY, ER_DUP_ENTRY, NDB_TUPLE_EXISTS = 1022, 1062, 630
_INSERT_TABLE = re.compile(r"^\s*INSERT\s+(?:IGNORE\s+)?(?:INTO\s+)?`?([\w$]+)`?", re.I)
_PATCHED = "_ndb_adapt_original_execute"


def install() -> bool:
    try:
        from pymysql import cursors
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
        head = text.lstrip()[:9].upper()
        if head.startswith(_DELETE_HEAD):
            return _Adapted(self, original).delete(text, args)
        if head.startswith(_INSERT_HEAD):
            return _Adapted(self, original).insert(text, args)
        if not head.startswith(_DDL_HEADS):
            return original(self, query, args)
        return _Adapted(self, original).execute(text, args)

    cursors.Cursor.execute = execute
    return True


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
        if kind != "rollback":
            note("savepoint", "", f"{text.strip()[:60]!r} not sent: NDB has no savepoints")
            return 0
        # A partial rollback cannot be done: undo the whole transaction and say so, so the
        # caller never commits the outer part believing the inner part alone was undone.
        import pymysql

        self.conn.rollback()
        note("savepoint", "", "ROLLBACK TO SAVEPOINT: whole transaction rolled back, error "
             "raised (NDB has no savepoints)")
        raise pymysql.err.OperationalError(
            1178, "ndb_adapt: NDB has no savepoints; the whole transaction was rolled back")
