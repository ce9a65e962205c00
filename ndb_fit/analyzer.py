"""Which tables of a live schema break an NDB limit, and by how much.

Reads only information_schema (TABLES, COLUMNS, STATISTICS, REFERENTIAL_CONSTRAINTS), so it
runs against any MySQL server the schema was migrated on - InnoDB included - before the
schema meets a cluster. The limits and their sources are in ``ndb_adapt.limits`` (shared
with ndb_adapt, imported through ``ndb_fit.limits``).

Row bytes are what NDB's dictionary counts against its 30,000-byte limit, not InnoDB's row
format (measured on a real cluster, ``ndb_adapt.limits`` [MEASURED]): VARCHAR/VARBINARY at
their maximum octets (max chars x the charset's bytes per char) plus 1 length byte (2 above
255 octets), CHAR/BINARY at their maximum octets, TEXT/BLOB/geometry at 272 bytes, JSON at 4016,
fixed types at their storage size - each column rounded up to whole 4-byte words, BIT columns
packed together, plus 8 bytes for the hidden key of a table without a primary key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ndb_fit.limits import (
    BLOB_COLUMN_BYTES,
    BLOB_TYPES,
    BYTES_PER_CHAR,
    DEFAULT_TARGET_ENGINE,
    FIXED_BYTES,
    HIDDEN_PRIMARY_KEY_BYTES,
    JSON_COLUMN_BYTES,
    MAX_ATTRIBUTES,
    MAX_BYTES_PER_CHAR,
    MAX_INDEX_KEY_BYTES,
    MAX_ROW_BYTES,
    ROW_WORD_BYTES,
    TEXT_BLOB_TYPES,
)


class Kind(StrEnum):
    """What a finding says is wrong with a table. The values are what the report, ``--json``
    and docs/ndb-compatibility.md show; the order is the report's order within a table."""

    ENGINE = "engine"
    ROW_SIZE = "row_size"
    ATTRIBUTES = "attributes"
    INDEX_KEY_LENGTH = "index_key_length"
    PREFIX_INDEX = "prefix_index"
    UNIQUE_PREFIX_INDEX = "unique_prefix_index"
    FULLTEXT_INDEX = "fulltext_index"
    SPATIAL_INDEX = "spatial_index"
    BLOB_INDEX = "blob_index"
    CASCADE_BLOB_CHILD = "cascade_blob_child"
    CASCADE_UPDATE_PRIMARY_KEY = "cascade_update_primary_key"


_VARIABLE = frozenset({"varchar", "varbinary"})
_FIXED_STRING = frozenset({"char", "binary"})
_STRING = _VARIABLE | _FIXED_STRING


class SchemaNotFoundError(LookupError):
    """A schema to analyse does not exist: a gate must not pass on a misspelled name."""


@dataclass(frozen=True)
class Finding:
    schema: str
    table: str
    kind: Kind
    detail: str
    numbers: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A kind read back as its value (Finding(**finding.as_dict()), e.g. a saved capture)
        # becomes the member again; a value that is no kind raises ValueError here.
        object.__setattr__(self, "kind", Kind(self.kind))

    def as_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "table": self.table, "kind": self.kind.value,
                "detail": self.detail, "numbers": dict(self.numbers)}


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # lower case: varchar, int, text, ...
    column_type: str  # as declared: varchar(255), enum('a','b'), ...
    max_chars: int | None
    octets: int | None  # maximum bytes of a string column
    precision: int | None
    scale: int | None
    fsp: int | None  # fractional seconds precision
    charset: str | None

    @property
    def is_text_blob(self) -> bool:
        return self.data_type in TEXT_BLOB_TYPES

    @property
    def is_blob_stored(self) -> bool:
        """NDB keeps it as a blob (TEXT/BLOB, JSON, geometry)."""
        return self.data_type in BLOB_TYPES

    @property
    def max_octets(self) -> int:
        if self.octets is not None:
            return self.octets
        chars = self.max_chars or 0
        return chars * BYTES_PER_CHAR.get((self.charset or "").lower(), MAX_BYTES_PER_CHAR)

    @property
    def bytes_per_char(self) -> int:
        if self.max_chars and self.octets:
            return max(1, self.octets // self.max_chars)
        return BYTES_PER_CHAR.get((self.charset or "").lower(), MAX_BYTES_PER_CHAR)


def column_row_bytes(col: Column) -> int:
    """Bytes of the column's value in an NDB row, before word alignment (module docstring)."""
    if col.data_type == "json":
        return JSON_COLUMN_BYTES
    if col.data_type in BLOB_TYPES:
        return BLOB_COLUMN_BYTES
    sizer = _SIZERS.get(col.data_type)
    if sizer is not None:
        return sizer(col)
    # Fixed types by size; anything else (e.g. VECTOR) by its octets, or a word pair.
    return FIXED_BYTES.get(col.data_type) or col.max_octets or 8


def _varying(col: Column) -> int:
    octets = col.max_octets
    return octets + (1 if octets <= 255 else 2)


def _temporal(col: Column) -> int:
    return FIXED_BYTES[col.data_type] + ((col.fsp or 0) + 1) // 2


def _set(col: Column) -> int:
    return {1: 1, 2: 2, 3: 3, 4: 4}.get((_members(col.column_type) + 7) // 8, 8)


_SIZERS: dict[str, Callable[[Column], int]] = {
    "varchar": _varying,
    "varbinary": _varying,
    "char": lambda col: col.max_octets,
    "binary": lambda col: col.max_octets,
    "decimal": lambda col: decimal_bytes(col.precision or 10, col.scale or 0),
    "numeric": lambda col: decimal_bytes(col.precision or 10, col.scale or 0),
    "bit": lambda col: ((col.precision or 1) + 7) // 8,
    "time": _temporal,
    "datetime": _temporal,
    "timestamp": _temporal,
    "enum": lambda col: 1 if _members(col.column_type) <= 255 else 2,
    "set": _set,
}


def decimal_bytes(precision: int, scale: int) -> int:
    """MySQL's packed DECIMAL: 4 bytes per 9 digits, leftovers per the manual's table."""
    leftover = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
    integer = precision - scale
    return (integer // 9) * 4 + leftover[integer % 9] + (scale // 9) * 4 + leftover[scale % 9]


def _members(column_type: str) -> int:
    inner = column_type[column_type.find("(") + 1: column_type.rfind(")")]
    return inner.count("','") + 1 if inner else 0


@dataclass
class _Table:
    schema: str
    name: str
    engine: str
    columns: dict[str, Column] = field(default_factory=dict)
    # index name -> [(column name or None for a functional part, sub_part)]
    indexes: dict[str, list[tuple[str | None, int | None]]] = field(default_factory=dict)
    index_types: dict[str, str] = field(default_factory=dict)
    unique: set[str] = field(default_factory=set)  # UNIQUE and PRIMARY KEY indexes


def analyze(
    connection: Any, schemas: Sequence[str], target_engine: str = DEFAULT_TARGET_ENGINE
) -> list[Finding]:
    """Every table of ``schemas`` that breaks an NDB limit (or is not on ``target_engine``),
    sorted by schema, table and kind. Raises SchemaNotFoundError for an unknown schema."""
    schemas = list(dict.fromkeys(schemas))
    if not schemas:
        raise ValueError("no schema to analyse")
    tables = _load(connection, schemas)
    findings: list[Finding] = []
    for table in tables.values():
        findings += _engine(table, target_engine)
        findings += _row_size(table)
        findings += _attributes(table)
        findings += _indexes(table)
    findings += _cascades(connection, schemas, tables)
    order = {kind: i for i, kind in enumerate(Kind)}
    return sorted(findings, key=lambda f: (f.schema, f.table, order[f.kind], f.detail))


# --- reading -------------------------------------------------------------------------------


def _rows(connection: Any, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cur:
        cur.execute(sql, tuple(args))
        return list(cur.fetchall())


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _load(connection: Any, schemas: Sequence[str]) -> dict[tuple[str, str], _Table]:
    marks = _marks(schemas)
    found = {str(r[0]) for r in _rows(
        connection,
        f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({marks})",
        schemas,
    )}
    missing = [s for s in schemas if s not in found]
    if missing:
        raise SchemaNotFoundError(f"schema(s) not found: {', '.join(missing)}")
    tables: dict[tuple[str, str], _Table] = {}
    for schema, name, engine in _rows(
        connection,
        "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA IN ({marks}) AND TABLE_TYPE = 'BASE TABLE'",
        schemas,
    ):
        tables[(str(schema), str(name))] = _Table(str(schema), str(name), str(engine or ""))
    for row in _rows(
        connection,
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, "
        "CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, "
        "DATETIME_PRECISION, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
        f"WHERE TABLE_SCHEMA IN ({marks}) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
        schemas,
    ):
        table = tables.get((str(row[0]), str(row[1])))
        if table is None:  # a view's columns
            continue
        table.columns[str(row[2])] = Column(
            name=str(row[2]),
            data_type=str(row[3]).lower(),
            column_type=str(row[4]),
            max_chars=_int(row[5]),
            octets=_int(row[6]),
            precision=_int(row[7]),
            scale=_int(row[8]),
            fsp=_int(row[9]),
            charset=None if row[10] is None else str(row[10]),
        )
    for schema, name, index, column, sub_part, index_type, non_unique in _rows(
        connection,
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART, INDEX_TYPE, "
        f"NON_UNIQUE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({marks}) "
        "ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        schemas,
    ):
        table = tables.get((str(schema), str(name)))
        if table is None:
            continue
        table.indexes.setdefault(str(index), []).append(
            (None if column is None else str(column), _int(sub_part))
        )
        table.index_types[str(index)] = str(index_type).upper()
        if not int(non_unique):
            table.unique.add(str(index))
    return tables


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# --- checks --------------------------------------------------------------------------------


def _engine(table: _Table, target: str) -> list[Finding]:
    if table.engine.lower() == target.lower():
        return []
    return [Finding(table.schema, table.name, Kind.ENGINE,
                    f"engine {table.engine or '(none)'}, target {target}")]


def _words(nbytes: int) -> int:
    """``nbytes`` rounded up to whole NDB words."""
    return -(-nbytes // ROW_WORD_BYTES) * ROW_WORD_BYTES


def _row_size(table: _Table) -> list[Finding]:
    sizes = {name: _words(column_row_bytes(col)) for name, col in table.columns.items()
             if col.data_type != "bit"}
    bits = sum(col.precision or 1 for col in table.columns.values() if col.data_type == "bit")
    hidden = 0 if "PRIMARY" in table.indexes else HIDDEN_PRIMARY_KEY_BYTES
    total = sum(sizes.values()) + _words((bits + 7) // 8) + hidden
    if total <= MAX_ROW_BYTES:
        return []
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    blobs = sum(1 for c in table.columns.values() if c.data_type in BLOB_TYPES)
    return [Finding(
        table.schema, table.name, Kind.ROW_SIZE,
        f"estimated row {total} bytes > {MAX_ROW_BYTES}; largest: "
        + ", ".join(f"{name} {table.columns[name].column_type} {size}"
                    for name, size in largest),
        {"row_bytes": total, "limit": MAX_ROW_BYTES, "columns": len(sizes),
         "blob_columns": blobs},
    )]


def _attributes(table: _Table) -> list[Finding]:
    # NDB adds a hidden primary key column to a table without one; indexes are not
    # attributes of the table (measured, ndb_adapt.limits).
    hidden = 0 if "PRIMARY" in table.indexes else 1
    columns = len(table.columns)
    if columns + hidden <= MAX_ATTRIBUTES:
        return []
    key = " + NDB's hidden primary key" if hidden else ""
    return [Finding(
        table.schema, table.name, Kind.ATTRIBUTES,
        f"{columns} columns{key} = {columns + hidden} attributes > {MAX_ATTRIBUTES}",
        {"attributes": columns + hidden, "columns": columns, "hidden_primary_key": hidden,
         "limit": MAX_ATTRIBUTES},
    )]


def _indexes(table: _Table) -> list[Finding]:
    out: list[Finding] = []
    for index, parts in table.indexes.items():
        index_type = table.index_types.get(index, "")
        named = [(table.columns[c], sub) for c, sub in parts if c in table.columns]
        # A SPATIAL index reports an internal SUB_PART (32): not a prefix anyone wrote.
        listing = ", ".join(
            c.name + (f"({sub})" if sub and index_type != "SPATIAL" else "") for c, sub in named
        )
        where = f"index {index} ({listing})"
        if index_type == "FULLTEXT":
            out.append(Finding(table.schema, table.name, Kind.FULLTEXT_INDEX,
                               f"FULLTEXT {where}", {"columns": len(named)}))
            continue  # its columns are TEXT-like by nature; one finding says it
        if index_type == "SPATIAL":
            out.append(Finding(table.schema, table.name, Kind.SPATIAL_INDEX,
                               f"SPATIAL {where}", {"columns": len(named)}))
            continue
        for col, sub in named:
            if col.is_text_blob:
                out.append(Finding(
                    table.schema, table.name, Kind.BLOB_INDEX,
                    f"{where} covers {col.data_type.upper()} column {col.name}",
                    {"prefix": sub or 0},
                ))
            if sub is not None and index in table.unique:
                out.append(Finding(
                    table.schema, table.name, Kind.UNIQUE_PREFIX_INDEX,
                    f"{where}: prefix {sub} of {col.column_type} {col.name} in a "
                    f"{'PRIMARY KEY' if index == 'PRIMARY' else 'UNIQUE'} index; NDB has no "
                    "unique prefix keys",
                    {"prefix": sub, "column_chars": col.max_chars or 0,
                     "column_bytes": col.max_octets},
                ))
            elif sub is not None:
                consequence = (
                    "NDB has no prefix indexes and cannot index TEXT/BLOB"
                    if col.data_type in BLOB_TYPES
                    else f"NDB indexes the whole column ({col.max_octets} bytes)"
                )
                out.append(Finding(
                    table.schema, table.name, Kind.PREFIX_INDEX,
                    f"{where}: prefix {sub} of {col.column_type} {col.name}; {consequence}",
                    {"prefix": sub, "column_chars": col.max_chars or 0,
                     "column_bytes": col.max_octets},
                ))
        key_bytes = sum(_key_part_bytes(col, sub) for col, sub in named)
        if key_bytes > MAX_INDEX_KEY_BYTES:
            out.append(Finding(
                table.schema, table.name, Kind.INDEX_KEY_LENGTH,
                f"{where}: key {key_bytes} bytes > {MAX_INDEX_KEY_BYTES}",
                {"key_bytes": key_bytes, "limit": MAX_INDEX_KEY_BYTES},
            ))
    return out


def _key_part_bytes(col: Column, sub_part: int | None) -> int:
    """Bytes of one key part as NDB sees it: a string column in full (NDB ignores the
    prefix), a TEXT/BLOB by its prefix (it cannot be indexed at all; counted for the sum)."""
    if col.data_type in BLOB_TYPES:
        binary = col.data_type.endswith("blob")
        return (sub_part or 0) * (1 if binary else col.bytes_per_char)
    if col.data_type in _STRING:
        return col.max_octets
    return column_row_bytes(col)


def _cascades(
    connection: Any, schemas: Sequence[str], tables: dict[tuple[str, str], _Table]
) -> list[Finding]:
    out: list[Finding] = []
    for schema, child, name, parent, delete_rule, update_rule, parent_key in _rows(
        connection,
        "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, "
        "DELETE_RULE, UPDATE_RULE, UNIQUE_CONSTRAINT_NAME "
        "FROM information_schema.REFERENTIAL_CONSTRAINTS "
        f"WHERE CONSTRAINT_SCHEMA IN ({_marks(schemas)}) "
        "AND (DELETE_RULE = 'CASCADE' OR UPDATE_RULE = 'CASCADE')",
        schemas,
    ):
        table = tables.get((str(schema), str(child)))
        if table is None:
            continue
        blobs = _blob_columns(table.columns.values())
        if delete_rule == "CASCADE" and blobs:
            out.append(Finding(
                table.schema, table.name, Kind.CASCADE_BLOB_CHILD,
                f"foreign key {name} -> {parent} ON DELETE CASCADE, and this child table has "
                f"columns NDB stores as blobs (TEXT/BLOB/JSON/geometry): {', '.join(blobs)}",
                {"blob_columns": len(blobs)},
            ))
        if update_rule == "CASCADE" and parent_key == "PRIMARY":
            out.append(Finding(
                table.schema, table.name, Kind.CASCADE_UPDATE_PRIMARY_KEY,
                f"foreign key {name} -> {parent} ON UPDATE CASCADE references the parent's "
                "primary key; NDB cannot cascade an update of a primary key",
                {},
            ))
    return out


def _blob_columns(columns: Iterable[Column]) -> list[str]:
    return [c.name for c in columns if c.is_blob_stored]


# --- report --------------------------------------------------------------------------------


def format_table(findings: Sequence[Finding]) -> str:
    """Findings as aligned text columns: TABLE, KIND, DETAIL."""
    rows = [("TABLE", "KIND", "DETAIL")] + [
        (f"{f.schema}.{f.table}", f.kind, f.detail) for f in findings
    ]
    width0 = max(len(r[0]) for r in rows)
    width1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{width0}}  {b:<{width1}}  {c}".rstrip() for a, b, c in rows)


def summarize(findings: Sequence[Finding]) -> dict[Kind, int]:
    """Kind -> number of findings."""
    counts: dict[Kind, int] = defaultdict(int)
    for finding in findings:
        counts[finding.kind] += 1
    return dict(counts)
