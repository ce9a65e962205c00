"""Per Docker host: its provider, its pinned images and (single host) the bridge network."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from config.settings import DockerHost, Settings


@dataclass(frozen=True)
class HostResources:
    host: DockerHost
    provider: docker.Provider
    ndb_image: docker.RemoteImage
    haproxy_image: docker.RemoteImage
    network: docker.Network | None  # None with host networking


def build_hosts(settings: Settings) -> dict[str, HostResources]:
    out = {}
    for host in settings.hosts:
        provider = docker.Provider(
            f"docker-{host.name}", host=host.endpoint, ssh_opts=list(host.ssh_opts) or None
        )
        opts = pulumi.ResourceOptions(provider=provider)
        # keep_locally: a destroy or an image bump must not pull the image out from under a
        # container that still runs it during a rolling replacement.
        ndb_image = docker.RemoteImage(f"{host.name}-image-ndb", name=settings.images.ndb,
                                       keep_locally=True, opts=opts)
        haproxy_image = docker.RemoteImage(f"{host.name}-image-haproxy",
                                           name=settings.images.haproxy, keep_locally=True,
                                           opts=opts)
        network = None
        if not settings.multi_host:
            network = docker.Network(
                f"{host.name}-network",
                name=settings.network.name,
                driver="bridge",
                ipam_configs=[docker.NetworkIpamConfigArgs(subnet=str(settings.network.subnet))],
                labels=[docker.NetworkLabelArgs(label=k, value=v)
                        for k, v in labels(settings, "network").items()],
                opts=opts,
            )
        out[host.name] = HostResources(host, provider, ndb_image, haproxy_image, network)
    return out


def labels(settings: Settings, role: str) -> dict[str, str]:
    """Docker labels of every container, volume and network of the stack."""
    return {"org.openstack-ndb.prefix": settings.name_prefix, "org.openstack-ndb.role": role}
