"""Which database the harness's control plane (tests/openstack/cloud.py) runs on.

Two backends, one interface, so that one cloud can be measured against the other with
nothing else changed (`make tempest`, tests/openstack/tempest_run.py):

- ``NdbBackend`` (arm B, the default): the dev stack's NDB cluster on the test bed, from the
  program's rendered files (tests/openstack/cluster.py), its HAProxy the SQL endpoint, and
  every service container with the NDB adaptation on (ndb_adapt's CONTAINER_ENV, as rendered).
- ``InnodbBackend`` (arm A, the baseline): one plain Oracle MySQL 9.7 mysqld of the test bed
  (tests/real/mysql_server.py) with InnoDB at its defaults, and ndb_adapt off (its two
  environment variables left out of every container). It listens where the rendered SQL
  endpoint localises by the control plane's own rule (`loopback`: 172.28.0.4:3306 ->
  127.28.0.4:3306), so the services' rendered files differ from arm B's only in that
  address.

Everything else - venvs, rendered files, registration, health checks - is the same code.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from components.database import AdminEndpoint
from config import Settings, build_topology
from ndb_adapt import CONTAINER_ENV
from testbed.cluster import TestCluster, rewrite_addresses
from tests.openstack.cluster import admin_endpoint, dev_cluster
from tests.real.mysql_server import MysqlServer, mysql_server

# The server-wide connection limit of arm A: as many as arm B's two SQL nodes take together
# (151 each, MySQL's default, which the rendered my.cnf keeps), so neither arm runs out first.
INNODB_MAX_CONNECTIONS = 302


class DatabaseBackend(Protocol):
    name: str  # "ndb" or "innodb": the arm's name in reports
    adapt: bool  # ndb_adapt on in the service containers

    def start(self, workdir: Path, services: Sequence[str]) -> AbstractContextManager[None]:
        """The database up for the enabled `services` until the `with` ends."""
        ...

    def localise(self, text: str) -> str:
        """Rendered text with the database's addresses as this machine serves them."""
        ...

    def admin_endpoint(self) -> AdminEndpoint:
        """An account allowed to create the services' databases and users."""
        ...

    def sql_command(self) -> str:
        """How a person reaches the database with the mysql client."""
        ...


def container_env(backend: DatabaseBackend, envs: tuple[str, ...]) -> tuple[str, ...]:
    """A container's NAME=value environment for this backend: without ndb_adapt's variables
    where the adaptation is off."""
    if backend.adapt:
        return envs
    return tuple(e for e in envs if e.split("=", 1)[0] not in CONTAINER_ENV)


class NdbBackend:
    """Arm B: the dev stack's NDB cluster on the test bed (`cluster` once started)."""

    name = "ndb"
    adapt = True

    def __init__(self) -> None:
        self._cluster: TestCluster | None = None

    @property
    def cluster(self) -> TestCluster:
        assert self._cluster is not None, "start() first"
        return self._cluster

    @contextmanager
    def start(self, workdir: Path, services: Sequence[str]) -> Iterator[None]:
        # The stack's config.ini sizes NDB's dictionary for the enabled services.
        with dev_cluster(workdir / "ndb", services) as cluster:
            self._cluster = cluster
            try:
                yield
            finally:
                self._cluster = None

    def localise(self, text: str) -> str:
        return self.cluster.localise(text)

    def admin_endpoint(self) -> AdminEndpoint:
        return admin_endpoint(self.cluster)

    def sql_command(self) -> str:
        return "mysql -h {} -P {} -u root".format(*self.cluster.endpoint())


class InnodbBackend:
    """Arm A: one plain mysqld with InnoDB where the rendered SQL endpoint localises."""

    name = "innodb"
    adapt = False

    def __init__(self, settings: Settings) -> None:
        endpoint = build_topology(settings).client_endpoint
        self.rendered = endpoint.host
        self.host = _loopback(endpoint.host)
        self.port = endpoint.port
        self._server: MysqlServer | None = None

    @property
    def server(self) -> MysqlServer:
        assert self._server is not None, "start() first"
        return self._server

    @contextmanager
    def start(self, workdir: Path, services: Sequence[str]) -> Iterator[None]:
        # InnoDB at its defaults (not the small buffer pool of the short tests), like arm
        # B's SQL nodes; only the connection limit is theirs together.
        options = (f"--max-connections={INNODB_MAX_CONNECTIONS}",)
        with mysql_server(host=self.host, port=self.port, options=options) as server:
            self._server = server
            try:
                yield
            finally:
                self._server = None

    def localise(self, text: str) -> str:
        return rewrite_addresses(text, {self.rendered: self.host})

    def admin_endpoint(self) -> AdminEndpoint:
        server = self.server
        return AdminEndpoint(server.host, server.port, server.user, server.password,
                             connect_timeout_seconds=30)

    def sql_command(self) -> str:
        return f"mysql -h {self.host} -P {self.port} -u root -p"


def _loopback(address: str) -> str:
    # cloud.loopback's rule, here so that this module does not import the harness.
    return str(ipaddress.IPv4Address((int(ipaddress.IPv4Address(address)) & 0x00FFFFFF)
                                     | 0x7F000000))


def backend(name: str, settings: Settings) -> DatabaseBackend:
    """The backend of arm `name`: "ndb" (B) or "innodb" (A)."""
    if name == "ndb":
        return NdbBackend()
    if name == "innodb":
        return InnodbBackend(settings)
    raise ValueError(f"unknown database backend {name!r} (ndb, innodb)")
