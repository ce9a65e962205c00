from __future__ import annotations

from config import build_topology
from config.topology import MGM_FIRST_ID, SQL_FIRST_ID
from tests.stacks import settings_for


def test_dev_layout() -> None:
    topo = build_topology(settings_for("dev"))
    assert topo.network_mode == "bridge"
    assert [n.node_id for n in topo.management] == [MGM_FIRST_ID]
    assert [n.node_id for n in topo.data] == [1, 2]
    assert [n.node_group for n in topo.data] == [0, 0]
    assert [n.address for n in topo.data] == ["172.28.0.50", "172.28.0.51"]
    assert [n.node_ids for n in topo.sql] == [(SQL_FIRST_ID,), (SQL_FIRST_ID + 1,)]
    assert topo.endpoints[0].address == "172.28.0.4"
    assert topo.connectstring == "172.28.0.2:1186"
    assert topo.free_api_ids == (149, 150, 151, 152)


def test_prod_spreads_every_node_group_over_hosts() -> None:
    topo = build_topology(settings_for("prod"))
    assert topo.network_mode == "host"
    assert len(topo.management) == 2 and len(topo.data) >= 4
    assert len({n.host for n in topo.data}) >= 3
    for group in topo.node_groups:
        assert len({n.host for n in group}) == len(group)


def test_prod_ports_step_per_host() -> None:
    topo = build_topology(settings_for("prod"))
    ports = {(n.host, n.port) for n in topo.data}
    assert len(ports) == len(topo.data)  # no two data nodes share host and port
    assert {n.port for n in topo.data} == {11860, 11861}


def test_adding_data_nodes_moves_nothing_else() -> None:
    from config import load_settings
    from tests.stacks import modified

    small = build_topology(settings_for("dev"))
    big = build_topology(load_settings(modified("dev", "dataNodes.count", 4)))
    assert [n.address for n in small.sql] == [n.address for n in big.sql]
    assert [n.node_ids for n in small.sql] == [n.node_ids for n in big.sql]
    assert small.management == big.management
