"""Just enough SQL lexing for the DDL the services send: SQLAlchemy/Alembic-generated
CREATE TABLE, ALTER TABLE, CREATE/DROP INDEX. Nothing here talks to a server.

A CREATE TABLE is split into its head, the top-level elements of its body (columns and
constraints, split at commas outside parentheses and quotes) and its table options; every
other statement is matched by prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ndb_adapt.limits import (
    BLOB_COLUMN_BYTES,
    BLOB_TYPES,
    BYTES_PER_CHAR,
    FIXED_BYTES,
    JSON_COLUMN_BYTES,
    MAX_BYTES_PER_CHAR,
    ROW_WORD_BYTES,
)

_CONSTRAINT_START = re.compile(
    r"^(PRIMARY\s+KEY|UNIQUE|KEY|INDEX|CONSTRAINT|FOREIGN\s+KEY|FULLTEXT|SPATIAL|CHECK)\b",
    re.I)
_CREATE_TABLE = re.compile(
    r"^\s*CREATE\s+(?P<temp>TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?P<name>`[^`]+`|[\w$.]+)\s*\(", re.I)
_TABLE_AFTER = re.compile(
    r"^\s*(?:ALTER\s+TABLE|DROP\s+TABLE(?:\s+IF\s+EXISTS)?|RENAME\s+TABLE)\s+"
    r"(?P<name>`[^`]+`|[\w$.]+)", re.I)
_INDEX_ON = re.compile(
    r"^\s*(?:CREATE\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX|DROP\s+INDEX)\s+"
    r"(?:`[^`]+`|[\w$]+)\s+ON\s+(?P<name>`[^`]+`|[\w$.]+)", re.I)
_TYPE = re.compile(r"^(?P<type>[A-Za-z]+)\s*(?:\((?P<args>[^)]*)\))?", re.I)
_CHARSET = re.compile(r"\b(?:CHARACTER\s+SET|CHARSET)\s*=?\s*(\w+)", re.I)


def unquote(name: str) -> str:
    name = name.strip()
    if name.startswith("`") and name.endswith("`"):
        return name[1:-1].replace("``", "`")
    return name.split(".")[-1] if "." in name and "`" not in name else name


def table_of(statement: str) -> str:
    """The table a DDL statement acts on, or '' when it acts on none."""
    for pattern in (_CREATE_TABLE, _TABLE_AFTER, _INDEX_ON):
        match = pattern.match(statement)
        if match:
            return unquote(match.group("name"))
    return ""


def _unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, parenthesis depth after it) for every character outside quotes;
    a backslash escapes the next character inside '...' and "..." but not inside `...`."""
    depth = 0
    quote = ""
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        else:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            yield i, ch, depth
        i += 1


def split_top_level(body: str) -> list[str]:
    """Split at commas outside parentheses and quotes."""
    parts: list[str] = []
    start = 0
    for i, ch, depth in _unquoted(body):
        if ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return [p.strip() for p in parts if p.strip()]


def matching_paren(text: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at open_at (quotes respected)."""
    for i, ch, depth in _unquoted(text, open_at):
        if ch == ")" and depth == 0:
            return i
    raise ValueError("unbalanced parentheses")


@dataclass
class Column:
    name: str
    definition: str  # everything after the name
    data_type: str  # lower case
    args: str  # inside the type's parentheses

    @property
    def is_blob_stored(self) -> bool:
        """NDB keeps it as a blob (TEXT/BLOB, JSON, geometry): 272 or 4016 row bytes, no index,
        no ON DELETE CASCADE to its table (ndb_adapt.limits.BLOB_TYPES)."""
        return self.data_type in BLOB_TYPES

    @property
    def is_varying(self) -> bool:
        return self.data_type in ("varchar", "varbinary")

    def charset(self, default: str) -> str:
        if self.data_type in ("varbinary", "binary"):
            return "binary"
        match = _CHARSET.search(self.definition)
        return match.group(1).lower() if match else default

    def max_octets(self, default_charset: str) -> int:
        length = int(self.args.split(",")[0]) if self.args.strip().isdigit() else 0
        return length * BYTES_PER_CHAR.get(self.charset(default_charset), MAX_BYTES_PER_CHAR)

    def row_bytes(self, default_charset: str) -> int:
        """Bytes NDB's dictionary counts for the column in a row, in whole 4-byte words
        (ndb_adapt.limits [MEASURED]): VARCHAR at max chars x bytes per char + 1 or 2 length
        bytes, TEXT/BLOB/geometry 272, JSON 4016."""
        return -(-self._unaligned_bytes(default_charset) // ROW_WORD_BYTES) * ROW_WORD_BYTES

    def _unaligned_bytes(self, default_charset: str) -> int:
        if self.is_blob_stored:
            return JSON_COLUMN_BYTES if self.data_type == "json" else BLOB_COLUMN_BYTES
        if self.is_varying:
            octets = self.max_octets(default_charset)
            return octets + (1 if octets <= 255 else 2)
        if self.data_type in ("char", "binary"):
            return self.max_octets(default_charset)
        if self.data_type in ("decimal", "numeric"):
            digits = [int(x) for x in self.args.split(",") if x.strip().isdigit()] or [10]
            return (digits[0] + 8) // 9 * 4 + 4
        if self.data_type in ("datetime", "timestamp", "time"):
            fsp = int(self.args) if self.args.strip().isdigit() else 0
            return FIXED_BYTES[self.data_type] + (fsp + 1) // 2
        return FIXED_BYTES.get(self.data_type, 8)


@dataclass
class CreateTable:
    head: str  # "CREATE TABLE name ("
    elements: list[str]
    tail: str  # ")ENGINE=InnoDB CHARSET=utf8"
    name: str
    temporary: bool
    columns: list[Column] = field(default_factory=list)

    def render(self) -> str:
        return self.head + "\n\t" + ", \n\t".join(self.elements) + "\n" + self.tail

    @property
    def constraints(self) -> list[str]:
        return [e for e in self.elements if _CONSTRAINT_START.match(e)]

    def default_charset(self, fallback: str) -> str:
        match = _CHARSET.search(self.tail)
        return match.group(1).lower() if match else fallback

    def indexed_columns(self) -> set[str]:
        names: set[str] = set()
        for element in self.constraints:
            for cols in index_column_lists(element):
                names.update(c.lower() for c, _ in cols)
        return names


def parse_column(element: str) -> Column | None:
    if _CONSTRAINT_START.match(element):
        return None
    if element.startswith("`"):
        end = element.index("`", 1)
        name, rest = element[1:end], element[end + 1:].strip()
    else:
        name, _, rest = element.partition(" ")
        rest = rest.strip()
    match = _TYPE.match(rest)
    if not match:
        return None
    return Column(name, rest, match.group("type").lower(), match.group("args") or "")


def parse_create_table(statement: str) -> CreateTable | None:
    match = _CREATE_TABLE.match(statement)
    if not match:
        return None
    open_at = match.end() - 1
    try:
        close_at = matching_paren(statement, open_at)
    except ValueError:
        return None
    elements = split_top_level(statement[open_at + 1:close_at])
    table = CreateTable(statement[:open_at + 1], elements, statement[close_at:],
                        unquote(match.group("name")), bool(match.group("temp")))
    table.columns = [c for c in map(parse_column, elements) if c is not None]
    return table


_INDEX_PARTS = re.compile(r"(?:KEY|INDEX|UNIQUE|FOREIGN\s+KEY)[^(]*\((?P<cols>[^()]*(?:\(\d+\)"
                          r"[^()]*)*)\)", re.I)
_PART = re.compile(r"^\s*(`[^`]+`|[\w$]+)\s*(?:\((\d+)\))?\s*(?:ASC|DESC)?\s*$", re.I)


def index_column_lists(element: str) -> list[list[tuple[str, int | None]]]:
    """[(column, prefix length or None)] for the key column list(s) of an index element
    (a FOREIGN KEY contributes its child column list, not the REFERENCES list)."""
    out: list[list[tuple[str, int | None]]] = []
    for match in _INDEX_PARTS.finditer(element):
        cols: list[tuple[str, int | None]] = []
        for part in split_top_level(match.group("cols")):
            parsed = _PART.match(part)
            if parsed:
                cols.append((unquote(parsed.group(1)),
                             int(parsed.group(2)) if parsed.group(2) else None))
        out.append(cols)
        break  # only the first list: the rest of a FK element is its REFERENCES clause
    return out
