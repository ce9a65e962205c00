"""ndb-scale-out.sh and sql-node-restart.sh as shipped, against stand-ins for ndb_mgm and the
SQL node that keep the cluster's state in files: what each run does, and that a run after a
finished one does nothing. The real cluster runs them in tests/testbed/test_scale_out.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from components.render.artifacts import render_cluster
from components.render.shell import Script
from config import load_settings
from tests.stacks import modified, raw_settings

# ndb_mgm: `show` lists the running nodes not in `grouped` (nodes 3 and 4 by default) without a
# node group until `create nodegroup` names them.
NDB_MGM = r"""#!/bin/bash
state=$(dirname "$0")
cmd=${*: -1}
echo "$cmd" >> "$state/mgm.log"
case "$cmd" in
  "all status")
    for id in $(cat "$state/running"); do echo "Node $id: started (mysql-9.7.2)"; done ;;
  show)
    for id in $(cat "$state/running"); do
      if grep -qx "$id" "$state/grouped"; then g="Nodegroup: $(( (id - 1) / 2 ))"
      else g="no nodegroup"; fi
      printf 'id=%s\t@127.0.0.1  (mysql-9.7.2 ndb-9.7.2, %s)\n' "$id" "$g"
    done
    printf 'id=147\t@127.0.1.4  (mysql-9.7.2 ndb-9.7.2)\n' ;;
  "create nodegroup "*)
    tr ',' '\n' <<< "${cmd#create nodegroup }" >> "$state/grouped"; echo "Nodegroup 1 created" ;;
  *) echo "unexpected: $cmd" >&2; exit 1 ;;
esac
"""

# SQL_EXEC: gets `bash -c <mysql ...> ndb-scale-out <password file> <socket> <statement>`.
SQL_EXEC = r"""#!/bin/bash
state=$(dirname "$0")
sql=${*: -1}
echo "$sql" | tr -s ' \n' ' ' >> "$state/sql.log"; echo >> "$state/sql.log"
case "$sql" in
  "SELECT TABLE_SCHEMA"*) printf 'keystone\tuser\nkeystone\tproject\n' ;;
  "SELECT COUNT(DISTINCT"*)
    table=$(tr '\n' ' ' <<< "$sql" | sed -E "s/.*table_name = '([^']*)'.*/\1/")
    if grep -qx "$table" "$state/spread"; then wc -l < "$state/grouped"; else cat "$state/on"; fi ;;
  "SELECT IFNULL"*) echo "1:96K 2:96K" ;;
  "ALTER TABLE"*)
    table=$(sed -E 's/.*`\.`([^`]*)`.*/\1/' <<< "$sql")
    if [ -e "$state/fail-$table" ]; then echo "ERROR 2013: Lost connection" >&2; exit 1; fi
    echo "$table" >> "$state/spread" ;;
  "OPTIMIZE TABLE"*) printf 'keystone.user\toptimize\tstatus\tOK\n' ;;
  *) echo "unexpected: $sql" >&2; exit 1 ;;
esac
"""


def four(count: int = 4) -> Script:
    data = {**raw_settings("dev")["dataNodes"], "count": count}
    return render_cluster(load_settings(modified("dev", "dataNodes", data))).scale_out


def stand_ins(tmp_path: Path, running: str = "1 2 3 4", grouped: str = "1 2"
              ) -> dict[str, str]:
    """`running`: the data nodes started; `grouped`: those already in a node group, whose
    number is also how many data nodes a table not yet reorganised is on."""
    for name, text in (("ndb_mgm", NDB_MGM), ("sql_exec", SQL_EXEC)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    (tmp_path / "running").write_text(running)
    (tmp_path / "grouped").write_text("".join(f"{i}\n" for i in grouped.split()))
    (tmp_path / "on").write_text(f"{len(grouped.split())}\n")
    (tmp_path / "spread").write_text("")
    return {"NDB_MGM": str(tmp_path / "ndb_mgm"), "SQL_EXEC": str(tmp_path / "sql_exec"),
            "NDB_GATE_POLL_SECONDS": "1"}


def run(script: Script, extra: dict[str, str], timeout: str = "5"
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **script.environment, **extra, "NDB_GATE_TIMEOUT_SECONDS": timeout}
    return subprocess.run(["bash", "-c", script.text], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_first_run_groups_and_spreads_second_run_does_nothing(tmp_path: Path) -> None:
    extra = stand_ins(tmp_path)
    first = run(four(), extra)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "creating a node group of data nodes 3,4" in first.stdout
    assert (tmp_path / "mgm.log").read_text().count("create nodegroup 3,4") == 1
    assert "[2/2] keystone.project: on 2 -> 4 data nodes" in first.stdout
    assert "KiB per node before: 1:96K 2:96K" in first.stdout
    assert "2 of 2 NDB tables reorganised" in first.stdout
    sql = (tmp_path / "sql.log").read_text()
    assert "ALTER TABLE `keystone`.`project` ALGORITHM=INPLACE, REORGANIZE PARTITION" in sql
    alter, optimize = (sql.index(f"{verb} TABLE `keystone`.`user`")
                       for verb in ("ALTER", "OPTIMIZE"))
    assert alter < optimize

    second = run(four(), extra)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "creating a node group" not in second.stdout
    assert "0 of 2 NDB tables reorganised" in second.stdout and "2 already on" in second.stdout
    assert (tmp_path / "mgm.log").read_text().count("create nodegroup") == 1
    assert (tmp_path / "sql.log").read_text().count("ALTER TABLE") == 2


def test_four_to_six_groups_nodes_5_and_6_and_spreads_every_table(tmp_path: Path) -> None:
    """The second scale-out of the dev stack (4 -> 6): the same steps, for the third node
    group - CREATE NODEGROUP 5,6 once, every table from 4 onto 6 data nodes, then nothing."""
    extra = stand_ins(tmp_path, running="1 2 3 4 5 6", grouped="1 2 3 4")
    first = run(four(6), extra)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "creating a node group of data nodes 5,6" in first.stdout
    assert (tmp_path / "mgm.log").read_text().count("create nodegroup") == 1
    assert "data nodes in node groups: 6" in first.stdout
    assert "[1/2] keystone.user: on 4 -> 6 data nodes" in first.stdout
    assert "[2/2] keystone.project: on 4 -> 6 data nodes" in first.stdout
    second = run(four(6), extra)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "creating a node group" not in second.stdout
    assert "0 of 2 NDB tables reorganised" in second.stdout


def test_a_half_node_group_is_not_created(tmp_path: Path) -> None:
    """Node 3 runs, node 4 not yet: the gate waits for it, and fails after its timeout
    naming it - no node group of one."""
    extra = stand_ins(tmp_path, running="1 2 3")
    done = run(four(), extra, timeout="1")
    assert done.returncode == 1
    assert "node(s) 4 not ready" in done.stderr
    assert "create nodegroup" not in (tmp_path / "mgm.log").read_text()


def test_sql_node_restart_skips_a_node_that_is_not_connected(tmp_path: Path) -> None:
    artifacts = render_cluster(load_settings(raw_settings("dev")))
    extra = stand_ins(tmp_path)
    marker = tmp_path / "restarted"
    restart = {"SQL_RESTART": f"touch {marker}"}
    # SQL node 2 (148) is not in `show`: nothing to restart.
    done = run(artifacts.sql_restarts[1], {**extra, **restart})
    assert done.returncode == 0 and "not connected, nothing to restart" in done.stdout
    assert not marker.exists()
    # SQL node 1 (147) is: restarted, then waited for.
    done = run(artifacts.sql_restarts[0], {**extra, **restart})
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker.exists() and "ready: SQL node connected again (nodes 147)" in done.stdout


def test_an_interrupted_run_is_finished_by_the_next(tmp_path: Path) -> None:
    """The ALTER of the second table fails (a lost connection, an interrupted update): the run
    fails saying so; the next run creates no node group again and reorganises only that
    table."""
    extra = stand_ins(tmp_path)
    (tmp_path / "fail-project").touch()
    first = run(four(), extra)
    assert first.returncode == 1
    assert "[2/2] keystone.project: ALTER TABLE ... REORGANIZE PARTITION" in first.stderr
    assert "the next run starts again" in first.stderr
    (tmp_path / "fail-project").unlink()
    second = run(four(), extra)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "creating a node group" not in second.stdout
    assert "1 of 2 NDB tables reorganised" in second.stdout and "1 already on" in second.stdout
    assert "[2/2] keystone.project: on 2 -> 4 data nodes" in second.stdout


def test_a_step_that_outlives_its_bound_fails_with_what_it_printed() -> None:
    """The scale-out test's runner: a step past its timeout is a failed step (exit 124) that
    still shows its output (a run ended in a bare KeyError once, its 15 minutes of output
    lost); the bound grows with the number of tables."""
    from tests.testbed.test_scale_out import run_script, scale_out_timeout

    done = run_script("echo '[1/53] keystone.user: reorganised'; echo warn >&2; sleep 30",
                      dict(os.environ), timeout=1)
    assert done.returncode == 124
    assert "[1/53] keystone.user: reorganised" in done.stdout
    assert "warn" in done.stderr and "still running after 1 s" in done.stderr
    assert run_script("echo ok", dict(os.environ), timeout=5).stdout == "ok\n"
    assert scale_out_timeout(53) > 53 * 4 * 8 * 2 and scale_out_timeout(706) > \
        scale_out_timeout(53)
