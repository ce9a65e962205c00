"""SqlNodePool: mysqld containers joined to the cluster, a generated root password, and
HAProxy in front with a MySQL health check: one endpoint for every client."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.containers import HostResources, Upload
from components.keepalived import keepalived_containers
from components.openstack.images import ImageCache
from components.render.haproxy import HAPROXY_CONFIG_PATH
from components.render.ndb import (
    MY_CNF_PATH,
    ROOT_PASSWORD_PATH,
    SQL_DATA_DIR,
)
from components.render.shell import Script
from components.wiring import gate, node_container, node_volume
from config.settings import Settings
from config.topology import Topology


@dataclass
class SqlNodePoolArgs:
    settings: Settings
    topology: Topology
    hosts: dict[str, HostResources]
    my_cnf: tuple[str, ...]
    node_gates: tuple[Script, ...]
    pool_gate: Script
    haproxy_cfg: str
    after: list[pulumi.Resource] = field(default_factory=list)


class SqlNodePool(pulumi.ComponentResource):
    def __init__(self, name: str, args: SqlNodePoolArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:ndb:SqlNodePool", name, None, opts)
        settings, topo = args.settings, args.topology
        mgm = topo.management[0]
        mgm_hosts = args.hosts[mgm.host]
        self.root_password = random.RandomPassword(
            f"{name}-root-password", length=32, special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Secret by construction, not only by the provider's schema (which mocks do not apply).
        self.password: pulumi.Output[str] = self.root_password.result.apply(pulumi.Output.secret)
        self.containers: list[docker.Container] = []
        previous: list[pulumi.Resource] = list(args.after)
        for node, my_cnf, gate_script in zip(topo.sql, args.my_cnf, args.node_gates, strict=True):
            child = f"{name}-{node.index + 1}"
            hosts = args.hosts[node.host]
            volume = node_volume(f"{child}-volume", settings, node, hosts, self)
            # The entrypoint reads the password from the file that MYSQL_ROOT_PASSWORD names,
            # so it never appears in the container's environment (`docker inspect`).
            container = node_container(
                child, settings, node, hosts, image=hosts.ndb_image, command_=["mysqld"],
                memory_limit=settings.sql_nodes.memory_limit,
                envs=[f"MYSQL_ROOT_PASSWORD={ROOT_PASSWORD_PATH}",
                      f"MYSQL_ROOT_HOST={settings.sql_nodes.root_host}"],
                uploads=[Upload(MY_CNF_PATH, my_cnf),
                         Upload(ROOT_PASSWORD_PATH, self.password, "0400")],
                volume=volume, volume_path=SQL_DATA_DIR, parent=self, depends_on=previous,
            )
            node_gate = gate(
                f"{child}-gate", gate_script, mgm_container=mgm.container_name,
                mgm_hosts=mgm_hosts, triggers=[container.id], parent=self,
                depends_on=[container],
            )
            previous = [node_gate]
            self.containers.append(container)
        self.gate = gate(
            f"{name}-gate", args.pool_gate, mgm_container=mgm.container_name,
            mgm_hosts=mgm_hosts, triggers=[c.id for c in self.containers], parent=self,
            depends_on=previous,
        )
        self.endpoints = [
            node_container(
                f"{name}-endpoint-{endpoint.index + 1}", settings, endpoint,
                args.hosts[endpoint.host], image=args.hosts[endpoint.host].haproxy_image,
                command_=["haproxy", "-f", HAPROXY_CONFIG_PATH],
                memory_limit=settings.endpoint.memory_limit,
                uploads=[Upload(HAPROXY_CONFIG_PATH, args.haproxy_cfg)],
                parent=self, depends_on=[self.gate],
            )
            for endpoint in topo.endpoints
        ]
        self.keepalived = keepalived_containers(
            f"{name}-endpoint", settings, topo.sql_vip,
            hosts=args.hosts, images=ImageCache(settings, args.hosts, name, self), parent=self,
            depends_on=self.endpoints)
        self.register_outputs({
            "endpoint": str(topo.client_endpoint),
            "rootPassword": self.password,
        })
