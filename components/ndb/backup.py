"""NdbBackupJob: the scheduled backup job, its backup volume and (with backup.encrypt) its
generated password; wiring only - the job's script and parameters are rendered by
components/render/backup.py.

The job is a container of the NDB image on backup.host. On a bridge network it joins the
first management node's network namespace (as a SQL node's check agent joins its SQL node's):
it needs no address of its own, and ndb_mgm takes one of the free [api] slots, which accept
any host. It mounts the backup volume and the volume of every data node (all on its host:
config/checks.py), and runs `ndb-backup.sh loop`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_random as random

from components.containers import ContainerSpec, HostResources, Upload, container, volume
from components.render.backup import (
    BACKUP_DIR,
    PASSWORD_PATH,
    RESTORE_SCRIPT_PATH,
    SCRIPT_PATH,
    BackupArtifacts,
    node_dir,
)
from components.wiring import GATE_INTERPRETER
from config.settings import Settings


@dataclass
class NdbBackupJobArgs:
    settings: Settings
    artifacts: BackupArtifacts
    hosts: HostResources  # backup.host's
    data_volumes: dict[int, docker.Volume]  # by data node id
    mgmd: docker.Container  # the first management node: the job joins its network
    after: list[pulumi.Resource]


def parse_last(stdout: str) -> dict[str, str | None]:
    """`ndb-backup.sh last`'s answer ("<id> <UTC time>", or "none" / nothing before the first
    backup) as the lastBackup output."""
    parts = stdout.split()
    if len(parts) != 2:
        return {"id": None, "time": None}
    return {"id": parts[0], "time": parts[1]}


class NdbBackupJob(pulumi.ComponentResource):
    def __init__(self, name: str, args: NdbBackupJobArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openstack-ndb:ndb:NdbBackupJob", name, None, opts)
        settings, artifacts, hosts = args.settings, args.artifacts, args.hosts
        self.container_name = f"{settings.name_prefix}-{name}"
        self.volume = volume(settings, f"{name}-volume", volume_name=f"{self.container_name}",
                             role="backup", hosts=hosts, parent=self)
        uploads = [Upload(SCRIPT_PATH, artifacts.job.text, "0755"),
                   Upload(RESTORE_SCRIPT_PATH, artifacts.restore.text, "0755")]
        self.password: pulumi.Output[str] | None = None
        if settings.backup.encrypt:
            generated = random.RandomPassword(f"{name}-password", length=32, special=False,
                                              opts=pulumi.ResourceOptions(parent=self))
            self.password = generated.result.apply(pulumi.Output.secret)
            uploads.append(Upload(PASSWORD_PATH, self.password, "0400"))
        # Its parameters are no secret (the password is a file): plain environment.
        self.container = container(settings, ContainerSpec(
            name=f"{name}-container", container_name=self.container_name, hosts=hosts,
            address=args.artifacts.data_nodes[0].address, role="backup",
            image=hosts.ndb_image, memory_limit=settings.backup.memory_limit,
            command=artifacts.command,
            envs=[f"{k}={v}" for k, v in artifacts.job.environment.items()],
            uploads=uploads,
            more_volumes=[(self.volume, BACKUP_DIR),
                          *((args.data_volumes[n.node_id], node_dir(n))
                            for n in artifacts.data_nodes)],
            stop_grace_seconds=5,
            network_container=args.mgmd.id if hosts.network is not None else None,
        ), parent=self, depends_on=args.after)
        # Read at every `pulumi up` and preview (an invoke, not a resource): the newest
        # complete backup the job has made, or none yet (also before the job exists).
        last = command.local.run_output(
            command=f"docker exec {self.container_name} bash {SCRIPT_PATH} last "
                    "2>/dev/null || echo none",
            interpreter=GATE_INTERPRETER,
            environment={"DOCKER_HOST": hosts.host.endpoint},
        )
        self.last_backup: pulumi.Output[dict[str, str | None]] = last.stdout.apply(parse_last)
        self.register_outputs({"lastBackup": self.last_backup,
                               "container": self.container_name})
