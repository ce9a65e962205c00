"""ndb_fit against hand-built schemas on a real Oracle MySQL 9.7 server.

The server has no cluster, so the tables are InnoDB (MyISAM for the engine case): each bad
table breaks one NDB limit, and the analysis targets ``innodb`` to isolate the other kinds;
targeting ``ndbcluster`` flags every table's engine. What NDB itself does with each of these
tables (refuses the bad ones, accepts the clean ones) is measured on a real cluster by
tests/openstack/test_independent_measurement.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ndb_fit import Finding, Kind, SchemaNotFoundError, analyze
from ndb_fit.analyzer import Column, column_row_bytes, decimal_bytes
from tests.real.mysql_server import MysqlServer

REPO = Path(__file__).resolve().parents[2]

MANY = 512  # TINYINT columns in `many_attributes`: +1 id column = 513 > 512


def _columns(count: int, definition: str, prefix: str = "c") -> str:
    return ", ".join(f"{prefix}{i} {definition}" for i in range(count))


def _bad_tables() -> list[str]:
    many_columns = _columns(MANY, "TINYINT")
    many_keys = ", ".join(f"KEY k{i} (c{i})" for i in range(6))
    return [
        # 4 + 2 x (4095 x 4 + 2) = 32768 estimated bytes.
        "CREATE TABLE wide_row (id INT PRIMARY KEY, a VARCHAR(4095), b VARCHAR(4095))"
        " CHARACTER SET utf8mb4",
        f"CREATE TABLE many_attributes (id INT PRIMARY KEY, {many_columns}, {many_keys})",
        # InnoDB takes the 255-char prefix (1020 bytes); NDB indexes the whole 4000 bytes.
        "CREATE TABLE long_key (id INT PRIMARY KEY, name VARCHAR(1000),"
        " KEY by_name (name(255))) CHARACTER SET utf8mb4",
        "CREATE TABLE prefixed (id INT PRIMARY KEY, name VARCHAR(100),"
        " KEY by_name (name(10))) CHARACTER SET utf8mb3",
        "CREATE TABLE fulltext_t (id INT PRIMARY KEY, body TEXT, FULLTEXT KEY ft (body))",
        "CREATE TABLE spatial_t (id INT PRIMARY KEY, p POINT NOT NULL SRID 4326,"
        " SPATIAL KEY sp (p))",
        "CREATE TABLE blob_indexed (id INT PRIMARY KEY, body TEXT, KEY by_body (body(100)))",
        "CREATE TABLE parent (id INT PRIMARY KEY)",
        "CREATE TABLE cascade_child (id INT PRIMARY KEY, parent_id INT, note TEXT,"
        " CONSTRAINT fk_cascade FOREIGN KEY (parent_id) REFERENCES parent (id)"
        " ON DELETE CASCADE)",
        "CREATE TABLE myisam_t (id INT PRIMARY KEY) ENGINE=MyISAM",
        # NDB has no unique prefix keys, however short (1089).
        "CREATE TABLE unique_prefixed (id INT PRIMARY KEY, name VARCHAR(100),"
        " UNIQUE KEY uniq_name (name(10))) CHARACTER SET utf8mb3",
        # Each column in whole words: 4 + 29004 + 250 x 4 = 30008 (29256 unaligned).
        f"CREATE TABLE aligned_row (id INT PRIMARY KEY, v VARCHAR(29000),"
        f" {_columns(250, 'TINYINT NOT NULL')}) CHARACTER SET latin1",
        # A JSON column counts 4016 bytes: 4 + 8 x 4016 = 32132.
        f"CREATE TABLE json_row (id INT PRIMARY KEY, {_columns(8, 'JSON', 'j')})",
        # NDB's hidden primary key: 29992 + 2 + 8 = 30004 (2 bytes less would fit).
        "CREATE TABLE no_key_row (v VARCHAR(29992) NOT NULL) CHARACTER SET latin1",
        "CREATE TABLE json_cascade_child (id INT PRIMARY KEY, parent_id INT, doc JSON,"
        " CONSTRAINT fk_json FOREIGN KEY (parent_id) REFERENCES parent (id)"
        " ON DELETE CASCADE)",
        "CREATE TABLE update_cascade_child (id INT PRIMARY KEY, parent_id INT,"
        " CONSTRAINT fk_update FOREIGN KEY (parent_id) REFERENCES parent (id)"
        " ON UPDATE CASCADE)",
    ]


CLEAN_TABLES = [
    # A keystone-like table: utf8mb3 strings, a TEXT, datetimes, a decimal.
    "CREATE TABLE project (id VARCHAR(64) PRIMARY KEY, name VARCHAR(255) NOT NULL,"
    " extra TEXT, enabled TINYINT(1), created_at DATETIME(6), quota DECIMAL(18, 9),"
    " UNIQUE KEY uniq_name (name)) CHARACTER SET utf8mb3",
    # Just under the row limit: 4 + 9990 x 3 + 2 = 29976 bytes.
    "CREATE TABLE almost_full (id INT PRIMARY KEY, v VARCHAR(9990)) CHARACTER SET utf8mb3",
    # ON DELETE CASCADE is fine when the child has no TEXT/BLOB; RESTRICT is fine with one.
    "CREATE TABLE member (id INT PRIMARY KEY, project_id VARCHAR(64),"
    " FOREIGN KEY (project_id) REFERENCES project (id) ON DELETE CASCADE)"
    " CHARACTER SET utf8mb3",
    "CREATE TABLE note (id INT PRIMARY KEY, project_id VARCHAR(64), body TEXT,"
    " FOREIGN KEY (project_id) REFERENCES project (id) ON DELETE RESTRICT)"
    " CHARACTER SET utf8mb3",
    # A full-column index of exactly 3072 bytes (utf8mb3 VARCHAR(1024)).
    "CREATE TABLE key_at_limit (id INT PRIMARY KEY, k VARCHAR(1024), KEY by_k (k))"
    " CHARACTER SET utf8mb3",
    # 506 columns + 21 indexes: indexes are not attributes of an NDB table.
    f"CREATE TABLE many_keys (id INT PRIMARY KEY, {_columns(505, 'TINYINT')}, "
    + ", ".join(f"KEY k{i} (c{i})" for i in range(20)) + ")",
    # BIT columns are packed: 4 + 29004 + 32 bytes (250 TINYINT would not fit).
    f"CREATE TABLE bits (id INT PRIMARY KEY, v VARCHAR(29000), {_columns(250, 'BIT(1)')})"
    " CHARACTER SET latin1",
    # Exactly 30000 bytes with NDB's hidden primary key: 29990 + 2 + 8.
    "CREATE TABLE no_key_full (v VARCHAR(29990) NOT NULL) CHARACTER SET latin1",
    # ON UPDATE CASCADE is fine on a parent's unique key that is not its primary key.
    "CREATE TABLE project_alias (id INT PRIMARY KEY, project_name VARCHAR(255),"
    " FOREIGN KEY (project_name) REFERENCES project (name) ON UPDATE CASCADE)"
    " CHARACTER SET utf8mb3",
    "CREATE VIEW project_names AS SELECT name FROM project",  # views are not tables
]


@pytest.fixture(scope="module")
def schemas(mysql_server: MysqlServer) -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    bad, clean = f"fit_bad_{tag}", f"fit_clean_{tag}"
    with mysql_server.connect() as conn, conn.cursor() as cur:
        for schema, statements in ((bad, _bad_tables()), (clean, CLEAN_TABLES)):
            cur.execute(f"CREATE DATABASE {schema}")
            cur.execute(f"USE {schema}")
            for sql in statements:
                cur.execute(sql)
    try:
        yield bad, clean
    finally:
        with mysql_server.connect() as conn, conn.cursor() as cur:
            for schema in (bad, clean):
                cur.execute(f"DROP DATABASE IF EXISTS {schema}")


def by_table(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.table, []).append(finding)
    return out


def kinds(findings: list[Finding]) -> set[Kind]:
    return {f.kind for f in findings}


@pytest.fixture(scope="module")
def bad_findings(mysql_server: MysqlServer, schemas: tuple[str, str]) -> dict[str, list[Finding]]:
    with mysql_server.connect() as conn:
        return by_table(analyze(conn, [schemas[0]], target_engine="innodb"))


def test_each_bad_table_has_its_finding_and_nothing_else(
    bad_findings: dict[str, list[Finding]],
) -> None:
    assert {table: kinds(found) for table, found in bad_findings.items()} == {
        "wide_row": {Kind.ROW_SIZE},
        "many_attributes": {Kind.ATTRIBUTES},
        "long_key": {Kind.PREFIX_INDEX, Kind.INDEX_KEY_LENGTH},
        "prefixed": {Kind.PREFIX_INDEX},
        "fulltext_t": {Kind.FULLTEXT_INDEX},
        "spatial_t": {Kind.SPATIAL_INDEX},
        "blob_indexed": {Kind.BLOB_INDEX, Kind.PREFIX_INDEX},
        "cascade_child": {Kind.CASCADE_BLOB_CHILD},
        "myisam_t": {Kind.ENGINE},
        "unique_prefixed": {Kind.UNIQUE_PREFIX_INDEX},
        "aligned_row": {Kind.ROW_SIZE},
        "json_row": {Kind.ROW_SIZE},
        "no_key_row": {Kind.ROW_SIZE},
        "json_cascade_child": {Kind.CASCADE_BLOB_CHILD},
        "update_cascade_child": {Kind.CASCADE_UPDATE_PRIMARY_KEY},
    }  # `parent` fits


def test_row_size_numbers(bad_findings: dict[str, list[Finding]]) -> None:
    [finding] = bad_findings["wide_row"]
    # 4 + 2 x (16380 + 2 length bytes, rounded up to whole words: 16384)
    assert finding.numbers == {"row_bytes": 32772, "limit": 30000, "columns": 3,
                               "blob_columns": 0}
    assert "32772 bytes > 30000" in finding.detail
    numbers = {table: bad_findings[table][0].numbers["row_bytes"]
               for table in ("aligned_row", "json_row", "no_key_row")}
    assert numbers == {"aligned_row": 30008, "json_row": 32132, "no_key_row": 30004}
    assert bad_findings["json_row"][0].numbers["blob_columns"] == 8


def test_attribute_numbers(bad_findings: dict[str, list[Finding]]) -> None:
    [finding] = bad_findings["many_attributes"]
    assert finding.numbers == {"attributes": 513, "columns": MANY + 1,
                               "hidden_primary_key": 0, "limit": 512}
    assert finding.detail == "513 columns = 513 attributes > 512"


def test_prefix_widened_to_full_key_numbers(bad_findings: dict[str, list[Finding]]) -> None:
    found = {f.kind: f for f in bad_findings["long_key"]}
    assert found[Kind.PREFIX_INDEX].numbers == {"prefix": 255, "column_chars": 1000,
                                             "column_bytes": 4000}
    assert found[Kind.INDEX_KEY_LENGTH].numbers == {"key_bytes": 4000, "limit": 3072}
    assert "by_name" in found[Kind.INDEX_KEY_LENGTH].detail
    [narrow] = bad_findings["prefixed"]
    assert narrow.numbers == {"prefix": 10, "column_chars": 100, "column_bytes": 300}


def test_fulltext_spatial_blob_and_cascade_details(
    bad_findings: dict[str, list[Finding]],
) -> None:
    assert "FULLTEXT index ft (body)" in bad_findings["fulltext_t"][0].detail
    assert bad_findings["spatial_t"][0].detail == "SPATIAL index sp (p)"
    blob = next(f for f in bad_findings["blob_indexed"] if f.kind == Kind.BLOB_INDEX)
    assert "TEXT column body" in blob.detail
    assert blob.numbers == {"prefix": 100}
    [cascade] = bad_findings["cascade_child"]
    assert "fk_cascade -> parent ON DELETE CASCADE" in cascade.detail
    assert "note" in cascade.detail
    assert cascade.numbers == {"blob_columns": 1}
    [json_cascade] = bad_findings["json_cascade_child"]
    assert "fk_json -> parent ON DELETE CASCADE" in json_cascade.detail
    assert json_cascade.detail.endswith(": doc")
    [update] = bad_findings["update_cascade_child"]
    assert "fk_update -> parent ON UPDATE CASCADE" in update.detail
    [unique] = bad_findings["unique_prefixed"]
    assert "prefix 10 of varchar(100) name in a UNIQUE index" in unique.detail
    assert unique.numbers == {"prefix": 10, "column_chars": 100, "column_bytes": 300}
    [engine] = bad_findings["myisam_t"]
    assert engine.detail == "engine MyISAM, target innodb"


def test_clean_tables_have_no_findings(mysql_server: MysqlServer,
                                       schemas: tuple[str, str]) -> None:
    with mysql_server.connect() as conn:
        assert analyze(conn, [schemas[1]], target_engine="InnoDB") == []


def test_default_target_flags_every_table_not_on_ndbcluster(
    mysql_server: MysqlServer, schemas: tuple[str, str]
) -> None:
    with mysql_server.connect() as conn:
        findings = analyze(conn, [schemas[1]])
    assert {(f.table, f.kind) for f in findings} == {
        (t, Kind.ENGINE) for t in ("project", "almost_full", "member", "note", "key_at_limit",
                                "many_keys", "bits", "no_key_full", "project_alias")
    }
    assert findings[0].detail == "engine InnoDB, target ndbcluster"


def test_unknown_schema_is_an_error(mysql_server: MysqlServer,
                                    schemas: tuple[str, str]) -> None:
    with mysql_server.connect() as conn, pytest.raises(SchemaNotFoundError, match="no_such"):
        analyze(conn, [schemas[1], "no_such_schema"], target_engine="innodb")


@pytest.mark.parametrize(
    ("column_type", "data_type", "chars", "octets", "expected"),
    [
        ("varchar(255)", "varchar", 255, 1020, 1022),  # utf8mb4: 2 length bytes
        ("varchar(85)", "varchar", 85, 255, 256),  # utf8mb3 at 255 octets: 1 length byte
        ("char(10)", "char", 10, 30, 30),
        ("longtext", "longtext", 4294967295, 4294967295, 272),
        ("json", "json", None, None, 4016),
        ("bigint", "bigint", None, None, 8),
        ("datetime(6)", "datetime", None, None, 8),
        ("enum('a','b')", "enum", 1, 3, 1),
    ],
)
def test_column_row_bytes(column_type: str, data_type: str, chars: int | None,
                          octets: int | None, expected: int) -> None:
    fsp = 6 if column_type == "datetime(6)" else None
    col = Column("c", data_type, column_type, chars, octets, None, None, fsp, None)
    assert column_row_bytes(col) == expected


def test_decimal_bytes() -> None:
    assert decimal_bytes(18, 9) == 8  # 9 + 9 digits: 4 + 4 (MySQL manual's example)
    assert decimal_bytes(10, 2) == 5  # 8 integer digits: 4, 2 fraction digits: 1


# --- the command line ----------------------------------------------------------------------


def run_cli(server: MysqlServer, *args: str, password: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NDB_FIT_PASSWORD"}
    if password is not None:
        env["NDB_FIT_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "ndb_fit", "--host", server.host, "--port", str(server.port),
         "--user", server.user, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def test_cli_reports_findings_and_exits_1(mysql_server: MysqlServer,
                                          schemas: tuple[str, str]) -> None:
    done = run_cli(mysql_server, "--schema", schemas[0], "--engine", "innodb",
                   password=mysql_server.password)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["TABLE", "KIND", "DETAIL"]
    assert any(f"{schemas[0]}.wide_row" in line and "row_size" in line
               and "32772 bytes > 30000" in line for line in lines)
    assert "finding(s) in 15 table(s) for engine innodb" in done.stdout


def test_cli_json_with_password_file(mysql_server: MysqlServer, schemas: tuple[str, str],
                                     tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(mysql_server.password + "\n")
    done = run_cli(mysql_server, "--schema", schemas[0], "--schema", schemas[1],
                   "--password-file", str(secret), "--json")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    # --json prints each kind as its plain value.
    engine_tables = {f["table"] for f in findings if f["kind"] == "engine"}
    assert {"project", "wide_row", "myisam_t"} <= engine_tables
    wide = next(f for f in findings if f["kind"] == "row_size" and f["table"] == "wide_row")
    assert wide["numbers"]["row_bytes"] == 32772
    assert set(findings[0]) == {"schema", "table", "kind", "detail", "numbers"}


def test_cli_clean_schema_exits_0(mysql_server: MysqlServer,
                                  schemas: tuple[str, str]) -> None:
    done = run_cli(mysql_server, "--schema", schemas[1], "--engine", "innodb",
                   password=mysql_server.password)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"every table of {schemas[1]} fits innodb" in done.stdout


def test_cli_errors_exit_2(mysql_server: MysqlServer, schemas: tuple[str, str]) -> None:
    missing = run_cli(mysql_server, "--schema", "no_such_schema",
                      password=mysql_server.password)
    assert missing.returncode == 2
    assert "no_such_schema" in missing.stderr
    denied = run_cli(mysql_server, "--schema", schemas[1], password="wrong")
    assert denied.returncode == 2
    assert f"cannot connect to {mysql_server.host}:{mysql_server.port} as user 'root'" \
        in denied.stderr


def test_cli_help() -> None:
    done = subprocess.run([sys.executable, "-m", "ndb_fit", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    for text in ("--schema", "--engine", "--password-file", "NDB_FIT_PASSWORD", "--json",
                 "Exit status"):
        assert text in done.stdout


@pytest.mark.parametrize("right_password", [True, False])
def test_service_gate_gives_ndb_fit_the_password_on_stdin(
        mysql_server: MysqlServer, schemas: tuple[str, str], right_password: bool) -> None:
    """The rendered NDB gate of a service, run as the deployment runs it: the password on
    standard input only (no environment variable, no argument). With it, ndb_fit reaches the
    server and lists the InnoDB tables that are not on NDB; without it, the server refuses."""
    from components.render.kolla import render_ndb_gate_script
    from config.catalog import load_catalog

    script = render_ndb_gate_script(load_catalog().services["glance"], [schemas[0]])
    env = {k: v for k, v in os.environ.items() if k != "NDB_FIT_PASSWORD"}
    env |= {**script.environment, "MIGRATION_EXIT_CODE": "0", "MIGRATION_CONTAINER": "none",
            "NDB_FIT": f"{sys.executable} -m ndb_fit", "NDB_FIT_HOST": mysql_server.host,
            "NDB_FIT_PORT": str(mysql_server.port), "NDB_FIT_USER": mysql_server.user}
    password = mysql_server.password if right_password else "wrong-" + mysql_server.password
    done = subprocess.run(["bash", "-c", script.text], input=password, env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "the deployment stops before glance starts" in done.stdout
    assert password not in done.stdout + done.stderr
    if right_password:
        assert f"{schemas[0]}.wide_row" in done.stdout and "engine" in done.stdout
    else:
        assert "1045" in done.stderr or "Access denied" in done.stderr, done.stderr
