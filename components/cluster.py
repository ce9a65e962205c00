"""The whole NDB cluster of one stack, in dependency order:

mgmd -> mgmd gate -> data node groups (all groups together) -> group gates -> SQL nodes ->
SQL gate -> HAProxy endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.hosts import HostResources, build_hosts
from components.ndb.data_nodes import NdbDataNodeGroup, NdbDataNodeGroupArgs
from components.ndb.management import NdbManagementNode, NdbManagementNodeArgs
from components.ndb.sql_pool import SqlNodePool, SqlNodePoolArgs
from components.render.artifacts import ClusterArtifacts
from config.settings import Settings


@dataclass
class NdbCluster:
    hosts: dict[str, HostResources]
    management: list[NdbManagementNode]
    groups: list[NdbDataNodeGroup]
    sql: SqlNodePool


def build_cluster(settings: Settings, artifacts: ClusterArtifacts) -> NdbCluster:
    topo = artifacts.topology
    hosts = build_hosts(settings)
    management: list[NdbManagementNode] = []
    for node, gate_script in zip(topo.management, artifacts.management_gates, strict=True):
        management.append(NdbManagementNode(node.name, NdbManagementNodeArgs(
            settings=settings, node=node, hosts=hosts[node.host],
            config_ini=artifacts.config_ini, gate_script=gate_script,
            after=[management[-1].gate] if management else [],
        )))
    mgm_ready: list[pulumi.Resource] = [m.gate for m in management]
    groups = [
        NdbDataNodeGroup(f"ndb-group-{members[0].node_group}", NdbDataNodeGroupArgs(
            settings=settings, members=members, hosts=hosts, artifacts=group_artifacts,
            topology=topo, config_ini_sha256=artifacts.config_ini_sha256,
            mgm=topo.management[0], after=mgm_ready,
        ))
        for members, group_artifacts in zip(topo.node_groups, artifacts.node_groups, strict=True)
    ]
    sql = SqlNodePool("ndb-sql", SqlNodePoolArgs(
        settings=settings, topology=topo, hosts=hosts, my_cnf=artifacts.my_cnf,
        node_gates=artifacts.sql_node_gates, pool_gate=artifacts.sql_gate,
        haproxy_cfg=artifacts.haproxy_cfg,
        after=[g.gate for g in groups],
    ))
    return NdbCluster(hosts, management, groups, sql)
