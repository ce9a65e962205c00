"""The backup settings, renderers and scripts without a cluster: the job's cron matcher
against config/cron.py, one backup with a stand-in ndb_mgm (copy, manifest, the data nodes'
copies removed, the password on standard input only), retention by count and by age."""

from __future__ import annotations

import os
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.render.artifacts import render_cluster
from components.render.backup import PASSWORD_PATH, render_backup
from config import cron, load_settings
from config.loader import SettingsError
from config.settings import Settings
from tests.stacks import modified, settings_for

SCRIPT = Path(__file__).resolve().parents[2] / "components/render/scripts/ndb-backup.sh"


def matches_in_bash(when: datetime, schedule: str) -> bool:
    done = subprocess.run(["bash", str(SCRIPT), "matches", when.strftime("%M %H %d %m %w"),
                           schedule], capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


def random_field(rng: random.Random, low: int, high: int) -> str:
    def item() -> str:
        kind = rng.choice(["*", "n", "range", "step", "nstep"])
        a, b = sorted(rng.sample(range(low, high + 1), 2))
        return {"*": "*", "n": str(a), "range": f"{a}-{b}",
                "step": f"*/{rng.randint(1, 7)}", "nstep": f"{a}/{rng.randint(1, 5)}"}[kind]
    return ",".join(item() for _ in range(rng.randint(1, 2)))


def test_the_jobs_cron_matcher_agrees_with_config_cron() -> None:
    rng = random.Random(14)
    schedules = ["30 2 * * *", "*/15 * * * *", "0 0 1 * 0", "0 0 * * 7", "5 4 13 * 5",
                 "* * * * *"]
    schedules += [" ".join(random_field(rng, lo, hi) for _, lo, hi in cron.FIELDS)
                  for _ in range(40)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    disagree = []
    for schedule in schedules:
        for _ in range(8):
            when = start + timedelta(minutes=rng.randrange(0, 2 * 366 * 24 * 60))
            if matches_in_bash(when, schedule) != cron.matches(schedule, when):
                disagree.append((schedule, when.isoformat()))
    assert not disagree
    # and the cases that must match
    assert matches_in_bash(datetime(2026, 12, 1, 2, 30), "30 2 * * *")
    assert matches_in_bash(datetime(2026, 12, 6, 0, 0), "0 0 * * 7")  # a Sunday
    assert not matches_in_bash(datetime(2026, 12, 1, 2, 31), "30 2 * * *")


@pytest.mark.parametrize("schedule", ["30 2 * *", "61 * * * *", "* 24 * * *", "*/0 * * * *",
                                      "@daily", "0 0 * jan *", "5-1 * * * *"])
def test_a_bad_schedule_is_refused_naming_the_key(schedule: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(modified("dev", "backup.schedule", schedule))
    assert "openstack-ndb:backup.schedule" in str(error.value)


def test_backup_host_must_be_a_host() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(modified("dev", "backup.host", "nowhere"))
    assert "openstack-ndb:backup.host: unknown host 'nowhere'" in str(error.value)


def test_a_job_that_cannot_reach_every_data_node_is_refused() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(modified("prod", "backup.enabled", True))
    message = str(error.value)
    assert "openstack-ndb:backup.enabled" in message and "db-b, db-c" in message


def test_binlog_options_only_on_the_first_sql_node() -> None:
    on = load_settings(modified("dev", "backup.binlog", {"enabled": True,
                                                         "expireSeconds": 3600}))
    first, second = render_cluster(on).my_cnf
    for line in ("ndb-log-bin=ON", "log-bin=binlog", "server-id=147", "binlog-format=ROW",
                 "ndb-log-updated-only=OFF", "ndb-log-update-as-write=OFF",
                 "binlog_expire_logs_seconds=3600"):
        assert line in first.splitlines()
    assert "ndb-log-bin" not in second
    assert all("ndb-log-bin" not in cnf for cnf in render_cluster(settings_for("dev")).my_cnf)


def test_the_job_is_rendered_from_the_settings() -> None:
    settings: Settings = settings_for("dev")
    artifacts = render_backup(settings, render_cluster(settings).topology)
    env = artifacts.job.environment
    assert env["BACKUP_NODE_DIRS"] == "1=/ndb-data/node-1 2=/ndb-data/node-2"
    assert env["BACKUP_SCHEDULE"] == settings.backup.schedule
    assert env["BACKUP_PASSWORD_FILE"] == PASSWORD_PATH
    assert env["BACKUP_KEEP_COUNT"] == "7" and env["BACKUP_KEEP_DAYS"] == "14"
    assert artifacts.command == ("bash", "/opt/openstack-ndb/ndb-backup.sh", "loop")
    plain = load_settings(modified("dev", "backup.encrypt", False))
    assert render_backup(plain, render_cluster(plain).topology).job.environment[
        "BACKUP_PASSWORD_FILE"] == ""


# A stand-in ndb_mgm: checks that the password came on standard input and not in its
# arguments, writes each node's backup files as a data node would, and answers as ndb_mgm.
FAKE_NDB_MGM = r"""#!/usr/bin/env bash
set -eu
args="$*"
id=$(sed -E 's/.*START BACKUP ([0-9]+).*/\1/' <<< "$args")
if [[ $args == *--backup-password-from-stdin* ]]; then
  # as ndb_mgm: one line, ended by a newline ("backup password has no end" otherwise)
  IFS= read -r password || { echo "Error: backup password has no end." >&2; exit 1; }
  [ "$password" = "$EXPECTED_PASSWORD" ] || { echo "wrong password on stdin" >&2; exit 1; }
  [[ $args != *"$EXPECTED_PASSWORD"* ]] || { echo "password in argv" >&2; exit 1; }
fi
for node in 1 2; do
  dir=$DATA/node-$node/BACKUP/BACKUP-$id
  mkdir -p "$dir/BACKUP-$id-PART-1-OF-2"
  echo ctl > "$dir/BACKUP-$id.$node.ctl"
  echo log > "$dir/BACKUP-$id.$node.log"
  echo data > "$dir/BACKUP-$id-PART-1-OF-2/BACKUP-$id-0.$node.Data"
done
echo "Waiting for completed, this may take several minutes"
echo "Node 1: Backup $id started from node 145 completed"
echo " StartGCP: 100 StopGCP: 103"
echo " #Records: 2104 #LogRecords: 0"
echo " Data: 90000 bytes Log: 0 bytes"
"""


def run_once(tmp_path: Path, backup_id: str, keep_count: int = 7, keep_days: int = 0,
             password: str = "") -> subprocess.CompletedProcess[str]:
    mgm = tmp_path / "ndb_mgm"
    mgm.write_text(FAKE_NDB_MGM)
    mgm.chmod(0o755)
    secret = tmp_path / "password"
    if password:
        secret.write_text(password)  # no newline, as the generated password's upload
        secret.chmod(0o400)
    env = {**os.environ, "NDB_MGM": str(mgm), "DATA": str(tmp_path / "data"),
           "EXPECTED_PASSWORD": password, "NDB_CONNECTSTRING": "127.0.0.1:1186",
           "BACKUP_DIR": str(tmp_path / "backups"),
           "BACKUP_NODE_DIRS": f"1={tmp_path}/data/node-1 2={tmp_path}/data/node-2",
           "BACKUP_KEEP_COUNT": str(keep_count), "BACKUP_KEEP_DAYS": str(keep_days),
           "BACKUP_PASSWORD_FILE": str(secret) if password else "",
           "BACKUP_TIMEOUT_SECONDS": "60"}
    return subprocess.run(["bash", str(SCRIPT), "once", backup_id], env=env,
                          capture_output=True, text=True, check=False)


def test_one_backup_is_copied_off_the_data_nodes_with_its_manifest(tmp_path: Path) -> None:
    done = run_once(tmp_path, "2612010230", password="s3cret-on-stdin")
    assert done.returncode == 0, done.stdout + done.stderr
    folder = tmp_path / "backups" / "2612010230"
    for node in (1, 2):
        assert (folder / f"node-{node}" / f"BACKUP-2612010230.{node}.ctl").is_file()
        assert (folder / f"node-{node}" / "BACKUP-2612010230-PART-1-OF-2"
                / f"BACKUP-2612010230-0.{node}.Data").is_file()
        # only this node's files in its folder, and none left on the data node
        assert not list((folder / f"node-{node}").rglob(f"*.{3 - node}.*"))
        assert not (tmp_path / "data" / f"node-{node}" / "BACKUP" / "BACKUP-2612010230").exists()
    info = dict(line.split("=", 1) for line in (folder / "backup.info").read_text().split("\n")
                if line)
    assert info["nodes"] == "1 2" and info["encrypted"] == "yes"
    assert info["stop_gcp"] == "103" and info["records"] == "2104"
    assert (tmp_path / "backups" / "last").read_text().startswith("2612010230 ")
    assert not list((tmp_path / "backups").glob("*.partial"))


def test_an_existing_backup_id_is_refused(tmp_path: Path) -> None:
    assert run_once(tmp_path, "5").returncode == 0
    again = run_once(tmp_path, "5")
    assert again.returncode == 1 and "backup 5 exists already" in again.stderr


def test_retention_keeps_the_newest_by_count_and_age(tmp_path: Path) -> None:
    for backup_id in ("1", "2", "3"):
        assert run_once(tmp_path, backup_id, keep_count=2).returncode == 0
    backups = tmp_path / "backups"
    assert sorted(p.name for p in backups.iterdir() if p.is_dir()) == ["2", "3"]
    old = (datetime.now(UTC) - timedelta(days=10)).timestamp()
    os.utime(backups / "2" / "backup.info", (old, old))
    os.utime(backups / "3" / "backup.info", (old, old))
    assert run_once(tmp_path, "4", keep_count=5, keep_days=7).returncode == 0
    # 2 and 3 are too old; 4 is the newest and stays whatever its age
    assert sorted(p.name for p in backups.iterdir() if p.is_dir()) == ["4"]


RESTORE_SCRIPT = SCRIPT.with_name("ndb-restore.sh")

# mysql as the target's SQL node (server id 148) or, named mysql-binlog, the binlogging one
# (147): each statement logged; ndb_metadata_sync reads ON until SYNC_POLLS polls are done.
FAKE_MYSQL = """#!/usr/bin/env bash
log=$FAKE_DIR/sql.log
stmt=""
while [ $# -gt 0 ]; do [ "$1" = -e ] && { stmt=$2; shift; }; shift; done
if [ -z "$stmt" ]; then echo "REPLAY $(cat)" >> "$log"; exit 0; fi
echo "$(basename "$0"): $stmt" >> "$log"
case "$stmt" in
  *"MAX(epoch)"*) echo 4294967296 ;;
  *"@@server_id"*) [ "$(basename "$0")" = mysql-binlog ] && echo 147 || echo 148 ;;
  *"@@GLOBAL.ndb_metadata_sync"*)
    n=$(($(cat "$FAKE_DIR/polls" 2>/dev/null || echo 0) + 1)); echo "$n" > "$FAKE_DIR/polls"
    [ "$n" -gt "$SYNC_POLLS" ] && echo 0 || echo 1 ;;
  *ndb_binlog_index*) printf 'binlog.000002\\t4242\\n' ;;
  "SHOW BINARY LOGS") printf 'binlog.000001\\t1\\tNo\\nbinlog.000002\\t9\\tNo\\n' ;;
esac
"""


def run_restore(tmp_path: Path, sync_polls: int, **extra: str
                ) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    folder = tmp_path / "backups" / "7"
    folder.mkdir(parents=True)
    (folder / "backup.info").write_text("time=2026-12-01T05:00:00Z\nnodes=1 2\nencrypted=no\n")
    for name in ("mysql", "mysql-binlog"):
        (tmp_path / name).write_text(FAKE_MYSQL)
        (tmp_path / name).chmod(0o755)
    restore = tmp_path / "ndb_restore"
    restore.write_text('#!/bin/sh\necho "ndb_restore $*" >> "$FAKE_DIR/sql.log"\n'
                       'echo "Restored 5 tuples and 0 log entries"\n')
    restore.chmod(0o755)
    mysqlbinlog = tmp_path / "mysqlbinlog"
    mysqlbinlog.write_text('#!/bin/sh\necho "events $*"\n')
    mysqlbinlog.chmod(0o755)
    env = {**os.environ, "FAKE_DIR": str(tmp_path), "SYNC_POLLS": str(sync_polls),
           "NDB_CONNECTSTRING": "127.0.0.1:1186", "BACKUP_DIR": str(tmp_path / "backups"),
           "BACKUP_ID": "7", "NDB_RESTORE": str(restore), "MYSQL": str(tmp_path / "mysql"),
           "BINLOG_MYSQL": str(tmp_path / "mysql-binlog"), "MYSQLBINLOG": str(mysqlbinlog),
           **extra}
    done = subprocess.run(["bash", str(RESTORE_SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    log = tmp_path / "sql.log"
    return done, log.read_text().splitlines() if log.exists() else []


def test_the_replay_waits_until_the_sql_node_knows_the_restored_tables(tmp_path: Path) -> None:
    # The test bed's replay failed with "Unknown database": the replaying SQL node had not
    # yet discovered the tables ndb_restore created (metadata check every 60 s).
    done, log = run_restore(tmp_path, sync_polls=2, RESTORE_UNTIL="2026-12-01 05:10:00",
                            RESTORE_DATABASES="pitr")
    assert done.returncode == 0, done.stdout + done.stderr
    sync_on = log.index("mysql: SET GLOBAL ndb_metadata_sync = ON")
    polls = [i for i, line in enumerate(log) if "@@GLOBAL.ndb_metadata_sync" in line]
    replay = next(i for i, line in enumerate(log) if line.startswith("REPLAY"))
    assert max(i for i, line in enumerate(log) if "--rebuild-indexes" in line) < sync_on
    assert len(polls) == 3 and sync_on < polls[0] and polls[-1] < replay
    assert ("events --start-position=4242 --stop-datetime=2026-12-01 05:10:00 "
            "--database=pitr binlog.000002") in log[replay]


def test_a_sql_node_that_never_finishes_the_sync_fails_the_restore(tmp_path: Path) -> None:
    done, log = run_restore(tmp_path, sync_polls=10**6, RESTORE_SYNC_TIMEOUT_SECONDS="0")
    assert done.returncode == 1 and not any(line.startswith("REPLAY") for line in log)
    assert "did not finish synchronising the restored tables" in done.stderr
