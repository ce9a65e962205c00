"""SqlNodePool: mysqld containers joined to the cluster, a generated root password, a check
agent per SQL node (its account, its password), and HAProxy in front asking the agents: one
endpoint for every client, which sends them only to SQL nodes that can serve NDB tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_random as random

from components.containers import ContainerSpec, HostResources, Upload, container
from components.keepalived import frontend_containers
from components.openstack.images import ImageCache
from components.render.haproxy import HAPROXY_CONFIG_PATH
from components.render.ndb import (
    MY_CNF_PATH,
    ROOT_PASSWORD_PATH,
    SQL_DATA_DIR,
)
from components.render.shell import Script
from components.render.sql_check import (
    AGENT_PATH,
    CHECK_CNF_PATH,
    SqlCheck,
    agent_text,
    render_check_account_sql,
    render_check_cnf,
)
from components.wiring import GATE_INTERPRETER, gate, node_container, node_volume
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
    sql_checks: tuple[SqlCheck, ...]  # per SQL node, in topology order
    after: list[pulumi.Resource] = field(default_factory=list)


class SqlNodePool(pulumi.ComponentResource):
    def __init__(self, name: str, args: SqlNodePoolArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:ndb:SqlNodePool", name, None, opts)
        settings, topo = args.settings, args.topology
        self._settings = settings
        mgm = topo.management[0]
        mgm_hosts = args.hosts[mgm.host]
        self.root_password = random.RandomPassword(
            f"{name}-root-password", length=32, special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Secret by construction, not only by the provider's schema (which mocks do not apply).
        self.password: pulumi.Output[str] = self.root_password.result.apply(pulumi.Output.secret)
        # The check agents' account: one password, an account local to each SQL node.
        self.check_password = random.RandomPassword(
            f"{name}-check-password", length=32, special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.containers: list[docker.Container] = []
        self.check_accounts: list[command.local.Command] = []
        self.check_containers: list[docker.Container] = []
        previous: list[pulumi.Resource] = list(args.after)
        for node, my_cnf, gate_script, check in zip(topo.sql, args.my_cnf, args.node_gates,
                                                    args.sql_checks, strict=True):
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
            self._check(child, check, container, node_gate, hosts)
        self.gate = gate(
            f"{name}-gate", args.pool_gate, mgm_container=mgm.container_name,
            mgm_hosts=mgm_hosts, triggers=[c.id for c in self.containers], parent=self,
            depends_on=previous,
        )

        def endpoint_haproxy(i: int, uploads: Sequence[Upload], health: list[str] | None,
                             after: list[pulumi.Resource]) -> docker.Container:
            endpoint = topo.endpoints[i]
            return node_container(
                f"{name}-endpoint-{endpoint.index + 1}", settings, endpoint,
                args.hosts[endpoint.host], image=args.hosts[endpoint.host].haproxy_image,
                command_=["haproxy", "-f", HAPROXY_CONFIG_PATH],
                memory_limit=settings.endpoint.memory_limit,
                uploads=[Upload(HAPROXY_CONFIG_PATH, args.haproxy_cfg), *uploads], health=health,
                parent=self,
                # Started once every agent can log in: HAProxy sends no client before its check.
                depends_on=[self.gate, *self.check_accounts, *self.check_containers, *after],
            )

        self.endpoints, self.keepalived = frontend_containers(
            f"{name}-endpoint", settings, topo.sql_vip, len(topo.endpoints), endpoint_haproxy,
            hosts=args.hosts, images=ImageCache(settings, args.hosts, name, self), parent=self)
        self.register_outputs({
            "endpoint": str(topo.client_endpoint),
            "rootPassword": self.password,
        })

    def _check(self, child: str, check: SqlCheck, sql: docker.Container,
               node_gate: command.local.Command, hosts: HostResources) -> None:
        """The check account on the SQL node (once mysqld is up: after its gate), and the
        agent's container beside it."""
        node = check.node
        secret = self.check_password.result
        statements: pulumi.Output[str] = secret.apply(
            lambda p: render_check_account_sql(node, p))
        cnf: pulumi.Output[str] = secret.apply(render_check_cnf)
        # The statements carry the password: secret stdin, never an argument or environment.
        # Re-run when the SQL node's container is replaced (a fresh volume lacks the account)
        # and when the password changes (an input change re-runs `create`).
        self.check_accounts.append(command.local.Command(
            f"{child}-check-account",
            create=check.account.text,
            interpreter=GATE_INTERPRETER,
            environment={
                **check.account.environment,
                "DOCKER_HOST": hosts.host.endpoint,
                "SQL_EXEC": f"docker exec -i {node.container_name}",
            },
            stdin=statements.apply(pulumi.Output.secret),
            triggers=[sql.id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_gate]),
        ))
        # On a bridge network the agent joins the SQL node's network namespace (it has no
        # address of its own; config/sql_check.py); the id makes it follow a replaced SQL
        # container. With host networking it is on the host's network, as every node is.
        self.check_containers.append(container(self._settings, ContainerSpec(
            name=f"{child}-check", container_name=f"{node.container_name}-check",
            hosts=hosts, address=node.address, role="sql-check", image=hosts.ndb_image,
            memory_limit=self._settings.sql_nodes.check_memory_limit,
            command=check.command,
            uploads=[Upload(AGENT_PATH, agent_text()),
                     Upload(CHECK_CNF_PATH, cnf.apply(pulumi.Output.secret), "0400")],
            stop_grace_seconds=5,
            network_container=sql.id if hosts.network is not None else None,
        ), parent=self, depends_on=[sql]))
