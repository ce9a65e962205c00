"""Cluster: the whole NDB cluster of one stack, one top-level component.

It owns each Docker host's provider, images and network (the control plane runs on the same
hosts and uses them), and its children in dependency order:

    deployed topology (refuses what a live cluster cannot change) -> mgmd -> mgmd gate
    -> each group's rolling restart -> each SQL node's restart -> data node groups (all
    groups together) -> group gates -> SQL nodes -> SQL gate -> HAProxy endpoint
                                                             -> scale-out

The rolling restarts run on a new config.ini only, the SQL node restarts when the data nodes
change; on a scale-out this is NDB's online add-node order: management nodes, running data
nodes, SQL nodes, then the new data nodes start, then their node groups and the tables'
reorganisation (the scale-out command; docs/design.md §2.6). On a first deployment every
restart is a no-op and the scale-out finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components.containers import HostResources, host_resources
from components.ndb.backup import NdbBackupJob, NdbBackupJobArgs
from components.ndb.data_nodes import NdbDataNodeGroup, NdbDataNodeGroupArgs
from components.ndb.deployed import DeployedTopology
from components.ndb.management import NdbManagementNode, NdbManagementNodeArgs
from components.ndb.sql_pool import SqlNodePool, SqlNodePoolArgs
from components.render.artifacts import ClusterArtifacts
from components.wiring import GATE_INTERPRETER
from config.settings import Settings
from config.topology import deployed_record


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
        # First: its check refuses a change the live cluster cannot take, before any node.
        self.deployed = DeployedTopology(f"{name}-deployed-topology",
                                         deployed_record(settings, topo), child)
        self.management: list[NdbManagementNode] = []
        for node, gate_script in zip(topo.management, artifacts.management_gates, strict=True):
            self.management.append(NdbManagementNode(node.name, NdbManagementNodeArgs(
                settings=settings, node=node, hosts=self.hosts[node.host],
                config_ini=artifacts.config_ini, gate_script=gate_script,
                after=[self.management[-1].gate] if self.management else [self.deployed],
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
        mgm = topo.management[0]
        mgm_env = {"DOCKER_HOST": self.hosts[mgm.host].host.endpoint,
                   "NDB_MGM": f"docker exec {mgm.container_name} ndb_mgm"}
        data_ids = " ".join(str(n.node_id) for n in topo.data)
        # Each SQL node restarted in turn when the data nodes change (its update: creation
        # has nothing to restart), after every running data node took the new config.ini.
        self.sql_restarts: list[command.local.Command] = []
        previous: list[pulumi.Resource] = [g.rolling_restart for g in self.groups]
        for sql, script in zip(topo.sql, artifacts.sql_restarts, strict=True):
            restart = command.local.Command(
                f"{name}-sql-{sql.index + 1}-restart",
                create="echo 'SQL node created with data nodes '\"$NDB_DATA_NODE_IDS\"",
                update=script.text, interpreter=GATE_INTERPRETER,
                environment={**script.environment, "NDB_DATA_NODE_IDS": data_ids},
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous))
            self.sql_restarts.append(restart)
            previous = [restart]
        for group in self.groups:
            group.start(after=[*mgm_ready, *(g.rolling_restart for g in self.groups),
                               *self.sql_restarts])
        self.sql = SqlNodePool(f"{name}-sql", SqlNodePoolArgs(
            settings=settings, topology=topo, hosts=self.hosts, my_cnf=artifacts.my_cnf,
            node_gates=artifacts.sql_node_gates, pool_gate=artifacts.sql_gate,
            haproxy_cfg=artifacts.haproxy_cfg, sql_checks=artifacts.sql_checks,
            after=[g.gate for g in self.groups],
        ), child)
        # Node groups for new data nodes and every table spread onto them; asks the cluster
        # what is left, so it runs on every change of the data nodes and after a failed run.
        first_sql = topo.sql[0]
        self.scale_out = command.local.Command(
            f"{name}-scale-out", create=artifacts.scale_out.text, interpreter=GATE_INTERPRETER,
            environment={**artifacts.scale_out.environment, **mgm_env,
                         "SQL_EXEC": f"docker --host {self.hosts[first_sql.host].host.endpoint}"
                                     f" exec -i {first_sql.container_name}"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.sql.gate]))
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
