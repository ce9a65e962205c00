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

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components.containers import ContainerSpec, HostResources, Upload, container, volume
from components.render.shell import Script
from config.settings import Settings
from config.topology import Node

GATE_INTERPRETER = ["/bin/bash", "-c"]


def node_volume(name: str, settings: Settings, node: Node, hosts: HostResources,
                parent: pulumi.Resource) -> docker.Volume:
    return volume(settings, name, volume_name=f"{node.container_name}-data",
                  role=f"{node.kind}-data", hosts=hosts, parent=parent)


def node_container(
    name: str, settings: Settings, node: Node, hosts: HostResources, *,
    image: docker.RemoteImage, command_: Sequence[str], memory_limit: int,
    uploads: Sequence[Upload] = (), envs: Sequence[str] = (),
    volume: docker.Volume | None = None, volume_path: str | None = None,
    stop_grace_seconds: int = 30, health: Sequence[str] | None = None,
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (),
) -> docker.Container:
    """One long-running node container on its host, at its topology address; with a
    Docker `health` check (["CMD", ...]) its creation waits until it is healthy."""
    published = ({node.port: node.published_port}
                 if node.published_port is not None and node.port is not None else {})
    return container(settings, ContainerSpec(
        name=name, container_name=node.container_name, hosts=hosts, address=node.address,
        role=node.kind, image=image, memory_limit=memory_limit, command=command_, envs=envs,
        uploads=uploads, published=published, volume=volume, volume_path=volume_path,
        stop_grace_seconds=stop_grace_seconds, health=health,
    ), parent=parent, depends_on=depends_on)


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
