"""Every service's own migrations on a real NDB cluster started from the dev stack's files.

(b) From the config files and bootstrap script the program renders for the dev stack, with
    ndb_adapt on, each service reaches its own head revision, every table of its databases is
    ndbcluster, and ndb_fit finds nothing. Keystone then issues a token from its rendered
    api-container files, and the token's user is visible through both SQL nodes.
(a) Without it (engine substitution only), the services docs/ndb-compatibility.md lists as
    failing still fail, with the NDB error the doc names - so the doc stays true.

The dev stack's rendered config.ini sizes NDB's dictionary for all seven services
(config/ndb_sizing.yaml via config/sizing.py); with NDB's defaults nova's cell database alone
exhausts it (NDB 904, see the doc).

Needs the NDB test bed (``testbed/provision.sh``) and the service venvs
(``tests/openstack/provision_services.sh``); without them the tests skip, and under
``CI=true`` they fail. Run: ``python -m pytest -q tests/openstack/test_migrations.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

import pymysql
import pytest

from components.database import AdminEndpoint
from components.render.openstack import render_healthcheck
from ndb_fit import analyze
from testbed.cluster import TestCluster
from tests.openstack import documented
from tests.openstack.cluster import (
    OTHER_SQL_NODE,
    SQL_NODE,
    admin_endpoint,
    connect,
    dev_cluster,
    dev_settings,
    require_services,
)
from tests.openstack.heads import at_head, current_heads, expected_heads
from tests.openstack.migrations import (
    ADAPT_LINE,
    FAILED_RULE,
    drop,
    migrate,
    prepare,
    service_env,
)
from tests.openstack.rendered import RenderedServices, memcached, secrets_for
from tests.openstack.services import SERVICES, Target
from tools.measure.census import engines

# The services docs/ndb-compatibility.md's Summary says fail without the adaptation on the
# sized dev cluster ("(a) dictionary sized"), read from the doc: service -> the code that must
# be among the failure's codes, the NDB code the doc names (more specific than MySQL's
# 1215/1296 wrappers), else its MySQL error.
FAILS_WITHOUT_ADAPTATION: dict[str, int] = {
    name: mysql if ndb is None else ndb
    for name, (mysql, ndb) in documented.failures_without_adaptation().items()
}


# The rules each service's own migrations need on NDB: `engine` wherever they name InnoDB
# (all but placement's), which also shows the hook was loaded, and the rule for each finding
# docs/ndb-compatibility.md lists "as shipped" (nova's index_key_length is its prefix_index
# widened). A run may apply more (fk_around_ddl, ...), never rule=failed.
NEEDS_RULES: dict[str, set[str]] = {
    "keystone": {"engine", "cascade_blob_child"},
    "glance": {"engine"},
    "placement": set(),
    "nova": {"engine", "prefix_index"},
    "neutron": {"engine", "oversized_row"},
    "heat": {"engine", "cascade_blob_child", "prefix_index"},
    "cinder": {"engine"},
}
assert set(NEEDS_RULES) == set(SERVICES)

# Databases whose service's own first migration sets their default character set, whatever
# they were created with (`ALTER DATABASE <db> DEFAULT CHARACTER SET utf8`, utf8 = utf8mb3):
# keystone 30.0.0 27e647c0fad4_initial_version.py, nova 34.0.0 8f2f1571d55b_initial_version.py
# (the cell databases; nova_api's migrations do not), cinder 29.0.0 921e1a36b076_initial.py.
# The others keep openstack.databaseCharset (docs/ndb-compatibility.md, "Character sets").
DATABASE_CHARSET_SET_BY_MIGRATION = {"keystone": "utf8mb3", "nova_cell0": "utf8mb3",
                                     "nova": "utf8mb3", "cinder": "utf8mb3"}


# Module scope: the cluster is gone before other modules start theirs on the same addresses.
@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    require_services()
    with dev_cluster(tmp_path_factory.mktemp("ndb")) as started:
        yield started


def _target(cluster: TestCluster, name: str, prefix: str = "") -> Target:
    admin = admin_endpoint(cluster)
    return Target(admin.host, admin.port, f"{prefix}{name}", f"{name}-pw", prefix)


@pytest.fixture(scope="module")
def rendered(cluster: TestCluster, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[RenderedServices]:
    with memcached("127.0.0.1") as address:
        yield RenderedServices(dev_settings(), cluster, address,
                               tmp_path_factory.mktemp("rendered"))


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_reaches_head_on_ndb_from_its_rendered_config(
    cluster: TestCluster, rendered: RenderedServices, name: str
) -> None:
    """(b): the bootstrap the program renders for the dev stack - its config files and the
    catalog's lines, NDB adaptation on - through the test bed's SQL endpoint."""
    assert_reaches_head(cluster, rendered, name)


def assert_reaches_head(cluster: TestCluster, rendered: RenderedServices, name: str) -> None:
    """The service's rendered bootstrap through the SQL endpoint: no statement no rule could
    save, the rules its schema needs, its own heads, every table ndbcluster, no ndb_fit
    finding, and its databases in the stack's openstack.databaseCharset."""
    service = SERVICES[name]
    run = rendered.migrate(name, admin_endpoint(cluster))
    assert run.returncode == 0, f"{name}: bootstrap failed:\n{run.output[-4000:]}"
    logged = [(m.group("rule"), m.group(0)) for m in ADAPT_LINE.finditer(run.output)]
    failed = [line for rule, line in logged if rule == FAILED_RULE]
    assert not failed, f"{name}: statements no rule could save:\n" + "\n".join(failed)
    rules = {rule for rule, _ in logged}
    assert NEEDS_RULES[name] <= rules, f"{name}: rules applied {sorted(rules)}"
    print(f"\n[migrations] {name} ({rendered.settings.openstack.database_charset}): "
          f"{run.seconds:.0f} s, rules {sorted(rules)}")
    conn: Any = connect(cluster)
    try:
        for database in service.databases:
            current = current_heads(conn, database)
            expected = expected_heads(service, database)
            assert at_head(current, expected), f"{database}: {current} vs heads {expected}"
        dbs = list(service.databases)
        with conn.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM "
                        "information_schema.SCHEMATA WHERE SCHEMA_NAME IN %s", (dbs,))
            charsets = dict(cur.fetchall())
            cur.execute("SELECT c.CHARACTER_SET_NAME, COUNT(*) FROM information_schema.TABLES t "
                        "JOIN information_schema.COLLATIONS c ON c.COLLATION_NAME = "
                        "t.TABLE_COLLATION WHERE t.TABLE_SCHEMA IN %s GROUP BY 1", (dbs,))
            table_charsets = dict(cur.fetchall())
        charset = rendered.settings.openstack.database_charset
        print(f"[migrations] {name}: database charsets {charsets}, tables {table_charsets}")
        assert charsets == {db: DATABASE_CHARSET_SET_BY_MIGRATION.get(db, charset)
                            for db in dbs}, charsets
        tables = engines(conn, dbs)
        assert tables, f"{name}: no tables"
        not_ndb = {t: e for t, e in tables.items() if e.lower() != "ndbcluster"}
        assert not not_ndb, f"{name}: tables not on NDB: {not_ndb}"
        findings = analyze(conn, dbs)
        assert not findings, "\n".join(f"{f.schema}.{f.table} {f.kind}: {f.detail}"
                                       for f in findings)
    finally:
        conn.close()


def test_keystone_issues_a_token_from_its_rendered_config(
    cluster: TestCluster, rendered: RenderedServices
) -> None:
    """Keystone's api container files as rendered for the dev stack (keystone.conf and the
    uWSGI ini naming its WSGI module), served by real uWSGI after its rendered bootstrap
    (db_sync, then bootstrap of the admin): a token for the admin, whose user both SQL nodes
    see, and the service account logs in on both."""
    if not _has_admin(cluster):  # keystone's bootstrap ran in the test above, or runs now
        run = rendered.migrate("keystone", admin_endpoint(cluster))
        assert run.returncode == 0, run.output[-4000:]
    settings = rendered.settings
    with rendered.serve("keystone", "keystone-api-1") as base_url:
        seen = rendered.keystone_client("token", base_url)
    assert seen["token"] and seen["user_id"] and seen["project_id"]
    assert "identity" in seen["services"]  # the endpoints keystone-manage bootstrap made
    assert settings.openstack.admin_user in seen["users"]
    for node_id in (SQL_NODE, OTHER_SQL_NODE):  # every SQL node sees the same NDB rows
        host, port = cluster.sql_address(node_id)
        conn: Any = pymysql.connect(host=host, port=port, user="root", password="",
                                    autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT user_id FROM keystone.local_user WHERE name = %s",
                            (settings.openstack.admin_user,))
                assert cur.fetchall() == ((seen["user_id"],),), f"SQL node {node_id}"
        finally:
            conn.close()
        # The account ServiceDatabase made on one SQL node logs in on every one of them
        # (NDB_STORED_USER): HAProxy may send the service to any.
        pymysql.connect(host=host, port=port, user="keystone",
                        password=secrets_for("keystone").database_password,
                        database="keystone").close()


def test_placement_checks_tokens_with_keystone(
    cluster: TestCluster, rendered: RenderedServices
) -> None:
    """Placement's rendered api-container files under real uWSGI, in front of keystone (also
    rendered, also uWSGI): its [keystone_authtoken] - its own service user, memcached - turns
    away a request without a token and serves one with the admin's token, from NDB."""
    _migrated_behind_keystone(rendered, admin_endpoint(cluster), "placement")
    with (rendered.serve("keystone", "keystone-api-1") as keystone_url,
          rendered.serving_urls()):
        # The rendered files reach keystone through the API HAProxy, and keystone's catalog
        # (which keystonemiddleware follows to validate tokens) says so too: here keystone is
        # at keystone_url, so its bootstrap runs again with that address, like the others.
        layout = rendered.layout
        rendered.urls = {f"{layout.internal_url('keystone', 'public')}/v3": f"{keystone_url}/v3",
                         f"{layout.public_url('keystone', 'public')}/v3": f"{keystone_url}/v3"}
        again = rendered.bootstrap("keystone", rendered.render("keystone"))
        assert again.returncode == 0, again.output[-3000:]
        rendered.register("placement", keystone_url)
        with rendered.serve("placement", "placement-api-1") as placement_url:
            seen = rendered.keystone_client("token", keystone_url, placement_url)
    assert seen["service"] == {"without_token": 401, "with_token": 200,
                               "resource_providers": []}


def _migrated_behind_keystone(rendered: RenderedServices, admin: AdminEndpoint,
                              name: str) -> None:
    """keystone's and `name`'s migrations (idempotent: they may have run above already)."""
    for service in ("keystone", name):
        run = rendered.migrate(service, admin)
        assert run.returncode == 0, run.output[-4000:]


def test_glance_serves_and_stores_chunked_uploads_under_uwsgi(
    cluster: TestCluster, rendered: RenderedServices
) -> None:
    """Glance's rendered api-container files under real uWSGI (glance 33 has no standalone
    server any more), in front of keystone: the rendered health check's URL answers, the
    image API turns away a request without a token and lists images with the admin's, and
    an image uploaded with chunked transfer encoding in 2 MiB chunks (nova's snapshots
    upload so) is stored on NDB and in the file store and reads back whole. The same
    upload without the rendered chunked-input-limit fails: uWSGI's default refuses a
    chunk over 1 MiB."""
    admin = admin_endpoint(cluster)
    _migrated_behind_keystone(rendered, admin, "glance")
    layout = rendered.layout
    glance = layout.service("glance")
    api = next(c for c in glance.containers if c.role == "api")
    health_url = render_healthcheck(rendered.settings, layout, glance.spec, api)[-1]
    health_path = urlsplit(health_url).path
    assert health_path == "/healthcheck"  # Kolla's glance check, at the rendered address
    chunk, chunks = str(2 << 20), "3"
    with (rendered.serve("keystone", "keystone-api-1") as keystone_url,
          rendered.serving_urls()):
        rendered.urls = {f"{layout.internal_url('keystone', 'public')}/v3": f"{keystone_url}/v3",
                         f"{layout.public_url('keystone', 'public')}/v3": f"{keystone_url}/v3"}
        again = rendered.bootstrap("keystone", rendered.render("keystone"))
        assert again.returncode == 0, again.output[-3000:]
        rendered.register("glance", keystone_url)
        log = rendered.workdir / api.name / "etc/glance/uwsgi-api.log"
        with rendered.serve("glance", api.name) as glance_url:
            try:
                with urlopen(f"{glance_url}{health_path}", timeout=30) as answer:
                    assert answer.status == 200
            except OSError as error:
                raise AssertionError(f"{error}; uWSGI's log:\n{log.read_text()[-4000:]}"
                                     ) from error
            seen = rendered.keystone_client("image", keystone_url, glance_url, chunk, chunks)
        with rendered.serve("glance", api.name, without=("chunked-input-limit",)) as glance_url:
            control = rendered.keystone_client("image", keystone_url, glance_url, chunk, chunks)
    size = int(chunk) * int(chunks)
    assert {k: seen.get(k) for k in ("without_token", "with_token", "created", "upload",
                                     "status", "size", "same_bytes", "listed")} == {
        "without_token": 401, "with_token": 200, "created": 201, "upload": 204,
        "status": "active", "size": size, "same_bytes": True, "listed": True}, seen
    stored = rendered.workdir / api.name / "var/lib/glance/images"
    assert [p.stat().st_size for p in stored.iterdir()] == [size]
    assert control["created"] == 201 and control["upload"] != 204, control


def _has_admin(cluster: TestCluster) -> bool:
    conn: Any = connect(cluster)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                        "TABLE_SCHEMA = 'keystone' AND TABLE_NAME = 'local_user'")
            if cur.fetchone()[0] == 0:
                return False
            cur.execute("SELECT COUNT(*) FROM keystone.local_user")
            return bool(cur.fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("name", sorted(FAILS_WITHOUT_ADAPTATION))
def test_documented_failure_without_adaptation(
    cluster: TestCluster, name: str, tmp_path: Path
) -> None:
    service = SERVICES[name]
    target = _target(cluster, name, prefix="plain_")
    admin = admin_endpoint(cluster)
    prepare(admin, service, target)
    try:
        result = migrate(service, target, tmp_path, adapt=False)
    finally:
        drop(admin, service, target)
    assert result.failure is not None, f"{name} now migrates without ndb_adapt: update the doc"
    codes = {result.failure.error_code, *result.failure.ndb_codes}
    assert FAILS_WITHOUT_ADAPTATION[name] in codes, result.failure.summary()


def test_runtime_rules_on_ndb(cluster: TestCluster) -> None:
    """The rules a running service meets, in a service venv's own Python with the start-up
    hook: a dropped CASCADE is carried out by ndb_adapt inside the caller's transaction,
    SAVEPOINT/RELEASE are no-ops, ROLLBACK TO SAVEPOINT after a change undoes the whole
    transaction and raises 1178 (and a COMMIT before the rollback 1213), a duplicate primary
    key in a multi-row INSERT is oslo.db's DBDuplicateEntry, and every table is ndbcluster."""
    import json
    import subprocess

    from components.database import admin_connection, drop_databases

    admin = admin_endpoint(cluster)
    with admin_connection(admin) as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS adapt_probe")
    python = SERVICES["keystone"].venv() / "bin" / "python"
    probe = Path(__file__).with_name("adapt_probe.py")
    try:
        done = subprocess.run(
            [str(python), str(probe), admin.host, str(admin.port), "adapt_probe"],
            env=service_env(adapt=True), capture_output=True, text=True, timeout=300,
            check=False,
        )
    finally:
        drop_databases(admin, ["adapt_probe"])
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["children"] == [20]  # 10 and 11 went with parent 1
    assert seen["other"] == [7]  # the transaction's earlier insert survived
    assert seen["rollback_error"] == 1178
    assert seen["commit_error"] == 1213  # refused: the whole transaction was rolled back
    assert seen["after_rollback"] == [7]
    assert set(seen["engines"].values()) == {"ndbcluster"}
    assert "rule=cascade_emulated table=parent" in done.stderr
    # NDB's 1022 for a duplicate primary key in a multi-row INSERT reaches oslo.db as 1062
    assert seen["duplicate"] == "DBDuplicateEntry ['other.PRIMARY']"
    assert "rule=duplicate_key table=other" in done.stderr
