"""`make backup` and `make restore`: the deployed stack's backup job runs the shipped scripts.

    python -m tools.backup backup --stack dev
    python -m tools.backup restore --stack dev --backup 2612010230 [--until 'YYYY-MM-DD hh:mm:ss']
        [--databases keystone,nova] [--from-stack old]

Both run in the backup job's container (`docker exec`, DOCKER_HOST its host's engine), which
has ndb_mgm, ndb_restore, mysql and mysqlbinlog, the backup volume and the scripts
(components/render/backup.py). The stack outputs name the job (`backupJob`), the first SQL
node (`nodes`, the binlogging one) and the root password. Secrets travel on standard input
only: the root password into a 0600 option file in the container, removed afterwards; with
--from-stack, the other stack's backup password likewise. --from-stack copies the backup
folder from that stack's job first (`docker cp`, a tar stream), for a restore into a fresh or
resized stack.

After a whole restore (no --databases) every SQL node is restarted, one after the other, each
waited for until it is connected to the cluster again (sql-node-restart.sh, its parameters
from the `backupJob.sqlRestarts` output): a mysqld applies the restored NDB_STORED_USER
accounts (mysql.ndb_sql_metadata) when it joins the cluster, so until then the services'
accounts are refused. A restore of some databases leaves the accounts as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from typing import Any

from components.render.backup import sql_restart_text

SCRIPT = "/opt/openstack-ndb/ndb-backup.sh"
RESTORE_SCRIPT = "/opt/openstack-ndb/ndb-restore.sh"
CLIENT_CNF = "/run/openstack-ndb-restore.cnf"
OTHER_PASSWORD = "/run/openstack-ndb-restore-backup-password"
UNTIL = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def outputs(stack: str, secrets: bool = False) -> dict[str, Any]:
    argv = ["pulumi", "stack", "output", "--json", "--stack", stack]
    done = subprocess.run([*argv, *(["--show-secrets"] if secrets else [])],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"error: no outputs of stack {stack} (make up first?): {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def job_of(out: dict[str, Any], stack: str) -> tuple[str, str]:
    job = out.get("backupJob")
    if not job:
        sys.exit(f"error: stack {stack} has no backup job (backup.enabled is false)")
    return job["container"], job["dockerHost"]


def docker(host: str, *args: str, stdin: str | None = None,
           stdout: Any = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], input=stdin, text=True, stdout=stdout,
                          env={**os.environ, "DOCKER_HOST": host}, check=False)


def backup(stack: str) -> int:
    container, host = job_of(outputs(stack), stack)
    return docker(host, "exec", container, "bash", SCRIPT, "once").returncode


def copy_backup(source: tuple[str, str], target: tuple[str, str], backup_id: str) -> None:
    """The backup folder from one job's volume to another's, as a tar stream."""
    (src, src_host), (dst, dst_host) = source, target
    read = subprocess.Popen(["docker", "cp", f"{src}:/backups/{backup_id}", "-"],
                            stdout=subprocess.PIPE, env={**os.environ, "DOCKER_HOST": src_host})
    write = subprocess.run(["docker", "cp", "-", f"{dst}:/backups/"], stdin=read.stdout,
                           env={**os.environ, "DOCKER_HOST": dst_host}, check=False)
    if read.wait() != 0 or write.returncode != 0:
        sys.exit(f"error: copying backup {backup_id} from {src} to {dst} failed")


def restore(stack: str, backup_id: str, until: str, databases: str, from_stack: str) -> int:
    if not backup_id.isdigit():
        sys.exit(f"error: BACKUP={backup_id!r} is not a backup id (ls the job's /backups)")
    if until and not UNTIL.match(until):
        sys.exit(f"error: UNTIL={until!r} must be 'YYYY-MM-DD hh:mm:ss' (UTC)")
    out = outputs(stack, secrets=True)
    container, host = job_of(out, stack)
    sqls = [n for name, n in sorted(out["nodes"].items()) if name.startswith("ndb-sql-")]
    if not sqls:
        sys.exit(f"error: stack {stack} lists no SQL node in its `nodes` output")
    if until and len(sqls) < 2:
        sys.exit("error: UNTIL needs a second SQL node to replay through: the binlogging one "
                 "skips events with its own server id")
    binlog, sql = sqls[0], sqls[-1]  # the first SQL node logs; replay through another
    env = {"BACKUP_ID": backup_id, "RESTORE_UNTIL": until, "RESTORE_DATABASES": databases}
    if from_stack:
        other = outputs(from_stack, secrets=True)
        copy_backup(job_of(other, from_stack), (container, host), backup_id)
        if other.get("backupPassword"):
            write_secret(host, container, OTHER_PASSWORD, other["backupPassword"])
            env["BACKUP_PASSWORD_FILE"] = OTHER_PASSWORD
    cnf = f"--defaults-extra-file={CLIENT_CNF}"
    login = f"{cnf} --host={sql['address']} --port={sql['port']}"
    binlog_login = f"{cnf} --host={binlog['address']} --port={binlog['port']}"
    env["MYSQL"] = f"mysql {login}"
    env["BINLOG_MYSQL"] = f"mysql {binlog_login}"
    env["MYSQLBINLOG"] = f"mysqlbinlog {binlog_login} --read-from-remote-server"
    write_secret(host, container, CLIENT_CNF,
                 f"[client]\nuser=root\npassword={out['rootPassword']}\n")
    try:
        flags = [f"--env={k}={v}" for k, v in env.items()]
        code = docker(host, "exec", *flags, container, "bash", RESTORE_SCRIPT).returncode
    finally:
        docker(host, "exec", container, "rm", "-f", CLIENT_CNF, OTHER_PASSWORD)
    if code != 0 or databases:
        return code
    return restart_sql_nodes(out["backupJob"].get("sqlRestarts", []))


def restart_sql_nodes(restarts: list[dict[str, Any]]) -> int:
    """Each SQL node restarted in turn, the next only once the last is connected again, so
    the endpoint always has one: they apply the restored stored accounts as they join.
    `restarts`: the `backupJob.sqlRestarts` output, [{"name", "environment"}] in order.
    Returns the first failing restart's exit status, else 0."""
    if not restarts:
        print("warning: the stack's outputs list no SQL node restart (deployed before "
              "`make restore` restarted them): restart each SQL node so that the restored "
              "accounts take effect", file=sys.stderr)
        return 0
    text = sql_restart_text()
    for restart in restarts:
        done = subprocess.run(["bash", "-c", text, "sql-node-restart.sh"],
                              env={**os.environ, **restart["environment"]}, check=False)
        if done.returncode != 0:
            print(f"error: restart of {restart['name']} failed; the restored accounts are "
                  "not in effect on the SQL nodes not restarted yet", file=sys.stderr)
            return done.returncode
    return 0


def write_secret(host: str, container: str, path: str, text: str) -> None:
    """`text` into `path` in the container, mode 0600, through standard input."""
    done = docker(host, "exec", "-i", container, "bash", "-c",
                  'umask 077 && cat > "$1"', "write-secret", path, stdin=text)
    if done.returncode != 0:
        sys.exit(f"error: could not write {path} in {container}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("backup", help="one backup now")
    one.add_argument("--stack", required=True)
    back = sub.add_parser("restore", help="restore a backup, optionally up to a time")
    back.add_argument("--stack", required=True)
    back.add_argument("--backup", required=True)
    back.add_argument("--until", default="", help="UTC, 'YYYY-MM-DD hh:mm:ss'")
    back.add_argument("--databases", default="", help="comma-separated; default all")
    back.add_argument("--from-stack", default="", help="copy the backup from this stack's job")
    args = parser.parse_args(argv)
    if args.command == "backup":
        return backup(args.stack)
    return restore(args.stack, args.backup, args.until, args.databases, args.from_stack)


if __name__ == "__main__":
    sys.exit(main())
