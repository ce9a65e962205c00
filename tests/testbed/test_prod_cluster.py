"""The prod stack's rendered files on the real test bed: three hosts, two management nodes,
six data nodes in three node groups, three SQL nodes with pooled connections.

Its own module, so the dev cluster of the other module is gone before this one starts."""

from __future__ import annotations

from tests.testbed.conftest import RenderedCluster


def test_prod_cluster_reaches_started_on_its_hosts(prod_cluster: RenderedCluster) -> None:
    topo = prod_cluster.artifacts.topology
    status = prod_cluster.cluster.ndb_mgm("all status")
    assert all(f"Node {n.node_id}: started" in status for n in topo.data)
    assert len(topo.node_groups) == 3
    assert prod_cluster.run_script(prod_cluster.artifacts.sql_gate).returncode == 0
    for gate in prod_cluster.artifacts.management_gates:  # both management nodes answer
        result = prod_cluster.run_script(gate)
        assert result.returncode == 0, result.stdout + result.stderr
    with prod_cluster.connect(prod_cluster.cluster.endpoint()) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM ndbinfo.nodes WHERE status = 'STARTED'")
        assert cur.fetchone()[0] == len(topo.data)
        # Each host is a location domain: the data nodes run with their host's.
        cur.execute("SELECT v.node_id, v.config_value FROM ndbinfo.config_values v "
                    "JOIN ndbinfo.config_params p ON p.param_number = v.config_param "
                    "WHERE p.param_name = 'LocationDomainId'")
        domains = {int(node): int(value) for node, value in cur.fetchall()}
    hosts = [h.name for h in prod_cluster.settings.hosts]
    assert domains == {n.node_id: hosts.index(n.host) + 1 for n in topo.data}
