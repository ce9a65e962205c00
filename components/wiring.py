"""The resource shapes every NDB component shares: a node's container and volume, and gates.

Why replicas are chained through gates: pulumi-docker replaces a container whose image,
uploads or command change, and with fixed names it must delete before it creates. The engine
deletes a replaced resource's dependents early only when an input property of theirs depends
on it (pulumi/pulumi pkg/resource/deploy/step_generator.go, calculateDependentReplacements);
a `depends_on` edge alone does not. So replica r+1 `depends_on` the gate of replica r, and
that gate's `triggers` carry replica r's container id: replacing replica r re-runs its gate,
and replica r+1 is not touched until replica r is back. Every node group keeps one replica up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components.hosts import HostResources, labels
from components.render.shell import Script
from config.settings import Settings
from config.topology import Node

GATE_INTERPRETER = ["/bin/bash", "-c"]


def node_volume(name: str, settings: Settings, node: Node, hosts: HostResources,
                parent: pulumi.Resource) -> docker.Volume:
    protect = settings.volumes.protect
    return docker.Volume(
        name,
        name=f"{node.container_name}-data",
        labels=[docker.VolumeLabelArgs(label=k, value=v)
                for k, v in labels(settings, f"{node.kind}-data").items()],
        opts=pulumi.ResourceOptions(parent=parent, provider=hosts.provider, protect=protect,
                                    retain_on_delete=protect),
    )


def node_container(
    name: str, settings: Settings, node: Node, hosts: HostResources, *,
    image: docker.RemoteImage, command_: Sequence[str], memory_limit: int,
    uploads: Sequence[docker.ContainerUploadArgs] = (), envs: Sequence[str] = (),
    volume: docker.Volume | None = None, volume_path: str | None = None,
    stop_grace_seconds: int = 30,
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (),
) -> docker.Container:
    """One long-running node container on its host, at its topology address."""
    published = ({node.port: node.published_port}
                 if node.published_port is not None and node.port is not None else {})
    return docker.Container(
        name,
        image=image.image_id,
        command=list(command_),
        envs=list(envs) or None,
        uploads=list(uploads) or None,
        volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=volume_path)]
        if volume is not None else None,
        memory=memory_limit >> 20,  # pulumi-docker takes MB
        restart="unless-stopped",
        must_run=True,
        destroy_grace_seconds=stop_grace_seconds,
        labels=container_labels(settings, node.kind),
        **placement_args(hosts, node.container_name, node.address, published),
        opts=pulumi.ResourceOptions(parent=parent, provider=hosts.provider,
                                    delete_before_replace=True, depends_on=list(depends_on)),
    )


def container_labels(settings: Settings, role: str) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=k, value=v)
            for k, v in labels(settings, role).items()]


def placement_args(hosts: HostResources, container_name: str, address: str,
                   published: dict[int, int]) -> dict[str, Any]:
    """Name, network and published ports of a container at its layout address: its own
    address on the bridge network, or its host's network with several hosts."""
    network = hosts.network
    bridge = network is not None
    return {
        "name": container_name,
        "hostname": container_name if bridge else None,
        "ports": [docker.ContainerPortArgs(internal=i, external=e,
                                           ip=str(hosts.host.address or "127.0.0.1"))
                  for i, e in published.items()] or None,
        "networks_advanced": [docker.ContainerNetworksAdvancedArgs(
            name=network.name, ipv4_address=address)] if network is not None else None,
        "network_mode": None if bridge else "host",
    }


def gate(name: str, script: Script, *, mgm_container: str, mgm_hosts: HostResources,
         triggers: Sequence[pulumi.Input[str]], parent: pulumi.Resource,
         depends_on: Sequence[pulumi.Resource]) -> command.local.Command:
    """Run a rendered gate script on the deploying machine, asking the management node.
    Its parameters are in `environment`: a change there re-runs `create` like a change of the
    text does (pulumi-command updates on any input change but `triggers`, and runs `create`
    on an update that has no `update` command)."""
    return command.local.Command(
        name,
        create=script.text,
        interpreter=GATE_INTERPRETER,
        environment={
            **script.environment,
            "DOCKER_HOST": mgm_hosts.host.endpoint,
            "NDB_MGM": f"docker exec {mgm_container} ndb_mgm",
        },
        triggers=list(triggers),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def upload(path: str, content: pulumi.Input[str], permissions: str = "0644"
           ) -> docker.ContainerUploadArgs:
    return docker.ContainerUploadArgs(file=path, content=content, permissions=permissions)
