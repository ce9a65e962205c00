"""Every rejected input fails in load_settings (before any resource), naming its key path."""

from __future__ import annotations

from typing import Any

import pytest

from config import SettingsError, load_settings
from config.settings import Settings, field_defaults
from tests.stacks import STACKS, modified, raw_settings, settings_for


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsError) as info:
        load_settings(raw)
    return {p.path: p.message for p in info.value.problems}


@pytest.mark.parametrize("stack", STACKS)
def test_real_stack_files_are_valid(stack: str) -> None:
    assert isinstance(settings_for(stack), Settings)


def test_data_node_count_must_be_multiple_of_replicas() -> None:
    found = problems(modified("dev", "dataNodes.count", 3))
    assert "multiple of dataNodes.noOfReplicas" in found["dataNodes.count"]


@pytest.mark.parametrize("replicas", [0, 5])
def test_no_of_replicas_outside_1_to_4(replicas: int) -> None:
    found = problems(modified("dev", "dataNodes.noOfReplicas", replicas))
    assert "dataNodes.noOfReplicas" in found


def test_more_than_144_data_nodes() -> None:
    found = problems(modified("dev", "dataNodes.count", 146))
    assert "144" in found["dataNodes.count"]


def test_more_than_255_nodes() -> None:
    # ids: data 1-2, mgmd 145-146, then 2 SQL nodes x pool, then free API slots
    at_limit = modified("dev", "sqlNodes.connectionPool", 54)
    at_limit["sqlNodes"]["freeApiSlots"] = 1  # 146 + 108 + 1 = 255
    assert load_settings(at_limit)
    at_limit["sqlNodes"]["freeApiSlots"] = 2
    assert "at most 255" in problems(at_limit)["sqlNodes"]


def test_unknown_top_level_key_is_a_typo() -> None:
    found = problems({**raw_settings("dev"), "datanodes": {"count": 2}})
    assert "unknown key" in found["datanodes"]
    assert "dataNodes" in found["datanodes"]


def test_unknown_nested_key_names_allowed_keys() -> None:
    found = problems(modified("dev", "dataNodes.dataMemmory", "1G"))
    assert "dataMemory" in found["dataNodes.dataMemmory"]


def test_unknown_host_in_placement() -> None:
    found = problems(modified("prod", "dataNodes.hosts[1]", "db-x"))
    assert "unknown host 'db-x'" in found["dataNodes.hosts[1]"]


def test_unknown_endpoint_host() -> None:
    found = problems(modified("prod", "endpoint.hosts", ["db-a", "nowhere"]))
    assert "unknown host 'nowhere'" in found["endpoint.hosts[1]"]


def test_same_port_twice_on_one_host() -> None:
    found = problems(modified("prod", "sqlNodes.port", 3306))  # db-c's endpoint has 3306
    assert any("3306" in m and "db-c" in m for m in found.values())


def test_published_ports_clash_on_single_host() -> None:
    found = problems(modified("dev", "endpoint.publishPort", 1186))
    assert "endpoint.publishPort" in found


@pytest.mark.parametrize("image", [
    "container-registry.oracle.com/mysql/community-cluster",
    "container-registry.oracle.com/mysql/community-cluster:latest",
    "container-registry.oracle.com/mysql/community-cluster:9.7",
])
def test_image_must_be_pinned(image: str) -> None:
    found = problems(modified("dev", "images.ndb", image))
    assert "images.ndb" in found


def test_digest_pins_an_image() -> None:
    digest = "haproxy@sha256:" + "a" * 64
    assert load_settings(modified("dev", "images.haproxy", digest)).images.haproxy == digest


def test_data_memory_must_fit_memory_limit() -> None:
    found = problems(modified("dev", "dataNodes.dataMemory", "2G"))
    assert "memoryLimit" in found["dataNodes.dataMemory"]


def test_replicas_of_one_group_on_one_host_with_several_hosts() -> None:
    found = problems(modified("prod", "dataNodes.hosts", ["db-a", "db-a", "db-b"]))
    assert "same host 'db-a'" in found["dataNodes.hosts[1]"]


def test_one_host_may_hold_every_replica() -> None:
    assert settings_for("dev").data_nodes.count == 2  # dev: both replicas on `local`


def test_several_hosts_need_addresses() -> None:
    found = problems(modified("prod", "hosts[1].address", ...))
    assert "hosts[1].address" in found


def test_bad_docker_endpoint() -> None:
    found = problems(modified("prod", "hosts[0].endpoint", "db-a:2375"))
    assert "ssh://" in found["hosts[0].endpoint"]


def test_management_count_1_or_2() -> None:
    assert "management.count" in problems(modified("prod", "management.count", 3))


def test_unknown_ndb_parameter() -> None:
    found = problems(modified("dev", "dataNodes.parameters.NoSuchParameter", 1))
    assert "not an NDB" in found["dataNodes.parameters.NoSuchParameter"]


def test_ndb_parameter_out_of_range() -> None:
    found = problems(modified("dev", "dataNodes.parameters.TimeBetweenLocalCheckpoints", 32))
    assert "at most 31" in found["dataNodes.parameters.TimeBetweenLocalCheckpoints"]


def test_managed_ndb_parameter_is_refused() -> None:
    found = problems(modified("dev", "dataNodes.parameters.datamemory", "1G"))
    assert "dataNodes.dataMemory" in found["dataNodes.parameters.datamemory"]


def test_dictionary_limit_too_small_for_the_services() -> None:
    found = problems(modified("dev", "dataNodes.parameters.MaxNoOfTables", 200))
    assert "too small for the enabled services" in found["dataNodes.parameters.MaxNoOfTables"]


def test_dictionary_limit_large_enough_is_kept() -> None:
    settings = load_settings(modified("dev", "dataNodes.parameters.MaxNoOfTables", 5000))
    assert settings.data_nodes.parameters["MaxNoOfTables"] == 5000


def test_unknown_openstack_service() -> None:
    found = problems(modified("dev", "openstack.services", ["keystone", "swift"]))
    assert "unknown service 'swift'" in found["openstack.services[1]"]


def test_service_needs_its_dependencies() -> None:
    found = problems(modified("dev", "openstack.services", ["keystone", "nova"]))
    assert "nova needs glance, placement, neutron" in found["openstack.services[1]"]


def test_openstack_placement_rules() -> None:
    found = problems(modified("prod", "openstack.placement", {
        "nova": ["db-a", "db-a"], "swift": ["db-b"], "glance": ["nowhere"]}))
    assert "listed twice" in found["openstack.placement.nova[1]"]
    assert "not in openstack.services" in found["openstack.placement.swift"]
    assert "unknown host 'nowhere'" in found["openstack.placement.glance[0]"]
    one_host = problems(modified("dev", "openstack.placement", {"nova": ["local", "local"]}))
    assert "one host has one replica" in one_host["openstack.placement.nova"]


def test_unknown_openstack_hosts() -> None:
    found = problems(modified("dev", "openstack.api.hosts", ["elsewhere"]))
    assert "unknown host 'elsewhere'" in found["openstack.api.hosts[0]"]


def test_kolla_tag_must_be_pinned() -> None:
    found = problems(modified("dev", "openstack.images.tag", "master"))
    assert "floating tag 'master'" in found["openstack.images.tag"]


def test_api_port_taken_by_the_sql_endpoint() -> None:
    raw = modified("dev", "endpoint.publishPort", 5000)
    found = problems(raw)["openstack.api.hosts[0]"]
    assert "port 5000 on host 'local' is taken twice: by endpoint.publishPort" in found


@pytest.mark.parametrize("key", ["management.publishPort", "endpoint.publishPort"])
def test_publish_port_meaningless_with_several_hosts(key: str) -> None:
    assert "only applies on a single host" in problems(modified("prod", key, 3306))[key]


def test_subnet_too_small_for_data_nodes() -> None:
    raw = modified("dev", "network.subnet", "172.28.0.0/27")
    raw["openstack"]["services"] = []  # else the OpenStack containers' check reports it too
    assert "data node 2 takes offset 51" in problems(raw)["network.subnet"]


def test_subnet_too_small_for_the_openstack_containers() -> None:
    raw = modified("dev", "network.subnet", "172.28.0.0/25")  # room for the data nodes
    assert "too small for the enabled OpenStack services" in problems(raw)["network.subnet"]
    raw["openstack"]["services"] = []
    assert load_settings(raw)


def test_duplicate_host_name() -> None:
    found = problems(modified("prod", "hosts[2].name", "db-a"))
    assert "duplicate host name 'db-a' (also hosts[0])" in found["hosts[2].name"]


def test_no_hosts() -> None:
    assert "at least one Docker host" in problems(modified("dev", "hosts", []))["hosts"]


@pytest.mark.parametrize("key", ["management.hosts", "dataNodes.hosts", "sqlNodes.hosts"])
def test_empty_host_list_for_a_kind(key: str) -> None:
    assert "must name at least one host" in problems(modified("prod", key, []))[key]


def test_empty_host_list_for_an_openstack_service() -> None:
    found = problems(modified("prod", "openstack.placement", {"nova": []}))
    assert "must name at least one host" in found["openstack.placement.nova"]


def test_too_many_sql_nodes_on_one_host() -> None:
    assert load_settings(modified("dev", "sqlNodes.count", 40))  # .10-.49, below the data nodes
    found = problems(modified("dev", "sqlNodes.count", 41))
    assert "at most 40 SQL nodes on one host" in found["sqlNodes.count"]


def test_unknown_infrastructure_host() -> None:
    found = problems(modified("dev", "openstack.infrastructureHosts", ["elsewhere"]))
    assert "unknown host 'elsewhere'" in found["openstack.infrastructureHosts[0]"]


@pytest.mark.parametrize(("stack", "hosts", "key", "reason"), [
    ("prod", ["db-a", "db-b"], "openstack.infrastructureHosts",
     "2 RabbitMQ members: use an odd count"),
    ("prod", ["db-a", "db-b", "db-c", "db-a"], "openstack.infrastructureHosts[3]",
     "listed twice"),
    ("prod", [], "openstack.infrastructureHosts", "must name at least one host"),
    ("dev", ["local", "local"], "openstack.infrastructureHosts[1]", "listed twice"),
])
def test_infrastructure_hosts_rejected(stack: str, hosts: list[str], key: str,
                                       reason: str) -> None:
    """Members on distinct known hosts, an odd count: two survive no loss of either
    (a quorum queue needs a majority) and would pause both on a partition."""
    assert reason in problems(modified(stack, "openstack.infrastructureHosts", hosts))[key]


def test_even_member_counts_name_what_they_cost() -> None:
    hosts = [{"name": f"h{i}", "endpoint": f"ssh://deploy@h{i}", "address": f"10.0.0.{i}",
              "interface": "eth0"} for i in range(1, 5)]
    raw = modified("prod", "hosts", hosts)
    raw = {**raw, "management": {**raw["management"], "hosts": ["h1", "h2"]},
           "dataNodes": {**raw["dataNodes"], "hosts": ["h1", "h2", "h3"]},
           "sqlNodes": {**raw["sqlNodes"], "hosts": ["h1", "h2", "h3"]},
           "endpoint": {**raw["endpoint"], "hosts": ["h3"], "virtualAddress": ...},
           "openstack": {**raw["openstack"], "placement": {}, "api": {"hosts": ["h1"]},
                         "infrastructureHosts": ["h1", "h2", "h3", "h4"]},
           "monitoring": {**raw["monitoring"], "host": "h3"}}
    del raw["endpoint"]["virtualAddress"]
    found = problems(raw)
    assert found == {"openstack.infrastructureHosts": found["openstack.infrastructureHosts"]}
    assert "so 4 members survive no more losses than 3" in \
        found["openstack.infrastructureHosts"]
    raw["openstack"]["infrastructureHosts"] = ["h1", "h2", "h3"]
    assert load_settings(raw).openstack.infrastructure_hosts == ("h1", "h2", "h3")


def test_one_member_on_several_hosts_is_allowed() -> None:
    """No cluster, no tolerance, but a choice a small stack may make (today's prod was)."""
    settings = load_settings(modified("prod", "openstack.infrastructureHosts", ["db-c"]))
    assert settings.openstack.infrastructure_hosts == ("db-c",)


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("BackupMemory", "32M", "deprecated in NDB"),
    ("EnablePartialLcp", "maybe", "takes true or false"),
    ("Arbitration", "Sometimes", "takes one of Disabled, Default, WaitExternal"),
    ("FragmentLogFileSize", "1M", "must be at least 4M"),
    ("FragmentLogFileSize", "lots", "FragmentLogFileSize: "),
])
def test_ndb_parameter_value_rejected(name: str, value: str, reason: str) -> None:
    found = problems(modified("dev", f"dataNodes.parameters.{name}", value))
    assert reason in found[f"dataNodes.parameters.{name}"]


def test_every_problem_is_reported_at_once() -> None:
    raw = modified("dev", "dataNodes.count", 3)
    raw["dataNodes"]["parameters"] = {"Bogus": 1}
    assert {"dataNodes.count", "dataNodes.parameters.Bogus"} <= set(problems(raw))


def test_error_text_names_the_namespaced_key() -> None:
    with pytest.raises(SettingsError, match=r"openstack-ndb:dataNodes.count: "):
        load_settings(modified("dev", "dataNodes.count", 3))


DEFAULTS = {
    "namePrefix": "openstack-ndb",
    "network.name": "openstack-ndb",
    "images.ndb": "container-registry.oracle.com/mysql/community-cluster:9.7.1",
    "images.haproxy": "haproxy:3.2.7",
    "images.keepalived": "quay.io/openstack.kolla/keepalived:2026.2-ubuntu-noble",
    "management.count": 1,
    "management.port": 1186,
    "management.memoryLimit": 512 << 20,
    "management.publishPort": None,
    "management.arbitrationRank": 1,
    "management.hosts": None,
    "dataNodes.count": 2,
    "dataNodes.noOfReplicas": 2,
    "dataNodes.dataMemory": 512 << 20,
    "dataNodes.memoryLimit": 2 << 30,
    "dataNodes.serverPort": 11860,
    "dataNodes.parameters": {},
    "dataNodes.hosts": None,
    "sqlNodes.count": 2,
    "sqlNodes.port": 3306,
    "sqlNodes.connectionPool": 1,
    "sqlNodes.freeApiSlots": 4,
    "sqlNodes.memoryLimit": 1 << 30,
    "sqlNodes.rootHost": "%",
    "sqlNodes.hosts": None,
    "endpoint.hosts": None,
    "endpoint.virtualAddress": None,
    "endpoint.virtualRouterId": 51,
    "endpoint.port": 3306,
    "endpoint.publishPort": None,
    "endpoint.memoryLimit": 256 << 20,
    "openstack.services": ("keystone", "glance", "placement", "nova", "neutron", "heat", "cinder",
                           "horizon"),
    "openstack.placement": {},
    "openstack.infrastructureHosts": None,
    "openstack.images.registry": "quay.io/openstack.kolla",
    "openstack.images.tag": "2026.2-ubuntu-noble",
    "openstack.images.rabbitmq": "rabbitmq:4.1.4",
    "openstack.images.memcached": "memcached:1.6.39-alpine",
    "openstack.api.hosts": None,
    "openstack.api.virtualAddress": None,
    "openstack.api.virtualRouterId": 52,
    "openstack.api.publish": True,
    "openstack.api.memoryLimit": 256 << 20,
    "openstack.region": "RegionOne",
    "openstack.adminUser": "admin",
    "openstack.adminProject": "admin",
    "openstack.memoryLimit": 1 << 30,
    "openstack.workers": 2,
    "dataNodes.transactionDeadlockDetectionTimeout": 10_000,
    "dataNodes.maxNoOfConcurrentOperations": 131_072,
    "openstack.databaseCharset": "utf8mb3",
    # openstack.expectedScale is unset by default; these are its keys' defaults once set
    "openstack.expectedScale.instances": 0,
    "openstack.expectedScale.instanceCreatesPerDay": 0,
    "openstack.expectedScale.failedBootsPerDay": 0,
    "openstack.expectedScale.ports": 0,
    "openstack.expectedScale.networks": 0,
    "openstack.expectedScale.securityGroupRules": 0,
    "openstack.expectedScale.images": 0,
    "openstack.expectedScale.volumes": 0,
    "openstack.expectedScale.volumeCreatesPerDay": 0,
    "openstack.expectedScale.stacks": 0,
    "openstack.expectedScale.stackCreatesPerDay": 0,
    "openstack.expectedScale.retentionDays": 90,
    "openstack.expectedScale.targetFillPercent": 70,
    "volumes.protect": False,
    "gates.timeoutSeconds": 600,
    "gates.pollSeconds": 5,
    "healthChecks.intervalSeconds": 10,
    "healthChecks.timeoutSeconds": 10,
    "healthChecks.retries": 3,
    "healthChecks.startPeriodSeconds": 30,
    "sqlNodes.checkPort": 4569,
    "sqlNodes.checkMemoryLimit": 256 << 20,
    "monitoring.enabled": False,
    "monitoring.host": None,
    "monitoring.grafana": True,
    "monitoring.publish": True,
    "monitoring.prometheusPort": 9090,
    "monitoring.grafanaPort": 3000,
    "monitoring.mysqldExporterPort": 9104,
    "monitoring.ndbinfoExporterPort": 9237,
    "monitoring.haproxyMetricsPort": 8405,
    "monitoring.scrapeIntervalSeconds": 15,
    "monitoring.evaluationIntervalSeconds": 15,
    "monitoring.memoryPerDatabaseIntervalSeconds": 300,
    "monitoring.retentionDays": 15,
    "monitoring.backupMaxAgeHours": 26,
    "monitoring.memoryLimit": 512 << 20,
    "monitoring.images.prometheus": "prom/prometheus:v2.42.0",
    "monitoring.images.mysqldExporter": "prom/mysqld-exporter:v0.14.0",
    "monitoring.images.sqlExporter": "justwatch/sql_exporter:v0.4.5",
    "monitoring.images.grafana": "grafana/grafana:11.6.0",
    "backup.enabled": True,
    "backup.schedule": "30 2 * * *",
    "backup.encrypt": True,
    "backup.host": None,
    "backup.retention.count": 7,
    "backup.retention.maxAgeDays": None,
    "backup.binlog.enabled": False,
    "backup.binlog.expireSeconds": 604800,
    "backup.memoryLimit": 256 << 20,
}


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_default(key: str) -> None:
    assert field_defaults(Settings)[key] == DEFAULTS[key]


def test_empty_config_is_a_valid_one_host_cluster() -> None:
    settings = load_settings({})
    assert settings.hosts[0].name == "local"
    assert settings.network_mode == "bridge"
    assert str(settings.network.subnet) == "172.28.0.0/24"


def test_every_default_is_listed_here() -> None:
    assert set(field_defaults(Settings)) - {"hosts"} == set(DEFAULTS) | {"network.subnet"}


def test_database_charset_is_utf8mb3_or_utf8mb4_and_errors_name_the_key() -> None:
    assert load_settings({}).openstack.database_charset == "utf8mb3"
    chosen = load_settings(modified("dev", "openstack.databaseCharset", "utf8mb4"))
    assert chosen.openstack.database_charset == "utf8mb4"
    with pytest.raises(SettingsError, match=r"openstack-ndb:openstack.databaseCharset: .*"
                                            r"utf8mb3.*utf8mb4.*\(got 'latin1'\)"):
        load_settings(modified("dev", "openstack.databaseCharset", "latin1"))


@pytest.mark.parametrize("name", ["TransactionDeadlockDetectionTimeout",
                                  "maxNoOfConcurrentOperations"])
def test_runtime_parameters_are_typed_settings_not_raw_parameters(name: str) -> None:
    found = problems(modified("dev", f"dataNodes.parameters.{name}", 5000))
    assert "dataNodes." in found[f"dataNodes.parameters.{name}"]


def test_lock_wait_below_ndbs_minimum_names_the_key() -> None:
    found = problems(modified("dev", "dataNodes.transactionDeadlockDetectionTimeout", 10))
    assert "greater than or equal to 50" in found["dataNodes.transactionDeadlockDetectionTimeout"]


def test_operation_records_count_against_the_memory_limit() -> None:
    found = problems(modified("dev", "dataNodes.maxNoOfConcurrentOperations", 600_000))
    assert "maxNoOfConcurrentOperations" in found["dataNodes.dataMemory"]


def test_two_hosts_with_one_address() -> None:
    found = problems(modified("prod", "hosts[2].address", "10.20.0.11"))
    assert "also hosts[0] (db-a's) address" in found["hosts[2].address"]


def test_both_management_nodes_on_one_host_of_several() -> None:
    found = problems(modified("prod", "management.hosts", ["db-a"]))
    assert "['db-a', 'db-a']" in found["management.hosts"]
    assert "distinct hosts" in found["management.hosts"]


def test_every_sql_node_on_one_host_of_several() -> None:
    found = problems(modified("prod", "sqlNodes.hosts", ["db-b"]))
    assert "at least two hosts" in found["sqlNodes.hosts"]
    # Two of three SQL nodes sharing a host still leave one when that host is lost.
    assert load_settings(modified("prod", "sqlNodes.hosts", ["db-a", "db-a", "db-b"]))


def test_one_host_may_hold_every_node() -> None:
    settings = settings_for("dev")
    assert len(settings.hosts) == 1 and settings.sql_nodes.count == 2


def test_a_frontend_on_several_hosts_needs_a_virtual_address() -> None:
    raw = modified("prod", "endpoint.virtualAddress", ...)
    assert "required when endpoint.hosts lists 3 hosts" in problems(raw)["endpoint.virtualAddress"]
    raw = modified("prod", "openstack.api.virtualAddress", ...)
    assert "clients need one address" in problems(raw)["openstack.api.virtualAddress"]


def test_a_virtual_address_needs_several_hosts() -> None:
    found = problems(modified("dev", "endpoint.virtualAddress", "172.28.0.99"))
    assert "only applies with several hosts" in found["endpoint.virtualAddress"]


def test_virtual_addresses_are_free_and_distinct() -> None:
    own = problems(modified("prod", "endpoint.virtualAddress", "10.20.0.12"))
    assert "the own address of host 'db-b'" in own["endpoint.virtualAddress"]
    same = problems(modified("prod", "openstack.api.virtualAddress", "10.20.0.20"))
    assert "also endpoint.virtualAddress" in same["openstack.api.virtualAddress"]
    ids = problems(modified("prod", "openstack.api.virtualRouterId", 51))
    assert "also endpoint.virtualRouterId" in ids["openstack.api.virtualRouterId"]


def test_a_keepalived_host_needs_its_interface() -> None:
    found = problems(modified("prod", "hosts[1].interface", ...))
    assert list(found) == ["hosts[1].interface"]  # once, though db-b runs both keepalived
    assert "runs keepalived for endpoint.virtualAddress" in found["hosts[1].interface"]


def test_a_frontend_host_listed_twice() -> None:
    found = problems(modified("prod", "openstack.api.hosts", ["db-a", "db-a"]))
    assert "listed twice" in found["openstack.api.hosts[1]"]


def test_interface_name_is_checked() -> None:
    found = problems(modified("prod", "hosts[0].interface", "a-name-far-too-long"))
    assert "network interface name" in found["hosts[0].interface"]


@pytest.mark.parametrize("address", ["0.0.0.0", "127.0.0.5", "224.0.0.18", "169.254.1.1",
                                     "240.0.0.1"])
def test_a_virtual_address_must_be_a_unicast_address(address: str) -> None:
    found = problems(modified("prod", "endpoint.virtualAddress", address))
    assert "cannot be a virtual address" in found["endpoint.virtualAddress"]


def test_a_virtual_address_needs_two_members() -> None:
    found = problems(modified("prod", "endpoint.hosts", ["db-b"]))
    assert "moves between at least two" in found["endpoint.virtualAddress"]


@pytest.mark.parametrize(("key", "value", "new"), [
    ("endpoint.host", "db-a", "endpoint.hosts"),
    ("openstack.api.host", "db-a", "openstack.api.hosts"),
    ("openstack.infrastructureHost", "db-c", "openstack.infrastructureHosts")])
def test_a_renamed_key_names_its_successor(key: str, value: str, new: str) -> None:
    assert f"replaced by {new}, a list" in problems(modified("prod", key, value))[key]
