"""ServiceDatabase against a real Oracle MySQL 9.7 server.

No Pulumi engine runs here: the tests call the provider's check/create/diff/update/delete
directly (their results are plain objects) and the SQL functions they are built on, then look
at the server as root and as the service account.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import dill  # type: ignore[import-untyped]  # no stubs; pyproject is not ours to extend
import pymysql
import pytest

from components.database import (
    DEFAULT_CHARSET,
    SECRET_OUTPUTS,
    DatabaseError,
    ServiceDatabaseProvider,
    drop_user,
    parse_spec,
    quote_identifier,
    read_state,
    resource_options,
)
from tests.ports import free_port
from tests.real.mysql_server import MysqlServer

REPO = Path(__file__).resolve().parents[2]

ALL_DB_PRIVILEGES = {
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
    "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "CREATE VIEW", "SHOW VIEW",
    "CREATE ROUTINE", "ALTER ROUTINE", "EVENT", "TRIGGER",
}


def inputs(server: MysqlServer, **over: Any) -> dict[str, Any]:
    """Inputs for a fresh service: names unique per test, since all tests share a server."""
    tag = uuid.uuid4().hex[:8]
    props: dict[str, Any] = server.admin_inputs() | {
        "databases": [f"svc_{tag}", f"svc_{tag}_api"],
        "user_name": f"svc_{tag}",
        "user_host": "%",
        "user_password": f"pw-{uuid.uuid4().hex}",
        "connect_timeout_seconds": 5,
    }
    return props | over


def create(props: dict[str, Any]) -> dict[str, Any]:
    result = ServiceDatabaseProvider().create(props)
    assert result.outs is not None
    return result.outs


def login(server: MysqlServer, user: str, password: str, database: str | None = None) -> Any:
    return server.connect(user=user, password=password, database=database)


def can_login(server: MysqlServer, user: str, password: str) -> bool:
    try:
        login(server, user, password).close()
    except pymysql.err.OperationalError as err:
        assert err.args[0] == 1045, err
        return False
    return True


def root_sql(server: MysqlServer, *statements: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    with server.connect() as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
            rows = list(cur.fetchall())
    return rows


def state(server: MysqlServer, props: dict[str, Any]) -> Any:
    spec = parse_spec(props)
    return read_state(spec.admin, spec.account.user, spec.account.host, spec.databases)


def test_create_makes_databases_account_and_grants(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server)
    outs = create(props)

    found = state(mysql_server, props)
    assert found.databases == {name: DEFAULT_CHARSET for name in props["databases"]}
    assert found.user_exists
    assert set(found.grants) == set(props["databases"])
    for privileges in found.grants.values():
        assert privileges >= ALL_DB_PRIVILEGES
    assert outs["account"] == f"'{props['user_name']}'@'%'"
    assert outs["adopted"] == []
    with login(mysql_server, props["user_name"], props["user_password"],
               props["databases"][1]) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO t VALUES (1)")


def test_create_again_adopts_and_changes_nothing(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server)
    create(props)
    db = props["databases"][0]
    with login(mysql_server, props["user_name"], props["user_password"], db) as conn, \
            conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
        cur.execute("INSERT INTO t VALUES (1, 'kept')")
    before = state(mysql_server, props)

    outs = create(props)  # the same create on existing objects, as after a lost state file

    assert sorted(outs["adopted"]) == sorted([*(f"database {d}" for d in props["databases"]),
                                              "user"])
    assert state(mysql_server, props) == before
    assert root_sql(mysql_server, f"SELECT v FROM {db}.t") == [("kept",)]
    assert can_login(mysql_server, props["user_name"], props["user_password"])


def test_diff_reports_only_real_changes(mysql_server: MysqlServer) -> None:
    provider = ServiceDatabaseProvider()
    props = inputs(mysql_server)
    outs = create(props)

    def diff(**over: Any) -> tuple[bool | None, list[str] | None]:
        result = provider.diff("id", outs, props | over)
        return result.changes, result.replaces

    assert diff() == (False, [])
    # Same values in other shapes: list order, a port that arrives as a float.
    assert diff(databases=list(reversed(props["databases"]))) == (False, [])
    assert diff(admin_port=float(mysql_server.port)) == (False, [])
    assert diff(databases=[*props["databases"], props["databases"][0]]) == (False, [])
    # Updates in place.
    assert diff(user_password="another-password") == (True, [])
    assert diff(databases=[*props["databases"], "extra_db"]) == (True, [])
    assert diff(drop_databases_on_delete=True) == (True, [])
    assert diff(charset="utf8mb4", collation="utf8mb4_0900_ai_ci") == (True, [])
    # Another account: replaced.
    assert diff(user_host="127.0.0.1") == (True, ["user_host"])
    assert diff(user_name="other") == (True, ["user_name"])
    assert provider.diff("id", outs, props | {"user_name": "x"}).delete_before_replace is False


def test_update_rotates_password(mysql_server: MysqlServer) -> None:
    provider = ServiceDatabaseProvider()
    props = inputs(mysql_server)
    outs = create(props)
    old_password = props["user_password"]
    news = props | {"user_password": f"new-{uuid.uuid4().hex}"}

    updated = provider.update("id", outs, news)

    assert updated.outs is not None
    assert updated.outs["user_password"] == news["user_password"]
    assert can_login(mysql_server, props["user_name"], news["user_password"])
    assert not can_login(mysql_server, props["user_name"], old_password)


def test_update_adds_databases_and_revokes_removed_ones_keeping_data(
    mysql_server: MysqlServer,
) -> None:
    provider = ServiceDatabaseProvider()
    props = inputs(mysql_server)
    outs = create(props)
    kept, removed = props["databases"]
    root_sql(mysql_server, f"CREATE TABLE {removed}.t (id INT PRIMARY KEY)",
             f"INSERT INTO {removed}.t VALUES (7)")
    added = f"{kept}_extra"

    provider.update("id", outs, props | {"databases": [kept, added]})

    found = state(mysql_server, props | {"databases": [kept, removed, added]})
    assert set(found.databases) == {kept, removed, added}
    assert set(found.grants) == {kept, added}
    assert root_sql(mysql_server, f"SELECT id FROM {removed}.t") == [(7,)]


def test_adopts_preexisting_database_and_account(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server)
    first, second = props["databases"]
    user = props["user_name"]
    # As a half-done earlier run (or a hand-made setup) left it: one database with data, the
    # account with another password and no grants, the second database missing.
    root_sql(
        mysql_server,
        f"CREATE DATABASE {first} CHARACTER SET utf8mb4",
        f"CREATE TABLE {first}.t (id INT PRIMARY KEY)",
        f"INSERT INTO {first}.t VALUES (42)",
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'old-password'",
    )

    outs = create(props)

    assert sorted(outs["adopted"]) == sorted([f"database {first}", "user"])
    found = state(mysql_server, props)
    assert found.databases == {first: "utf8mb4", second: DEFAULT_CHARSET}  # adopted as it is
    assert set(found.grants) == {first, second}
    assert not can_login(mysql_server, user, "old-password")
    with login(mysql_server, user, props["user_password"], first) as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT id FROM t")
        assert cur.fetchall() == ((42,),)


def test_delete_drops_account_and_keeps_data(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server)
    outs = create(props)
    db = props["databases"][0]
    root_sql(mysql_server, f"CREATE TABLE {db}.t (id INT PRIMARY KEY)",
             f"INSERT INTO {db}.t VALUES (1)")

    ServiceDatabaseProvider().delete("id", outs)

    found = state(mysql_server, props)
    assert not found.user_exists
    assert set(found.databases) == set(props["databases"])
    assert root_sql(mysql_server, f"SELECT id FROM {db}.t") == [(1,)]
    assert not can_login(mysql_server, props["user_name"], props["user_password"])
    ServiceDatabaseProvider().delete("id", outs)  # deleting again is not an error


def test_delete_with_drop_flag_drops_databases(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server, drop_databases_on_delete=True)
    outs = create(props)
    root_sql(mysql_server, f"CREATE TABLE {props['databases'][0]}.t (id INT PRIMARY KEY)")

    ServiceDatabaseProvider().delete("id", outs)

    found = state(mysql_server, props)
    assert not found.user_exists
    assert found.databases == {}


def test_replacement_delete_keeps_databases_the_new_account_uses(
    mysql_server: MysqlServer,
) -> None:
    """A changed host pattern replaces: Pulumi creates the new account, then deletes the old
    resource. Even with the drop flag, that delete must not take the new account's data."""
    old = inputs(mysql_server, drop_databases_on_delete=True)
    old_outs = create(old)
    new = old | {"user_host": "127.0.0.1"}
    create(new)

    ServiceDatabaseProvider().delete("id", old_outs)

    found = state(mysql_server, new)
    assert set(found.databases) == set(new["databases"])
    assert found.user_exists
    assert not state(mysql_server, old).user_exists


def test_grants_cover_only_the_service_databases(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server)
    own = props["databases"][1]  # svc_<tag>_api: `_` would be a wildcard if not escaped
    lookalike = own.replace("_api", "Xapi")
    other = f"other_{uuid.uuid4().hex[:8]}"
    for name in (lookalike, other):
        root_sql(mysql_server, f"CREATE DATABASE {name}",
                 f"CREATE TABLE {name}.secret (id INT PRIMARY KEY)",
                 f"INSERT INTO {name}.secret VALUES (1)")
    create(props)

    with login(mysql_server, props["user_name"], props["user_password"]) as conn, \
            conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        visible = {row[0] for row in cur.fetchall()}
        assert set(props["databases"]) <= visible
        assert not {lookalike, other} & visible
        for name in (lookalike, other):
            with pytest.raises(pymysql.err.OperationalError) as info:
                cur.execute(f"SELECT id FROM {name}.secret")
            assert info.value.args[0] == 1142  # SELECT command denied
    grants = state(mysql_server, props | {"databases": [*props["databases"], lookalike]}).grants
    assert set(grants) == set(props["databases"])


def test_bad_credentials_fail_fast_naming_server_and_user(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server, admin_password="wrong-admin-password")
    start = time.monotonic()

    with pytest.raises(DatabaseError) as info:
        create(props)

    elapsed = time.monotonic() - start
    message = str(info.value)
    assert f"127.0.0.1:{mysql_server.port}" in message
    assert "user 'root'" in message
    assert "rejected the credentials" in message
    assert "wrong-admin-password" not in message
    assert props["user_password"] not in message
    assert elapsed < 5


def test_unreachable_server_fails_within_the_timeout(mysql_server: MysqlServer) -> None:
    port = free_port()  # nothing listens there
    props = inputs(mysql_server, admin_port=port, connect_timeout_seconds=2)
    start = time.monotonic()

    with pytest.raises(DatabaseError) as info:
        create(props)

    elapsed = time.monotonic() - start
    message = str(info.value)
    assert f"cannot connect to MySQL at 127.0.0.1:{port} as user 'root'" in message
    assert "attempts" in message
    assert elapsed < 2 + 1.0


def test_outputs_carrying_passwords_are_secret(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server)
    outs = create(props)
    passwords = {props["admin_password"], props["user_password"]}

    carrying = {key for key, value in outs.items()
                if any(p in str(value) for p in passwords)}

    assert carrying == {"admin_password", "user_password"}
    assert carrying <= set(SECRET_OUTPUTS)
    merged = resource_options(None)
    assert set(merged.additional_secret_outputs or []) == set(SECRET_OUTPUTS)
    import pulumi

    theirs = resource_options(pulumi.ResourceOptions(additional_secret_outputs=["databases"]))
    assert set(theirs.additional_secret_outputs or []) == {"databases", *SECRET_OUTPUTS}


def test_check_rejects_odd_names_without_echoing_passwords(mysql_server: MysqlServer) -> None:
    props = inputs(mysql_server, databases=["ok_db", "bad`; DROP DATABASE mysql; --"],
                   user_host="%'; --", user_password="")
    result = ServiceDatabaseProvider().check({}, props)

    reasons = {f.property: f.reason for f in result.failures}
    assert set(reasons) == {"databases", "user_host", "user_password"}
    assert mysql_server.password not in repr(reasons)
    with pytest.raises(ValueError, match="refusing identifier"):
        quote_identifier("a`b")
    filled = ServiceDatabaseProvider().check({}, inputs(mysql_server)).inputs
    assert filled["charset"] == DEFAULT_CHARSET
    assert filled["drop_databases_on_delete"] is False


def test_provider_pickles_without_connections(mysql_server: MysqlServer) -> None:
    """dill serialises the provider into state: it must hold nothing but code."""
    provider = ServiceDatabaseProvider()
    create(inputs(mysql_server))  # a used provider is as picklable as a new one
    clone = dill.loads(dill.dumps(provider))
    assert vars(clone) == {}
    props = inputs(mysql_server)
    clone.create(props)
    drop_user(parse_spec(props).admin, props["user_name"], "%")


_REGISTER_UNDER_MOCKS = """
import pulumi
from pulumi.runtime import mocks

requests = []

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return [args.name + "-id", dict(args.inputs)]

    def call(self, args):
        return {}

class Monitor(mocks.MockMonitor):
    def RegisterResource(self, request):
        requests.append(request)
        return super().RegisterResource(request)

pulumi.runtime.set_mocks(Mocks(), preview=False, monitor=Monitor(Mocks()))
from components.database import ServiceDatabase, ServiceDatabaseArgs

db = ServiceDatabase("keystone-db", ServiceDatabaseArgs(
    admin_host="10.0.0.1", admin_port=3306, admin_user="root", admin_password="adm",
    databases=["keystone"], user_name="keystone", user_password="pw"))

@pulumi.runtime.test
def registered():
    def show(_):
        [request] = [r for r in requests if r.name == "keystone-db"]
        print(request.type, sorted(request.additionalSecretOutputs))
    return db.urn.apply(show)

registered()
"""


def test_resource_registers_its_secret_outputs() -> None:
    """The resource as the engine sees it (mock monitor, in a subprocess so the global mocks
    stay out of this session): the provider serialises and the password outputs are listed."""
    done = subprocess.run([sys.executable, "-c", _REGISTER_UNDER_MOCKS], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == (
        "pulumi-python:dynamic:Resource ['admin_password', 'user_password']"
    )


def test_check_and_diff_accept_values_not_known_yet(mysql_server: MysqlServer) -> None:
    """During a preview a RandomPassword made in the same run is unknown: not a failure."""
    from pulumi.runtime.rpc import UNKNOWN

    provider = ServiceDatabaseProvider()
    props = inputs(mysql_server)
    assert provider.check({}, props | {"user_password": UNKNOWN}).failures == []
    outs = create(props)
    password = provider.diff("id", outs, props | {"user_password": UNKNOWN})
    assert (password.changes, password.replaces) == (True, [])
    name = provider.diff("id", outs, props | {"user_name": UNKNOWN})
    assert (name.changes, name.replaces) == (True, ["user_name"])
    # Optional inputs left out compare as their defaults.
    trimmed = {k: v for k, v in props.items() if k not in ("charset", "collation")}
    assert provider.diff("id", outs, trimmed).changes is False
