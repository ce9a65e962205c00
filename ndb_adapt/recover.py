"""Statements NDB rejects where InnoDB would not: find the NDB error, adapt, retry.

The MySQL error a failed DDL returns is often generic (1005, 1025, 1215, 1296); NDB's own
code is in its text or in SHOW WARNINGS ("Got error 21081 '...' from NDB"), so both are read.

Fixes, by NDB/MySQL code (reasons in docs/ndb-compatibility.md, "Rules"):
- 21081 / 21082 / 21021 / 1832 / 1828 / 1553: a foreign key pins an index, the primary key
  or a column: drop the foreign keys around the table, run the statement, re-add them as
  they were (those whose columns still exist). NDB binds a foreign key to whichever index
  existed when the key was made, so which statement trips depends on history: the fix does
  not guess, it frees the table of every key touching it.
- 21034: ON DELETE CASCADE with a TEXT/BLOB child: the statement is retried without it.
- 241 / 1412 / 1296 with "#sql": a failed copying ALTER left a stale table definition on
  this connection: reconnect (restoring the session's sql_mode, time zone, database) and retry.
- 738: row too big for an ALTER: the largest non-indexed VARCHAR of the table becomes TEXT.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ndb_adapt import cascade
from ndb_adapt.ddl import table_of
from ndb_adapt.limits import BLOB_COLUMN_BYTES
from ndb_adapt.log import note

FK_CODES = frozenset({21081, 21082, 21021, 1832, 1828, 1553})
CASCADE_CODES = frozenset({21034})
STALE_CODES = frozenset({241, 1412})
ROW_CODES = frozenset({738})
_NDB_CODE = re.compile(r"(?:Got (?:temporary )?error|error)\s+(\d{3,5})\b", re.I)
_ON_DELETE_CASCADE = re.compile(r"\s+ON\s+DELETE\s+CASCADE\b", re.I)
MAX_ATTEMPTS = 8
# An ADD/MODIFY/CHANGE column clause with a VARCHAR/VARBINARY type and no DEFAULT.
_ADDED_VARCHAR = re.compile(
    r"\b(?:ADD|MODIFY|CHANGE)(?:\s+COLUMN)?\s+(?:`[^`]+`\s+|\w+\s+)?(?P<column>`[^`]+`|\w+)\s+"
    r"(?P<type>VARCHAR|VARBINARY)\s*\((?P<length>\d+)(?P<close>\))(?![^,]*\bDEFAULT\b)",
    re.I)


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]
    on_update: str
    on_delete: str

    def add_sql(self) -> str:
        cols = ", ".join(f"`{c}`" for c in self.columns)
        refs = ", ".join(f"`{c}`" for c in self.ref_columns)
        sql = (f"ALTER TABLE `{self.table}` ADD CONSTRAINT `{self.name}` FOREIGN KEY ({cols}) "
               f"REFERENCES `{self.ref_schema}`.`{self.ref_table}` ({refs})")
        for verb, rule in (("DELETE", self.on_delete), ("UPDATE", self.on_update)):
            if rule and rule.upper() not in ("RESTRICT", "NO ACTION"):
                sql += f" ON {verb} {rule}"
        return sql


Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def error_codes(error: BaseException, warnings: Sequence[tuple[Any, ...]]) -> set[int]:
    """The MySQL code and every NDB code named in the message or the warnings."""
    codes: set[int] = set()
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int):
        codes.add(args[0])
    texts = [str(a) for a in args[1:]] + [str(w[2]) for w in warnings if len(w) > 2]
    codes.update(int(w[1]) for w in warnings if len(w) > 1 and str(w[1]).isdigit())
    for text in texts:
        codes.update(int(c) for c in _NDB_CODE.findall(text))
        if "#sql" in text:
            codes.add(241)
    return codes


def failure_codes(error: BaseException, warnings: Callable[[], Sequence[tuple[Any, ...]]]
                  ) -> set[int]:
    """error_codes with the session's warnings, read right after the failure; a broken
    connection has none to give, and then the error alone decides."""
    try:
        seen = warnings()
    except Exception:
        seen = []
    return error_codes(error, seen)


def foreign_keys(query: Query, table: str) -> list[ForeignKey]:
    """Every foreign key of the current database where ``table`` is the child or parent."""
    rows = query(
        "SELECT rc.CONSTRAINT_NAME, rc.TABLE_NAME, k.REFERENCED_TABLE_SCHEMA, "
        "rc.REFERENCED_TABLE_NAME, rc.UPDATE_RULE, rc.DELETE_RULE, "
        "GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ','), "
        "GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ',') "
        "FROM information_schema.REFERENTIAL_CONSTRAINTS rc "
        "JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = "
        "rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND "
        "k.TABLE_NAME = rc.TABLE_NAME "
        "WHERE rc.CONSTRAINT_SCHEMA = DATABASE() AND "
        "(rc.TABLE_NAME = %s OR rc.REFERENCED_TABLE_NAME = %s) "
        "GROUP BY rc.CONSTRAINT_NAME, rc.TABLE_NAME, k.REFERENCED_TABLE_SCHEMA, "
        "rc.REFERENCED_TABLE_NAME, rc.UPDATE_RULE, rc.DELETE_RULE",
        (table, table),
    )
    return [ForeignKey(str(r[0]), str(r[1]), tuple(str(r[6]).split(",")), str(r[2]),
                       str(r[3]), tuple(str(r[7]).split(",")), str(r[4]), str(r[5]))
            for r in rows]


def columns_exist(query: Query, table: str, columns: Sequence[str]) -> bool:
    rows = query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                 "DATABASE() AND TABLE_NAME = %s", (table,))
    present = {str(r[0]).lower() for r in rows}
    return all(c.lower() in present for c in columns)


class Recovery:
    """One statement's retry loop. ``run`` sends SQL on the service's own connection;
    ``query`` reads; ``reconnect`` renews the connection with the session restored."""

    def __init__(self, run: Callable[[str], Any], query: Query,
                 reconnect: Callable[[], None], warnings: Callable[[], list[tuple[Any, ...]]],
                 remember_cascade: Callable[[str, str, str, str], None] = lambda *_: None,
                 ) -> None:
        self.remember_cascade = remember_cascade
        self.run = run
        self.query = query
        self.reconnect = reconnect
        self.warnings = warnings

    def execute(self, statement: str, send: Callable[[str], Any]) -> Any:
        """send(statement); on an NDB-specific failure adapt and send again."""
        table = table_of(statement)
        dropped: list[ForeignKey] = []
        attempts = 0
        while True:
            attempts += 1
            try:
                result = send(statement)
            except Exception as error:
                if not is_db_error(error):
                    raise
                codes = failure_codes(error, self.warnings)
                adapted, freed = (None, []) if not table or attempts >= MAX_ATTEMPTS else \
                    self._adapt(statement, table, codes, error)
                if adapted is None:
                    note("failed", table, f"codes={sorted(codes)} (no rule applies)")
                    raise
                statement = adapted
                dropped += freed
                continue
            self._restore(dropped, table)
            return result

    def _adapt(self, statement: str, table: str, codes: set[int], error: BaseException
               ) -> tuple[str | None, list[ForeignKey]]:
        if codes & STALE_CODES:
            note("stale_table", table, f"NDB {sorted(codes & STALE_CODES)} after a failed "
                 "copying ALTER: reconnect and retry")
            self.reconnect()
            return statement, []
        if codes & CASCADE_CODES and _ON_DELETE_CASCADE.search(statement):
            return self._restrict(statement, table), []
        if codes & ROW_CODES:
            return self._shrink_row(statement, table), []
        if codes & (FK_CODES | CASCADE_CODES):
            return self._free_foreign_keys(statement, table, codes, error)
        return None, []

    def _restrict(self, statement: str, table: str) -> str | None:
        """21034 on a statement that adds a cascading key: RESTRICT it and remember it."""
        key = cascade.FOREIGN_KEY.search(statement)
        if key is None:
            return None
        self.remember_cascade(table, key.group("cols"), key.group("parent"), key.group("pcols"))
        note("cascade_blob_child", table, "NDB 21034: ON DELETE CASCADE with a TEXT/BLOB "
             "child made RESTRICT, done by ndb_adapt.cascade on DELETE")
        return _ON_DELETE_CASCADE.sub(" ON DELETE RESTRICT", statement)

    def _free_foreign_keys(self, statement: str, table: str, codes: set[int],
                           error: BaseException) -> tuple[str | None, list[ForeignKey]]:
        """Drop every foreign key touching the table; _restore re-adds them after. A CASCADE
        key on a table that now has TEXT/BLOB columns comes back RESTRICT (21034)."""
        keys = foreign_keys(self.query, table)
        if not keys:
            return None, []
        for key in keys:
            self.run(f"ALTER TABLE `{key.table}` DROP FOREIGN KEY `{key.name}`")
        note("fk_around_ddl", table, f"NDB {sorted(codes & (FK_CODES | CASCADE_CODES))}: "
             f"foreign keys {[k.name for k in keys]} dropped, re-added after: "
             f"{str(error)[:120]}")
        return statement, keys

    def _shrink_row(self, statement: str, table: str) -> str | None:
        """Row too big (738): the statement's own largest VARCHAR column definition becomes
        TEXT; if it has none, the table's largest non-indexed VARCHAR is retyped first."""
        found = [(int(m.group("length")), m) for m in _ADDED_VARCHAR.finditer(statement)]
        if found:
            _, match = max(found, key=lambda f: f[0])
            kind = "BLOB" if match.group("type").upper() == "VARBINARY" else "TEXT"
            note("oversized_row", table, f"{match.group('column')} "
                 f"{match.group('type')}({match.group('length')}) -> {kind} in the statement "
                 "(NDB 738 Record too big)")
            return statement[:match.start("type")] + kind + statement[match.end("close"):]
        # Only columns longer than a TEXT's part of the row (a retype must shrink it), with no
        # default or a literal VARCHAR one, which the TEXT keeps as an expression default.
        rows = self.query(
            "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.CHARACTER_OCTET_LENGTH, c.IS_NULLABLE, "
            "c.CHARACTER_SET_NAME, c.COLLATION_NAME, c.COLUMN_DEFAULT "
            "FROM information_schema.COLUMNS c "
            "WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = %s "
            "AND c.DATA_TYPE IN ('varchar', 'varbinary') AND c.CHARACTER_OCTET_LENGTH > %s "
            "AND (c.COLUMN_DEFAULT IS NULL OR (c.DATA_TYPE = 'varchar' AND "
            "c.EXTRA NOT LIKE '%%DEFAULT_GENERATED%%')) "
            "AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS s WHERE "
            "s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME AND "
            "s.COLUMN_NAME = c.COLUMN_NAME) ORDER BY c.CHARACTER_OCTET_LENGTH DESC LIMIT 1",
            (table, BLOB_COLUMN_BYTES - 2))
        if not rows:
            return None
        name, data_type, _, nullable, charset, collation, default = rows[0]
        kind = "BLOB" if str(data_type) == "varbinary" else "TEXT"
        spec = f" CHARACTER SET {charset} COLLATE {collation}" if charset else ""
        keep = "" if default is None else f" DEFAULT ({sql_string(str(default))})"
        self.run(f"ALTER TABLE `{table}` MODIFY `{name}` {kind}{spec}{keep} "
                 f"{'NULL' if nullable == 'YES' else 'NOT NULL'}")
        note("oversized_row", table, f"existing column {name} {data_type} -> {kind} to make "
             "room (NDB 738 Record too big)")
        return statement

    def _restore(self, keys: list[ForeignKey], table: str) -> None:
        for key in keys:
            if not (columns_exist(self.query, key.table, key.columns)
                    and columns_exist(self.query, key.ref_table, key.ref_columns)):
                note("fk_around_ddl", key.table, f"foreign key {key.name} not re-added: the "
                     "statement removed its columns")
                continue
            try:
                self.run(key.add_sql())
            except Exception as error:
                codes = failure_codes(error, self.warnings)
                if not codes & CASCADE_CODES or key.on_delete.upper() != "CASCADE":
                    raise
                self.run(ForeignKey(key.name, key.table, key.columns, key.ref_schema,
                                    key.ref_table, key.ref_columns, key.on_update,
                                    "RESTRICT").add_sql())
                self.remember_cascade(key.table, ",".join(key.columns), key.ref_table,
                                      ",".join(key.ref_columns))
                note("cascade_blob_child", key.table, f"foreign key {key.name} re-added ON "
                     "DELETE RESTRICT (NDB 21034: child has TEXT/BLOB), cascade by ndb_adapt")


def sql_string(value: str) -> str:
    """A string literal for the server's default sql_mode (backslash escapes on)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def is_db_error(error: BaseException) -> bool:
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    return len(args) > 0 and isinstance(args[0], int) and type(error).__module__.startswith(
        "pymysql")
