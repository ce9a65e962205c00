"""The bridge from what the program renders for a stack to what the test bed starts.

Nothing is re-rendered here: the files are exactly `render_cluster(settings)`'s output, and
the node list is the program's own topology."""

from __future__ import annotations

from components.render.artifacts import ClusterArtifacts, render_cluster
from config.settings import Settings
from testbed.cluster import ClusterFiles, NodeSpec


def cluster_files(settings: Settings) -> tuple[ClusterFiles, ClusterArtifacts]:
    artifacts = render_cluster(settings)
    topo = artifacts.topology
    nodes = [NodeSpec("mgm", n.node_id, n.address, n.port) for n in topo.management]
    nodes += [NodeSpec("data", n.node_id, n.address, n.port) for n in topo.data]
    nodes += [NodeSpec("sql", n.node_id, n.address, n.port) for n in topo.sql]
    nodes.append(NodeSpec("haproxy", None, topo.endpoint.address, topo.endpoint.port))
    files = ClusterFiles(
        config_ini=artifacts.config_ini,
        my_cnf={n.node_id: text for n, text in zip(topo.sql, artifacts.my_cnf, strict=True)},
        haproxy_cfg=artifacts.haproxy_cfg,
        nodes=nodes,
    )
    return files, artifacts
