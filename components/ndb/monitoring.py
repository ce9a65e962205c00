"""NdbMonitoring: the exporters, Prometheus and Grafana of one stack (docs/monitoring.md).

Children, in dependency order: the exporter password; per SQL node (after the SQL gate) its
exporter account and its mysqld_exporter beside it; after the SQL endpoint, the ndbinfo
exporter; then Prometheus (its data in a volume) and Grafana. Every file is rendered up front
(components/render/monitoring.py); the ones holding a password are rendered from the
generated secret and uploaded 0400.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_random as random

from components.containers import ContainerSpec, HostResources, Upload, container, volume
from components.openstack.images import ImageCache
from components.render.monitoring import (
    GRAFANA_ADMIN_PASSWORD_PATH,
    GRAFANA_DASHBOARD_DIR,
    GRAFANA_DASHBOARDS_PROVIDER_PATH,
    GRAFANA_DATASOURCE_PATH,
    MYSQLD_EXPORTER_CNF_PATH,
    NDBINFO_EXPORTER_CONFIG_PATH,
    PROMETHEUS_CONFIG_PATH,
    PROMETHEUS_DATA_DIR,
    RULES_PATH,
    MonitoringArtifacts,
    render_exporter_account_sql,
    render_mysqld_exporter_cnf,
    render_ndbinfo_exporter_config,
)
from components.wiring import GATE_INTERPRETER
from config.addressing import Endpoint
from config.monitoring import user_url
from config.settings import Settings


@dataclass
class NdbMonitoringArgs:
    settings: Settings
    artifacts: MonitoringArtifacts
    hosts: dict[str, HostResources]
    sql_containers: Sequence[docker.Container]  # in topology order
    sql_ready: pulumi.Resource  # the SQL pool's gate: every mysqld serves
    sql_endpoint: Endpoint  # where the ndbinfo exporter connects (the SQL VIP or HAProxy)
    endpoint_ready: Sequence[pulumi.Resource]  # the SQL endpoint's HAProxies


class NdbMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: NdbMonitoringArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:ndb:Monitoring", name, None, opts)
        settings, art = args.settings, args.artifacts
        m = settings.monitoring
        images = ImageCache(settings, args.hosts, name, self)
        child = pulumi.ResourceOptions(parent=self)
        self.exporter_password = random.RandomPassword(
            f"{name}-exporter-password", length=32, special=False, opts=child)
        secret = self.exporter_password.result
        self.accounts: list[command.local.Command] = []
        self.mysqld_exporters: list[docker.Container] = []
        for exporter, sql in zip(art.mysqld_exporters, args.sql_containers, strict=True):
            node = exporter.node
            hosts = args.hosts[node.host]
            child_name = f"{name}-{node.name}"
            statements = secret.apply(render_exporter_account_sql)
            # Statements carry the password: secret stdin, never an argument or environment.
            account = command.local.Command(
                f"{child_name}-exporter-account",
                create=exporter.account.text, interpreter=GATE_INTERPRETER,
                environment={**exporter.account.environment,
                             "DOCKER_HOST": hosts.host.endpoint,
                             "SQL_EXEC": f"docker exec -i {node.container_name}"},
                stdin=statements.apply(pulumi.Output.secret),
                triggers=[sql.id],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[args.sql_ready]))
            self.accounts.append(account)
            cnf: pulumi.Output[str] = secret.apply(
                partial(render_mysqld_exporter_cnf, node.endpoint))
            self.mysqld_exporters.append(container(settings, ContainerSpec(
                name=f"{child_name}-exporter",
                container_name=f"{node.container_name}-exporter", hosts=hosts,
                address=node.address, role="mysqld-exporter",
                image=images.get(node.host, "mysqld-exporter", m.images.mysqld_exporter),
                memory_limit=m.memory_limit, command=exporter.command,
                uploads=[Upload(MYSQLD_EXPORTER_CNF_PATH, cnf.apply(pulumi.Output.secret),
                                "0400")],
                stop_grace_seconds=5, user="0",
                network_container=sql.id if hosts.network is not None else None,
            ), parent=self, depends_on=[account]))
        places = art.places
        hosts = args.hosts[places.host]
        ndbinfo_config = secret.apply(
            lambda p: render_ndbinfo_exporter_config(settings, args.sql_endpoint, p))
        self.ndbinfo_exporter = container(settings, ContainerSpec(
            name=f"{name}-ndbinfo-exporter",
            container_name=f"{settings.name_prefix}-ndbinfo-exporter", hosts=hosts,
            address=places.ndbinfo_exporter.host, role="ndbinfo-exporter",
            image=images.get(places.host, "sql-exporter", m.images.sql_exporter),
            memory_limit=m.memory_limit, command=art.ndbinfo_exporter_command,
            uploads=[Upload(NDBINFO_EXPORTER_CONFIG_PATH,
                            ndbinfo_config.apply(pulumi.Output.secret), "0400")],
            stop_grace_seconds=5, user="0",
        ), parent=self, depends_on=[*self.accounts, *args.endpoint_ready])
        data = volume(settings, f"{name}-prometheus-data",
                      volume_name=f"{settings.name_prefix}-prometheus-data",
                      role="prometheus-data", hosts=hosts, parent=self)
        self.prometheus = container(settings, ContainerSpec(
            name=f"{name}-prometheus", container_name=f"{settings.name_prefix}-prometheus",
            hosts=hosts, address=places.prometheus.host, role="prometheus",
            image=images.get(places.host, "prometheus", m.images.prometheus),
            memory_limit=m.memory_limit, command=art.prometheus_command,
            uploads=[Upload(PROMETHEUS_CONFIG_PATH, art.prometheus_config),
                     Upload(RULES_PATH, art.alert_rules)],
            volume=data, volume_path=PROMETHEUS_DATA_DIR,
            published={places.prometheus.port: places.prometheus.port}
            if places.published else {},
        ), parent=self, depends_on=[self.ndbinfo_exporter, *self.mysqld_exporters])
        self.grafana: docker.Container | None = None
        self.grafana_password: pulumi.Output[str] | None = None
        if art.grafana is not None:
            admin = random.RandomPassword(f"{name}-grafana-admin-password", length=24,
                                          special=False, opts=child)
            self.grafana_password = admin.result.apply(pulumi.Output.secret)
            self.grafana = container(settings, ContainerSpec(
                name=f"{name}-grafana", container_name=f"{settings.name_prefix}-grafana",
                hosts=hosts, address=places.grafana.host, role="grafana",
                image=images.get(places.host, "grafana", m.images.grafana),
                memory_limit=m.memory_limit,
                envs=art.grafana.envs,
                uploads=[Upload(GRAFANA_DATASOURCE_PATH, art.grafana.datasource),
                         Upload(GRAFANA_DASHBOARDS_PROVIDER_PATH,
                                art.grafana.dashboards_provider),
                         Upload(f"{GRAFANA_DASHBOARD_DIR}/openstack-ndb.json",
                                art.grafana.dashboard),
                         Upload(GRAFANA_ADMIN_PASSWORD_PATH, self.grafana_password, "0400")],
                user="0",
                published={places.grafana.port: places.grafana.port}
                if places.published else {},
            ), parent=self, depends_on=[self.prometheus])
        self.register_outputs({
            "prometheusUrl": user_url(places, places.prometheus),
            "grafanaUrl": user_url(places, places.grafana) if art.grafana is not None else None,
        })

