"""Where every node lives: node ids, names, hosts, addresses, ports and node groups.

Pure functions of the settings. Everything downstream (renderers, components, the test bed)
reads this one layout, so an address or a node id is decided in exactly one place.

Node ids are stable under growth: data nodes take 1..N (NDB allows data nodes only in
1..144), management nodes 145 and 146, SQL node slots from 147 on, free [api] slots after.
Adding data nodes therefore renumbers nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from config.addressing import (
    DATA_NODES,
    MANAGEMENT,
    SQL_ENDPOINT,
    SQL_ENDPOINT_MONITOR_PORT,
    SQL_NODES,
    Endpoint,
    NetworkMode,
    PortClaim,
    container_address,
)
from config.settings import MAX_DATA_NODES, Settings
from config.virtual_addresses import VirtualAddress, build_virtual_address, frontend_hosts

Kind = Literal["mgm", "data", "sql", "endpoint"]

MGM_FIRST_ID = MAX_DATA_NODES + 1
SQL_FIRST_ID = MGM_FIRST_ID + 2
MAX_BRIDGE_SQL_NODES = SQL_NODES.size


@dataclass(frozen=True)
class Node:
    kind: Kind
    index: int  # position among the nodes of its kind, from 0
    name: str  # Pulumi resource name, unique in the stack: ndb-data-3
    container_name: str  # Docker container name and hostname
    host: str  # DockerHost.name
    address: str  # where the other nodes reach it
    port: int | None  # listening port (None for data nodes on a bridge network: dynamic)
    node_ids: tuple[int, ...]  # NDB node ids (an SQL node has one per pooled connection)
    placement_key: str  # config key that placed it, for error messages
    node_group: int | None = None
    replica: int | None = None  # index within its node group
    published_port: int | None = None  # bridge network: the host port mapped to `port`

    @property
    def node_id(self) -> int:
        return self.node_ids[0]

    @property
    def endpoint(self) -> Endpoint:
        """Where the other nodes and containers reach it (a node with a listening port)."""
        assert self.port is not None, f"{self.name} has no fixed port"
        return Endpoint(self.address, self.port)


@dataclass(frozen=True)
class Topology:
    network_mode: NetworkMode
    management: tuple[Node, ...]
    data: tuple[Node, ...]
    sql: tuple[Node, ...]
    endpoints: tuple[Node, ...]  # the SQL endpoint's HAProxy instances, one per listed host
    free_api_ids: tuple[int, ...]
    sql_vip: VirtualAddress | None = None  # keepalived's address in front of `endpoints`

    @property
    def nodes(self) -> tuple[Node, ...]:
        return (*self.management, *self.data, *self.sql, *self.endpoints)

    @property
    def client_endpoint(self) -> Endpoint:
        """Where every client reaches the SQL nodes: the virtual address, or the one
        HAProxy's address; the endpoint's port either way."""
        first = self.endpoints[0].endpoint
        return Endpoint(self.sql_vip.address, first.port) if self.sql_vip else first

    @property
    def node_groups(self) -> tuple[tuple[Node, ...], ...]:
        groups: dict[int, list[Node]] = {}
        for node in self.data:
            assert node.node_group is not None
            groups.setdefault(node.node_group, []).append(node)
        return tuple(tuple(groups[g]) for g in sorted(groups))

    @property
    def connectstring(self) -> str:
        return ",".join(f"{n.address}:{n.port}" for n in self.management)

    @property
    def highest_node_id(self) -> int:
        ids = [i for n in self.nodes for i in n.node_ids] + list(self.free_api_ids)
        return max(ids)


# ConfigInfo.cpp: LocationDomainId is 0-16 in the [ndbd], [ndb_mgmd] and [mysqld]/[api]
# sections; 0 means none.
MAX_LOCATION_DOMAINS = 16


def location_domain(settings: Settings, host: str) -> int | None:
    """The NDB LocationDomainId of a node on `host`: its position in `hosts`, from 1, with
    several hosts (at most 16); None on one host or beyond 16.

    With it, a SQL node reads a fragment from the replica in its own location domain (its
    own host) when the table has READ_BACKUP (ndb_read_backup, ON by default), and a
    transaction coordinator is picked there too: a read crosses no network (MySQL manual,
    "Defining NDB Cluster Data Nodes", LocationDomainId)."""
    if not settings.multi_host:
        return None
    index = next(i for i, h in enumerate(settings.hosts) if h.name == host)
    return index + 1 if index < MAX_LOCATION_DOMAINS else None


def place(hosts: tuple[str, ...], count: int) -> list[str]:
    """Round-robin placement: node i goes to hosts[i % len(hosts)]."""
    return [hosts[i % len(hosts)] for i in range(count)]


def placement_hosts(settings: Settings, listed: tuple[str, ...] | None) -> tuple[str, ...]:
    return listed if listed else tuple(h.name for h in settings.hosts)


def bridge_offsets_needed(settings: Settings) -> int:
    """The highest subnet offset the bridge layout uses (the subnet must hold it)."""
    return DATA_NODES.first + settings.data_nodes.count - 1


def build_topology(settings: Settings) -> Topology:
    host_mode = settings.multi_host
    next_port: dict[tuple[str, Kind], int] = {}

    def address(host: str, offset: int) -> str:
        return container_address(settings, host, offset)

    def port(host: str, kind: Kind, base: int) -> int:
        # On a bridge network each node has its own address and keeps the base port; with host
        # networking, nodes of one kind on one host take consecutive ports from the base.
        if not host_mode:
            return base
        value = next_port.get((host, kind), base)
        next_port[(host, kind)] = value + 1
        return value

    def node(kind: Kind, index: int, name: str, host: str, offset: int,  # noqa: PLR0917
             port_: int | None, ids: tuple[int, ...], key: str, **extra: int) -> Node:
        return Node(kind=kind, index=index, name=name,
                    container_name=f"{settings.name_prefix}-{name}", host=host,
                    address=address(host, offset), port=port_, node_ids=ids,
                    placement_key=key, **extra)

    def published(base: int | None, index: int) -> dict[str, int]:
        # Only a bridge network maps host ports; with host networking `port` is the host's.
        return {} if host_mode or base is None else {"published_port": base + index}

    mgm_s, data_s, sql_s = settings.management, settings.data_nodes, settings.sql_nodes
    management = tuple(
        node("mgm", i, f"ndb-mgmd-{i + 1}", host, MANAGEMENT.offset(i),
             port(host, "mgm", mgm_s.port), (MGM_FIRST_ID + i,), f"management.hosts[{i}]",
             **published(mgm_s.publish_port, i))
        for i, host in enumerate(place(placement_hosts(settings, mgm_s.hosts), mgm_s.count))
    )
    replicas = data_s.no_of_replicas
    data = tuple(
        node("data", i, f"ndb-data-{i + 1}", host, DATA_NODES.offset(i),
             port(host, "data", data_s.server_port) if host_mode else None, (i + 1,),
             f"dataNodes.hosts[{i}]", node_group=i // replicas, replica=i % replicas)
        for i, host in enumerate(place(placement_hosts(settings, data_s.hosts), data_s.count))
    )
    sql_nodes: list[Node] = []
    next_id = SQL_FIRST_ID
    for i, host in enumerate(place(placement_hosts(settings, sql_s.hosts), sql_s.count)):
        ids = tuple(range(next_id, next_id + sql_s.connection_pool))
        next_id += sql_s.connection_pool
        sql_nodes.append(node("sql", i, f"ndb-sql-{i + 1}", host, SQL_NODES.first + i,
                              port(host, "sql", sql_s.port), ids, f"sqlNodes.hosts[{i}]"))
    ep_s = settings.endpoint
    ep_hosts = frontend_hosts(settings, ep_s.hosts)
    endpoints = tuple(
        node("endpoint", i, f"ndb-endpoint-{i + 1}", host, SQL_ENDPOINT.first,
             port(host, "endpoint", ep_s.port), (), f"endpoint.hosts[{i}]",
             **published(ep_s.publish_port, 0))
        for i, host in enumerate(ep_hosts)
    )
    vip = build_virtual_address(settings, "ndb-endpoint", ep_hosts, ep_s.virtual_address,
                                ep_s.virtual_router_id, "endpoint.virtualAddress",
                                SQL_ENDPOINT_MONITOR_PORT)
    free = tuple(range(next_id, next_id + sql_s.free_api_slots))
    return Topology("host" if host_mode else "bridge", management, data, tuple(sql_nodes),
                    endpoints, free, vip)


def published_ports(topology: Topology) -> list[PortClaim]:
    """Every port a node takes on its Docker host, with the key that placed it there."""
    if topology.network_mode == "host":
        monitors = [PortClaim(m.host, topology.sql_vip.monitor_port, topology.sql_vip.key,
                              "the SQL HAProxy's monitor (keepalived's check)", fixed=True)
                    for m in topology.sql_vip.members] if topology.sql_vip else []
        return [PortClaim(n.host, n.port, n.placement_key, f"{n.name} port")
                for n in topology.nodes if n.port is not None] + monitors
    keys = {"mgm": "management.publishPort", "endpoint": "endpoint.publishPort"}
    return [PortClaim(n.host, n.published_port, keys[n.kind], n.name)
            for n in topology.nodes if n.published_port is not None]


def sidecar_port(topology: Topology, node: Node, base: int) -> int:
    """The port of a program beside SQL node `node`, in its network namespace (its check
    agent, its mysqld_exporter): `base` on a bridge network (each SQL node has its own
    address), `base` + k with host networking, k counting the SQL nodes placed on the same
    host before this one. Raises ValueError for a node that is not one of `topology.sql`."""
    if node not in topology.sql:
        raise ValueError(f"{node.name} is not a SQL node of this topology")
    if topology.network_mode == "bridge":
        return base
    before = [n for n in topology.sql[:topology.sql.index(node)] if n.host == node.host]
    return base + len(before)


def deployed_record(settings: Settings, topology: Topology) -> dict[str, object]:
    """What a live cluster cannot change in place, as the stack records it after each
    deployment (components/ndb/deployed.py keeps it; its check compares the next one):

        {"dataNodes": {"1": "db-a", ...},        # NDB node id (a string) -> DockerHost.name
         "managementNodes": {"145": "db-a", ...},
         "noOfReplicas": 2, "sqlConnectionPool": 1}

    String keys, as every Pulumi property map has."""
    return {
        "dataNodes": {str(n.node_id): n.host for n in topology.data},
        "managementNodes": {str(n.node_id): n.host for n in topology.management},
        "noOfReplicas": settings.data_nodes.no_of_replicas,
        "sqlConnectionPool": settings.sql_nodes.connection_pool,
    }
