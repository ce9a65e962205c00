"""The bridge from what the program renders for a stack to what the test bed starts.

Nothing is re-rendered here: the files are exactly `render_cluster(settings)`'s output, and
the node list is the program's own topology."""

from __future__ import annotations

from components.render.artifacts import ClusterArtifacts, render_cluster
from components.render.commands import data_node_command, mgmd_command
from config.settings import Settings
from testbed.cluster import ClusterFiles, NodeSpec


def cluster_files(settings: Settings) -> tuple[ClusterFiles, ClusterArtifacts]:
    artifacts = render_cluster(settings)
    topo = artifacts.topology
    nodes = [NodeSpec("mgm", n.node_id, n.address, n.port) for n in topo.management]
    nodes += [NodeSpec("data", n.node_id, n.address, n.port) for n in topo.data]
    nodes += [NodeSpec("sql", n.node_id, n.address, n.port) for n in topo.sql]
    # One HAProxy: the test bed's hosts share one network namespace, where the instances of
    # several endpoint hosts would claim one port (tests/testbed/hosts.py runs each host in
    # its own namespace instead).
    endpoint = topo.endpoints[0]
    nodes.append(NodeSpec("haproxy", None, endpoint.address, endpoint.port))
    files = ClusterFiles(
        config_ini=artifacts.config_ini,
        my_cnf={n.node_id: text for n, text in zip(topo.sql, artifacts.my_cnf, strict=True)},
        haproxy_cfg=artifacts.haproxy_cfg,
        nodes=nodes,
        commands={
            **{n.node_id: mgmd_command(n) for n in topo.management},
            **{n.node_id: data_node_command(n, topo) for n in topo.data},
        },
    )
    return files, artifacts
