"""The NDB limits the analyzer checks: ``ndb_adapt.limits``, where each is written once with
its source ([DBOBJ], [NDBAPI], [SYNTAX], [SPATIAL], [FK], [STORAGE], [MEASURED]).

ndb_adapt ships alone into the service containers and cannot import ndb_fit, so the shared
module lives there and ndb_fit imports it; only what is ndb_fit's own is defined here.
"""

from __future__ import annotations

from ndb_adapt.limits import (
    BLOB_COLUMN_BYTES,
    BLOB_TYPES,
    BYTES_PER_CHAR,
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

# The engine every analysed table must be on unless --engine says otherwise.
DEFAULT_TARGET_ENGINE = "ndbcluster"

__all__ = [
    "BLOB_COLUMN_BYTES",
    "BLOB_TYPES",
    "BYTES_PER_CHAR",
    "DEFAULT_TARGET_ENGINE",
    "FIXED_BYTES",
    "HIDDEN_PRIMARY_KEY_BYTES",
    "JSON_COLUMN_BYTES",
    "MAX_ATTRIBUTES",
    "MAX_BYTES_PER_CHAR",
    "MAX_INDEX_KEY_BYTES",
    "MAX_ROW_BYTES",
    "ROW_WORD_BYTES",
    "TEXT_BLOB_TYPES",
]
