"""`make status`: the NDB cluster at a glance, for a deployed stack or the test bed.

    python -m tools.status [--stack dev] [--testbed] [--json]

Every node with its state, host and version (`ndb_mgm -e show`, the management node's own
view: it answers with no SQL node up), DataMemory per data node as a bar, memory per database,
the SQL nodes connected, the SQL endpoint's backends as HAProxy sees them (each SQL node's
check agent: 200 in rotation, 503 out), the last native backup, and the recent ALERT events
of the cluster log. The ndbinfo reads are the monitoring exporter's own queries
(components/render/monitoring/ndbinfo-queries.yml), so `make status` and the dashboard agree.

Where it looks (`Access`): for a deployed stack, the stack file's topology (config/) gives
the management node's container and host, the check agents' addresses and the cluster log's
path; `pulumi stack output` gives the SQL endpoint and the root password (read into memory,
never an argument). `--testbed`: the cluster `make cluster-up` started (.testbed/<stack>/).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.render.monitoring import ndbinfo_queries  # noqa: E402

BAR_WIDTH = 30
ALERT_LINES = 10
_SHOW_SECTION = re.compile(r"^\[(\w+)\((\w+)\)\]")
_SHOW_NODE = re.compile(r"^id=(\d+)\s+(?:@(\S+)\s+\((.*)\)|\((.*)\))")
_VERSION = re.compile(r"ndb-(\d+\.\d+\.\d+)")
_NODE_GROUP = re.compile(r"Nodegroup: (\d+)")
# `2026-12-01T06:20:14.828037Z [MgmtSrvr] ALERT    -- Node 145: Node 2 Disconnected`
_ALERT = re.compile(r"\] ALERT\s+-- ")


@dataclass
class Access:
    """How to reach one cluster. `sql_password` lives in memory only."""

    ndb_mgm: list[str]  # argv that runs ndb_mgm connected to the cluster; `-e <cmd>` follows
    sql_host: str
    sql_port: int
    sql_user: str
    sql_password: str
    checks: dict[str, str]  # SQL node name -> its check agent's URL
    cluster_log: list[str]  # argv that prints the cluster log(s)


@dataclass
class Node:
    node_id: int
    kind: str  # NDB (data), MGM (management), API (SQL node or free slot)
    address: str | None  # None: not connected
    version: str | None
    node_group: int | None = None
    state: str = ""  # data nodes: ndbinfo.nodes status; others: connected / not connected
    data_memory_used: int | None = None  # bytes
    data_memory_total: int | None = None


@dataclass
class Status:
    time: str
    nodes: list[Node] = field(default_factory=list)
    sql_nodes_connected: int | None = None
    memory_per_database: dict[str, int] = field(default_factory=dict)  # bytes, all nodes
    backends: dict[str, str] = field(default_factory=dict)  # SQL node -> check answer
    last_backup: dict[str, Any] | None = None
    alerts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read, and why


def parse_show(text: str) -> list[Node]:
    """`ndb_mgm -e show` -> its nodes (connected or not), in its order."""
    nodes, kind = [], ""
    for line in text.splitlines():
        if section := _SHOW_SECTION.match(line):
            kind = section.group(2)
        elif (m := _SHOW_NODE.match(line.strip())) and kind:
            connected = m.group(2) is not None
            detail = m.group(3) or m.group(4) or ""
            version = _VERSION.search(detail)
            group = _NODE_GROUP.search(detail)
            nodes.append(Node(
                node_id=int(m.group(1)), kind=kind, address=m.group(2),
                version=version.group(1) if version else None,
                node_group=int(group.group(1)) if group else None,
                state="connected" if connected else detail.split(",")[0]))
    return nodes


def _query(name: str) -> str:
    queries = {q["name"]: q["query"] for qs in ndbinfo_queries().values() for q in qs}
    return str(queries[name])


def _read_sql(access: Access, status: Status) -> None:
    import pymysql

    conn = pymysql.connect(host=access.sql_host, port=access.sql_port, user=access.sql_user,
                           password=access.sql_password, connect_timeout=5, read_timeout=30,
                           autocommit=True, cursorclass=pymysql.cursors.DictCursor)
    with conn, conn.cursor() as cur:
        data = {n.node_id: n for n in status.nodes if n.kind == "NDB"}
        from_mgm = bool(status.nodes)
        cur.execute(_query("ndb_data_node"))
        for row in cur.fetchall():
            node = data.get(int(row["node_id"]))
            if node is None and not from_mgm:
                # ndb_mgm did not answer (its management node down): ndbinfo still lists
                # every configured data node, without address and version.
                node = data[int(row["node_id"])] = Node(int(row["node_id"]), "NDB", None, None)
                status.nodes.append(node)
            if node is not None:
                node.state = row["status"] + (
                    f" (start phase {row['start_phase']})" if row["status"] == "STARTING" else "")
        cur.execute(_query("ndb_memory"))
        for row in cur.fetchall():
            node = data.get(int(row["node_id"]))
            if node is not None and row["memory_type"] == "Data memory":
                node.data_memory_used = int(row["used_bytes"])
                node.data_memory_total = int(row["total_bytes"])
        if not from_mgm:
            cur.execute(_query("ndb_management_node"))
            status.nodes += [Node(int(row["node_id"]), "MGM", None, None,
                                  state="connected" if int(row["connected"]) else
                                  "not connected")
                             for row in cur.fetchall()]
        cur.execute(_query("ndb_sql_nodes_connected"))
        status.sql_nodes_connected = int(cur.fetchone()["connected"])
        cur.execute(_query("ndb_database_memory"))
        for row in cur.fetchall():
            schema = row["schema"]
            status.memory_per_database[schema] = (status.memory_per_database.get(schema, 0)
                                                  + int(row["bytes"]))
        cur.execute(_query("ndb_last_backup"))
        backup = cur.fetchone()
        if backup and int(backup["id"]):
            stamp = int(backup["timestamp_seconds"])
            status.last_backup = {
                "id": int(backup["id"]),
                "time": datetime.fromtimestamp(stamp, UTC).isoformat() if stamp else None}


def _ask_check(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return f"{answer.status} {answer.read().decode(errors='replace').strip()}"
    except urllib.error.HTTPError as error:
        return f"{error.code} {error.read().decode(errors='replace').strip()}"
    except OSError as error:
        return f"no answer ({error})"


def gather(access: Access) -> Status:
    """Everything `make status` shows; what cannot be read is listed in `problems`."""
    status = Status(time=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    # One attempt: ndb_mgm's default retries 12 times 5 s apart, so a management node that
    # is down held `make status` 56 s on the test bed (and 0 retries means forever).
    show, failure = _run([*access.ndb_mgm, "--connect-retries=1", "-e", "show"])
    if show is None:
        status.problems.append(f"ndb_mgm -e show failed: {failure}")
    else:
        status.nodes = parse_show(show)
    try:
        _read_sql(access, status)
    except Exception as error:
        status.problems.append(f"no ndbinfo through {access.sql_host}:{access.sql_port}: "
                               f"{error}")
    status.backends = {name: _ask_check(url) for name, url in access.checks.items()}
    log, failure = _run(access.cluster_log)
    if log is None:
        status.problems.append(f"cluster log unreadable: {failure}")
    else:
        status.alerts = [line for line in log.splitlines()
                         if _ALERT.search(line)][-ALERT_LINES:]
    return status


def _run(argv: list[str], timeout: float = 60) -> tuple[str | None, str]:
    """(`argv`'s standard output, "") or, when it fails (exit status, no such program,
    timeout in seconds), (None, why) for `Status.problems`: never a traceback."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    if done.returncode != 0:
        return None, (done.stderr or done.stdout).strip() or f"exit {done.returncode}"
    return done.stdout, ""


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def bar(used: int, total: int, width: int = BAR_WIDTH) -> str:
    """`[#####.....]  50% (256.0 MiB of 512.0 MiB)`."""
    share = used / total if total else 0.0
    filled = round(share * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%} ({_mib(used)} of {_mib(total)})"


def degraded(status: Status) -> list[str]:
    """What is wrong with the cluster, one phrase each: a data node not STARTED (with its
    node group when known), a management node not connected, a SQL node out of the SQL
    endpoint's rotation. Empty for a healthy cluster."""
    out = [f"data node {n.node_id} {n.state or 'not connected'}"
           for n in status.nodes if n.kind == "NDB" and not n.state.startswith(
               ("STARTED", "connected"))]
    out += [f"management node {n.node_id} not connected"
            for n in status.nodes if n.kind == "MGM" and n.state != "connected"]
    out += [f"{name} out of the SQL endpoint's rotation ({answer.split(chr(10))[0]})"
            for name, answer in status.backends.items() if not answer.startswith("200")]
    return out


def render_text(status: Status, title: str) -> str:
    """The human view of `status`: a one-line verdict (HEALTHY / DEGRADED: ...) first."""
    wrong = degraded(status)
    out = [f"{title}  ({status.time})",
           "DEGRADED: " + "; ".join(wrong) if wrong else "HEALTHY"]
    kinds = (("MGM", "Management nodes"), ("NDB", "Data nodes"), ("API", "SQL nodes and API slots"))
    for kind, heading in kinds:
        nodes = [n for n in status.nodes if n.kind == kind]
        count = ("" if kind != "API" or status.sql_nodes_connected is None
                 else f": {status.sql_nodes_connected} SQL node(s) connected")
        out.append(f"\n{heading}{count}")
        for n in nodes:
            where = n.address or "-"
            line = f"  {n.node_id:>3}  {where:<15} {n.version or '':<7} {n.state}"
            if n.node_group is not None:
                line += f"  node group {n.node_group}"
            out.append(line)
            if n.data_memory_total:
                out.append(f"       DataMemory {bar(n.data_memory_used or 0, n.data_memory_total)}")
    if status.memory_per_database:
        out.append("\nMemory per database (all data nodes, replicas included)")
        for schema, size in sorted(status.memory_per_database.items(), key=lambda kv: -kv[1]):
            out.append(f"  {schema:<24} {_mib(size):>14}")
    if status.backends:
        out.append("\nSQL endpoint backends (each SQL node's check agent: 200 = in rotation)")
        out += [f"  {name:<14} {answer}" for name, answer in status.backends.items()]
    backup = status.last_backup
    # sql_nodes_connected is read with the backup: None means ndbinfo was not read at all.
    none = "none" if status.sql_nodes_connected is not None else "unknown (no ndbinfo)"
    out.append("\nLast backup: " + (f"{backup['id']} at {backup['time'] or 'unknown time'}"
                                    if backup else none))
    out.append(f"\nCluster log, last {ALERT_LINES} ALERT events:" if status.alerts
               else "\nCluster log: no ALERT events")
    out += [f"  {line}" for line in status.alerts]
    if status.problems:
        out.append("\nNot shown:")
        out += [f"  {p}" for p in status.problems]
    return "\n".join(out)


def testbed_access(stack: str) -> Access:
    """The cluster `make cluster-up STACK=<stack>` runs (.testbed/<stack>/state.json)."""
    state_file = ROOT / ".testbed" / stack / "state.json"
    if not state_file.exists():
        raise SystemExit(f"no test bed cluster for {stack}: run `make cluster-up STACK={stack}`")
    state = json.loads(state_file.read_text())
    host, port = state["endpoint"].rsplit(":", 1)
    return Access(ndb_mgm=state["ndb_mgm_argv"], sql_host=host, sql_port=int(port),
                  sql_user="root", sql_password="", checks=state["checks"],
                  cluster_log=["cat", *state["cluster_logs"]])


def stack_access(stack: str) -> Access:
    """A deployed stack: its topology from Pulumi.<stack>.yaml, its endpoint and root
    password from `pulumi stack output` (the password read into memory only)."""
    from components.render.ndb import NDB_DATA_DIR
    from config import build_topology
    from config.loader import load_settings
    from config.sql_check import check_endpoint

    if shutil.which("pulumi") is None:
        raise SystemExit("the Pulumi CLI is not installed, so no deployed stack can be read; "
                         "for the test bed's cluster: make status TESTBED=1")
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise SystemExit(f"no stack file {path.name}: STACK names a stack of this project "
                         "(dev, prod, or your Pulumi.<stack>.yaml)")
    stack_file = yaml.safe_load(path.read_text())
    settings = load_settings({k.removeprefix("openstack-ndb:"): v
                              for k, v in (stack_file.get("config") or {}).items()})
    topo = build_topology(settings)

    def output(name: str, *extra: str) -> str:
        result = subprocess.run(["pulumi", "stack", "output", "--stack", stack, name, *extra],
                                capture_output=True, text=True, check=False, cwd=ROOT)
        if result.returncode != 0:
            raise SystemExit(f"pulumi stack output {name} failed on stack {stack}: "
                             f"{result.stderr.strip()}\n(is it deployed? `make up "
                             f"STACK={stack}`; same PULUMI_BACKEND_URL as then?) For the "
                             "test bed's cluster: make status TESTBED=1")
        return result.stdout.strip()

    host, port = output("sqlEndpoint").rsplit(":", 1)
    mgm = topo.management[0]
    docker = ["docker", "--host", settings.host(mgm.host).endpoint, "exec", mgm.container_name]
    logs = [f"{NDB_DATA_DIR}/ndb_{m.node_id}_cluster.log" for m in topo.management
            if m.host == mgm.host]
    return Access(
        # Every management node's address, as the gates ask (a stack's port may not be
        # ndb_mgm's default 1186).
        ndb_mgm=[*docker, "ndb_mgm", "-c", topo.connectstring],
        sql_host=host, sql_port=int(port), sql_user="root",
        sql_password=output("rootPassword", "--show-secrets"),
        checks={n.name: f"http://{check_endpoint(settings, topo, n)}/" for n in topo.sql},
        cluster_log=[*docker, "cat", *logs])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make status", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--testbed", action="store_true",
                        help="the test bed's cluster (make cluster-up), not a deployed stack")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    access = testbed_access(args.stack) if args.testbed else stack_access(args.stack)
    status = gather(access)
    try:
        if args.json:
            print(json.dumps({**asdict(status), "degraded": degraded(status)}, indent=2))
        else:
            where = "test bed" if args.testbed else "stack"
            print(render_text(status, f"openstack-ndb status: {where} {args.stack}"))
        sys.stdout.flush()
    except BrokenPipeError:  # `make status | head`
        return 0
    # 0 healthy, 2 degraded, 1 something could not be read (scripts can tell them apart).
    return 1 if status.problems else 2 if degraded(status) else 0


if __name__ == "__main__":
    sys.exit(main())
