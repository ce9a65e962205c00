"""Running the shipped backup and restore scripts against test-bed clusters.

The scripts are the ones the backup job and `make restore` run (components/render/backup.py),
with their rendered parameters localised to the test bed; the NDB and MySQL programs they call
run in the test bed's root, with the folders they read bind-mounted at the same paths."""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from components.render.backup import BackupArtifacts, render_backup
from config import Settings, load_settings
from testbed.cluster import TestCluster, default_address_map
from testbed.pytest_support import check_sql_nodes_series, require_testbed
from testbed.rendered import cluster_files
from tests.stacks import raw_settings


def stack_settings(data_nodes: int = 2, binlog: bool = True) -> Settings:
    """The dev stack, with binary logging on its first SQL node and `data_nodes` data nodes."""
    raw = raw_settings("dev")
    raw["dataNodes"]["count"] = data_nodes
    raw["backup"] = {**raw.get("backup", {}), "binlog": {"enabled": binlog}}
    return load_settings(raw)


@contextmanager
def started(settings: Settings, workdir: Path, prefix: str) -> Iterator[TestCluster]:
    """A cluster from the settings' rendered files on loopback addresses `<prefix>.N`, so it
    can run beside another."""
    testbed = require_testbed()
    files, _ = cluster_files(settings)
    with TestCluster(files, workdir, default_address_map(files.nodes, prefix),
                     testbed=testbed) as cluster:
        cluster.start(timeout=900)
        check_sql_nodes_series(cluster)
        yield cluster


def in_root(cluster: TestCluster, name: str, argv: list[str], mounts: list[Path]) -> Path:
    """An executable that runs `argv` plus its arguments in the test bed's root, with the
    cluster's workdir and each of `mounts` at the same paths (what `docker exec` into the
    job's or a SQL node's container is in a deployment)."""
    root = cluster.testbed.root
    binds = " && ".join(f'mkdir -p "$r{m}" && mount --bind "{m}" "$r{m}"'
                        for m in [cluster.workdir, *mounts])
    script = (f'r=$0; {binds} && mount -t proc proc "$r/proc" && exec chroot "$r" "$@"')
    wrapper = [*["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation",
                 "private", "--", "sh", "-c", script, str(root)], *argv]
    path = cluster.workdir / name
    path.write_text(f'#!/bin/sh\nexec {shlex.join(wrapper)} "$@"\n')
    path.chmod(0o755)
    return path


def mysql_client(cluster: TestCluster, node_id: int, name: str) -> Path:
    host, port = cluster.sql_address(node_id)
    return in_root(cluster, name, [cluster.testbed.mysql, "--protocol=TCP", "-h", host,
                                   "-P", str(port), "-uroot"], [])


def data_dirs(cluster: TestCluster, settings: Settings) -> dict[int, Path]:
    """Data node id -> its DataDir on the test bed: config.ini sets it in [ndbd default],
    which the test bed rewrites to workdir/ndb for every data node."""
    return {n.node_id: cluster.workdir / "ndb" for n in render_backup(
        settings, cluster_files(settings)[1].topology).data_nodes}


def password_file(folder: Path) -> Path:
    """A generated backup password in a 0400 file, as the job's container gets it."""
    path = folder / "backup-password"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o400)
    return path


class BackupJob:
    """ndb-backup.sh as rendered for `settings`, against `cluster`, into `backup_dir`."""

    def __init__(self, cluster: TestCluster, settings: Settings, backup_dir: Path,
                 password: Path | None, schedule: str | None = None):
        self.cluster = cluster
        self.artifacts: BackupArtifacts = render_backup(
            settings, cluster_files(settings)[1].topology)
        self.backup_dir = backup_dir
        backup_dir.mkdir(parents=True, exist_ok=True)
        mgm = cluster.workdir / "ndb_mgm"
        mgm.write_text(f'#!/bin/sh\nexec {shlex.join(cluster.tool("ndb_mgm"))} "$@"\n')
        mgm.chmod(0o755)
        env = {k: cluster.localise(v) for k, v in self.artifacts.job.environment.items()}
        env.update({
            "NDB_MGM": str(mgm),
            "BACKUP_DIR": str(backup_dir),
            "BACKUP_NODE_DIRS": " ".join(f"{i}={d}"
                                         for i, d in data_dirs(cluster, settings).items()),
            "BACKUP_PASSWORD_FILE": str(password) if password else "",
        })
        if schedule is not None:
            env["BACKUP_SCHEDULE"] = schedule
        self.env = {**os.environ, **env}

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", self.artifacts.job.text, "ndb-backup.sh", *args],
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)

    @contextmanager
    def loop(self, log: Path) -> Iterator[subprocess.Popen[bytes]]:
        """The job's container command (`loop`), as a process; stopped after the block."""
        with log.open("wb") as out:
            proc = subprocess.Popen(["bash", "-c", self.artifacts.job.text, "ndb-backup.sh",
                                     *self.artifacts.command[2:]], env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=30)

    def last(self) -> tuple[int, str] | None:
        out = self.run("last").stdout.strip()
        if out == "none":
            return None
        backup_id, when = out.split()
        return int(backup_id), when

    def wait_for_backup(self, after: int | None, timeout: float, log: Path) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.last()
            if last is not None and last[0] != after:
                return last[0]
            time.sleep(2)
        raise AssertionError(f"no scheduled backup within {timeout}s:\n{log.read_text()}")


def restore(target: TestCluster, settings: Settings, backup_dir: Path, backup_id: int,
            password: Path | None, *, databases: str = "", until: str = "",
            binlog_source: TestCluster | None = None, binlog_node: int = 0
            ) -> subprocess.CompletedProcess[str]:
    """ndb-restore.sh as rendered, into `target`; with `until`, the binlog of `binlog_node`
    on `binlog_source` replayed up to then."""
    artifacts = render_backup(settings, cluster_files(settings)[1].topology)
    # Not the binlogging SQL node (the first): it would skip its own events on a replay.
    sql_node = max(s.node_id for s in cluster_files(settings)[1].topology.sql)
    env: dict[str, Any] = {k: target.localise(v) for k, v in artifacts.restore.environment.items()}
    env.update({
        "NDB_CONNECTSTRING": target.connectstring,
        "NDB_RESTORE": str(in_root(target, "ndb_restore", [
            f"{target.testbed.bin_in_root}/ndb_restore"], [backup_dir])),
        "BACKUP_DIR": str(backup_dir),
        "BACKUP_ID": str(backup_id),
        "BACKUP_PASSWORD_FILE": str(password) if password else "",
        "RESTORE_DATABASES": databases,
        "RESTORE_UNTIL": until,
        "MYSQL": str(mysql_client(target, sql_node, "mysql-target")),
    })
    if binlog_source is not None:
        host, port = binlog_source.sql_address(binlog_node)
        env["BINLOG_MYSQL"] = str(mysql_client(binlog_source, binlog_node, "mysql-binlog"))
        env["MYSQLBINLOG"] = str(in_root(binlog_source, "mysqlbinlog", [
            "/usr/bin/mysqlbinlog", "--read-from-remote-server", f"--host={host}",
            f"--port={port}", "--user=root"], []))
    return subprocess.run(["bash", "-c", artifacts.restore.text, "ndb-restore.sh"],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=900, check=False)


def restart_sql_nodes(cluster: TestCluster, settings: Settings) -> list[str]:
    """What `make restore` runs after a whole restore: each SQL node's rendered
    sql-node-restart.sh in turn, with the test bed's ndb_mgm, and for `docker restart --time
    60 <container>` a stand-in that asks this process to stop the mysqld (SIGTERM, as docker
    stop) and start it again. Returns each run's output; fails at the first that fails."""
    mgm = cluster.workdir / "ndb_mgm"
    mgm.write_text(f'#!/bin/sh\nexec {shlex.join(cluster.tool("ndb_mgm"))} "$@"\n')
    mgm.chmod(0o755)
    stand_in = cluster.workdir / "restart-sql"
    stand_in.write_text('#!/bin/sh\nrm -f "$0.done"\necho "$1" > "$0.request"\n'
                        'while [ ! -e "$0.done" ]; do sleep 0.2; done\n')
    stand_in.chmod(0o755)
    request, done_file = Path(f"{stand_in}.request"), Path(f"{stand_in}.done")
    topology = cluster_files(settings)[1].topology
    outputs = []
    for sql, script in zip(topology.sql, render_backup(settings, topology).sql_restarts,
                           strict=True):
        env = {**os.environ, **{k: cluster.localise(v) for k, v in script.environment.items()},
               "NDB_MGM": str(mgm), "SQL_RESTART": f"{stand_in} {sql.node_id}"}
        result: dict[str, subprocess.CompletedProcess[str]] = {}
        thread = threading.Thread(target=_run_into, args=(result, script.text, env))
        thread.start()
        while thread.is_alive():
            if request.exists():
                node_id = int(request.read_text())
                request.unlink()
                cluster.terminate_node(node_id)
                cluster.start_node(node_id)
                done_file.write_text("restarted\n")
            thread.join(0.2)
        done = result["done"]
        assert done.returncode == 0, f"restart of {sql.name}: {done.stdout}{done.stderr}"
        outputs.append(done.stdout)
    return outputs


def _run_into(result: dict[str, subprocess.CompletedProcess[str]], text: str,
              env: dict[str, str]) -> None:
    result["done"] = subprocess.run(["bash", "-c", text], env=env, capture_output=True,
                                    text=True, timeout=900, check=False)
