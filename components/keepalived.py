"""keepalived beside each HAProxy of a frontend with a virtual address: one container per
member host, its VRRP password generated once per frontend (secret)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.containers import ContainerSpec, HostResources, Upload, container
from components.openstack.images import ImageCache
from components.render.keepalived import (
    CHECK_SCRIPT,
    KEEPALIVED_CAPABILITIES,
    VRRP_PASSWORD_LENGTH,
    render_keepalived_conf,
    render_keepalived_config_json,
    render_vrrp_password,
)
from components.render.kolla import KOLLA_ENV, kolla_source
from components.render.shell import script_file
from config.settings import Settings
from config.virtual_addresses import VirtualAddress

KEEPALIVED_MEMORY_LIMIT = 64 << 20




def keepalived_containers(name: str, settings: Settings, vip: VirtualAddress | None, *,
                          hosts: dict[str, HostResources],
                          images: ImageCache, parent: pulumi.Resource,
                          depends_on: Sequence[pulumi.Resource]) -> list[docker.Container]:
    """`<name>-vrrp-password` and `<name>-keepalived-<n>` for each member of `vip` (none
    without one), parented to `parent`, after `depends_on` (the HAProxies they track)."""
    if vip is None:
        return []
    secret = random.RandomPassword(f"{name}-vrrp-password", length=VRRP_PASSWORD_LENGTH,
                                   special=False, opts=pulumi.ResourceOptions(parent=parent))
    password_file = secret.result.apply(partial(render_vrrp_password, vip)).apply(
        pulumi.Output.secret)
    out = []
    for i, member in enumerate(vip.members):
        out.append(container(settings, ContainerSpec(
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
        ), parent=parent, depends_on=depends_on))
    return out
