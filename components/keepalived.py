"""A frontend's HAProxies and, with a virtual address, keepalived beside each: one container
per member host, its VRRP password generated once per frontend (secret), replaced host by
host."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.containers import ContainerSpec, HostResources, Upload, container
from components.openstack.images import ImageCache
from components.render.keepalived import (
    CHECK_SCRIPT,
    HAPROXY_CHECK_PATH,
    KEEPALIVED_CAPABILITIES,
    VRRP_PASSWORD_LENGTH,
    haproxy_healthcheck,
    render_keepalived_conf,
    render_keepalived_config_json,
    render_vrrp_password,
)
from components.render.kolla import KOLLA_ENV, kolla_source
from components.render.shell import script_file
from config.settings import Settings
from config.virtual_addresses import VirtualAddress

KEEPALIVED_MEMORY_LIMIT = 64 << 20




def frontend_containers(
    name: str, settings: Settings, vip: VirtualAddress | None, count: int,
    haproxy: Callable[[int, Sequence[Upload], list[str] | None, list[pulumi.Resource]],
                      docker.Container], *,
    hosts: dict[str, HostResources], images: ImageCache, parent: pulumi.Resource,
) -> tuple[list[docker.Container], list[docker.Container]]:
    """A frontend's `count` HAProxies and, with a virtual address, a keepalived beside each
    (`<name>-keepalived-<n>`, `<name>-vrrp-password`): (HAProxies, keepalived containers).

    `haproxy(i, uploads, health, depends_on)` makes the i-th HAProxy container with the
    extra `uploads` and Docker `health` check it is given (the monitor URI's check, with a
    virtual address) after `depends_on`. Host by host: the i-th HAProxy waits for the
    (i-1)-th to be healthy and its keepalived to be started. Every container is
    delete-before-replace (fixed names), and the engine replaces independent resources at
    once: a change of haproxy.cfg or of an image would take every HAProxy of the frontend
    down together. Chained, one host's HAProxy is replaced at a time and the virtual
    address moves to a host still serving (README, "How updates stay online")."""
    health = haproxy_healthcheck(vip)
    uploads = [Upload(HAPROXY_CHECK_PATH, script_file(CHECK_SCRIPT), "0755")] if health else []
    password_file = _vrrp_password_file(name, vip, parent) if vip is not None else None
    proxies: list[docker.Container] = []
    keepalived: list[docker.Container] = []
    after: list[pulumi.Resource] = []
    for i in range(count):
        proxies.append(haproxy(i, uploads, health, after))
        after = [proxies[-1]]
        if vip is not None and password_file is not None:
            keepalived.append(_keepalived(name, settings, vip, i, password_file, hosts=hosts,
                                          images=images, parent=parent, after=after))
            after = [proxies[-1], keepalived[-1]]
    return proxies, keepalived


def _vrrp_password_file(name: str, vip: VirtualAddress,
                        parent: pulumi.Resource) -> pulumi.Output[str]:
    secret = random.RandomPassword(f"{name}-vrrp-password", length=VRRP_PASSWORD_LENGTH,
                                   special=False, opts=pulumi.ResourceOptions(parent=parent))
    password_file: pulumi.Output[str] = secret.result.apply(
        partial(render_vrrp_password, vip)).apply(pulumi.Output.secret)
    return password_file


def _keepalived(name: str, settings: Settings, vip: VirtualAddress, i: int,
                password_file: pulumi.Output[str], *, hosts: dict[str, HostResources],
                images: ImageCache, parent: pulumi.Resource,
                after: Sequence[pulumi.Resource]) -> docker.Container:
    """The keepalived of `vip`'s i-th member, after `after` (the HAProxy it tracks)."""
    member = vip.members[i]
    return container(settings, ContainerSpec(
        name=f"{name}-keepalived-{i + 1}",
        container_name=f"{settings.name_prefix}-{vip.frontend}-keepalived",
        hosts=hosts[member.host], address=member.address, role="keepalived",
        image=images.get(member.host, "keepalived", settings.images.keepalived),
        memory_limit=KEEPALIVED_MEMORY_LIMIT, envs=list(
            f"{k}={v}" for k, v in KOLLA_ENV.items()),
        uploads=[Upload(kolla_source("config.json"), render_keepalived_config_json()),
                 Upload(kolla_source("keepalived.conf"),
                        render_keepalived_conf(vip, member.host)),
                 Upload(kolla_source("vrrp-password.conf"), password_file, "0600"),
                 Upload(kolla_source(CHECK_SCRIPT), script_file(CHECK_SCRIPT), "0700")],
        capabilities=KEEPALIVED_CAPABILITIES,
    ), parent=parent, depends_on=after)
