"""NDB itself as the judge of ndb_fit: every table of the shipped schemas, created on NDB.

``capture`` runs each service's own migrations, unadapted, on a plain Oracle MySQL 9.7
(InnoDB; as ``tools/measure/shipped.py``) and keeps, per table, ``SHOW CREATE TABLE``, the
table's definition as information_schema states it (``shape``) and ndb_fit's findings.
``measure`` replays every table on an NDB SQL node, one CREATE TABLE at a time, retargeted
to ``ENGINE=ndbcluster`` (``retarget``: nothing else of the statement changes), in a session
whose sql_mode has ``NO_ENGINE_SUBSTITUTION`` (a rejection is an error, never a quiet
InnoDB->NDB swap or the reverse) and ``foreign_key_checks=0`` (a key whose parent is not made
yet gets an NDB mock parent; parents still go first where the keys allow, so a key's error
lands on the table that declares it). An accepted table's shape on NDB (what the SQL node's
information_schema says after the CREATE) is compared with the InnoDB one: any difference is
a change NDB made. ``disagreement`` sets ndb_fit's side and NDB's side of one table together.

    python -m tools.measure.ndb_probe [--save FILE | --load FILE] [SERVICE ...]

prints one JSON object per table and one per service (the doc's numbers come from this).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.database import quote_identifier
from components.render.ndb import SERVICE_SQL_MODE
from ndb_fit import Finding, Kind, analyze
from tests.openstack.services import SERVICES
from tools.measure.census import query_rows
from tools.measure.shipped import migrate_as_shipped

# The SQL nodes' own mode (components/render/ndb.py) plus NO_ENGINE_SUBSTITUTION.
PROBE_SQL_MODE = f"{SERVICE_SQL_MODE},NO_ENGINE_SUBSTITUTION"

ACCEPTED, CHANGED, REJECTED = "accepted", "changed", "rejected"

# What NDB answers to CREATE TABLE for each kind ndb_fit reports, as measured on the test bed
# (every entry is seen again by test_every_rejecting_kind_was_measured): the MySQL error and
# the NDB code SHOW WARNINGS names ("Got error N ... from NDB"), None where NDB names none
# because mysqld refuses the table itself. docs/ndb-compatibility.md's kind table states the
# same (tests/unit/test_compat_doc.py).
REJECTIONS: dict[Kind, tuple[int, int | None]] = {
    Kind.ROW_SIZE: (1005, 738),  # Record too big
    Kind.ATTRIBUTES: (1005, 4318),  # Invalid attribute name or number
    Kind.INDEX_KEY_LENGTH: (1071, None),  # Specified key was too long
    Kind.UNIQUE_PREFIX_INDEX: (1089, None),  # ... doesn't support unique prefix keys
    Kind.FULLTEXT_INDEX: (1214, None),  # The used table type doesn't support FULLTEXT
    Kind.SPATIAL_INDEX: (1464, None),  # ... doesn't support SPATIAL indexes
    Kind.BLOB_INDEX: (1073, None),  # BLOB column can't be used in key specification
    Kind.CASCADE_BLOB_CHILD: (1215, 21034),  # child has Blob or Text, on-delete-cascade
    Kind.CASCADE_UPDATE_PRIMARY_KEY: (1215, 21000),  # parent key is PK, on-update-cascade
}
# Kinds that say NDB accepts the table but not as written: the index covers whole columns.
CHANGING_KINDS = frozenset({Kind.PREFIX_INDEX})
# The engine finding is what the replay itself changes (ENGINE=... -> ndbcluster): no verdict.
NEUTRAL_KINDS = frozenset({Kind.ENGINE})
assert set(REJECTIONS) | CHANGING_KINDS | NEUTRAL_KINDS == set(Kind)

_NDB_CODE = re.compile(r"\b[Gg]ot (?:temporary )?error (\d+)")


def _columns(count: int, definition: str, prefix: str = "c") -> str:
    return ", ".join(f"{prefix}{i} {definition}" for i in range(count))


# Both sides of each limit ndb_fit.limits states as measured: (statement, what NDB does).
BOUNDARY_TABLES: list[tuple[str, str]] = [
    # 4 + 29992 + 2 = 29998 bytes fit; 3 more do not.
    ("CREATE TABLE row_29998 (id INT PRIMARY KEY, v VARCHAR(29992)) CHARACTER SET latin1",
     ACCEPTED),
    ("CREATE TABLE row_30001 (id INT PRIMARY KEY, v VARCHAR(29995)) CHARACTER SET latin1",
     REJECTED),
    # Word alignment of VARCHARs: 114 x (261 + 2) = 29,986 bytes unaligned, 30,100 aligned.
    (f"CREATE TABLE varchar87_113 (id INT PRIMARY KEY, {_columns(113, 'VARCHAR(87)', 'v')})"
     " CHARACTER SET utf8mb3", ACCEPTED),
    (f"CREATE TABLE varchar87_114 (id INT PRIMARY KEY, {_columns(114, 'VARCHAR(87)', 'v')})"
     " CHARACTER SET utf8mb3", REJECTED),
    # Word alignment of small fixed columns: 4 + 29004 + 248 x 4 = 30000 (250: 30008).
    (f"CREATE TABLE tinyint_248 (id INT PRIMARY KEY, v VARCHAR(29000),"
     f" {_columns(248, 'TINYINT NOT NULL')}) CHARACTER SET latin1", ACCEPTED),
    # TEXT counts 272 bytes (264 would let the second one fit as well).
    (f"CREATE TABLE text10_27270 (id INT PRIMARY KEY, v VARCHAR(27270),"
     f" {_columns(10, 'TEXT', 't')}) CHARACTER SET latin1", ACCEPTED),
    (f"CREATE TABLE text10_27300 (id INT PRIMARY KEY, v VARCHAR(27300),"
     f" {_columns(10, 'TEXT', 't')}) CHARACTER SET latin1", REJECTED),
    # JSON counts 4016 bytes: 4 + 25980 + 4016 = 30000; 4 more octets do not fit.
    ("CREATE TABLE json_25976 (id INT PRIMARY KEY, v VARCHAR(25976), j JSON)"
     " CHARACTER SET latin1", ACCEPTED),
    ("CREATE TABLE json_25980 (id INT PRIMARY KEY, v VARCHAR(25980), j JSON)"
     " CHARACTER SET latin1", REJECTED),
    # 512 attributes: columns, plus NDB's hidden key when there is no primary key.
    (f"CREATE TABLE columns_512 (id INT PRIMARY KEY, {_columns(511, 'TINYINT')})", ACCEPTED),
    (f"CREATE TABLE keyless_511 ({_columns(511, 'TINYINT')})", ACCEPTED),
    (f"CREATE TABLE keyless_512 ({_columns(512, 'TINYINT')})", REJECTED),
    # Keys: a PRIMARY KEY prefix and a unique TEXT prefix; geometry and ON UPDATE children.
    ("CREATE TABLE primary_prefix (name VARCHAR(100) NOT NULL, PRIMARY KEY (name(10)))"
     " CHARACTER SET utf8mb3", REJECTED),
    ("CREATE TABLE unique_text_prefix (id INT PRIMARY KEY, body TEXT,"
     " UNIQUE KEY u (body(100)))", REJECTED),
    ("CREATE TABLE boundary_parent (id INT PRIMARY KEY, code INT NOT NULL, UNIQUE KEY (code))",
     ACCEPTED),
    ("CREATE TABLE geometry_cascade_child (id INT PRIMARY KEY, parent_id INT, g GEOMETRY,"
     " FOREIGN KEY (parent_id) REFERENCES boundary_parent (id) ON DELETE CASCADE)", REJECTED),
    ("CREATE TABLE text_set_null_child (id INT PRIMARY KEY, parent_id INT, note TEXT,"
     " FOREIGN KEY (parent_id) REFERENCES boundary_parent (id) ON DELETE SET NULL)", ACCEPTED),
    ("CREATE TABLE update_set_null_child (id INT PRIMARY KEY, parent_id INT,"
     " FOREIGN KEY (parent_id) REFERENCES boundary_parent (id) ON UPDATE SET NULL)", ACCEPTED),
    ("CREATE TABLE update_cascade_unique_child (id INT PRIMARY KEY, parent_code INT,"
     " FOREIGN KEY (parent_code) REFERENCES boundary_parent (code) ON UPDATE CASCADE)",
     ACCEPTED),
]


# --- a table's definition, comparable across engines ---------------------------------------


def shape(conn: Any, schema: str, table: str) -> dict[str, str]:
    """Element -> its definition, from information_schema: columns, indexes (with prefixes),
    foreign keys, check constraints, the table's collation. Equal shapes = same table."""
    out: dict[str, str] = {}
    (collation,) = query_rows(conn, "SELECT TABLE_COLLATION FROM information_schema.TABLES "
                               "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (schema, table))[0]
    out["table"] = f"COLLATE {collation}"
    for name, ctype, nullable, default, collation, extra, expr in query_rows(
        conn,
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLLATION_NAME, EXTRA, "
        "GENERATION_EXPRESSION FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (schema, table),
    ):
        parts = [str(ctype), "NULL" if nullable == "YES" else "NOT NULL"]
        if default is not None:
            parts.append(f"DEFAULT {default!s}")
        if collation:
            parts.append(f"COLLATE {collation}")
        if extra:
            parts.append(str(extra))
        if expr:
            parts.append(f"AS ({expr})")
        out[f"column {name}"] = " ".join(parts)
    indexes: dict[str, list[str]] = {}
    heads: dict[str, str] = {}
    for name, non_unique, column, sub_part, order, expr, visible, itype in query_rows(
        conn,
        "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, EXPRESSION, "
        "IS_VISIBLE, INDEX_TYPE FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (schema, table),
    ):
        part = f"({expr})" if column is None else str(column)
        if sub_part is not None:
            part += f"({sub_part})"
        if order == "D":
            part += " DESC"
        indexes.setdefault(str(name), []).append(part)
        kind = "PRIMARY KEY" if name == "PRIMARY" else "UNIQUE" if not int(non_unique) else "KEY"
        heads[str(name)] = f"{kind} {itype}" + ("" if visible == "YES" else " INVISIBLE")
    for name, parts in indexes.items():
        out[f"index {name}"] = f"{heads[name]} ({', '.join(parts)})"
    for name, cols, ref_schema, ref_table, ref_cols, update, delete in query_rows(
        conn,
        "SELECT rc.CONSTRAINT_NAME, "
        "GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION), "
        "MAX(k.REFERENCED_TABLE_SCHEMA), MAX(k.REFERENCED_TABLE_NAME), "
        "GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION), "
        "MAX(rc.UPDATE_RULE), MAX(rc.DELETE_RULE) "
        "FROM information_schema.REFERENTIAL_CONSTRAINTS rc "
        "JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = "
        "rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME AND "
        "k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME "
        "WHERE rc.CONSTRAINT_SCHEMA = %s AND rc.TABLE_NAME = %s GROUP BY rc.CONSTRAINT_NAME",
        (schema, table),
    ):
        where = "" if ref_schema == schema else f"{ref_schema}."
        out[f"foreign key {name}"] = (f"({cols}) -> {where}{ref_table} ({ref_cols}) "
                                      f"ON UPDATE {update} ON DELETE {delete}")
    for name, clause in query_rows(
        conn,
        "SELECT cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS cc "
        "JOIN information_schema.TABLE_CONSTRAINTS tc ON tc.CONSTRAINT_SCHEMA = "
        "cc.CONSTRAINT_SCHEMA AND tc.CONSTRAINT_NAME = cc.CONSTRAINT_NAME "
        "WHERE tc.TABLE_SCHEMA = %s AND tc.TABLE_NAME = %s AND tc.CONSTRAINT_TYPE = 'CHECK'",
        (schema, table),
    ):
        out[f"check {name}"] = str(clause)
    return out


def shape_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Readable differences, e.g. 'index ix: KEY BTREE (a(255)) -> KEY BTREE (a)'."""
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            out.append(f"{key}: {old or '(none)'} -> {new or '(none)'}")
    return out


# --- the shipped schemas on InnoDB ---------------------------------------------------------


@dataclass(frozen=True)
class ShippedTable:
    service: str
    schema: str
    table: str
    create: str  # SHOW CREATE TABLE on InnoDB
    shape: dict[str, str]
    parents: tuple[str, ...]  # tables of the same schema its foreign keys reference
    findings: tuple[Finding, ...]

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class Shipped:
    tables: list[ShippedTable] = field(default_factory=list)
    migrations: dict[str, str | None] = field(default_factory=dict)  # service -> failure

    def to_json(self) -> str:
        return json.dumps({
            "migrations": self.migrations,
            "tables": [{**asdict(t), "findings": [f.as_dict() for f in t.findings]}
                       for t in self.tables],
        })

    @classmethod
    def from_json(cls, text: str) -> Shipped:
        data = json.loads(text)
        tables = [
            ShippedTable(
                t["service"], t["schema"], t["table"], t["create"], dict(t["shape"]),
                tuple(t["parents"]), tuple(Finding(**f) for f in t["findings"]),
            )
            for t in data["tables"]
        ]
        return cls(tables, dict(data["migrations"]))


def capture(server: Any, names: Sequence[str], workdir: Path) -> Shipped:
    """Each service's own migrations on ``server`` (plain MySQL, InnoDB), then every table's
    definition and ndb_fit's findings. A migration that fails is recorded, not raised."""
    shipped = Shipped()
    for name in names:
        result, schemas = migrate_as_shipped(server, name, workdir)
        shipped.migrations[name] = result.failure.summary() if result.failure else None
        conn = server.connect()
        try:
            shipped.tables += tables_of(conn, name, schemas)
        finally:
            conn.close()
    return shipped


def capture_statements(server: Any, label: str, schema: str, statements: Sequence[str]
                       ) -> list[ShippedTable]:
    """Hand-written CREATE statements run on ``server`` in a new ``schema``, captured as
    ``capture`` captures a service's tables (``label`` stands for the service)."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {quote_identifier(schema)}")
            cur.execute(f"USE {quote_identifier(schema)}")
            for statement in statements:
                cur.execute(statement)
        return tables_of(conn, label, [schema])
    finally:
        conn.close()


def tables_of(conn: Any, label: str, schemas: Sequence[str]) -> list[ShippedTable]:
    """Every base table of ``schemas``: SHOW CREATE TABLE, shape, parents, ndb_fit's findings
    (for the default target, ndbcluster)."""
    findings = analyze(conn, schemas)
    out: list[ShippedTable] = []
    for schema, table in query_rows(
        conn, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE "
        f"TABLE_SCHEMA IN ({', '.join(['%s'] * len(schemas))}) AND TABLE_TYPE = "
        "'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME", schemas,
    ):
        db, name = str(schema), str(table)
        create = str(query_rows(conn, f"SHOW CREATE TABLE {quote_identifier(db)}."
                                 f"{quote_identifier(name)}")[0][1])
        parents = tuple(sorted({str(r[0]) for r in query_rows(
            conn, "SELECT DISTINCT REFERENCED_TABLE_NAME FROM information_schema."
            "REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s",
            (db, name))} - {name}))
        out.append(ShippedTable(
            label, db, name, create, shape(conn, db, name), parents,
            tuple(f for f in findings if (f.schema, f.table) == (db, name)),
        ))
    return out


# --- the same tables on NDB ----------------------------------------------------------------

_ENGINE_OPTION = re.compile(r"\) ENGINE=\w+(?=\s|$)")


def retarget(create: str) -> str:
    """SHOW CREATE TABLE with ENGINE=ndbcluster; columns, indexes, charsets, keys and every
    other table option as they are (none of the shipped ones got in NDB's way)."""
    text, count = _ENGINE_OPTION.subn(") ENGINE=ndbcluster", create)
    if count != 1:
        raise ValueError(f"no single table option ENGINE= in: {create[-300:]}")
    return text


@dataclass(frozen=True)
class Outcome:
    status: str  # ACCEPTED, CHANGED or REJECTED
    error_code: int | None = None
    error: str = ""
    ndb_codes: tuple[int, ...] = ()  # NDB's own codes ("Got error N ... from NDB")
    changes: tuple[str, ...] = ()  # shape differences of an accepted table
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def codes(self) -> set[int]:
        return {c for c in (self.error_code, *self.ndb_codes) if c is not None}

    def describe(self) -> str:
        if self.status == REJECTED:
            return f"rejected {self.error_code} {list(self.ndb_codes)}: {self.error[:200]}"
        if self.status == CHANGED:
            return "accepted, changed: " + "; ".join(self.changes)
        return "accepted as written"


def _ndb_codes(message: str, warnings: Iterable[tuple[Any, ...]]) -> tuple[int, ...]:
    codes: set[int] = set()
    for text in [message, *(str(w[2]) for w in warnings)]:
        codes.update(int(c) for c in _NDB_CODE.findall(text))
    return tuple(sorted(codes))


def create_on_ndb(conn: Any, table: ShippedTable) -> Outcome:
    """One CREATE TABLE on NDB; on success, how the stored table differs from InnoDB's."""
    import pymysql

    schema = quote_identifier(table.schema)
    start = time.monotonic()
    with conn.cursor() as cur:
        cur.execute(f"USE {schema}")
        cur.execute("SET SESSION sql_mode = %s, foreign_key_checks = 0", (PROBE_SQL_MODE,))
        try:
            cur.execute(retarget(table.create))
        except pymysql.err.MySQLError as error:
            seconds = time.monotonic() - start
            cur.execute("SHOW WARNINGS")
            warnings = list(cur.fetchall())
            code = error.args[0] if error.args and isinstance(error.args[0], int) else None
            message = str(error.args[1]) if len(error.args) > 1 else str(error)
            return Outcome(
                REJECTED, code, message, _ndb_codes(message, warnings),
                warnings=tuple(f"{w[0]} {w[1]} {w[2]}" for w in warnings), seconds=seconds,
            )
        seconds = time.monotonic() - start
        cur.execute("SHOW WARNINGS")
        warnings = list(cur.fetchall())
    engine = str(query_rows(conn, "SELECT ENGINE FROM information_schema.TABLES WHERE "
                             "TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                       (table.schema, table.table))[0][0])
    changes = shape_changes(table.shape, shape(conn, table.schema, table.table))
    if engine.lower() != "ndbcluster":
        changes.insert(0, f"engine: ndbcluster -> {engine}")
    return Outcome(
        CHANGED if changes else ACCEPTED, changes=tuple(changes),
        warnings=tuple(f"{w[0]} {w[1]} {w[2]}" for w in warnings), seconds=seconds,
    )


def creation_order(tables: Sequence[ShippedTable]) -> list[ShippedTable]:
    """Parents before children where the keys allow it (a cycle keeps name order): a key then
    meets its real parent, so a key-related rejection lands on the table that declares it."""
    by_name = {t.table: t for t in tables}
    done: set[str] = set()
    out: list[ShippedTable] = []

    def visit(t: ShippedTable, path: set[str]) -> None:
        if t.table in done or t.table in path:
            return
        for parent in t.parents:
            if parent in by_name:
                visit(by_name[parent], path | {t.table})
        done.add(t.table)
        out.append(t)

    for t in sorted(tables, key=lambda t: t.table):
        visit(t, set())
    return out


def measure(connect: Callable[[], Any], tables: Sequence[ShippedTable]) -> dict[str, Outcome]:
    """schema.table -> Outcome for every table, schema by schema in fresh databases, each
    table on a connection of its own so that no table's result depends on the session of the
    one before. Each schema is dropped after it (NDB's dictionary is sized for one copy of
    each service's tables)."""
    outcomes: dict[str, Outcome] = {}
    schemas: dict[str, list[ShippedTable]] = {}
    for t in tables:
        schemas.setdefault(t.schema, []).append(t)
    for schema, members in schemas.items():
        name = quote_identifier(schema)
        _run(connect, "SET SESSION foreign_key_checks = 0", f"DROP DATABASE IF EXISTS {name}",
             f"CREATE DATABASE {name}")
        try:
            for table in creation_order(members):
                conn = connect()
                try:
                    outcomes[table.name] = create_on_ndb(conn, table)
                finally:
                    conn.close()
        finally:
            _drop_database(connect, name)
    return outcomes


def _drop_database(connect: Callable[[], Any], name: str, attempts: int = 3) -> None:
    """DROP DATABASE, again from a new connection if NDB refuses. Measured: after NDB refused
    a foreign key (21034) in the database, DROP DATABASE can stop at an unrelated table with
    3604 / NDB 4254 "Table not an index table"; the same statement from a new connection
    then drops the rest."""
    import pymysql

    for attempt in range(1, attempts + 1):
        try:
            _run(connect, "SET SESSION foreign_key_checks = 0", f"DROP DATABASE IF EXISTS {name}")
            return
        except pymysql.err.OperationalError:
            if attempt == attempts:
                raise


def _run(connect: Callable[[], Any], *statements: str) -> None:
    conn = connect()
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


# --- both sides ----------------------------------------------------------------------------


def verdict(findings: Iterable[Finding]) -> str:
    """What ndb_fit's findings say NDB will do with the table."""
    kinds = {f.kind for f in findings}
    if kinds & set(REJECTIONS):
        return REJECTED
    if kinds & CHANGING_KINDS:
        return CHANGED
    return ACCEPTED


def matches(kind: Kind, outcome: Outcome) -> bool:
    """The rejection is the one ``kind`` predicts (REJECTIONS)."""
    mysql, ndb = REJECTIONS[kind]
    return outcome.error_code == mysql and (ndb is None or ndb in outcome.ndb_codes)


def describe_findings(findings: Iterable[Finding]) -> str:
    shown = [f"{f.kind} {f.numbers} ({f.detail})" if f.numbers else f"{f.kind} ({f.detail})"
             for f in findings if f.kind not in NEUTRAL_KINDS]
    return "\n             ".join(shown) or "no findings"


_FINDING_INDEX = re.compile(r"^index (\S+) \(")
_CHANGED_INDEX = re.compile(r"^index (\S+): (.*) -> (.*)$")


def disagreement(table: ShippedTable, outcome: Outcome) -> str | None:
    """None when ndb_fit and NDB agree on the table, else both sides, readable."""
    said = verdict(table.findings)
    problem = None
    if said != outcome.status:
        problem = f"ndb_fit says {said}, NDB {outcome.status}"
    elif said == REJECTED:
        kinds = sorted({f.kind for f in table.findings} & set(REJECTIONS))
        if not any(matches(kind, outcome) for kind in kinds):
            expected = ", ".join(f"{k} -> {REJECTIONS[k]}" for k in kinds)
            problem = (f"NDB's error {outcome.error_code} {list(outcome.ndb_codes)} is not "
                       f"what the findings predict ({expected})")
    elif said == CHANGED:
        flagged = {m.group(1) for f in table.findings if f.kind in CHANGING_KINDS
                   if (m := _FINDING_INDEX.match(f.detail))}
        changed = {m.group(1) for c in outcome.changes if (m := _CHANGED_INDEX.match(c))
                   and re.sub(r"\(\d+\)", "", m.group(2)) == m.group(3)}
        if len(changed) != len(outcome.changes) or changed != flagged:
            problem = (f"ndb_fit expects the prefixes of {sorted(flagged)} to go; NDB changed "
                       "other things or other indexes")
    if problem is None:
        return None
    return (f"{table.name}: {problem}\n    ndb_fit: {describe_findings(table.findings)}\n"
            f"    NDB:     {outcome.describe()}")


def summary(tables: Sequence[ShippedTable], outcomes: dict[str, Outcome]
            ) -> dict[str, dict[str, int]]:
    """service -> tables, rejected/changed by NDB, flagged rejecting/changing by ndb_fit,
    agreeing tables."""
    out: dict[str, dict[str, int]] = {}
    for t in tables:
        row = out.setdefault(t.service, dict.fromkeys(
            ("tables", "ndb_rejected", "ndb_changed", "fit_rejected", "fit_changed",
             "agree"), 0))
        outcome = outcomes[t.name]
        row["tables"] += 1
        row["ndb_rejected"] += outcome.status == REJECTED
        row["ndb_changed"] += outcome.status == CHANGED
        row["fit_rejected"] += verdict(t.findings) == REJECTED
        row["fit_changed"] += verdict(t.findings) == CHANGED
        row["agree"] += disagreement(t, outcome) is None
    return out


def capture_hand_built(server: Any) -> list[ShippedTable]:
    """tests/real/test_ndb_fit.py's bad and clean tables and BOUNDARY_TABLES: every kind and
    every measured limit, where the shipped schemas have few of them."""
    from tests.real.test_ndb_fit import CLEAN_TABLES, _bad_tables

    return (capture_statements(server, HAND_BAD, "fit_bad", _bad_tables())
            + capture_statements(server, HAND_CLEAN, "fit_clean", CLEAN_TABLES)
            + capture_statements(server, BOUNDARY, "fit_boundary",
                                 [sql for sql, _ in BOUNDARY_TABLES]))


HAND_BAD, HAND_CLEAN, BOUNDARY = "test_ndb_fit bad", "test_ndb_fit clean", "boundary"


# --- command line --------------------------------------------------------------------------


def main() -> int:
    from tests.openstack.cluster import connect, dev_cluster
    from tests.real.mysql_server import mysql_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--save", type=Path, help="write the InnoDB capture here")
    parser.add_argument("--load", type=Path, help="read the InnoDB capture from here")
    parser.add_argument("services", nargs="*")
    args = parser.parse_args()
    names = args.services or list(SERVICES)
    workdir = Path(tempfile.mkdtemp(prefix="osndb-probe-"))
    if args.load:
        shipped = Shipped.from_json(args.load.read_text())
    else:
        with mysql_server() as server:
            shipped = capture(server, names, workdir / "services")
            shipped.tables += capture_hand_built(server)
        if args.save:
            args.save.write_text(shipped.to_json())
    print(json.dumps({"migrations": shipped.migrations}), flush=True)
    with dev_cluster(workdir / "cluster") as cluster:
        outcomes = measure(lambda: connect(cluster), shipped.tables)
    for t in shipped.tables:
        o = outcomes[t.name]
        print(json.dumps({"table": t.name, "fit": sorted({f.kind for f in t.findings}),
                          "ndb": o.describe(), "codes": sorted(o.codes),
                          "warnings": list(o.warnings), "seconds": round(o.seconds, 2),
                          "disagreement": disagreement(t, o)}), flush=True)
    print(json.dumps({"summary": summary(shipped.tables, outcomes)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
