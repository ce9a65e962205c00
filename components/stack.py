"""The program: validated settings in, the cloud's resources and stack outputs out.

Everything is rendered first (`render_cluster`, `render_service`); then the stack root gets
two components - the NDB `Cluster` and the OpenStack `ControlPlane` - and the outputs.
Kept out of __main__.py so that tests and the benchmark run exactly this under mocks."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.ndb.cluster import Cluster, ClusterArgs
from components.ndb.monitoring import NdbMonitoring, NdbMonitoringArgs
from components.openstack.control_plane import ControlPlane, ControlPlaneArgs
from components.openstack.service import SqlAdmin
from components.render.artifacts import render_cluster
from components.render.infra import render_openrc
from components.render.monitoring import render_monitoring
from components.render.service import render_service
from config.addressing import Endpoint
from config.monitoring import user_url
from config.openstack_layout import build_layout
from config.settings import Settings
from config.topology import Topology

CLUSTER_NAME = "ndb"
CONTROL_PLANE_NAME = "openstack"
MONITORING_NAME = "monitoring"


@dataclass
class Cloud:
    cluster: Cluster
    control_plane: ControlPlane | None
    monitoring: NdbMonitoring | None = None


def client_endpoint(settings: Settings, topology: Topology) -> Endpoint:
    """Where a client outside the containers reaches the SQL endpoint: the published port on
    a single host, else the virtual address or the one HAProxy's address."""
    node = topology.endpoints[0]
    if node.published_port is None:
        return topology.client_endpoint
    return Endpoint(str(settings.host(node.host).address or "127.0.0.1"), node.published_port)


def deploy(settings: Settings) -> Cloud:
    # Every file, script and command, before any resource.
    artifacts = render_cluster(settings)
    topo = artifacts.topology
    layout = build_layout(settings)
    services = tuple(render_service(settings, topo, layout, s) for s in layout.services)
    monitoring_artifacts = render_monitoring(settings, topo, layout)

    cluster = Cluster(CLUSTER_NAME, ClusterArgs(settings, artifacts))
    endpoint = client_endpoint(settings, topo)
    control_plane = None
    if services:
        control_plane = ControlPlane(CONTROL_PLANE_NAME, ControlPlaneArgs(
            settings=settings, layout=layout, services=services, hosts=cluster.hosts,
            sql_admin=SqlAdmin(endpoint=endpoint, user="root", password=cluster.sql.password),
            # After the scale-out: its reorganisation runs no DDL beside the migrations'.
            after=[*cluster.sql.endpoints, cluster.scale_out]))

    monitoring = None
    if monitoring_artifacts is not None:
        monitoring = NdbMonitoring(MONITORING_NAME, NdbMonitoringArgs(
            settings=settings, artifacts=monitoring_artifacts, hosts=cluster.hosts,
            sql_containers=cluster.sql.containers, sql_ready=cluster.sql.gate,
            sql_endpoint=topo.client_endpoint, endpoint_ready=cluster.sql.endpoints))
        places = monitoring_artifacts.places
        pulumi.export("prometheusUrl", user_url(places, places.prometheus))
        if monitoring.grafana_password is not None:
            pulumi.export("grafanaUrl", user_url(places, places.grafana))
            pulumi.export("grafanaAdminPassword", monitoring.grafana_password)

    pulumi.export("sqlEndpoint", str(endpoint))
    pulumi.export("managementConnectstring", topo.connectstring)
    pulumi.export("nodes", {n.name: {"host": n.host, "address": n.address, "port": n.port,
                                     "nodeIds": list(n.node_ids)} for n in topo.nodes})
    pulumi.export("rootPassword", cluster.sql.password)
    if cluster.backup is not None:
        pulumi.export("lastBackup", cluster.backup.last_backup)
        pulumi.export("backupJob", {
            "container": cluster.backup.container_name,
            "dockerHost": settings.host(artifacts.backup.host).endpoint,
            # run by `make restore` after a whole restore, one SQL node after the other
            "sqlRestarts": [{"name": sql.name, "environment": script.environment}
                            for sql, script in zip(topo.sql, artifacts.backup.sql_restarts,
                                                   strict=True)]})
        if cluster.backup.password is not None:  # a restore elsewhere needs it
            pulumi.export("backupPassword", cluster.backup.password)
    pulumi.export("mysqlCommand", f"mysql -h {endpoint.host} -P {endpoint.port} -u root -p")
    if control_plane is not None:
        pulumi.export("services", {
            s.name: {api: layout.public_url(s.name, api) for api in s.spec.apis}
            for s in layout.services})
        if layout.identity is not None:
            pulumi.export("keystoneAuthUrl", layout.identity_url("public"))
            pulumi.export("adminPassword", control_plane.admin_password)
            pulumi.export("openrc", control_plane.admin_password.apply(
                lambda p: pulumi.Output.secret(render_openrc(settings, layout, p))))
        if "horizon" in layout.enabled:
            pulumi.export("horizonUrl", layout.public_url("horizon", "dashboard") + "/")
    return Cloud(cluster, control_plane, monitoring)
