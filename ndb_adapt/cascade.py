"""ON DELETE CASCADE where NDB refuses it (a child table with TEXT/BLOB columns, NDB 21034).

The foreign key is created with ON DELETE RESTRICT instead (RESTRICT, not NO ACTION: NDB
defers NO ACTION checks to commit, where nothing can be fixed any more; RESTRICT fails the
DELETE statement itself). Each such key is remembered in a small NDB table of the service's
database, ``ndb_adapt_cascade``. Before a DELETE on a remembered parent, the children of the
rows it deletes are deleted (the parent DELETE's own WHERE clause, in a subquery), on the same
connection and in the same transaction, so all of it commits or rolls back as one, as the
database's own cascade would.

Before, not after a failure: measured on NDB 9.7, a DELETE that fails with 1451 aborts the
whole NDB transaction - earlier statements of it are gone - so "fail, fix, retry" would lose
work silently. The registry is read once per process and database (it changes only while
migrations run, in the migrating process, which updates its copy).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ndb_adapt.ddl import unquote
from ndb_adapt.log import note

REGISTRY = "ndb_adapt_cascade"
CREATE_REGISTRY = (
    f"CREATE TABLE IF NOT EXISTS `{REGISTRY}` ("
    "child_table VARCHAR(64) NOT NULL, child_columns VARCHAR(255) NOT NULL, "
    "parent_table VARCHAR(64) NOT NULL, parent_columns VARCHAR(255) NOT NULL, "
    "PRIMARY KEY (child_table, child_columns)"
    ") ENGINE=NDBCLUSTER CHARACTER SET ascii"
)
FOREIGN_KEY = re.compile(
    r"FOREIGN\s+KEY\s*(?:`[^`]*`\s*)?\((?P<cols>[^)]*)\)\s*REFERENCES\s+"
    r"(?P<parent>`[^`]+`|[\w$.]+)\s*\((?P<pcols>[^)]*)\)", re.I)
_DELETE = re.compile(r"^\s*DELETE\s+FROM\s+(?P<table>`[^`]+`|[\w$.]+)"
                     r"(?P<where>\s+WHERE\s+.*)?$", re.I | re.S)

Run = Callable[[str, Sequence[Any]], Any]
Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def columns(text: str) -> str:
    return ",".join(unquote(c) for c in text.split(","))


def child_deletes(statement: str, entries: Sequence[tuple[str, str, str]]) -> list[str]:
    """DELETEs of the children of the rows ``statement`` deletes, one per remembered key.
    entries: (child table, child columns, parent columns). Empty if the DELETE is not a
    single-table DELETE this can follow (then the 1451 stands)."""
    match = _DELETE.match(statement)
    if not match:
        return []
    parent = unquote(match.group("table"))
    where = match.group("where") or ""
    out = []
    for child, child_cols, parent_cols in entries:
        if child == parent:
            continue  # self-reference: MySQL cannot select from the table it deletes from
        ccols = ", ".join(f"`{c}`" for c in child_cols.split(","))
        pcols = ", ".join(f"`{parent}`.`{c}`" for c in parent_cols.split(","))
        out.append(f"DELETE FROM `{child}` WHERE ({ccols}) IN "
                   f"(SELECT {pcols} FROM `{parent}`{where})")
    return out


Entries = dict[str, list[tuple[str, str, str]]]  # parent -> (child, child cols, parent cols)
_CACHE: dict[tuple[str, str], Entries] = {}


def _load(query: Query) -> Entries:
    entries: Entries = {}
    # Looked up first rather than read and caught: a failing statement inside an NDB
    # transaction may abort the transaction (see the module docstring).
    if not query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                 "AND TABLE_NAME = %s", (REGISTRY,)):
        return entries
    rows = query(f"SELECT parent_table, child_table, child_columns, parent_columns FROM "
                 f"`{REGISTRY}`", ())
    for parent, child, ccols, pcols in rows:
        entries.setdefault(str(parent), []).append((str(child), str(ccols), str(pcols)))
    return entries


def registry(server: str, database: str, query: Query) -> Entries:
    key = (server, database)
    if key not in _CACHE:
        _CACHE[key] = _load(query)
    return _CACHE[key]


def remember(run: Run, where: tuple[str, str], key: tuple[str, str, str, str]) -> None:
    """where: (server, database); key: child, child columns, parent, parent columns."""
    child, child_columns, parent, parent_columns = key
    run(CREATE_REGISTRY, ())
    entry = (child, columns(child_columns), unquote(parent), columns(parent_columns))
    run(f"REPLACE INTO `{REGISTRY}` VALUES (%s, %s, %s, %s)", entry)
    _CACHE.pop(where, None)  # re-read with the new entry on the next DELETE


def cascade_first(statement: str, args: Any, entries: Entries,
                  send: Callable[[str, Any], Any]) -> None:
    """Delete what the remembered cascades of the DELETE's table would have deleted."""
    match = _DELETE.match(statement)
    if not match:
        return
    parent = unquote(match.group("table"))
    deletes = child_deletes(statement, entries.get(parent, []))
    for sql in deletes:
        send(sql, args)
    if deletes:
        note("cascade_emulated", parent, f"children deleted first for {len(deletes)} "
             "remembered ON DELETE CASCADE key(s)")
