"""NDB Cluster's limits, written once, each with where it is stated or measured.

Both sides use these objects: ``ndb_adapt`` (its DDL estimates, shipped alone into the
service containers, hence here: standard library only, Python 3.9+) and ``ndb_fit`` (which
imports them through ``ndb_fit.limits``). Sizes are bytes unless named otherwise.

Sources:
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
  the services' migrations, docs/design.md §4.2).
- [STORAGE] MySQL 9.7 Reference Manual, "Data Type Storage Requirements" and "Character
  Sets and Collations in MySQL" (SHOW CHARACTER SET, Maxlen): fixed sizes, bytes per char.
- [MEASURED] CREATE TABLE on a real NDB 9.7.2 cluster (the dev stack's rendered files),
  tests/openstack/test_independent_measurement.py (docs/ndb-compatibility.md, "Analyzer vs
  NDB, table by table"). Where it and the manual differ, the measurement wins:
  - row size: NDB's dictionary counts every column in whole 32-bit words (250 TINYINT NOT
    NULL next to a VARCHAR(29000) latin1 are refused with 738, 248 fit; 114 x VARCHAR(87)
    utf8mb3 = 29,986 bytes unaligned are refused), BIT columns packed together (250 BIT(1)
    fit where 250 TINYINT do not), a table without a primary key 8 bytes more (NDB's hidden
    key: VARCHAR(29990) latin1 fits alone, VARCHAR(29992) does not), no null bitmap;
  - TEXT/BLOB/GEOMETRY 272 bytes (inline 256 + a 16-byte blob head), JSON 4016 (inline 4000
    + 16), not the manual's 264: 10 TEXT next to VARCHAR(27300) latin1 are refused, next to
    VARCHAR(27270) they fit; one JSON fits next to VARCHAR(25976), not VARCHAR(25980);
  - attributes: 512 columns (with the hidden key of a table without a primary key); indexes
    do not count (513 columns are refused with NDB 4318, 506 columns + 21 indexes fit);
  - ON DELETE CASCADE is refused (21034) for a child with any column NDB stores as a blob:
    TEXT/BLOB, and JSON and geometry too;
  - ON UPDATE CASCADE is refused (21000) when the parent key is the parent's primary key
    (accepted on a parent's other unique key, and ON UPDATE SET NULL is accepted);
  - a UNIQUE or PRIMARY KEY with a column prefix is refused (1089; NDB has no unique prefix
    keys), whatever its length.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_ROW_BYTES = 30_000  # [DBOBJ], [NDBAPI]: 7500 words; 14,000 before NDB 8.0.18
ROW_WORD_BYTES = 4  # [MEASURED]: each column (BIT columns together) in whole words
HIDDEN_PRIMARY_KEY_BYTES = 8  # [MEASURED]: the key NDB adds to a table without one
BLOB_COLUMN_BYTES = 256 + 16  # [MEASURED]: TEXT/BLOB/geometry inline part + blob head
JSON_COLUMN_BYTES = 4000 + 16  # [MEASURED]: JSON's inline part + blob head
MAX_ATTRIBUTES = 512  # [NDBAPI], [MEASURED]: columns (+ a hidden key); indexes do not count
MAX_INDEX_KEY_BYTES = 3_072  # [SYNTAX]

# Maximum bytes per character by character set ([STORAGE], Maxlen), for a column whose octet
# length is not known (ndb_adapt reads DDL text; ndb_fit a server whose information_schema
# lacks CHARACTER_OCTET_LENGTH). A character set not listed counts MAX_BYTES_PER_CHAR: the
# widest, so that an estimate errs towards "too big", never towards "fits".
MAX_BYTES_PER_CHAR = 4
BYTES_PER_CHAR: Mapping[str, int] = {
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

# Column types NDB stores as blobs: a head and an inline part in the row (BLOB_COLUMN_BYTES,
# JSON_COLUMN_BYTES), the rest in a parts table. A child with any of them cannot have an ON
# DELETE CASCADE key ([FK], [MEASURED]), and NDB indexes none of them ([SYNTAX]).
BLOB_TYPES = frozenset({
    "tinyblob", "blob", "mediumblob", "longblob",
    "tinytext", "text", "mediumtext", "longtext",
    "json",
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
    "multipolygon", "geometrycollection", "geomcollection",
})
# TEXT/BLOB proper: the types the manual's index and foreign-key rules name ([SYNTAX], [FK]).
TEXT_BLOB_TYPES = frozenset({
    "tinyblob", "blob", "mediumblob", "longblob", "tinytext", "text", "mediumtext", "longtext",
})

# Fixed storage sizes ([STORAGE]); TIME, DATETIME and TIMESTAMP without their fractional
# seconds part ((fsp + 1) // 2 bytes more). BOOL/BOOLEAN are TINYINT(1): DDL text names them
# (SQLAlchemy's Boolean on MySQL), information_schema says tinyint.
FIXED_BYTES: Mapping[str, int] = {
    "tinyint": 1,
    "bool": 1,
    "boolean": 1,
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
