"""NdbManagementNode: ndb_mgmd with the rendered config.ini, its volume and a readiness gate."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.containers import HostResources, Upload
from components.render.commands import mgmd_command
from components.render.ndb import MGM_CONFIG_PATH, NDB_DATA_DIR
from components.render.shell import Script
from components.wiring import gate, node_container, node_volume
from config.settings import Settings
from config.topology import Node


@dataclass
class NdbManagementNodeArgs:
    settings: Settings
    node: Node
    hosts: HostResources
    config_ini: str
    gate_script: Script
    # The previous management node's gate: two mgmds are never replaced at the same time.
    after: list[pulumi.Resource] = field(default_factory=list)


class NdbManagementNode(pulumi.ComponentResource):
    def __init__(self, name: str, args: NdbManagementNodeArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:ndb:NdbManagementNode", name, None, opts)
        node, settings = args.node, args.settings
        self.volume = node_volume(f"{name}-volume", settings, node, args.hosts, self)
        self.container = node_container(
            f"{name}-container", settings, node, args.hosts,
            image=args.hosts.ndb_image,
            command_=mgmd_command(node),
            memory_limit=settings.management.memory_limit,
            uploads=[Upload(MGM_CONFIG_PATH, args.config_ini)],
            volume=self.volume, volume_path=NDB_DATA_DIR,
            parent=self, depends_on=args.after,
        )
        self.gate = gate(
            f"{name}-gate", args.gate_script, mgm_container=node.container_name,
            mgm_hosts=args.hosts, triggers=[self.container.id], parent=self,
            depends_on=[self.container],
        )
        self.address = pulumi.Output.from_input(f"{node.address}:{node.port}")
        self.register_outputs({"address": self.address, "containerId": self.container.id})
