"""`make cluster-up` / `make cluster-down`: a real cluster from a stack's files, to poke at.

    python -m testbed up [--stack dev]     start it in the background, print how to connect
    python -m testbed status [--stack dev]
    python -m testbed down [--stack dev]   stop it and remove its files

A background `serve` process owns the cluster (its processes die with it) until `down` sends
it SIGTERM; its state and log live in .testbed/<stack>/ in the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testbed.cluster import TestbedError, TestCluster  # noqa: E402
from testbed.rendered import cluster_files  # noqa: E402


def state_dir(stack: str) -> Path:
    return ROOT / ".testbed" / stack


def serve(stack: str) -> None:
    """Run in the background: start the cluster, publish how to reach it, wait for SIGTERM."""
    from config.sql_check import check_endpoint
    from tests.stacks import settings_for

    folder = state_dir(stack)
    settings = settings_for(stack)
    files, artifacts = cluster_files(settings)
    topo = artifacts.topology
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    with TestCluster(files, folder / "cluster") as cluster:
        cluster.start(timeout=900)
        host, port = cluster.endpoint()
        state = {
            "pid": os.getpid(),
            "endpoint": f"{host}:{port}",
            "connectstring": cluster.connectstring,
            "mysql": f"mysql -h {host} -P {port} -u root  (no password: test bed only)",
            "ndb_mgm": shlex.join([*cluster.tool("ndb_mgm"), "-c", cluster.connectstring]),
            # For `make status TESTBED=1` (tools/status.py).
            "ndb_mgm_argv": [*cluster.tool("ndb_mgm"), "-c", cluster.connectstring],
            "checks": {n.name: cluster.localise(f"http://{check_endpoint(settings, topo, n)}/")
                       for n in topo.sql},
            "cluster_logs": [str(p) for p in cluster.cluster_logs()],
        }
        (folder / "state.json").write_text(json.dumps(state, indent=2))
        while not stop:
            time.sleep(0.5)


def up(stack: str) -> int:
    folder = state_dir(stack)
    if (folder / "state.json").exists():
        print(f"already up: {folder / 'state.json'}")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "testbed", "serve", "--stack", stack],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    (folder / "serve.pid").write_text(str(proc.pid))
    print(f"[testbed] starting the {stack} cluster (log: {folder / 'serve.log'})")
    while not (folder / "state.json").exists():
        if proc.poll() is not None:
            print((folder / "serve.log").read_text()[-3000:], file=sys.stderr)
            print(f"[testbed] FAILED: the cluster did not start (exit {proc.returncode})",
                  file=sys.stderr)
            return 1
        time.sleep(1)
    print((folder / "state.json").read_text())
    return 0


def down(stack: str) -> int:
    folder = state_dir(stack)
    pid_file = folder / "serve.pid"
    if not pid_file.exists():
        print(f"[testbed] no {stack} cluster is up")
        return 0
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(120):
            os.kill(pid, 0)
            time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    subprocess.run(["rm", "-rf", str(folder)], check=False)
    print(f"[testbed] {stack} cluster stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "serve"])
    parser.add_argument("--stack", default="dev", help="stack file to render (default: dev)")
    args = parser.parse_args()
    try:
        if args.command == "serve":
            serve(args.stack)
            return 0
        if args.command == "status":
            state = state_dir(args.stack) / "state.json"
            print(state.read_text() if state.exists() else f"no {args.stack} cluster is up")
            return 0
        return up(args.stack) if args.command == "up" else down(args.stack)
    except TestbedError as error:
        print(f"[testbed] {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
