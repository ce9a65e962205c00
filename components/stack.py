"""The program: validated settings in, the cloud's resources and stack outputs out.

Kept out of __main__.py so that tests and the benchmark run exactly this under mocks."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cluster import NdbCluster, build_cluster
from components.openstack.control_plane import ControlPlane, build_control_plane
from components.openstack.service import SqlAdmin
from components.render.artifacts import render_cluster
from components.render.infra import render_openrc
from config.openstack_layout import build_layout
from config.settings import Settings
from config.topology import Node


@dataclass
class Cloud:
    cluster: NdbCluster
    control_plane: ControlPlane | None


def client_address(settings: Settings, node: Node) -> str:
    """Where a client outside the containers connects: the published port on a single host."""
    if node.published_port is None:
        return f"{node.address}:{node.port}"
    return f"{settings.host(node.host).address or '127.0.0.1'}:{node.published_port}"


def deploy(settings: Settings) -> Cloud:
    artifacts = render_cluster(settings)  # every NDB file and script, before any resource
    topo = artifacts.topology
    layout = build_layout(settings)
    cluster = build_cluster(settings, artifacts)
    endpoint = client_address(settings, topo.endpoint)
    host, port = endpoint.rsplit(":", 1)
    control_plane = build_control_plane(
        settings, topo, layout, cluster,
        SqlAdmin(host=host, port=int(port), user="root", password=cluster.sql.password))
    pulumi.export("sqlEndpoint", endpoint)
    pulumi.export("managementConnectstring", topo.connectstring)
    pulumi.export("nodes", {n.name: {"host": n.host, "address": n.address, "port": n.port,
                                     "nodeIds": list(n.node_ids)} for n in topo.nodes})
    pulumi.export("rootPassword", cluster.sql.password)
    pulumi.export("mysqlCommand", f"mysql -h {host} -P {port} -u root -p")
    if control_plane is not None:
        enabled = layout.enabled
        pulumi.export("services", {
            s.service.name: {api: layout.public_url(s.service.name, api)
                             for api in s.service.apis} for s in layout.services})
        if "keystone" in enabled:
            pulumi.export("keystoneAuthUrl", layout.public_url("keystone", "public") + "/v3")
            pulumi.export("adminPassword", control_plane.admin_password)
            pulumi.export("openrc", control_plane.admin_password.apply(
                lambda p: pulumi.Output.secret(render_openrc(settings, layout, p))))
        if "horizon" in enabled:
            pulumi.export("horizonUrl", layout.public_url("horizon", "dashboard") + "/")
    return Cloud(cluster, control_plane)
