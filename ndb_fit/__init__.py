"""NDB fit analyzer: reports every table of a live schema that breaks an NDB Cluster limit.

Use ``analyze(connection, schemas)`` from Python, or ``python -m ndb_fit`` as a deployment
gate (non-zero exit when anything does not fit).
"""

from ndb_fit.analyzer import Finding, Kind, SchemaNotFoundError, analyze, format_table

__all__ = ["Finding", "Kind", "SchemaNotFoundError", "analyze", "format_table"]
