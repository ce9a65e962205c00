"""Cluster: the whole NDB cluster of one stack, one top-level component.

It owns each Docker host's provider, images and network (the control plane runs on the same
hosts and uses them), and its children in dependency order:

    mgmd -> mgmd gate -> data node groups (all groups together) -> group gates -> SQL nodes
    -> SQL gate -> HAProxy endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.containers import HostResources, host_resources
from components.ndb.backup import NdbBackupJob, NdbBackupJobArgs
from components.ndb.data_nodes import NdbDataNodeGroup, NdbDataNodeGroupArgs
from components.ndb.management import NdbManagementNode, NdbManagementNodeArgs
from components.ndb.sql_pool import SqlNodePool, SqlNodePoolArgs
from components.render.artifacts import ClusterArtifacts
from config.settings import Settings


@dataclass
class ClusterArgs:
    settings: Settings
    artifacts: ClusterArtifacts  # every file and script, rendered up front


class Cluster(pulumi.ComponentResource):
    """Children are named `<name>-...`: with the name "ndb", `ndb-mgmd-1`, `ndb-group-0`,
    `ndb-sql` - the topology's node names."""

    def __init__(self, name: str, args: ClusterArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:ndb:Cluster", name, None, opts)
        settings, artifacts = args.settings, args.artifacts
        topo = artifacts.topology
        self.hosts: dict[str, HostResources] = host_resources(settings, name, self)
        child = pulumi.ResourceOptions(parent=self)
        self.management: list[NdbManagementNode] = []
        for node, gate_script in zip(topo.management, artifacts.management_gates, strict=True):
            self.management.append(NdbManagementNode(node.name, NdbManagementNodeArgs(
                settings=settings, node=node, hosts=self.hosts[node.host],
                config_ini=artifacts.config_ini, gate_script=gate_script,
                after=[self.management[-1].gate] if self.management else [],
            ), child))
        mgm_ready: list[pulumi.Resource] = [m.gate for m in self.management]
        self.groups = [
            NdbDataNodeGroup(f"{name}-group-{members[0].node_group}", NdbDataNodeGroupArgs(
                settings=settings, members=members, hosts=self.hosts,
                artifacts=group_artifacts, topology=topo,
                config_ini_sha256=artifacts.config_ini_sha256, mgm=topo.management[0],
                after=mgm_ready,
            ), child)
            for members, group_artifacts in zip(topo.node_groups, artifacts.node_groups,
                                                strict=True)
        ]
        self.sql = SqlNodePool(f"{name}-sql", SqlNodePoolArgs(
            settings=settings, topology=topo, hosts=self.hosts, my_cnf=artifacts.my_cnf,
            node_gates=artifacts.sql_node_gates, pool_gate=artifacts.sql_gate,
            haproxy_cfg=artifacts.haproxy_cfg, sql_checks=artifacts.sql_checks,
            after=[g.gate for g in self.groups],
        ), child)
        self.backup: NdbBackupJob | None = None
        if settings.backup.enabled:
            backup = artifacts.backup
            self.backup = NdbBackupJob(f"{name}-backup", NdbBackupJobArgs(
                settings=settings, artifacts=backup, hosts=self.hosts[backup.host],
                data_volumes={n.node_id: v for members, g in zip(topo.node_groups, self.groups,
                                                                 strict=True)
                              for n, v in zip(members, g.volumes, strict=True)},
                mgmd=self.management[0].container, after=[self.sql.gate],
            ), child)
        self.register_outputs({
            "managementConnectstring": topo.connectstring,
            "sqlEndpoint": str(topo.client_endpoint),
            "rootPassword": self.sql.password,
        })
