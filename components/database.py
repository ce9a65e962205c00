"""ServiceDatabase: one OpenStack service's databases, its user and its grants, on any
MySQL-protocol server, as a Pulumi dynamic provider over pymysql.

What it owns, per service: the databases named (created if missing, adopted if present), one
account ``'user'@'host pattern'`` with a password, and ``ALL`` on those databases only. What it
never does by default: drop data. ``delete`` drops the account and keeps the databases unless
``drop_databases_on_delete`` asks, because the data outlives any one deployment of the service.

Every statement is idempotent (``CREATE ... IF NOT EXISTS``, ``ALTER USER``, ``GRANT``), so a
run that dies half-way leaves nothing the next run cannot finish. The SQL lives in plain
functions (``create_or_adopt``, ``revoke_databases``, ``drop_user``, ``drop_databases``,
``read_state``) that the provider methods call and tests call directly.

Dynamic provider rules that shape this file (docs/design.md §5.1):
- The provider object is pickled with dill: it holds no connection or client; every method
  opens its own pymysql connection and closes it.
- Outputs are secret only when the same-named input was secret, so the resource also lists
  every output that carries a password in ``additional_secret_outputs`` (``SECRET_OUTPUTS``);
  no other output contains a password.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pymysql
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime.rpc import UNKNOWN

# Kolla-Ansible creates service databases with the server's default character set
# (roles/*/tasks/bootstrap.yml: `mysql_db` with no `encoding`), and its MariaDB config sets
# that default to utf8 = utf8mb3 (roles/mariadb/templates/galera.cnf.j2:
# `character-set-server = utf8`, `collation-server = utf8_general_ci`). The services' own
# migrations create their tables with `mysql_charset='utf8'` too. MySQL 8.0+ defaults to
# utf8mb4, so the database default is stated explicitly: utf8mb3 is what the schemas were
# written and sized for, and NDB's row (30,000 bytes) and key (3,072 bytes) limits count a
# VARCHAR at its charset's maximum bytes per character - 3 for utf8mb3, 4 for utf8mb4 - so
# utf8mb4 defaults would push more tables over them. MySQL 9.x warns that utf8mb3 is
# deprecated (1287) but serves it; both are inputs, for a deployment that wants utf8mb4.
DEFAULT_CHARSET = "utf8mb3"
DEFAULT_COLLATION = "utf8mb3_general_ci"
# The collation of each character set the settings offer (`openstack.databaseCharset`):
# utf8mb4_general_ci compares as utf8mb3_general_ci does (case-insensitive, trailing spaces
# ignored: PAD SPACE), so a unique key rejects the same duplicates in either; MySQL's default
# utf8mb4_0900_ai_ci is NO PAD ('a' and 'a ' differ) and would change that.
COLLATIONS = {"utf8mb3": DEFAULT_COLLATION, "utf8mb4": "utf8mb4_general_ci"}


def collation_for(charset: str) -> str:
    return COLLATIONS[charset]
DEFAULT_CONNECT_TIMEOUT_S = 15.0
MAX_CONNECT_ATTEMPTS = 5
# Outputs that carry a password: secret in state whatever the inputs were.
SECRET_OUTPUTS = ("admin_password", "user_password")
# Changing who the account is makes it another account: create the new one, drop the old.
REPLACE_KEYS = ("user_name", "user_host")
INPUT_KEYS = (
    "admin_host",
    "admin_port",
    "admin_user",
    "admin_password",
    "databases",
    "user_name",
    "user_host",
    "user_password",
    "charset",
    "collation",
    "drop_databases_on_delete",
    "connect_timeout_seconds",
)
# Wrong credentials are not retried: another attempt cannot fix them, and repeated failures
# count towards FAILED_LOGIN_ATTEMPTS locks and max_connect_errors host blocking.
_AUTH_ERRORS = frozenset({1044, 1045, 1698, 3118, 3955})

_DATABASE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_USER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_HOST_PATTERN = re.compile(r"^[A-Za-z0-9_.%:/-]{1,255}$")
_CHARSET_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


class DatabaseError(RuntimeError):
    """A connection or statement failed; the message names the server and the account."""


# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminEndpoint:
    """How the provider reaches the server: an account allowed to create users and grant."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_S

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port} as user '{self.user}'"


@dataclass(frozen=True)
class ServiceAccount:
    user: str
    host: str  # a MySQL host pattern: '%', '172.28.0.%', 'localhost'
    password: str = field(repr=False)

    @property
    def name(self) -> str:
        return f"'{self.user}'@'{self.host}'"


@dataclass(frozen=True)
class ServiceDatabaseSpec:
    """The provider's inputs, validated and normalised (Pulumi numbers arrive as floats)."""

    admin: AdminEndpoint
    account: ServiceAccount
    databases: tuple[str, ...]
    charset: str = DEFAULT_CHARSET
    collation: str = DEFAULT_COLLATION
    drop_databases_on_delete: bool = False

    def outputs(self) -> dict[str, Any]:
        return {
            "admin_host": self.admin.host,
            "admin_port": self.admin.port,
            "admin_user": self.admin.user,
            "admin_password": self.admin.password,
            "databases": list(self.databases),
            "user_name": self.account.user,
            "user_host": self.account.host,
            "user_password": self.account.password,
            "charset": self.charset,
            "collation": self.collation,
            "drop_databases_on_delete": self.drop_databases_on_delete,
            "connect_timeout_seconds": self.admin.connect_timeout_seconds,
            "account": self.account.name,
        }


def validation_problems(props: Mapping[str, Any]) -> dict[str, str]:
    """Input key -> what is wrong with it. Never echoes a password."""
    problems: dict[str, str] = {}
    for key in ("admin_host", "admin_user"):
        if not isinstance(props.get(key), str) or not props[key]:
            problems[key] = "must be a non-empty string"
    for key in ("admin_password", "user_password"):
        if not isinstance(props.get(key), str) or not props[key]:
            problems[key] = "must be a non-empty string (the value is not shown)"
    port = props.get("admin_port")
    if isinstance(port, bool) or not isinstance(port, int | float) or not 0 < port < 65536:
        problems["admin_port"] = f"must be a TCP port 1-65535, got {port!r}"
    databases = props.get("databases")
    if not isinstance(databases, list | tuple) or not databases:
        problems["databases"] = "must be a non-empty list of database names"
    else:
        bad = [d for d in databases if not isinstance(d, str) or not _DATABASE_NAME.match(d)]
        if bad:
            problems["databases"] = f"names must match {_DATABASE_NAME.pattern}: {bad!r}"
    checks = (
        ("user_name", _USER_NAME, True),
        ("user_host", _HOST_PATTERN, True),
        ("charset", _CHARSET_NAME, False),
        ("collation", _CHARSET_NAME, False),
    )
    for key, pattern, required in checks:
        value = props.get(key)
        if value is None and not required:
            continue
        if not isinstance(value, str) or not pattern.match(value):
            problems[key] = f"must match {pattern.pattern}, got {value!r}"
    return problems | _option_problems(props)


def _option_problems(props: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    timeout = props.get("connect_timeout_seconds")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300
    ):
        problems["connect_timeout_seconds"] = f"must be a number in (0, 300], got {timeout!r}"
    flag = props.get("drop_databases_on_delete")
    if flag is not None and not isinstance(flag, bool):
        problems["drop_databases_on_delete"] = f"must be true or false, got {flag!r}"
    return problems


def parse_spec(props: Mapping[str, Any]) -> ServiceDatabaseSpec:
    problems = validation_problems(props)
    if problems:
        raise ValueError(
            "invalid ServiceDatabase inputs: "
            + "; ".join(f"{key} {why}" for key, why in sorted(problems.items()))
        )
    timeout = props.get("connect_timeout_seconds")
    return ServiceDatabaseSpec(
        admin=AdminEndpoint(
            host=props["admin_host"],
            port=int(props["admin_port"]),
            user=props["admin_user"],
            password=props["admin_password"],
            connect_timeout_seconds=float(
                DEFAULT_CONNECT_TIMEOUT_S if timeout is None else timeout
            ),
        ),
        account=ServiceAccount(props["user_name"], props["user_host"], props["user_password"]),
        databases=tuple(dict.fromkeys(props["databases"])),  # de-duplicated, order kept
        charset=props.get("charset") or DEFAULT_CHARSET,
        collation=props.get("collation") or DEFAULT_COLLATION,
        drop_databases_on_delete=bool(props.get("drop_databases_on_delete", False)),
    )


# --- SQL ---------------------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """Backtick-quote a database name, after the same validation the inputs get."""
    if not _DATABASE_NAME.match(name):
        raise ValueError(f"refusing identifier {name!r}: must match {_DATABASE_NAME.pattern}")
    return f"`{name}`"


def _check_charset(charset: str, collation: str) -> None:
    """Character set names cannot be statement parameters: validate before interpolating."""
    for value in (charset, collation):
        if not _CHARSET_NAME.match(value):
            raise ValueError(f"refusing character set or collation {value!r}")


@contextmanager
def admin_connection(admin: AdminEndpoint) -> Iterator[Any]:
    """An autocommit connection as the admin, with a bounded retry; always closed.

    Refused or timed-out connections are retried with backoff (the server may still be
    starting) until ``connect_timeout_seconds`` have passed or ``MAX_CONNECT_ATTEMPTS`` were
    made; rejected credentials fail at once. The error names host:port and user only.
    """
    start = time.monotonic()
    deadline = start + admin.connect_timeout_seconds
    delay = 0.25
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        try:
            conn = pymysql.connect(
                host=admin.host,
                port=admin.port,
                user=admin.user,
                password=admin.password,
                autocommit=True,
                charset="utf8mb4",
                connect_timeout=max(0.2, min(remaining, 5.0)),
                read_timeout=60,
                write_timeout=60,
            )
            break
        except pymysql.err.MySQLError as err:
            code = err.args[0] if err.args and isinstance(err.args[0], int) else None
            elapsed = time.monotonic() - start
            if code in _AUTH_ERRORS:
                raise DatabaseError(
                    f"MySQL at {admin.where} rejected the credentials ({_describe(err)}); "
                    "check the admin user and password"
                ) from None
            remaining = deadline - time.monotonic()
            if attempt >= MAX_CONNECT_ATTEMPTS or remaining <= 0:
                raise DatabaseError(
                    f"cannot connect to MySQL at {admin.where}: {_describe(err)} "
                    f"({attempt} attempts in {elapsed:.1f}s)"
                ) from None
            time.sleep(min(delay, remaining))
            delay *= 2
    try:
        yield conn
    finally:
        conn.close()


def _describe(err: BaseException) -> str:
    if isinstance(err, pymysql.err.MySQLError) and len(err.args) >= 2:
        return f"error {err.args[0]}: {err.args[1]}"
    return str(err)


def _run(cur: Any, admin: AdminEndpoint, sql: str, args: Sequence[Any] = ()) -> None:
    """Execute one statement; an error names the server and the statement template (never
    the interpolated text, which may hold a password)."""
    try:
        cur.execute(sql, tuple(args) or None)
    except pymysql.err.MySQLError as err:
        raise DatabaseError(f"MySQL at {admin.where}: {sql!r} failed: {_describe(err)}") from None


def _grant_pattern(cur: Any, database: str) -> str:
    """The database as GRANT ... ON <db>.* must name it.

    At database level `_` and `%` are wildcards unless ``partial_revokes`` is on, so
    `nova_api` unescaped would also grant `novaXapi`; escaped they match only themselves.
    """
    cur.execute("SELECT @@GLOBAL.partial_revokes")
    row = cur.fetchone()
    if row and int(row[0]):
        return quote_identifier(database)
    return "`" + database.replace("_", "\\_") + "`"


def _account_exists(cur: Any, account: ServiceAccount) -> bool:
    cur.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s",
                (account.user, account.host))
    return cur.fetchone() is not None


def _ndb_cluster(cur: Any) -> bool:
    """Is this an SQL node of an NDB cluster (the ndbcluster engine enabled)?"""
    cur.execute("SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE = 'ndbcluster'")
    row = cur.fetchone()
    return bool(row) and str(row[0]).upper() in ("YES", "DEFAULT")


def _existing_databases(cur: Any, databases: Sequence[str]) -> set[str]:
    if not databases:
        return set()
    marks = ", ".join(["%s"] * len(databases))
    cur.execute(
        f"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({marks})",
        tuple(databases),
    )
    return {str(row[0]) for row in cur.fetchall()}


@dataclass(frozen=True)
class Applied:
    """What create_or_adopt found: created or already there (adopted)."""

    created_databases: tuple[str, ...]
    adopted_databases: tuple[str, ...]
    user_created: bool

    @property
    def adopted(self) -> list[str]:
        out = [f"database {d}" for d in self.adopted_databases]
        return out if self.user_created else [*out, "user"]


def create_or_adopt(
    admin: AdminEndpoint,
    account: ServiceAccount,
    databases: Sequence[str],
    charset: str = DEFAULT_CHARSET,
    collation: str = DEFAULT_COLLATION,
) -> Applied:
    """Make the databases, the account and its grants exist as declared.

    Present objects are adopted: a database keeps its data and its character set; an
    account gets the declared password (ALTER USER), so the service can log in with it.
    Every step can be re-run, so an interrupted run is finished by the next one.
    """
    for name in databases:
        quote_identifier(name)
    _check_charset(charset, collation)
    with admin_connection(admin) as conn, conn.cursor() as cur:
        present = _existing_databases(cur, databases)
        for name in databases:
            # charset and collation are validated names; identifiers cannot be parameters.
            _run(cur, admin, f"CREATE DATABASE IF NOT EXISTS {quote_identifier(name)} "
                             f"CHARACTER SET {charset} COLLATE {collation}")
        existed = _account_exists(cur, account)
        _run(cur, admin, "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s",
             (account.user, account.host, account.password))
        if existed:
            _alter_password(cur, admin, account)
        for name in databases:
            _run(cur, admin, f"GRANT ALL PRIVILEGES ON {_grant_pattern(cur, name)}.* TO %s@%s",
                 (account.user, account.host))
        if _ndb_cluster(cur):
            # Accounts are local to the SQL node that ran CREATE USER unless they hold
            # NDB_STORED_USER: then NDB keeps the account and its grants and every SQL node
            # applies them (MySQL manual, "Distributed Privileges Using Shared Grant Tables",
            # ndb_sql_metadata). Without it a client that HAProxy sends to another SQL node
            # gets 1045 - measured on the test bed. Granted last, so the distributed snapshot
            # carries the password and the grants above; re-granting is harmless.
            _run(cur, admin, "GRANT NDB_STORED_USER ON *.* TO %s@%s",
                 (account.user, account.host))
    return Applied(
        created_databases=tuple(d for d in databases if d not in present),
        adopted_databases=tuple(d for d in databases if d in present),
        user_created=not existed,
    )


def _alter_password(cur: Any, admin: AdminEndpoint, account: ServiceAccount) -> None:
    _run(cur, admin, "ALTER USER %s@%s IDENTIFIED BY %s",
         (account.user, account.host, account.password))


def alter_charset(
    admin: AdminEndpoint, databases: Sequence[str], charset: str, collation: str
) -> None:
    """New default for tables created later; existing tables keep theirs."""
    _check_charset(charset, collation)
    with admin_connection(admin) as conn, conn.cursor() as cur:
        for name in _existing_databases(cur, databases):
            _run(cur, admin, f"ALTER DATABASE {quote_identifier(name)} "
                             f"CHARACTER SET {charset} COLLATE {collation}")


def revoke_databases(admin: AdminEndpoint, account: ServiceAccount,
                     databases: Sequence[str]) -> None:
    """Take the account's grants on databases it no longer owns; their data stays."""
    with admin_connection(admin) as conn, conn.cursor() as cur:
        if not _account_exists(cur, account):
            return
        for name in databases:
            # IF EXISTS ... IGNORE UNKNOWN USER: revoking what was never granted is a no-op.
            _run(cur, admin,
                 f"REVOKE IF EXISTS ALL PRIVILEGES ON {_grant_pattern(cur, name)}.* "
                 "FROM %s@%s IGNORE UNKNOWN USER", (account.user, account.host))


def drop_user(admin: AdminEndpoint, user: str, host: str) -> None:
    with admin_connection(admin) as conn, conn.cursor() as cur:
        _run(cur, admin, "DROP USER IF EXISTS %s@%s", (user, host))


def drop_databases(admin: AdminEndpoint, databases: Sequence[str]) -> list[str]:
    """Drop the databases that no account holds privileges on any more; return the dropped.

    A database another account still has grants on is kept: that is the replacement of this
    resource (a changed user name or host creates the new account before the old resource
    is deleted) or another service sharing it - dropping it would take their data.
    """
    dropped: list[str] = []
    with admin_connection(admin) as conn, conn.cursor() as cur:
        for name in databases:
            if _grantees(cur, name):
                continue
            _run(cur, admin, f"DROP DATABASE IF EXISTS {quote_identifier(name)}")
            dropped.append(name)
    return dropped


def _grantees(cur: Any, database: str) -> set[str]:
    escaped = database.replace("_", "\\_")
    cur.execute(
        "SELECT DISTINCT GRANTEE FROM information_schema.SCHEMA_PRIVILEGES "
        "WHERE TABLE_SCHEMA IN (%s, %s)",
        (database, escaped),
    )
    return {str(row[0]) for row in cur.fetchall()}


@dataclass(frozen=True)
class DatabaseState:
    """What the server has for one service, as read by read_state."""

    databases: dict[str, str]  # present database -> its default character set
    user_exists: bool
    grants: dict[str, frozenset[str]]  # database -> privileges the account holds on it


def read_state(admin: AdminEndpoint, user: str, host: str,
               databases: Sequence[str]) -> DatabaseState:
    with admin_connection(admin) as conn, conn.cursor() as cur:
        present: dict[str, str] = {}
        if databases:
            marks = ", ".join(["%s"] * len(databases))
            cur.execute(
                "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA"
                f" WHERE SCHEMA_NAME IN ({marks})",
                tuple(databases),
            )
            present = {str(r[0]): str(r[1]) for r in cur.fetchall()}
        cur.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (user, host))
        exists = cur.fetchone() is not None
        cur.execute(
            "SELECT TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES "
            "WHERE GRANTEE = %s",
            (f"'{user}'@'{host}'",),
        )
        grants: dict[str, set[str]] = {}
        for schema, privilege in cur.fetchall():
            name = str(schema).replace("\\_", "_").replace("\\%", "%")
            grants.setdefault(name, set()).add(str(privilege))
    return DatabaseState(present, exists, {k: frozenset(v) for k, v in grants.items()})


# --- provider ----------------------------------------------------------------------------


def _is_unknown(value: Any) -> bool:
    """A value the engine does not know yet (during a preview, e.g. a password from a
    RandomPassword made in the same run): check and diff receive it as rpc.UNKNOWN."""
    if isinstance(value, list | tuple):
        return any(_is_unknown(v) for v in value)
    return isinstance(value, str) and value == UNKNOWN


def _normalised(key: str, value: Any) -> Any:
    """One input as compared by diff: same meaning, same value."""
    defaults: dict[str, Any] = {
        "charset": DEFAULT_CHARSET,
        "collation": DEFAULT_COLLATION,
        "drop_databases_on_delete": False,
        "connect_timeout_seconds": DEFAULT_CONNECT_TIMEOUT_S,
    }
    if value is None:
        value = defaults.get(key)
    if key == "databases" and isinstance(value, list | tuple):
        return sorted(set(value))
    if key == "admin_port" and isinstance(value, int | float):
        return int(value)
    if key == "connect_timeout_seconds" and isinstance(value, int | float):
        return float(value)
    return value


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Input keys whose value differs or is not known yet; the database list compares as
    a set, a port as an integer, and a missing optional input as its default."""
    changed = []
    for key in INPUT_KEYS:
        new = news.get(key)
        if _is_unknown(new) or _normalised(key, olds.get(key)) != _normalised(key, new):
            changed.append(key)
    return changed


class ServiceDatabaseProvider(ResourceProvider):
    """Stateless: every method reads its inputs and opens its own connection."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        # Values not known yet are checked again when they are (create/update parse them).
        failures = [
            CheckFailure(k, why) for k, why in validation_problems(news).items()
            if not _is_unknown(news.get(k))
        ]
        if failures:
            return CheckResult(news, failures)
        # Defaults written into the inputs, so state records what was applied.
        filled = dict(news)
        filled.setdefault("charset", DEFAULT_CHARSET)
        filled.setdefault("collation", DEFAULT_COLLATION)
        filled.setdefault("drop_databases_on_delete", False)
        filled.setdefault("connect_timeout_seconds", DEFAULT_CONNECT_TIMEOUT_S)
        return CheckResult(filled, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = parse_spec(props)
        applied = create_or_adopt(spec.admin, spec.account, spec.databases,
                                  spec.charset, spec.collation)
        outs = spec.outputs() | {"adopted": applied.adopted}
        return CreateResult(id_=f"{spec.account.user}@{spec.account.host}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news)
        return DiffResult(
            changes=bool(changed),
            replaces=[k for k in changed if k in REPLACE_KEYS],
            stables=[k for k in REPLACE_KEYS if k not in changed],
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old, new = parse_spec(olds), parse_spec(news)
        # Ensure everything as declared: new databases, the password (ALTER USER), grants.
        create_or_adopt(new.admin, new.account, new.databases, new.charset, new.collation)
        removed = [d for d in old.databases if d not in new.databases]
        if removed:
            revoke_databases(new.admin, new.account, removed)
        if (old.charset, old.collation) != (new.charset, new.collation):
            alter_charset(new.admin, new.databases, new.charset, new.collation)
        return UpdateResult(outs=new.outputs() | {"adopted": list(olds.get("adopted") or [])})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        spec = parse_spec(props)
        drop_user(spec.admin, spec.account.user, spec.account.host)
        if spec.drop_databases_on_delete:
            drop_databases(spec.admin, spec.databases)


# --- resource ----------------------------------------------------------------------------


@dataclass
class ServiceDatabaseArgs:
    admin_host: pulumi.Input[str]
    admin_port: pulumi.Input[int]
    admin_user: pulumi.Input[str]
    admin_password: pulumi.Input[str]
    databases: pulumi.Input[Sequence[str]]
    user_name: pulumi.Input[str]
    user_password: pulumi.Input[str]  # e.g. pulumi_random.RandomPassword(...).result
    user_host: pulumi.Input[str] = "%"
    charset: str = DEFAULT_CHARSET
    collation: str = DEFAULT_COLLATION
    drop_databases_on_delete: bool = False
    connect_timeout_seconds: float = DEFAULT_CONNECT_TIMEOUT_S


def resource_options(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """The caller's options plus the outputs that must be secret in state."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
    )


class ServiceDatabase(Resource):
    """Databases, account and grants of one service. Outputs: ``databases``, ``user_name``,
    ``user_host``, ``account`` (`'user'@'host'`), and the secret ``user_password``."""

    databases: pulumi.Output[list[str]]
    user_name: pulumi.Output[str]
    user_host: pulumi.Output[str]
    user_password: pulumi.Output[str]
    account: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceDatabaseArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "admin_host": args.admin_host,
            "admin_port": args.admin_port,
            "admin_user": args.admin_user,
            # Secret inputs too, not only outputs: previews and diffs never show them.
            "admin_password": pulumi.Output.secret(args.admin_password),
            "databases": args.databases,
            "user_name": args.user_name,
            "user_host": args.user_host,
            "user_password": pulumi.Output.secret(args.user_password),
            "charset": args.charset,
            "collation": args.collation,
            "drop_databases_on_delete": args.drop_databases_on_delete,
            "connect_timeout_seconds": args.connect_timeout_seconds,
            "account": None,
            "adopted": None,
        }
        super().__init__(ServiceDatabaseProvider(), name, props, resource_options(opts))
