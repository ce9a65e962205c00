"""tools/backup.py (`make backup`, `make restore`) with stand-in `pulumi` and `docker`
commands: what runs where, and no secret in any argument or environment variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from components.render.artifacts import render_cluster
from tests.mock_program import ROOT
from tests.stacks import settings_for

RESTARTS = [{"name": f"ndb-sql-{i + 1}", "environment": {**s.environment,
                                                          "NDB_GATE_POLL_SECONDS": "0"}}
            for i, s in enumerate(render_cluster(settings_for("dev")).backup.sql_restarts)]
OUTPUTS = {
    "backupJob": {"container": "osndb-dev-ndb-backup", "dockerHost": "unix:///x.sock",
                  "sqlRestarts": RESTARTS},
    "nodes": {"ndb-sql-1": {"address": "172.28.0.10", "port": 3306},
              "ndb-sql-2": {"address": "172.28.0.11", "port": 3306}},
    "rootPassword": "root-SECRET-pw",
    "backupPassword": "backup-SECRET-pw",
}

# Records each call: argv, DOCKER_HOST, stdin; and every environment value it was given.
FAKE = """#!/usr/bin/env python3
import json, os, sys
log = os.environ["FAKE_LOG"]
stdin = "" if sys.stdin.isatty() else sys.stdin.read()
with open(log, "a") as f:
    f.write(json.dumps({"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
                        "docker_host": os.environ.get("DOCKER_HOST"),
                        "env": sorted(os.environ.values()), "stdin": stdin}) + "\\n")
if os.path.basename(sys.argv[0]) == "pulumi":
    print(open(os.environ["FAKE_OUTPUTS"]).read())
if sys.argv[-2:] == ["-e", "show"]:  # ndb_mgm: both SQL nodes connected
    print("[mysqld(API)]\\t2 node(s)\\nid=147\\t@172.28.0.10  (mysql-9.7.2 ndb-9.7.2)\\n"
          "id=148\\t@172.28.0.11  (mysql-9.7.2 ndb-9.7.2)")
if "restore" in os.environ.get("FAKE_FAIL", "") and "RESTORE_UNTIL" in " ".join(sys.argv):
    sys.exit(3)
"""


def run_tool(tmp_path: Path, *args: str, fail: str = "") -> tuple[int, list[dict[str, Any]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("pulumi", "docker"):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.jsonl"
    outputs = tmp_path / "outputs.json"  # a file: the stand-ins' environment stays clean
    outputs.write_text(json.dumps(OUTPUTS))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(log),
           "FAKE_OUTPUTS": str(outputs), "FAKE_FAIL": fail}
    done = subprocess.run([sys.executable, "-m", "tools.backup", *args], cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done.returncode, calls


def test_backup_runs_the_job_once_on_its_host(tmp_path: Path) -> None:
    code, calls = run_tool(tmp_path, "backup", "--stack", "dev")
    assert code == 0
    assert calls[-1]["argv"] == ["docker", "exec", "osndb-dev-ndb-backup", "bash",
                                 "/opt/openstack-ndb/ndb-backup.sh", "once"]
    assert calls[-1]["docker_host"] == "unix:///x.sock"


def test_restore_until_a_time_with_secrets_on_stdin_only(tmp_path: Path) -> None:
    code, calls = run_tool(tmp_path, "restore", "--stack", "dev", "--backup", "2612010230",
                           "--until", "2026-12-01 03:00:00", "--from-stack", "old")
    assert code == 0
    docker = [c for c in calls if c["argv"][0] == "docker"]
    restore = next(c for c in docker if "/opt/openstack-ndb/ndb-restore.sh" in c["argv"])
    argv = restore["argv"]
    assert "--env=BACKUP_ID=2612010230" in argv
    assert "--env=RESTORE_UNTIL=2026-12-01 03:00:00" in argv
    # replayed through the second SQL node: the first (binlogging) skips its own events
    assert ("--env=MYSQL=mysql --defaults-extra-file=/run/openstack-ndb-restore.cnf "
            "--host=172.28.0.11 --port=3306") in argv
    assert ("--env=BINLOG_MYSQL=mysql --defaults-extra-file=/run/openstack-ndb-restore.cnf "
            "--host=172.28.0.10 --port=3306") in argv
    assert "--env=BACKUP_PASSWORD_FILE=/run/openstack-ndb-restore-backup-password" in argv
    written = {c["argv"][-1]: c["stdin"] for c in docker if "write-secret" in c["argv"]}
    assert written["/run/openstack-ndb-restore.cnf"] == (
        "[client]\nuser=root\npassword=root-SECRET-pw\n")
    assert written["/run/openstack-ndb-restore-backup-password"] == "backup-SECRET-pw"
    assert any(c["argv"][:3] == ["docker", "cp", "osndb-dev-ndb-backup:/backups/2612010230"]
               for c in docker)
    # the secrets removed as soon as the restore script is done
    assert docker[docker.index(restore) + 1]["argv"][-3:] == [
        "-f", "/run/openstack-ndb-restore.cnf",
        "/run/openstack-ndb-restore-backup-password"]
    for call in calls:
        seen = " ".join(call["argv"]) + " ".join(call["env"])
        assert "SECRET" not in seen, call["argv"]


def test_restore_refuses_a_bad_time(tmp_path: Path) -> None:
    code, calls = run_tool(tmp_path, "restore", "--stack", "dev", "--backup", "1",
                           "--until", "yesterday")
    assert code != 0 and not calls


def restarts_of(calls: list[dict[str, Any]]) -> list[list[str]]:
    return [c["argv"] for c in calls if "restart" in c["argv"]]


def test_a_whole_restore_restarts_each_sql_node_in_turn(tmp_path: Path) -> None:
    # The restored NDB_STORED_USER accounts take effect as a mysqld joins the cluster.
    code, calls = run_tool(tmp_path, "restore", "--stack", "dev", "--backup", "2612010230")
    assert code == 0
    argvs = [c["argv"] for c in calls]
    restore_at = next(i for i, a in enumerate(argvs)
                      if "/opt/openstack-ndb/ndb-restore.sh" in a)
    restarts = [i for i, a in enumerate(argvs) if "restart" in a]
    assert [argvs[i] for i in restarts] == [
        ["docker", "--host", "unix:///var/run/docker.sock", "restart", "--time", "60",
         f"osndb-dev-ndb-sql-{n}"] for n in (1, 2)]
    assert restore_at < restarts[0]
    # the second only after the first is seen connected again (ndb_mgm show in between)
    between = argvs[restarts[0] + 1:restarts[1]]
    assert any(a[-2:] == ["-e", "show"] and "osndb-dev-ndb-mgmd-1" in a for a in between)


def test_no_restart_after_a_failed_or_partial_restore(tmp_path: Path) -> None:
    code, calls = run_tool(tmp_path / "a", "restore", "--stack", "dev", "--backup", "1",
                           fail="restore")
    assert code == 3 and not restarts_of(calls)
    code, calls = run_tool(tmp_path / "b", "restore", "--stack", "dev", "--backup", "1",
                           "--databases", "nova")
    assert code == 0 and not restarts_of(calls)
