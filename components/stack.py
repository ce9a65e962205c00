"""The program: validated settings in, the cloud's resources and stack outputs out.

Kept out of __main__.py so that tests and the benchmark run exactly this under mocks."""

from __future__ import annotations

import pulumi

from components.cluster import NdbCluster, build_cluster
from components.render.artifacts import render_cluster
from config.settings import Settings
from config.topology import Node


def client_address(settings: Settings, node: Node) -> str:
    """Where a client outside the containers connects: the published port on a single host."""
    if node.published_port is None:
        return f"{node.address}:{node.port}"
    return f"{settings.host(node.host).address or '127.0.0.1'}:{node.published_port}"


def deploy(settings: Settings) -> NdbCluster:
    artifacts = render_cluster(settings)  # every file and script, before any resource
    topo = artifacts.topology
    cluster = build_cluster(settings, artifacts)
    endpoint = client_address(settings, topo.endpoint)
    host, port = endpoint.rsplit(":", 1)
    pulumi.export("sqlEndpoint", endpoint)
    pulumi.export("managementConnectstring", topo.connectstring)
    pulumi.export("nodes", {n.name: {"host": n.host, "address": n.address, "port": n.port,
                                     "nodeIds": list(n.node_ids)} for n in topo.nodes})
    pulumi.export("rootPassword", cluster.sql.password)
    pulumi.export("mysqlCommand", f"mysql -h {host} -P {port} -u root -p")
    return cluster
