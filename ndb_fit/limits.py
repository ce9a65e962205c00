"""NDB limits the analyzer checks, each with where it is stated.

Sources (checked for this module):
- [DBOBJ] MySQL 9.7 Reference Manual, 25.2.7.5 "Limits Associated with Database Objects in
  NDB Cluster" (https://dev.mysql.com/doc/refman/9.7/en/mysql-cluster-limitations-database-objects.html):
  attributes per table (columns and indexes) 512; attributes per key 32; row size 30000 bytes
  (the 8.0 manual: "As of NDB 8.0.18 ... 30000 bytes; in NDB 8.0.17 and earlier, 14000");
  "Each BLOB or TEXT column contributes 256 + 8 = 264 bytes to this total; this includes JSON".
- [NDBAPI] mysql-server storage/ndb/include/ndbapi/ndbapi_limits.h:
  NDB_MAX_ATTRIBUTES_IN_TABLE 512, NDB_MAX_TUPLE_SIZE_IN_WORDS 7500 (x 4 bytes = 30000),
  NDB_MAX_NO_OF_ATTRIBUTES_IN_KEY 32.
- [SYNTAX] MySQL 9.7 Reference Manual, 25.2.7.1 "Noncompliance with SQL Syntax in NDB
  Cluster" (https://dev.mysql.com/doc/refman/9.7/en/mysql-cluster-limitations-syntax.html):
  an index on a column wider than 3072 bytes is rejected (ER_TOO_LONG_KEY); no indexes on
  TEXT or BLOB columns; no FULLTEXT indexes; "There are no prefix indexes; only entire columns
  can be indexed" (and 25.2.7.6: a prefix in the statement "is not created by NDB" - the
  index covers the whole column, so its full width is what meets the 3072-byte limit).
- [SPATIAL] MySQL 9.7 Reference Manual, "Creating Spatial Indexes"
  (https://dev.mysql.com/doc/refman/9.7/en/creating-spatial-indexes.html): "For InnoDB and
  MyISAM tables, MySQL can create spatial indexes" - no other engine.
- [FK] MySQL Reference Manual, "FOREIGN KEY Constraints"
  (https://dev.mysql.com/doc/refman/8.0/en/create-table-foreign-keys.html): "As of NDB 8.0.16:
  For NDB tables, ON DELETE CASCADE is not supported where the child table contains one or
  more columns of any of the TEXT or BLOB types" (NDB error 21034 when a real 9.7 cluster ran
  the services' migrations, design notes §3).
"""

from __future__ import annotations

MAX_ROW_BYTES = 30_000  # [DBOBJ], [NDBAPI]; 14,000 before NDB 8.0.18
BLOB_ROW_BYTES = 256 + 8  # [DBOBJ]: inline head + pointer of each BLOB/TEXT/JSON column
MAX_ATTRIBUTES = 512  # [DBOBJ], [NDBAPI]: columns and indexes
MAX_INDEX_KEY_BYTES = 3_072  # [SYNTAX]

DEFAULT_TARGET_ENGINE = "ndbcluster"

# Maximum bytes per character, for servers whose information_schema lacks
# CHARACTER_OCTET_LENGTH for a column (MySQL fills it: max chars x the charset's maxlen).
BYTES_PER_CHAR: dict[str, int] = {
    "utf8mb4": 4,
    "utf8mb3": 3,
    "utf8": 3,
    "ucs2": 2,
    "utf16": 4,
    "utf16le": 4,
    "utf32": 4,
    "latin1": 1,
    "ascii": 1,
    "binary": 1,
}

# Column types NDB stores as blobs: 264 bytes in the row, the rest in a parts table.
BLOB_TYPES = frozenset({
    "tinyblob", "blob", "mediumblob", "longblob",
    "tinytext", "text", "mediumtext", "longtext",
    "json",
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
    "multipolygon", "geometrycollection", "geomcollection",
})
# TEXT/BLOB proper: the types the index and foreign-key rules name.
TEXT_BLOB_TYPES = frozenset({
    "tinyblob", "blob", "mediumblob", "longblob", "tinytext", "text", "mediumtext", "longtext",
})

# Fixed storage sizes in bytes (MySQL manual, "Data Type Storage Requirements").
FIXED_BYTES: dict[str, int] = {
    "tinyint": 1,
    "smallint": 2,
    "mediumint": 3,
    "int": 4,
    "integer": 4,
    "bigint": 8,
    "float": 4,
    "double": 8,
    "real": 8,
    "date": 3,
    "year": 1,
    "time": 3,
    "datetime": 5,
    "timestamp": 4,
}
