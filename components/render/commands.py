"""The command line of each NDB node container, shared by the components and the test bed.

The image's entrypoint appends `--nodaemon` (and, for ndb_mgmd, `-f /etc/mysql-cluster.cnf`)."""

from __future__ import annotations

from components.render.ndb import NDB_DATA_DIR
from config.topology import Node, Topology


def mgmd_command(node: Node) -> list[str]:
    # --config-cache=0 with --initial, as the MySQL NDB Operator runs it: ndb_mgmd reads
    # config.ini on every start, so a replaced container always serves the rendered file.
    return ["ndb_mgmd", f"--ndb-nodeid={node.node_id}", "--initial", "--config-cache=0",
            f"--configdir={NDB_DATA_DIR}"]


def data_node_command(node: Node, topology: Topology) -> list[str]:
    # No --initial: an empty data directory starts initially by itself (seen on the test bed),
    # and a restarted container must recover from its own disk, never wipe it.
    return ["ndbmtd", f"--ndb-nodeid={node.node_id}",
            f"--ndb-connectstring={topology.connectstring}"]
