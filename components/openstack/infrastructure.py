"""What every OpenStack service leans on: RabbitMQ, memcached and the API HAProxy."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.hosts import HostResources
from components.openstack.images import ImageCache
from components.render.haproxy import HAPROXY_CONFIG_PATH, render_api_haproxy_cfg
from components.render.infra import (
    RABBITMQ_CONF_PATH,
    memcached_command,
    render_rabbitmq_conf,
)
from components.wiring import container_labels, placement_args, upload
from config.openstack_layout import MEMCACHED_PORT, ControlPlaneLayout, Placed
from config.settings import Settings


@dataclass
class ControlPlaneInfrastructureArgs:
    settings: Settings
    layout: ControlPlaneLayout
    hosts: dict[str, HostResources]
    images: ImageCache
    after: list[pulumi.Resource] = field(default_factory=list)


class ControlPlaneInfrastructure(pulumi.ComponentResource):
    def __init__(self, name: str, args: ControlPlaneInfrastructureArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:openstack:ControlPlaneInfrastructure", name, None, opts)
        self._args = args
        settings, layout = args.settings, args.layout
        self.rabbitmq_password = random.RandomPassword(
            f"{name}-rabbitmq-password", length=32, special=False,
            opts=pulumi.ResourceOptions(parent=self))
        password = self.rabbitmq_password.result.apply(pulumi.Output.secret)
        self.password: pulumi.Output[str] = password
        conf = password.apply(lambda p: render_rabbitmq_conf(layout, p))
        self.rabbitmq = self._container(
            f"{name}-rabbitmq", layout.rabbitmq, "rabbitmq", settings.openstack.images.rabbitmq,
            command_=None, uploads=[upload(RABBITMQ_CONF_PATH, conf, "0644")],
            health=["CMD", "rabbitmq-diagnostics", "-q", "ping"])
        self.memcached = self._container(
            f"{name}-memcached", layout.memcached, "memcached",
            settings.openstack.images.memcached, command_=memcached_command(layout), uploads=[],
            health=["CMD-SHELL", f"echo stats | nc -w 2 127.0.0.1 {MEMCACHED_PORT} "
                                 "| grep -q uptime"])
        api = layout.api_endpoint
        publish = settings.openstack.api.publish and not settings.multi_host
        self.api_endpoint = self._container(
            f"{name}-api-endpoint", api, "haproxy", settings.images.haproxy,
            command_=["haproxy", "-f", HAPROXY_CONFIG_PATH],
            uploads=[upload(HAPROXY_CONFIG_PATH, render_api_haproxy_cfg(layout))],
            health=None, memory=settings.openstack.api.memory_limit,
            published={a.port: a.port for s in layout.services
                       for a in s.service.apis.values()} if publish else {})
        self.register_outputs({"rabbitmq": self.rabbitmq.name, "memcached": self.memcached.name,
                               "apiEndpoint": self.api_endpoint.name})

    def _container(self, name: str, placed: Placed, short: str, image: str, *,
                   command_: list[str] | None, uploads: list[docker.ContainerUploadArgs],
                   health: list[str] | None, memory: int | None = None,
                   published: dict[int, int] | None = None) -> docker.Container:
        a = self._args
        hosts = a.hosts[placed.host]
        return docker.Container(
            name,
            image=a.images.get(placed.host, short, image).image_id,
            command=command_, uploads=uploads or None,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=health, interval="10s", timeout="10s", retries=3, start_period="20s",
            ) if health else None,
            wait=health is not None, wait_timeout=a.settings.gates.timeout_seconds,
            memory=(memory or a.settings.openstack.memory_limit) >> 20,
            restart="unless-stopped", must_run=True,
            labels=container_labels(a.settings, short),
            **placement_args(hosts, placed.container_name, placed.address, published or {}),
            opts=pulumi.ResourceOptions(parent=self, provider=hosts.provider,
                                        delete_before_replace=True, depends_on=a.after),
        )
