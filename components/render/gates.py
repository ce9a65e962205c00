"""Readiness gates, the rolling restart, a SQL node's restart (scale-out, restore) and the
scale-out: scripts/ndb-gate.sh, rolling-restart.sh, sql-node-restart.sh and ndb-scale-out.sh
after scripts/ndb-gate-lib.sh, with their parameters in the environment.

A gate polls `ndb_mgm` until its condition holds, printing progress on every poll, and fails
after the stack's timeout with the node ids still missing and the last status it saw. The
command that runs `ndb_mgm` comes from the component (`NDB_MGM`): `docker exec <mgmd> ndb_mgm`
in a deployment, the test bed's own binary there. The script text is the same everywhere.
"""

from __future__ import annotations

from typing import Literal

from components.render.ndb import ROOT_PASSWORD_PATH, SQL_DATA_DIR
from components.render.shell import Script, script_file
from config.settings import Settings
from config.topology import Node, Topology

GateKind = Literal["management", "member", "started", "sql"]

LIBRARY = "ndb-gate-lib.sh"


def _with_library(body: str) -> str:
    """The library's text, then the body's: the body finds the library's functions defined."""
    return script_file(LIBRARY) + "\n" + script_file(body)


def _environment(settings: Settings, title: str, connectstring: str,
                 ids: tuple[int, ...]) -> dict[str, str]:
    """ndb-gate-lib.sh's parameters (documented at its top)."""
    return {
        "NDB_GATE_TITLE": title,
        "NDB_CONNECTSTRING": connectstring,
        "NDB_NODE_IDS": " ".join(str(i) for i in ids),
        "NDB_GATE_TIMEOUT_SECONDS": str(settings.gates.timeout_seconds),
        "NDB_GATE_POLL_SECONDS": str(settings.gates.poll_seconds),
    }


def render_gate_script(settings: Settings, topology: Topology, kind: GateKind,
                       nodes: tuple[Node, ...]) -> Script:
    """A gate over `nodes` (their NDB node ids); management gates ask that mgmd only."""
    ids = tuple(i for n in nodes for i in n.node_ids)
    connectstring = (
        ",".join(f"{n.address}:{n.port}" for n in nodes) if kind == "management"
        else topology.connectstring
    )
    title = f"{kind} gate for {', '.join(n.name for n in nodes)}"
    return Script(_with_library("ndb-gate.sh"),
                  {**_environment(settings, title, connectstring, ids), "NDB_GATE_KIND": kind})


def render_rolling_restart_script(settings: Settings, topology: Topology,
                                  group: tuple[Node, ...]) -> Script:
    """The rolling restart of one node group, its data nodes in replica order."""
    ids = tuple(n.node_id for n in group)
    names = ", ".join(n.name for n in group)
    title = f"rolling restart of node group {group[0].node_group} ({names})"
    return Script(_with_library("rolling-restart.sh"),
                  _environment(settings, title, topology.connectstring, ids))


def render_sql_restart_script(settings: Settings, topology: Topology, sql: Node) -> Script:
    """scripts/sql-node-restart.sh for one SQL node (its pooled node ids): restart it so it
    reads a configuration with other data nodes, then wait until it is connected again."""
    title = f"restart of SQL node {sql.name}"
    return Script(_with_library("sql-node-restart.sh"),
                  _environment(settings, title, topology.connectstring, sql.node_ids))


def render_scale_out_script(settings: Settings, topology: Topology) -> Script:
    """scripts/ndb-scale-out.sh over every data node of the topology: node groups for the
    data nodes without one, then every NDB table reorganised onto them. It runs SQL in the
    first SQL node's container, as root over the socket with the password file the image's
    entrypoint reads."""
    ids = tuple(n.node_id for n in topology.data)
    title = f"scale-out over data nodes {', '.join(n.name for n in topology.data)}"
    return Script(_with_library("ndb-scale-out.sh"), {
        **_environment(settings, title, topology.connectstring, ids),
        "NDB_NO_OF_REPLICAS": str(settings.data_nodes.no_of_replicas),
        "SQL_ROOT_PASSWORD_FILE": ROOT_PASSWORD_PATH,
        "SQL_SOCKET": f"{SQL_DATA_DIR}/mysql.sock",
    })


def render_deployed_sql_restart(settings: Settings, topology: Topology, sql: Node) -> Script:
    """sql-node-restart.sh for `sql` as deployed (the scale-out's restarts, `make restore`'s),
    run from the operator's machine as the program's
    commands are: ndb_mgm by `docker exec` in the first management node (DOCKER_HOST its
    engine), the SQL node restarted by `docker restart --time 60` (mysqld's clean shutdown,
    not docker's 10 s default) on its own engine."""
    script = render_sql_restart_script(settings, topology, sql)
    mgm = topology.management[0]
    return Script(script.text, {
        **script.environment,
        "DOCKER_HOST": settings.host(mgm.host).endpoint,
        "NDB_MGM": f"docker exec {mgm.container_name} ndb_mgm",
        "SQL_RESTART": f"docker --host {settings.host(sql.host).endpoint} restart --time 60 "
                       f"{sql.container_name}",
    })
