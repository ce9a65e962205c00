"""NdbDataNodeGroup: the ndbmtd containers of one node group, chained replica by replica.

Creation: replica 0's container, then its gate, then replica 1's container, ... Each member
gate only waits for its node to connect while no data node is started yet (an initial start
needs all peers up, so waiting for `started` there would deadlock), and for a full restart
otherwise. Updates: see components/wiring.py for why this chain keeps one replica up. A
config.ini change that needs no new container runs the manual's rolling restart instead.

Built in two steps: the group's rolling restart first (it runs right after the management
nodes took a new config.ini), then, by `start`, its containers and gates - after every group's
rolling restart and every SQL node's restart (components/ndb/cluster.py): on a scale-out the
new data nodes start only once the running nodes know them (docs/design.md §2.6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components.containers import HostResources
from components.render.artifacts import NodeGroupArtifacts
from components.render.commands import data_node_command
from components.render.ndb import NDB_DATA_DIR
from components.wiring import GATE_INTERPRETER, gate, node_container, node_volume
from config.settings import Settings
from config.topology import Node, Topology


@dataclass
class NdbDataNodeGroupArgs:
    settings: Settings
    members: tuple[Node, ...]
    hosts: dict[str, HostResources]
    artifacts: NodeGroupArtifacts
    topology: Topology
    config_ini_sha256: str
    mgm: Node  # the management node the gates ask
    after: list[pulumi.Resource] = field(default_factory=list)


class NdbDataNodeGroup(pulumi.ComponentResource):
    def __init__(self, name: str, args: NdbDataNodeGroupArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:ndb:NdbDataNodeGroup", name, None, opts)
        self._name, self._args = name, args
        self._mgm_hosts = args.hosts[args.mgm.host]
        # Runs only on update (a new config.ini); creation has nothing to restart. It waits
        # for the management nodes only (`after`), not for this group's containers: the
        # restart of the running nodes comes before any new data node starts.
        self.rolling_restart = command.local.Command(
            f"{name}-rolling-restart",
            create="echo 'node group created with config.ini sha256 '\"$CONFIG_INI_SHA256\"",
            update=args.artifacts.rolling_restart.text,
            interpreter=GATE_INTERPRETER,
            environment={
                **args.artifacts.rolling_restart.environment,
                "DOCKER_HOST": self._mgm_hosts.host.endpoint,
                "NDB_MGM": f"docker exec {args.mgm.container_name} ndb_mgm",
                "CONFIG_INI_SHA256": args.config_ini_sha256,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )

    def start(self, after: list[pulumi.Resource]) -> None:
        """The group's containers and gates, replica by replica, after `after`."""
        name, args, settings = self._name, self._args, self._args.settings
        self.containers: list[docker.Container] = []
        self.volumes: list[docker.Volume] = []
        previous: list[pulumi.Resource] = list(after)
        for node, gate_script in zip(args.members, args.artifacts.member_gates, strict=True):
            child = f"{name}-data-{node.node_id}"
            hosts = args.hosts[node.host]
            volume = node_volume(f"{child}-volume", settings, node, hosts, self)
            container = node_container(
                child, settings, node, hosts, image=hosts.ndb_image,
                command_=data_node_command(node, args.topology),
                memory_limit=settings.data_nodes.memory_limit,
                volume=volume, volume_path=NDB_DATA_DIR, stop_grace_seconds=120,
                parent=self, depends_on=previous,
            )
            member_gate = gate(
                f"{child}-gate", gate_script, mgm_container=args.mgm.container_name,
                mgm_hosts=self._mgm_hosts, triggers=[container.id], parent=self,
                depends_on=[container],
            )
            previous = [member_gate]
            self.containers.append(container)
            self.volumes.append(volume)
        self.gate = gate(
            f"{name}-gate", args.artifacts.group_gate, mgm_container=args.mgm.container_name,
            mgm_hosts=self._mgm_hosts, triggers=[c.id for c in self.containers], parent=self,
            depends_on=previous,
        )
        self.register_outputs({
            "nodeIds": [n.node_id for n in args.members],
            "containerIds": [c.id for c in self.containers],
        })
