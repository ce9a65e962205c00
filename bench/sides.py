"""The two sides `make bench` compares, behind one interface: the dev stack's NDB cluster as
this program renders it, and the Galera peer as Kolla-Ansible deploys it.

A side names its SQL nodes (NDB: mysqld node ids; Galera: members), can kill -9 one and
bring it back, and names the node that holds data without serving the client (NDB: a data
node; Galera: a `backup` member, which HAProxy sends no client to).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bench.connection import connect
from bench.galera.cluster import GaleraCluster, GaleraError
from components.render.artifacts import ClusterArtifacts
from testbed.cluster import TestCluster

BACK_IN_SERVICE_TIMEOUT = 300.0


class Side(Protocol):
    label: str  # e.g. "NDB" or "Galera": the table's column heading
    engine: str  # the storage engine its tables use
    user: str  # the bench user (no password, loopback only)

    def endpoint(self) -> tuple[str, int]: ...
    def connect(self, address: tuple[str, int], **options: Any) -> Any: ...
    def sql_nodes(self) -> dict[str, tuple[str, int]]: ...
    def sql_node_at(self, bind_address: str) -> str: ...
    def kill_sql_node(self, name: str) -> None: ...
    def restart_sql_node(self, name: str) -> None: ...
    def kill_storage_node(self) -> str: ...
    def restart_storage_node(self, name: str) -> None: ...
    def process_kinds(self) -> dict[str, list[int]]: ...


@dataclass
class NdbSide:
    """The dev stack's rendered cluster on the test bed; its endpoint is the rendered
    HAProxy (every SQL node active, `balance leastconn`)."""

    cluster: TestCluster
    artifacts: ClusterArtifacts
    label: str = "NDB"
    engine: str = "ndbcluster"
    user: str = "root"

    def endpoint(self) -> tuple[str, int]:
        return self.cluster.endpoint()

    def connect(self, address: tuple[str, int], **options: Any) -> Any:
        return connect(address, self.user, **options)

    def sql_nodes(self) -> dict[str, tuple[str, int]]:
        return {f"sql-{n.node_id}": self.cluster.sql_address(n.node_id)
                for n in self.artifacts.topology.sql}

    def sql_node_at(self, bind_address: str) -> str:
        return next(name for name, (host, _) in self.sql_nodes().items() if host == bind_address)

    def kill_sql_node(self, name: str) -> None:
        self.cluster.kill_node(_node_id(name))

    def restart_sql_node(self, name: str) -> None:
        self.cluster.start_node(_node_id(name), timeout=BACK_IN_SERVICE_TIMEOUT)

    def kill_storage_node(self) -> str:
        # The first data node: usually the cluster's master, whose loss also moves that role.
        victim = self.artifacts.topology.data[0].node_id
        self.cluster.kill_node(victim)
        return f"data-{victim}"

    def restart_storage_node(self, name: str) -> None:
        """Back in service: the data node has STARTED again (ndb_mgm `all status`)."""
        self.cluster.start_node(_node_id(name), timeout=BACK_IN_SERVICE_TIMEOUT)

    def process_kinds(self) -> dict[str, list[int]]:
        """Process groups by kind: data (ndbmtd), sql (mysqld), mgm, haproxy."""
        kinds: dict[str, list[int]] = {}
        for name, group in self.cluster.process_groups().items():
            kinds.setdefault(name.split("-", 1)[0], []).append(group)
        return kinds


@dataclass
class GaleraSide:
    """The Galera peer; its endpoint is Kolla's HAProxy (one active member, two backups)."""

    cluster: GaleraCluster
    progress: Callable[[str], object] = print
    label: str = "Galera"
    engine: str = "InnoDB"
    user: str = "bench"

    def endpoint(self) -> tuple[str, int]:
        return self.cluster.endpoint()

    def connect(self, address: tuple[str, int], **options: Any) -> Any:
        return self.cluster.connect(address, **options)

    def sql_nodes(self) -> dict[str, tuple[str, int]]:
        return {m.name: self.cluster.address(m) for m in self.cluster.members}

    def sql_node_at(self, bind_address: str) -> str:
        return self.cluster.member_at(bind_address).name

    def kill_sql_node(self, name: str) -> None:
        self.cluster.kill(self._member(name))

    def restart_sql_node(self, name: str) -> None:
        self._back_in_service(name)

    def kill_storage_node(self) -> str:
        # The last member: a `backup` in HAProxy, so no client is on it.
        victim = self.cluster.members[-1]
        self.cluster.kill(victim)
        return victim.name

    def restart_storage_node(self, name: str) -> None:
        """Back in service: the member is Synced again and HAProxy's check says UP."""
        self._back_in_service(name)

    def process_kinds(self) -> dict[str, list[int]]:
        """Process groups by kind: member (mariadbd), clustercheck, haproxy."""
        kinds: dict[str, list[int]] = {}
        for name, group in self.cluster.process_groups().items():
            kind = ("clustercheck" if name.endswith("-clustercheck")
                    else "member" if name.startswith("galera-") else name)
            kinds.setdefault(kind, []).append(group)
        return kinds

    def _back_in_service(self, name: str) -> None:
        member = self._member(name)
        self.cluster.restart(member)
        deadline = time.monotonic() + BACK_IN_SERVICE_TIMEOUT
        self.cluster.wait_synced(member, BACK_IN_SERVICE_TIMEOUT)
        while self.cluster.server_states().get(name) != "UP":
            if time.monotonic() > deadline:
                raise GaleraError(f"HAProxy never took {name} back: "
                                  f"{self.cluster.server_states()}")
            time.sleep(0.2)
        self.progress(f"  {name} rejoined by {self.cluster.state_transfer(member)}")

    def _member(self, name: str) -> Any:
        return next(m for m in self.cluster.members if m.name == name)


def _node_id(name: str) -> int:
    return int(name.rsplit("-", 1)[1])
