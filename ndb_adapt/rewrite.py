"""Rewrites applied to a statement before it reaches the server.

Each rule returns the statement changed (or unchanged) and logs one line per change. Why
each keeps the service's behaviour is in docs/ndb-compatibility.md ("Rules"). The rules that
need the database's state (a column's type for CREATE INDEX) ask ``Lookup``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ndb_adapt import cascade
from ndb_adapt.ddl import (
    Column,
    CreateTable,
    index_column_lists,
    matching_paren,
    parse_create_table,
    split_top_level,
    table_of,
    unquote,
)
from ndb_adapt.limits import BLOB_COLUMN_BYTES, BLOB_TYPES, MAX_INDEX_KEY_BYTES, MAX_ROW_BYTES
from ndb_adapt.log import note

# Rows a little under NDB's limit: the estimate (ndb_adapt.ddl, on ndb_adapt.limits) leaves
# out what ndb_fit also counts - the 8-byte hidden key of a table without a primary key, BIT
# columns packed - and guesses types it does not know; 512 bytes cover both.
ROW_BUDGET = MAX_ROW_BYTES - 512

_ENGINE = re.compile(r"\bENGINE\s*=\s*(?:`?InnoDB`?|'InnoDB')", re.I)
_SAVEPOINT = re.compile(r"^\s*(SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+(?:WORK\s+)?TO\s+"
                        r"(?:SAVEPOINT\s+)?)\s*`?(\w+)`?\s*;?\s*$", re.I)
_ON_DELETE_CASCADE = re.compile(r"\s+ON\s+DELETE\s+CASCADE\b", re.I)
_CREATE_INDEX = re.compile(
    r"^(?P<head>\s*CREATE\s+(?P<unique>UNIQUE\s+)?INDEX\s+(?P<index>`[^`]+`|[\w$]+)\s+ON\s+"
    r"(?P<table>`[^`]+`|[\w$.]+)\s*)\((?P<cols>.*)\)(?P<tail>[^)]*)$", re.I | re.S)
_PREFIX = re.compile(r"(`[^`]+`|[\w$]+)\s*\(\d+\)")
# A column's DEFAULT: a literal (quoted string, number, NULL) or anything else (no literal).
_DEFAULT = re.compile(r"\bDEFAULT\s+(?:(?P<literal>'(?:[^'\\]|\\.|'')*'|NULL\b|[-+]?\d+(?:\.\d+)?)"
                      r"|\S)", re.I)


@dataclass(frozen=True)
class Lookup:
    """What rules may ask about the database (answered by the hook over the connection)."""

    database_charset: Callable[[], str]
    column_types: Callable[[str], dict[str, tuple[str, int]]]  # table -> col -> (type, octets)
    # child table, child columns, parent table, parent columns of a cascade made RESTRICT
    remember_cascade: Callable[[str, str, str, str], None] = lambda *_: None


def savepoint_kind(statement: str) -> str | None:
    """'savepoint', 'release' or 'rollback' for a savepoint statement, else None."""
    match = _SAVEPOINT.match(statement)
    if not match:
        return None
    word = match.group(1).split()[0].upper()
    return {"SAVEPOINT": "savepoint", "RELEASE": "release"}.get(word, "rollback")


def savepoint_name(statement: str) -> str:
    match = _SAVEPOINT.match(statement)
    return match.group(2) if match else ""


def engine(statement: str) -> str:
    """ENGINE=InnoDB -> NDBCLUSTER (MyISAM for a temporary table: NDB has none).

    The server substitutes too (my.cnf), but only without NO_ENGINE_SUBSTITUTION in the
    session's sql_mode (neutron-db-manage ignores mysql_sql_mode), and CREATE TABLE ... SELECT
    is left InnoDB by a server bug: rewriting the text covers both."""
    if not _ENGINE.search(statement):
        return statement
    upper = statement.lstrip().upper()
    if not upper.startswith(("CREATE", "ALTER")):
        return statement
    temporary = re.match(r"^\s*CREATE\s+TEMPORARY\b", statement, re.I) is not None
    target = "MyISAM" if temporary else "NDBCLUSTER"
    note("engine", table_of(statement), f"ENGINE=InnoDB -> {target}")
    return _ENGINE.sub(f"ENGINE={target}", statement)


def _cascade_with_blob(table: CreateTable, lookup: Lookup) -> bool:
    """NDB 21034: no ON DELETE CASCADE key on a child with columns NDB stores as blobs
    (TEXT/BLOB, and JSON and geometry too, ndb_adapt.limits [MEASURED]). The key is made
    ON DELETE RESTRICT and remembered; ndb_adapt.cascade deletes the children when a parent
    DELETE meets them, which is what the cascade did."""
    if not any(c.is_blob_stored for c in table.columns):
        return False
    changed = False
    for i, element in enumerate(table.elements):
        key = cascade.FOREIGN_KEY.search(element)
        if key is None or not _ON_DELETE_CASCADE.search(element):
            continue
        table.elements[i] = _ON_DELETE_CASCADE.sub(" ON DELETE RESTRICT", element)
        parent = unquote(key.group("parent"))
        lookup.remember_cascade(table.name, key.group("cols"), parent, key.group("pcols"))
        note("cascade_blob_child", table.name,
             f"NDB 21034: child has TEXT/BLOB; ON DELETE CASCADE to {parent} made RESTRICT, "
             "the cascade is done by ndb_adapt.cascade on DELETE")
        changed = True
    return changed


def _prefix_indexes(table: CreateTable, charset: str) -> bool:
    """NDB ignores index prefixes (it indexes whole columns) and cannot index TEXT/BLOB.

    The prefixes are dropped. If the whole columns then exceed NDB's 3,072-byte key, a
    non-unique index keeps its longest leading column list that fits: it still serves the
    lookups on those leading columns (an index is used left to right), only less
    selectively. A unique index is left as is, to fail loudly: shortening it would change
    what is unique."""
    columns = {c.name.lower(): c for c in table.columns}
    changed = False
    kept: list[str] = []
    for element in table.elements:
        upper = element.upper()
        lists = [] if upper.startswith(("FOREIGN", "CONSTRAINT")) else index_column_lists(
            element)
        if not lists or all(p is None for _, p in lists[0]):
            kept.append(element)
            continue
        parts = lists[0]
        if upper.startswith(("UNIQUE", "PRIMARY")):
            kept.append(element)
            continue
        sizes = [_key_bytes(columns.get(c.lower()), charset) for c, _ in parts]
        fitted = _leading_fit(sizes)
        changed = True
        if fitted == 0:
            note("prefix_index", table.name, f"index {element[:60]!r} dropped: its first column "
                 "cannot be indexed whole by NDB")
            continue
        open_at = element.index("(")
        close_at = matching_paren(element, open_at)
        new_cols = ", ".join(f"`{c}`" for c, _ in parts[:fitted])
        kept.append(f"{element[:open_at]}({new_cols}){element[close_at + 1:]}")
        note("prefix_index", table.name, _prefix_why(element[:open_at].strip(), parts, fitted))
    table.elements = kept
    return changed


def _leading_fit(sizes: list[int]) -> int:
    """How many leading key columns fit NDB's key length."""
    total = 0
    for count, size in enumerate(sizes):
        total += size
        if total > MAX_INDEX_KEY_BYTES:
            return count
    return len(sizes)


def _prefix_why(name: str, parts: list[tuple[str, int | None]], fitted: int) -> str:
    why = f"{name}: prefixes removed (NDB indexes whole columns)"
    if fitted < len(parts):
        dropped = [c for c, _ in parts[fitted:]]
        why += (f"; trailing columns {dropped} left out so the key fits 3072 bytes (the index "
                "still serves lookups on its leading columns)")
    return why


def _key_bytes(column: Column | None, charset: str) -> int:
    """MySQL's key length of a column: its bytes, 2 length bytes if varying, 1 null byte
    (counted always: a conservative bound)."""
    if column is None:
        return 8
    if column.is_blob_stored:
        return MAX_INDEX_KEY_BYTES + 1  # NDB cannot index it at all
    if column.is_varying or column.data_type in ("char", "binary"):
        return column.max_octets(charset) + (2 if column.is_varying else 0) + 1
    return column.row_bytes(charset) + 1


def text_default(definition: str) -> str | None:
    """A column definition's literal DEFAULT as a TEXT/BLOB column can have it: an expression,
    DEFAULT ('') (MySQL 8.0.13+; TEXT/BLOB take no literal default, error 1101). NDB accepts
    it and fills the default in itself (measured: an INSERT without the column stores '').
    Unchanged if there is no default or it is NULL; None if the default is not a literal
    (an expression already, or something this cannot rewrite)."""
    match = _DEFAULT.search(definition)
    if match is None:
        return definition
    literal = match.group("literal")
    if literal is None:
        return None
    if literal.upper() == "NULL":
        return definition
    return f"{definition[:match.start('literal')]}({literal}){definition[match.end('literal'):]}"


def _oversized_row(table: CreateTable, charset: str) -> bool:
    """Retype the largest non-indexed VARCHAR/VARBINARY columns to TEXT/BLOB until the row
    fits NDB (738 "Record too big"). TEXT keeps the characters, the charset, NULL/NOT NULL
    and the default (as an expression, `text_default`); the length check moves from the
    column to the service's own model validation. Only columns that take more of the row
    than a TEXT does (BLOB_COLUMN_BYTES): a retype never makes the row larger."""
    total = sum(c.row_bytes(charset) for c in table.columns)
    if total <= ROW_BUDGET:
        return False
    indexed = table.indexed_columns()
    candidates = sorted((c for c in table.columns
                         if c.is_varying and c.name.lower() not in indexed
                         and c.row_bytes(charset) > BLOB_COLUMN_BYTES
                         and text_default(c.definition) is not None),
                        key=lambda c: c.row_bytes(charset), reverse=True)
    for column in candidates:
        if total <= ROW_BUDGET:
            break
        before = total
        octets = column.max_octets(charset)
        binary = column.data_type == "varbinary"
        new_type = ("BLOB" if binary else "TEXT") if octets <= 65535 else (
            "MEDIUMBLOB" if binary else "MEDIUMTEXT")
        old_type = column.definition.split(")", 1)[0] + ")"
        element_index = next(i for i, e in enumerate(table.elements)
                             if e.lstrip("`").startswith(column.name))
        defaulted = text_default(column.definition.replace(old_type, new_type, 1))
        assert defaulted is not None  # candidates have a literal default or none
        element = table.elements[element_index]
        table.elements[element_index] = element[:len(element) - len(column.definition)] + \
            defaulted
        total -= column.row_bytes(charset)
        column.definition = defaulted
        column.data_type = new_type.lower()
        total += column.row_bytes(charset)
        note("oversized_row", table.name,
             f"{column.name} {old_type} -> {new_type}: row ~{before} bytes > {ROW_BUDGET} "
             f"(NDB 738), now ~{total}")
    return True


def create_table(statement: str, lookup: Lookup) -> str:
    table = parse_create_table(statement)
    if table is None or table.temporary:
        return statement
    charset = table.default_charset(lookup.database_charset())
    changed = _prefix_indexes(table, charset)
    changed = _oversized_row(table, charset) or changed
    # Last: oversized_row may have made TEXT columns, which NDB refuses a cascade to (21034).
    changed = _cascade_with_blob(table, lookup) or changed
    return table.render() if changed else statement


def create_index(statement: str, lookup: Lookup) -> str | None:
    """CREATE INDEX with prefixes: as for CREATE TABLE, with the column types read from the
    server. None means: do not send the statement (NDB cannot index its first column)."""
    match = _CREATE_INDEX.match(statement)
    if not match or not _PREFIX.search(match.group("cols")) or match.group("unique"):
        return statement
    table = table_of(statement)
    types = lookup.column_types(table)
    names = [_PREFIX.sub(r"\1", p).strip("` ") for p in split_top_level(match.group("cols"))]
    sizes = []
    for name in names:
        data_type, octets = types.get(name.lower(), ("", 8))
        blob = data_type in BLOB_TYPES  # NDB cannot index it whole
        sizes.append(MAX_INDEX_KEY_BYTES + 1 if blob else octets + 3)
    fitted = _leading_fit(sizes)
    parts: list[tuple[str, int | None]] = [(n, None) for n in names]
    if fitted == 0:
        note("prefix_index", table, f"index {match.group('index')} not created: NDB cannot "
             "index its first column whole")
        return None
    note("prefix_index", table, _prefix_why(f"index {match.group('index')}", parts, fitted))
    cols = ", ".join(f"`{n}`" for n in names[:fitted])
    return statement[:match.start("cols")] + cols + statement[match.end("cols"):]


def rewrite(statement: str, lookup: Lookup) -> str | None:
    """All pre-execution rules; None means the statement is not sent."""
    head = statement.lstrip()[:30].upper()
    if head.startswith(("CREATE", "ALTER")):
        statement = engine(statement)
        if head.startswith("CREATE TABLE"):
            statement = create_table(statement, lookup)
        elif head.startswith(("CREATE INDEX", "CREATE UNIQUE")):
            return create_index(statement, lookup)
    return statement
