"""One way to build a container, and the resources every host has.

Every component describes its containers as `ContainerSpec`s and `container()` turns each
into a docker.Container the same way: name and hostname, labels, the host's network (its own
bridge address, or host networking), published ports, uploads, health check, restart policy,
memory limit, delete-before-replace (names are fixed) and the host's provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from config.settings import DockerHost, Settings

LABEL_PREFIX = "org.openstack-ndb.prefix"
LABEL_ROLE = "org.openstack-ndb.role"


@dataclass(frozen=True)
class HostResources:
    """What a Docker host gives every container on it."""

    host: DockerHost
    provider: docker.Provider
    ndb_image: docker.RemoteImage
    haproxy_image: docker.RemoteImage
    network: docker.Network | None  # None with host networking


@dataclass(frozen=True)
class Upload:
    """A file written into the container before it starts. `content` may be a secret
    Output; only such an upload is secret in the container's inputs."""

    path: str
    content: pulumi.Input[str]
    mode: str = "0644"


@dataclass(frozen=True)
class ContainerSpec:
    name: str  # Pulumi resource name
    container_name: str  # Docker name and hostname
    hosts: HostResources
    address: str  # its own address on the bridge network; its host's with host networking
    role: str  # the org.openstack-ndb.role label
    image: docker.RemoteImage
    memory_limit: int  # bytes
    command: Sequence[str] | None = None  # None: the image's own
    envs: Sequence[str] = ()  # never a secret: secrets are uploaded files
    extra_hosts: Mapping[str, str] = field(default_factory=dict)  # /etc/hosts: name -> address
    uploads: Sequence[Upload] = ()
    published: Mapping[int, int] = field(default_factory=dict)  # container port -> host port
    volume: docker.Volume | None = None
    volume_path: str | None = None
    # Further named volumes as (volume, path in the container): the backup job mounts the
    # backup volume and every data node's volume on its host.
    more_volumes: Sequence[tuple[docker.Volume, str]] = ()
    health: Sequence[str] | None = None  # Docker's test form: ["CMD", ...]; waits for healthy
    one_shot: bool = False  # runs to completion, attached: `pulumi up` waits for its exit
    stop_grace_seconds: int = 30
    capabilities: Sequence[str] = ()  # Linux capabilities added (NET_ADMIN, ...)
    # Bridge network only: join this container's network namespace (Docker's
    # `--network container:<id>`) instead of taking an address of its own; `address` is then
    # that container's. A sidecar such as a SQL node's check agent.
    network_container: pulumi.Input[str] | None = None
    # The user it runs as, when not the image's: "0" for a program that must read an uploaded
    # 0400 secret (uploads are owned by root) in an image whose USER is another.
    user: str | None = None


def labels(settings: Settings, role: str) -> dict[str, str]:
    """Docker labels of every container, volume and network of the stack."""
    return {LABEL_PREFIX: settings.name_prefix, LABEL_ROLE: role}


def container(settings: Settings, spec: ContainerSpec, *, parent: pulumi.Resource,
              depends_on: Sequence[pulumi.Resource] = ()) -> docker.Container:
    """The container of `spec` on its host, parented to `parent`."""
    hosts = spec.hosts
    joined = spec.network_container if hosts.network is not None else None
    bridge = hosts.network is not None and joined is None
    health = settings.health_checks
    return docker.Container(
        spec.name,
        name=spec.container_name,
        hostname=spec.container_name if bridge else None,
        image=spec.image.image_id,
        command=list(spec.command) if spec.command is not None else None,
        envs=list(spec.envs) or None,
        hosts=[docker.ContainerHostArgs(host=name, ip=address)
               for name, address in spec.extra_hosts.items()] or None,
        uploads=[docker.ContainerUploadArgs(file=u.path, content=u.content,
                                            permissions=u.mode) for u in spec.uploads] or None,
        volumes=[*([docker.ContainerVolumeArgs(volume_name=spec.volume.name,
                                               container_path=spec.volume_path)]
                   if spec.volume is not None else []),
                 *(docker.ContainerVolumeArgs(volume_name=v.name, container_path=path)
                   for v, path in spec.more_volumes)] or None,
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=list(spec.health), interval=f"{health.interval_seconds}s",
            timeout=f"{health.timeout_seconds}s", retries=health.retries,
            start_period=f"{health.start_period_seconds}s")
        if spec.health is not None else None,
        wait=True if spec.health is not None else None,
        wait_timeout=settings.gates.timeout_seconds if spec.health is not None else None,
        # attach: `pulumi up` waits for a one-shot; a failed run is recorded in exit_code
        # (not an error of the provider), which the step after it reads and reports.
        attach=True if spec.one_shot else None,
        logs=True if spec.one_shot else None,
        must_run=not spec.one_shot,
        restart="no" if spec.one_shot else "unless-stopped",
        memory=spec.memory_limit >> 20,  # pulumi-docker takes MB
        destroy_grace_seconds=None if spec.one_shot else spec.stop_grace_seconds,
        labels=[docker.ContainerLabelArgs(label=k, value=v)
                for k, v in labels(settings, spec.role).items()],
        ports=[docker.ContainerPortArgs(internal=i, external=e,
                                        ip=str(hosts.host.address or "127.0.0.1"))
               for i, e in spec.published.items()] or None,
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(
            name=hosts.network.name, ipv4_address=spec.address)]
        if bridge and hosts.network is not None else None,
        network_mode=(pulumi.Output.concat("container:", joined) if joined is not None
                      else None if bridge else "host"),
        user=spec.user,
        capabilities=docker.ContainerCapabilitiesArgs(adds=list(spec.capabilities))
        if spec.capabilities else None,
        opts=pulumi.ResourceOptions(parent=parent, provider=hosts.provider,
                                    delete_before_replace=True, depends_on=list(depends_on)),
    )


def volume(settings: Settings, name: str, *, volume_name: str, role: str,
           hosts: HostResources, parent: pulumi.Resource) -> docker.Volume:
    """A named data volume; `volumes.protect` keeps it from `pulumi destroy`."""
    protect = settings.volumes.protect
    return docker.Volume(
        name,
        name=volume_name,
        labels=[docker.VolumeLabelArgs(label=k, value=v)
                for k, v in labels(settings, role).items()],
        opts=pulumi.ResourceOptions(parent=parent, provider=hosts.provider, protect=protect,
                                    retain_on_delete=protect),
    )


def host_resources(settings: Settings, prefix: str, parent: pulumi.Resource
                   ) -> dict[str, HostResources]:
    """Per Docker host: its provider, the NDB and HAProxy images, and (one host) the bridge
    network; named `<prefix>-...` and parented to `parent`."""
    out = {}
    for host in settings.hosts:
        provider = docker.Provider(
            f"{prefix}-docker-{host.name}", host=host.endpoint,
            ssh_opts=list(host.ssh_opts) or None,
            opts=pulumi.ResourceOptions(parent=parent))
        opts = pulumi.ResourceOptions(parent=parent, provider=provider)
        # keep_locally: a destroy or an image bump must not pull the image out from under a
        # container that still runs it during a rolling replacement.
        ndb_image = docker.RemoteImage(f"{prefix}-{host.name}-image-ndb",
                                       name=settings.images.ndb, keep_locally=True, opts=opts)
        haproxy_image = docker.RemoteImage(f"{prefix}-{host.name}-image-haproxy",
                                           name=settings.images.haproxy, keep_locally=True,
                                           opts=opts)
        network = None
        if not settings.multi_host:
            network = docker.Network(
                f"{prefix}-{host.name}-network",
                name=settings.network.name,
                driver="bridge",
                ipam_configs=[docker.NetworkIpamConfigArgs(subnet=str(settings.network.subnet))],
                labels=[docker.NetworkLabelArgs(label=k, value=v)
                        for k, v in labels(settings, "network").items()],
                opts=opts,
            )
        out[host.name] = HostResources(host, provider, ndb_image, haproxy_image, network)
    return out
