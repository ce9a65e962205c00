"""Benchmark (not a test): writes through HAProxy on a real dev-stack cluster, steady and
during the program's own rolling restart.

Starts the dev stack's rendered cluster on the test bed (testbed/provision.sh), runs the
bounded write load of tests/testbed/load.py (one client, one autocommitted INSERT per write),
and prints writes/s in steady state and while `rolling-restart-group-0.sh` runs, the longest
time without a commit, writes of unknown outcome and rows lost (committed but missing on an
SQL node; must be 0). The load and the restart are bounded (max_seconds, RESTART_TIMEOUT).

Set NDB_TESTBED_ADDRESS_PREFIX (e.g. 127.0.4) when another cluster runs on the default range.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pymysql

from components.render.shell import Script
from testbed.cluster import Testbed, TestbedError, TestCluster
from testbed.rendered import cluster_files
from tests.stacks import settings_for
from tests.testbed.load import LoadResult, WriteLoad, read_back

STEADY_SECONDS = 20.0
WARMUP_SECONDS = 3.0
RESTART_TIMEOUT = 180  # the script's own gates would wait 600 s; the bench must stay bounded


def run_rolling_restart(cluster: TestCluster, script: Script, workdir: Path
                        ) -> tuple[int, str]:
    wrapper = workdir / "ndb_mgm"  # what NDB_MGM names: here the test bed's ndb_mgm
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(cluster.tool("ndb_mgm"))} "$@"\n')
    wrapper.chmod(0o755)
    env = {k: cluster.localise(v) for k, v in script.environment.items()}
    done = subprocess.run(["bash", "-c", script.text],
                          env={**os.environ, **env, "NDB_MGM": str(wrapper)},
                          capture_output=True, text=True, timeout=RESTART_TIMEOUT, check=False)
    return done.returncode, done.stdout + done.stderr


def row(label: str, result: LoadResult, start: float, end: float) -> str:
    commits = len(result.committed(start, end))
    return (f"{label:<22} {end - start:>7.1f} {commits:>8} "
            f"{result.writes_per_second(start, end):>9.0f} "
            f"{result.longest_stall(start, end):>9.2f}")


def main() -> int:
    try:
        testbed = Testbed.load()
    except TestbedError as error:
        print(f"no test bed: {error}", file=sys.stderr)
        return 2
    files, artifacts = cluster_files(settings_for("dev"))
    sql_ids = [s.node_id for s in artifacts.topology.sql]
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        workdir = Path(tmp)
        with TestCluster(files, workdir, testbed=testbed) as cluster:
            t0 = time.monotonic()
            cluster.start(timeout=300)
            print(f"cluster started in {time.monotonic() - t0:.0f} s", flush=True)

            def connect(address: tuple[str, int]) -> Any:
                return pymysql.connect(host=address[0], port=address[1], user="root",
                                       password="", autocommit=True, connect_timeout=5,
                                       read_timeout=30, write_timeout=30)

            load = WriteLoad(partial(connect, cluster.endpoint()), max_seconds=240)
            with load:
                time.sleep(WARMUP_SECONDS)
                steady = (time.monotonic(), time.monotonic() + STEADY_SECONDS)
                time.sleep(STEADY_SECONDS)
                began = time.monotonic()
                code, output = run_rolling_restart(
                    cluster, artifacts.node_groups[0].rolling_restart, workdir)
                ended = time.monotonic()
                time.sleep(WARMUP_SECONDS)  # commits after the restart, so the window closes
                result = load.stop()
            status = cluster.ndb_mgm("all status")
            checks = [result.verify(i, read_back(partial(connect, cluster.sql_address(i)),
                                                 load.table)) for i in sql_ids]
    lost = len({seq for c in checks for seq in c.lost})

    print(f"\nrolling restart script: exit {code}, {ended - began:.0f} s")
    if code != 0:
        print(output)
    print(f"\n{'phase':<22} {'seconds':>7} {'commits':>8} {'writes/s':>9} {'stall s':>9}")
    print(row("steady state", result, *steady))
    print(row("rolling restart", result, began, ended))
    print(row("whole run", result, result.started, result.stopped))
    print(f"\nwrites of unknown outcome: {len(result.unknown)} "
          f"(present afterwards: {max(c.unknown_present for c in checks)}); "
          f"connect errors: {result.connect_errors}")
    for check in checks:
        print(f"SQL node {check.node_id}: {check.rows} rows read back, "
              f"lost {len(check.lost)}, never written {len(check.unexpected)}")
    print(f"rows lost: {lost}")
    if result.errors:
        print(f"errors: {result.errors}")
    started = all(f"Node {n.node_id}: started" in status for n in artifacts.topology.data)
    print(f"data nodes started after the restart: {started}")
    return 0 if code == 0 and lost == 0 and started else 1


if __name__ == "__main__":
    sys.exit(main())
