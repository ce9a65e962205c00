"""config.ini and my.cnf: only real NDB parameters, within their documented ranges."""

from __future__ import annotations

import configparser

import pytest

from components.render.ndb import render_config_ini, render_my_cnf
from config import build_topology, ndb_parameters
from config.units import parse_size
from tests.stacks import STACKS, settings_for

SECTION_KIND = {"ndbd default": "DB", "ndbd": "DB", "ndb_mgmd default": "MGM",
                "ndb_mgmd": "MGM", "mysqld": "API", "api": "API"}


def sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """config.ini repeats section names, so parse it by hand (as ndb_mgmd does)."""
    out: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            out.append((line.strip("[]"), {}))
        else:
            key, value = line.split("=", 1)
            out[-1][1][key] = value
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_config_ini_uses_real_parameters_in_range(stack: str) -> None:
    settings = settings_for(stack)
    text = render_config_ini(settings, build_topology(settings))
    for name, values in sections(text):
        if name == "system":
            assert set(values) == {"Name"}
            continue
        table = ndb_parameters.parameters(SECTION_KIND[name])
        for key, value in values.items():
            canonical = ndb_parameters.canonical_name(SECTION_KIND[name], key)
            assert canonical, f"[{name}] {key} is not an NDB parameter"
            p = table[canonical]
            assert not p.deprecated, key
            if p.type in ("int", "int64"):
                number = parse_size(value)
                assert p.min is None or number >= p.min, (key, value)
                assert p.max is None or number <= p.max, (key, value)


@pytest.mark.parametrize("stack", STACKS)
def test_config_ini_node_ids_and_groups(stack: str) -> None:
    settings = settings_for(stack)
    topo = build_topology(settings)
    parsed = sections(render_config_ini(settings, topo))
    data = [v for n, v in parsed if n == "ndbd"]
    assert [int(v["NodeId"]) for v in data] == [n.node_id for n in topo.data]
    assert [int(v["NodeGroup"]) for v in data] == [n.node_group for n in topo.data]
    assert all(1 <= int(v["NodeId"]) <= 144 for v in data)
    mysqld = [v for n, v in parsed if n == "mysqld"]
    assert len(mysqld) == settings.sql_nodes.count * settings.sql_nodes.connection_pool
    assert len([1 for n, _ in parsed if n == "api"]) == settings.sql_nodes.free_api_slots
    ids = [int(v["NodeId"]) for n, v in parsed if "NodeId" in v]
    assert len(ids) == len(set(ids)) and max(ids) <= 255
    default = dict(parsed)["ndbd default"]
    assert default["NoOfReplicas"] == str(settings.data_nodes.no_of_replicas)


def test_dictionary_limits_follow_the_enabled_services() -> None:
    from config import load_settings
    from config.sizing import dictionary_limits
    from tests.stacks import modified

    def ndbd_default(raw: dict[str, object]) -> dict[str, str]:
        settings = load_settings(raw)
        parsed = sections(render_config_ini(settings, build_topology(settings)))
        return dict(parsed)["ndbd default"]

    everything = ndbd_default(modified("dev", "openstack.services",
                                       ["keystone", "glance", "placement", "neutron", "nova"]))
    keystone_only = ndbd_default(modified("dev", "openstack.services", ["keystone"]))
    assert int(everything["MaxNoOfOrderedIndexes"]) > int(keystone_only["MaxNoOfOrderedIndexes"])
    # nova alone creates 606 ordered indexes: far above NDB's default of 128
    assert dictionary_limits(("nova",))["MaxNoOfOrderedIndexes"] >= 606
    assert int(keystone_only["MaxNoOfTables"]) >= 128  # never below NDB's own default


def test_prod_config_ini_pins_data_node_ports() -> None:
    settings = settings_for("prod")
    data = [v for n, v in sections(render_config_ini(settings, build_topology(settings)))
            if n == "ndbd"]
    assert [v["ServerPort"] for v in data] == ["11860", "11860", "11860", "11861", "11861", "11861"]


@pytest.mark.parametrize("stack", STACKS)
def test_my_cnf_joins_cluster_with_ndb_as_default_engine(stack: str) -> None:
    settings = settings_for(stack)
    topo = build_topology(settings)
    for sql in topo.sql:
        parser = configparser.ConfigParser(allow_no_value=True)
        parser.read_string(render_my_cnf(settings, topo, sql))
        mysqld = parser["mysqld"]
        assert "ndbcluster" in mysqld
        assert mysqld["default_storage_engine"] == "ndbcluster"
        assert mysqld["ndb-connectstring"] == ",".join(
            f"{m.address}:{m.port}" for m in topo.management)
        assert mysqld["ndb-cluster-connection-pool-nodeids"] == ",".join(
            str(i) for i in sql.node_ids)
        assert int(mysqld["port"]) == sql.port
        assert mysqld["disabled_storage_engines"] == "InnoDB"
        assert "NO_ENGINE_SUBSTITUTION" not in mysqld["sql_mode"]
        assert "STRICT_ALL_TABLES" in mysqld["sql_mode"]
        assert mysqld["default_tmp_storage_engine"] == "MyISAM"


@pytest.mark.parametrize("stack", STACKS)
def test_config_ini_waits_for_locks_and_holds_large_deletes(stack: str) -> None:
    """The two runtime parameters NDB's defaults get wrong for OpenStack (docs/
    ndb-compatibility.md, "Runtime"): a lock wait of 10 s, not 1.2 s, and 131072 operation
    records, not 32768 (a 100,000-row DELETE); both settable, neither as a raw parameter."""
    from config import load_settings
    from config.checks import data_node_memory_needed
    from tests.stacks import modified

    settings = settings_for(stack)
    ndbd = dict(sections(render_config_ini(settings, build_topology(settings))))["ndbd default"]
    assert ndbd["TransactionDeadlockDetectionTimeout"] == "10000"
    assert ndbd["MaxNoOfConcurrentOperations"] == "131072"
    assert ndb_parameters.default("DB", "TransactionDeadlockDetectionTimeout") == 1200
    assert ndb_parameters.default("DB", "MaxNoOfConcurrentOperations") == 32768
    raw = modified(stack, "dataNodes.transactionDeadlockDetectionTimeout", 50_000)
    raw["dataNodes"]["maxNoOfConcurrentOperations"] = 32_768
    tuned = load_settings(raw)
    ndbd = dict(sections(render_config_ini(tuned, build_topology(tuned))))["ndbd default"]
    assert (ndbd["TransactionDeadlockDetectionTimeout"], ndbd["MaxNoOfConcurrentOperations"]) \
        == ("50000", "32768")
    # each operation record above NDB's default counts against the container's memory
    assert data_node_memory_needed(settings) - data_node_memory_needed(tuned) == \
        (131_072 - 32_768) * 1_820



def test_each_host_is_a_location_domain() -> None:
    settings = settings_for("prod")
    topo = build_topology(settings)
    hosts = [h.name for h in settings.hosts]
    expected = {str(i): str(hosts.index(n.host) + 1) for n in topo.nodes for i in n.node_ids}
    found = {values["NodeId"]: values["LocationDomainId"]
             for _, values in sections(render_config_ini(settings, topo))
             if "LocationDomainId" in values}
    assert found == expected
    dev = settings_for("dev")
    assert "LocationDomainId" not in render_config_ini(dev, build_topology(dev))
