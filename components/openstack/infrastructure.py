"""What every OpenStack service leans on: RabbitMQ, memcached and the API HAProxy."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.containers import ContainerSpec, HostResources, Upload, container
from components.keepalived import keepalived_containers
from components.openstack.images import ImageCache
from components.render.haproxy import HAPROXY_CONFIG_PATH, render_api_haproxy_cfg
from components.render.infra import (
    MEMCACHED_HEALTHCHECK,
    RABBITMQ_CONF_PATH,
    RABBITMQ_HEALTHCHECK,
    RABBITMQ_PASSWORD_PATH,
    memcached_command,
    render_rabbitmq_conf,
    render_rabbitmq_password,
)
from config.openstack_layout import ControlPlaneLayout, Placed
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
        self.rabbitmq = self._container(
            f"{name}-rabbitmq", layout.rabbitmq, "rabbitmq", settings.openstack.images.rabbitmq,
            command_=None,
            # 0644: uploads are owned by root and RabbitMQ reads its config as the rabbitmq
            # user (the image drops to it); nothing else runs in this container.
            uploads=[Upload(RABBITMQ_CONF_PATH, render_rabbitmq_conf(layout)),
                     Upload(RABBITMQ_PASSWORD_PATH, password.apply(render_rabbitmq_password))],
            health=list(RABBITMQ_HEALTHCHECK))
        self.memcached = self._container(
            f"{name}-memcached", layout.memcached, "memcached",
            settings.openstack.images.memcached, command_=memcached_command(layout), uploads=[],
            health=list(MEMCACHED_HEALTHCHECK))
        publish = settings.openstack.api.publish and not settings.multi_host
        api_cfg = render_api_haproxy_cfg(layout)
        self.api_endpoints = [
            self._container(
                f"{name}-api-endpoint-{i + 1}", api, "haproxy", settings.images.haproxy,
                command_=["haproxy", "-f", HAPROXY_CONFIG_PATH],
                uploads=[Upload(HAPROXY_CONFIG_PATH, api_cfg)],
                health=None, memory=settings.openstack.api.memory_limit,
                published={a.port: a.port for s in layout.services
                           for a in s.spec.apis.values()} if publish else {})
            for i, api in enumerate(layout.api_endpoints)
        ]
        self.keepalived = keepalived_containers(
            f"{name}-api-endpoint", settings, layout.api_vip,
            hosts=args.hosts, images=args.images,
            parent=self, depends_on=self.api_endpoints)
        self.register_outputs({"rabbitmq": self.rabbitmq.name, "memcached": self.memcached.name,
                               "apiEndpoints": [c.name for c in self.api_endpoints]})

    def _container(self, name: str, placed: Placed, short: str, image: str, *,
                   command_: list[str] | None, uploads: list[Upload],
                   health: list[str] | None, memory: int | None = None,
                   published: dict[int, int] | None = None) -> docker.Container:
        a = self._args
        return container(a.settings, ContainerSpec(
            name=name, container_name=placed.container_name, hosts=a.hosts[placed.host],
            address=placed.address, role=short, image=a.images.get(placed.host, short, image),
            memory_limit=memory or a.settings.openstack.memory_limit, command=command_,
            uploads=uploads, published=published or {}, health=health,
        ), parent=self, depends_on=a.after)
