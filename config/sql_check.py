"""Where each SQL node's check agent listens: the SQL node's address, a port of its own.

The agent of a SQL node runs in the SQL node's network: on a bridge network (one host) it
shares the SQL node container's network namespace, so it is reached at the SQL node's address
and only mysqld's own ports are its neighbours; with host networking (several hosts) it
listens on the host's address, beside every other node of that host. SQL nodes of one host
then take consecutive mysqld ports from `sqlNodes.port` (config/topology.py), and their
agents consecutive check ports from `sqlNodes.checkPort`, in the same order.
"""

from __future__ import annotations

from config.addressing import Endpoint, PortClaim
from config.settings import Settings
from config.topology import Node, Topology, sidecar_port

CHECK_PORT_KEY = "sqlNodes.checkPort"


def check_port(settings: Settings, topology: Topology, node: Node) -> int:
    """The TCP port the check agent of SQL node `node` listens on.

    Bridge network: `sqlNodes.checkPort` for every SQL node (each has its own address).
    Host networking: `sqlNodes.checkPort` + k, k counting the SQL nodes placed on the same
    host before this one. Raises ValueError for a node that is not one of `topology.sql`."""
    return sidecar_port(topology, node, settings.sql_nodes.check_port)


def check_endpoint(settings: Settings, topology: Topology, node: Node) -> Endpoint:
    """Where HAProxy asks the check agent of `node`: the SQL node's address, its check port."""
    return Endpoint(node.address, check_port(settings, topology, node))


def check_port_claims(settings: Settings, topology: Topology) -> list[PortClaim]:
    """Every port the check agents take on a Docker host (host networking only: on a bridge
    network they take ports in the SQL nodes' own namespaces, see `check_port_problem`)."""
    if topology.network_mode != "host":
        return []
    return [PortClaim(n.host, check_port(settings, topology, n), CHECK_PORT_KEY,
                      f"{n.name} check agent")
            for n in topology.sql]


def check_port_problem(settings: Settings) -> str | None:
    """On a bridge network the agent shares its SQL node's namespace, so it must not take
    mysqld's port; None when it does not."""
    s = settings.sql_nodes
    if not settings.multi_host and s.check_port == s.port:
        return (f"{s.check_port} is sqlNodes.port too: the check agent shares its SQL node's "
                "network namespace; choose another port")
    return None
