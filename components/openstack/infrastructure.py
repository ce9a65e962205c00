"""What every OpenStack service leans on: RabbitMQ, memcached and the API HAProxy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.containers import ContainerSpec, HostResources, Upload, container, volume
from components.keepalived import frontend_containers
from components.openstack.images import ImageCache
from components.render.haproxy import HAPROXY_CONFIG_PATH, render_api_haproxy_cfg
from components.render.infra import (
    ERLANG_COOKIE_MODE,
    ERLANG_COOKIE_PATH,
    MEMCACHED_HEALTHCHECK,
    RABBITMQ_CONF_PATH,
    RABBITMQ_DATA_DIR,
    RABBITMQ_HEALTHCHECK,
    RABBITMQ_PASSWORD_PATH,
    memcached_command,
    rabbitmq_environment,
    render_erlang_cookie,
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
        # The members' shared Erlang cookie: generated once and kept in state, a secret file.
        self.erlang_cookie = random.RandomPassword(
            f"{name}-erlang-cookie", length=32, special=False,
            opts=pulumi.ResourceOptions(parent=self))
        cookie = self.erlang_cookie.result.apply(pulumi.Output.secret)
        # One member at a time: each waits until the one before is healthy, so an update
        # that replaces every member (a new image, a changed member list) keeps the others
        # serving while one restarts from its volume.
        self.rabbitmq: list[docker.Container] = []
        for member in layout.rabbitmq:
            data = volume(settings, f"{name}-{member.name}-volume",
                          volume_name=f"{member.container_name}-data", role="rabbitmq",
                          hosts=args.hosts[member.host], parent=self)
            self.rabbitmq.append(self._container(
                f"{name}-{member.name}", member, "rabbitmq", settings.openstack.images.rabbitmq,
                command_=None,
                # 0644: uploads are owned by root and RabbitMQ reads its config as the
                # rabbitmq user (the image drops to it); nothing else runs in this container.
                # The cookie is 0400: the image's entrypoint hands it to the rabbitmq user
                # (it chowns what under its data directory is not the user's).
                uploads=[Upload(RABBITMQ_CONF_PATH, render_rabbitmq_conf(layout, member)),
                         Upload(RABBITMQ_PASSWORD_PATH,
                                password.apply(render_rabbitmq_password)),
                         Upload(ERLANG_COOKIE_PATH, cookie.apply(render_erlang_cookie),
                                mode=ERLANG_COOKIE_MODE)],
                envs=[f"{k}={v}" for k, v in rabbitmq_environment(layout, member).items()],
                extra_hosts=layout.rabbitmq_hosts, data=(data, RABBITMQ_DATA_DIR),
                health=list(RABBITMQ_HEALTHCHECK), after=self.rabbitmq[-1:]))
        # Chained like the RabbitMQ members (and every other redundant set: the frontends,
        # each service's replicas): an image bump replaces one memcached at a time, each
        # after the one before is healthy, so the services' caches never all go at once.
        self.memcached: list[docker.Container] = []
        for server in layout.memcached:
            self.memcached.append(self._container(
                f"{name}-{server.name}", server, "memcached",
                settings.openstack.images.memcached,
                command_=memcached_command(layout, server), uploads=[],
                health=list(MEMCACHED_HEALTHCHECK), after=self.memcached[-1:]))
        publish = settings.openstack.api.publish and not settings.multi_host
        api_cfg = render_api_haproxy_cfg(layout)

        def api_haproxy(i: int, uploads: Sequence[Upload], health: list[str] | None,
                        after: list[pulumi.Resource]) -> docker.Container:
            return self._container(
                f"{name}-api-endpoint-{i + 1}", layout.api_endpoints[i], "haproxy",
                settings.images.haproxy, command_=["haproxy", "-f", HAPROXY_CONFIG_PATH],
                uploads=[Upload(HAPROXY_CONFIG_PATH, api_cfg), *uploads],
                health=health, memory=settings.openstack.api.memory_limit,
                published={a.port: a.port for s in layout.services
                           for a in s.spec.apis.values()} if publish else {}, after=after)

        self.api_endpoints, self.keepalived = frontend_containers(
            f"{name}-api-endpoint", settings, layout.api_vip, len(layout.api_endpoints),
            api_haproxy, hosts=args.hosts, images=args.images, parent=self)
        self.register_outputs({"rabbitmq": [c.name for c in self.rabbitmq],
                               "memcached": [c.name for c in self.memcached],
                               "apiEndpoints": [c.name for c in self.api_endpoints]})

    def _container(self, name: str, placed: Placed, short: str, image: str, *,
                   command_: list[str] | None, uploads: list[Upload],
                   health: list[str] | None, memory: int | None = None,
                   published: dict[int, int] | None = None, envs: list[str] | None = None,
                   extra_hosts: dict[str, str] | None = None,
                   data: tuple[docker.Volume, str] | None = None,
                   after: Sequence[pulumi.Resource] | None = None) -> docker.Container:
        a = self._args
        return container(a.settings, ContainerSpec(
            name=name, container_name=placed.container_name, hosts=a.hosts[placed.host],
            address=placed.address, role=short, image=a.images.get(placed.host, short, image),
            memory_limit=memory or a.settings.openstack.memory_limit, command=command_,
            envs=envs or (), extra_hosts=extra_hosts or {}, uploads=uploads,
            published=published or {}, health=health,
            volume=data[0] if data else None, volume_path=data[1] if data else None,
        ), parent=self, depends_on=[*a.after, *(after or [])])
