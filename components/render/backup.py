"""Scheduled native backups, restore and point-in-time recovery: scripts/ndb-backup.sh and
scripts/ndb-restore.sh with their parameters, and the binlogging SQL node's my.cnf options.

The backup job is one container of the NDB image on `backup.host` (ndb_mgm is in it): it
runs `ndb-backup.sh loop`, which wakes every minute and, when `backup.schedule` matches, runs
`START BACKUP <id> WAIT COMPLETED` and copies each data node's `BACKUP-<id>` files from the
node's volume (mounted into the job at NODE_DIR) to the backup volume (BACKUP_DIR), then
prunes by `backup.retention`. The schedule is matched by the script itself: the NDB image
ships no cron daemon, and supercronic is neither in Debian nor on PyPI, so an extra binary
would have to be fetched and pinned by hand; the matcher is 40 lines of bash, held to
config/cron.py by a test. docs/design.md §2.8 has the sources.

After a whole restore, every SQL node is restarted in turn (sql-node-restart.sh, as the
scale-out restarts them): a mysqld applies the NDB_STORED_USER accounts of
mysql.ndb_sql_metadata when it joins the cluster, not when ndb_restore writes the rows, so
the restored service accounts are refused (1045) until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.render.gates import _with_library, render_deployed_sql_restart
from components.render.shell import Script, script_file
from config.settings import Settings
from config.topology import Node, Topology

BACKUP_DIR = "/backups"  # the backup volume, in the job's container
SCRIPT_PATH = "/opt/openstack-ndb/ndb-backup.sh"
RESTORE_SCRIPT_PATH = "/opt/openstack-ndb/ndb-restore.sh"
PASSWORD_PATH = "/run/secrets/ndb-backup-password"  # 0400, only with backup.encrypt
# START BACKUP of a cloud's control plane takes seconds; an hour leaves room for a large one.
START_TIMEOUT_SECONDS = 3600


def node_dir(node: Node) -> str:
    """Where the job sees a data node's DataDir (its volume, mounted)."""
    return f"/ndb-data/node-{node.node_id}"


@dataclass(frozen=True)
class BackupArtifacts:
    job: Script  # ndb-backup.sh and its parameters, as the job container runs it
    command: tuple[str, ...]  # the job container's command
    restore: Script  # ndb-restore.sh and the parameters known up front
    host: str  # the Docker host of the job and the backup volume
    data_nodes: tuple[Node, ...]  # whose volumes the job mounts
    # per SQL node, in order: sql-node-restart.sh with the `docker` commands of a deployment,
    # run by `make restore` after a whole restore (the stored accounts take effect)
    sql_restarts: tuple[Script, ...]


def backup_host(settings: Settings) -> str:
    return settings.backup.host or settings.hosts[0].name


def render_backup(settings: Settings, topology: Topology) -> BackupArtifacts:
    """The backup job's and the restore's scripts. Pure: settings and topology in."""
    backup = settings.backup
    data = topology.data
    retention = backup.retention
    job_env = {
        "NDB_CONNECTSTRING": topology.connectstring,
        "BACKUP_DIR": BACKUP_DIR,
        "BACKUP_NODE_DIRS": " ".join(f"{n.node_id}={node_dir(n)}" for n in data),
        "BACKUP_SCHEDULE": backup.schedule,
        "BACKUP_KEEP_COUNT": str(retention.count),
        "BACKUP_KEEP_DAYS": str(retention.max_age_days or 0),
        "BACKUP_PASSWORD_FILE": PASSWORD_PATH if backup.encrypt else "",
        "BACKUP_TIMEOUT_SECONDS": str(START_TIMEOUT_SECONDS),
    }
    restore_env = {
        "NDB_CONNECTSTRING": topology.connectstring,
        "BACKUP_DIR": BACKUP_DIR,
        "BACKUP_PASSWORD_FILE": PASSWORD_PATH if backup.encrypt else "",
    }
    return BackupArtifacts(
        job=Script(script_file("ndb-backup.sh"), job_env),
        command=("bash", SCRIPT_PATH, "loop"),
        restore=Script(script_file("ndb-restore.sh"), restore_env),
        host=backup_host(settings),
        data_nodes=data,
        sql_restarts=tuple(render_deployed_sql_restart(settings, topology, s)
                           for s in topology.sql),
    )


def sql_restart_text() -> str:
    """The text of every SQL node's restart (sql_restart's; its parameters are all in its
    environment), for `make restore`, which has the stack's outputs but not its settings."""
    return _with_library("sql-node-restart.sh")


def binlog_node(topology: Topology) -> Node:
    """The SQL node that writes the binary log of NDB changes: the first."""
    return topology.sql[0]


