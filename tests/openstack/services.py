"""The OpenStack services whose own migrations run against the test-bed cluster, configured
by hand: for the runs without the adaptation (a), the shipped-schema and sizing measurements.
The runs with it (b) use the program's own rendered files instead (tests/openstack/rendered.py).

One entry per service: the PyPI release (one OpenStack release, 2026.2; kept equal to
``provision_services.sh``), its databases (Kolla-Ansible's names, domain notes section 2), the
config file its manage command reads, and the manage commands in the order a deployment runs
them. Nothing here talks to a server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.render.ndb import SERVICE_SQL_MODE


@dataclass(frozen=True)
class Target:
    """Where one service's databases live: a SQL node and the service's account."""

    host: str
    port: int
    user: str
    password: str
    prefix: str = ""  # prepended to every database name, e.g. for a second run side by side

    def db(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def url(self, name: str) -> str:
        return (
            f"mysql+pymysql://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{self.db(name)}?charset=utf8"
        )


def _database_section(group: str, url: str) -> str:
    # mysql_sql_mode: oslo.db's default (TRADITIONAL) includes NO_ENGINE_SUBSTITUTION, which
    # turns the server's InnoDB->NDBCLUSTER substitution into error 3161 (domain notes §3).
    return f"[{group}]\nconnection = {url}\nmysql_sql_mode = {SERVICE_SQL_MODE}\n"


def _keystone(t: Target) -> str:
    return _database_section("database", t.url("keystone"))


def _glance(t: Target) -> str:
    return _database_section("database", t.url("glance"))


def _placement(t: Target) -> str:
    # placement has its own group; it has no mysql_sql_mode option, and names no engine.
    return f"[placement_database]\nconnection = {t.url('placement')}\n"


def _nova(t: Target) -> str:
    return (
        _database_section("api_database", t.url("nova_api"))
        + _database_section("database", t.url("nova"))
        # nova-manage refuses to run without a transport URL for the cell mapping.
        + "[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\n"
    )


def _neutron(t: Target) -> str:
    return _database_section("database", t.url("neutron"))


def _heat(t: Target) -> str:
    return _database_section("database", t.url("heat"))


def _cinder(t: Target) -> str:
    return _database_section("database", t.url("cinder"))


@dataclass(frozen=True)
class Service:
    name: str
    requirement: str  # PyPI requirement, pinned
    databases: tuple[str, ...]
    config: Callable[[Target], str]
    # argv after the venv's bin folder; "{conf}" is the config file, "{url:<db>}" a URL
    commands: tuple[tuple[str, ...], ...]

    @property
    def version(self) -> str:
        return self.requirement.split("==", 1)[1]

    def venv(self) -> Path:
        cache = os.environ.get("OPENSTACK_NDB_CACHE") or str(Path.home() / ".cache/openstack-ndb")
        return Path(cache) / "openstack" / f"{self.name}-{self.version}"


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("keystone", "keystone==30.0.0", ("keystone",), _keystone,
                (("keystone-manage", "--config-file", "{conf}", "db_sync"),)),
        Service("glance", "glance==33.0.0", ("glance",), _glance,
                (("glance-manage", "--config-file", "{conf}", "db_sync"),)),
        Service("placement", "openstack-placement==16.0.0", ("placement",), _placement,
                (("placement-manage", "--config-file", "{conf}", "db", "sync"),)),
        Service(
            "nova", "nova==34.0.0", ("nova_api", "nova_cell0", "nova"), _nova,
            (
                ("nova-manage", "--config-file", "{conf}", "api_db", "sync"),
                ("nova-manage", "--config-file", "{conf}", "cell_v2", "map_cell0",
                 "--database_connection", "{url:nova_cell0}"),
                ("nova-manage", "--config-file", "{conf}", "db", "sync"),
            ),
        ),
        Service("neutron", "neutron==29.0.0", ("neutron",), _neutron,
                (("neutron-db-manage", "--config-file", "{conf}", "upgrade", "heads"),)),
        Service("heat", "openstack-heat==27.0.1", ("heat",), _heat,
                (("heat-manage", "--config-file", "{conf}", "db_sync"),)),
        Service("cinder", "cinder==29.0.0", ("cinder",), _cinder,
                (("cinder-manage", "--config-file", "{conf}", "db", "sync"),)),
    )
}
