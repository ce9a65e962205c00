"""What a service's schema costs the NDB dictionary, and whether it landed as NDB.

``dictionary_objects`` counts NDB's own schema objects by type (``ndbinfo.dict_obj_info``
joined to ``ndbinfo.dict_obj_types``): tables (including the hidden BLOB part tables),
ordered and unique hash indexes, foreign keys and triggers - what MaxNoOfTables,
MaxNoOfOrderedIndexes, MaxNoOfUniqueHashIndexes and MaxNoOfTriggers limit. The difference
before and after a migration is the service's cost. ``attributes`` counts what
MaxNoOfAttributes limits: columns of the service's NDB tables plus the attributes of the
objects NDB adds (each index stores its key columns; a BLOB part table 4 attributes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

BLOB_PART_ATTRIBUTES = 4  # PK, DIST, PART, DATA of an NDB$BLOB_ table


def query_rows(conn: Any, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, tuple(args) or None)
        return list(cur.fetchall())


def dictionary_objects(conn: Any) -> Counter[str]:
    rows = query_rows(conn, "SELECT t.type_name, COUNT(*) FROM ndbinfo.dict_obj_info i "
                       "JOIN ndbinfo.dict_obj_types t ON t.type_id = i.type "
                       "GROUP BY t.type_name")
    counts: Counter[str] = Counter({str(name): int(n) for name, n in rows})
    # "Index trigger", "Hash index trigger", "Foreign key parent/child trigger", ... (9.7's
    # names in dict_obj_types); a read-only constraint is a trigger too.
    counts["Triggers"] = sum(n for name, n in counts.items()
                             if "trigger" in name.lower() or "constraint" in name.lower())
    return counts


def attributes(conn: Any, schemas: Sequence[str]) -> int:
    marks = ", ".join(["%s"] * len(schemas))
    columns = query_rows(conn, "SELECT COUNT(*), SUM(DATA_TYPE IN ('tinytext','text','mediumtext',"
                          "'longtext','tinyblob','blob','mediumblob','longblob','json')) "
                          f"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({marks})",
                    schemas)[0]
    index_columns = query_rows(conn, "SELECT COUNT(*) FROM information_schema.STATISTICS "
                                f"WHERE TABLE_SCHEMA IN ({marks})", schemas)[0][0]
    return int(columns[0] or 0) + int(index_columns or 0) + BLOB_PART_ATTRIBUTES * int(
        columns[1] or 0)


def engines(conn: Any, schemas: Sequence[str]) -> dict[str, str]:
    """table -> engine, for every base table of the schemas."""
    marks = ", ".join(["%s"] * len(schemas))
    rows = query_rows(conn, "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME), ENGINE "
                       f"FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({marks}) "
                       "AND TABLE_TYPE = 'BASE TABLE'", schemas)
    return {str(t): str(e) for t, e in rows}
