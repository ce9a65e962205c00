"""Monitoring's part of the graph, under mocks with the real stack files (docs/monitoring.md)."""

from __future__ import annotations

from functools import cache

import yaml

from components.render.monitoring import (
    MYSQLD_EXPORTER_CNF_PATH,
    NDBINFO_EXPORTER_CONFIG_PATH,
    PROMETHEUS_CONFIG_PATH,
    RULES_PATH,
)
from tests.mock_program import SECRET_SIG, Run, run_program, stack_config
from tests.stacks import modified

CONTAINER = "docker:index/container:Container"


@cache
def run(stack: str) -> Run:
    return run_program(stack_config(stack), stack)


def _upload(container: object, path: str) -> dict[str, object]:
    uploads = container.raw_inputs["uploads"]  # type: ignore[attr-defined]
    return next(u for u in uploads if u["file"] == path)


def test_dev_each_sql_node_has_an_exporter_in_its_namespace_after_its_account() -> None:
    r = run("dev")
    for i in (1, 2):
        sql = r.by_name(f"ndb-sql-{i}")
        exporter = r.by_name(f"monitoring-ndb-sql-{i}-exporter")
        account = r.by_name(f"monitoring-ndb-sql-{i}-exporter-account")
        assert exporter.inputs["networkMode"].startswith("container:")
        assert exporter.inputs["user"] == "0"
        assert account.urn in exporter.dependencies
        assert r.by_name("ndb-sql-gate").urn in account.dependencies
        assert account.inputs["environment"]["SQL_EXEC"] == f"docker exec -i {sql.inputs['name']}"
        assert account.raw_inputs["stdin"]["4dabf18193072939515e22adb298388d"] == SECRET_SIG
        cnf = _upload(exporter, MYSQLD_EXPORTER_CNF_PATH)
        assert cnf["permissions"] == "0400"
        assert cnf["content"]["4dabf18193072939515e22adb298388d"] == SECRET_SIG  # type: ignore[index]
        assert "--no-collect.slave_status" in exporter.inputs["command"]


def test_prometheus_scrapes_every_exporter_with_the_rules_after_them() -> None:
    r = run("dev")
    prometheus = r.by_name("monitoring-prometheus")
    config = yaml.safe_load(str(_upload(prometheus, PROMETHEUS_CONFIG_PATH)["content"]))
    targets = {job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
               for job in config["scrape_configs"]}
    assert targets == {"ndbinfo": ["172.28.0.7:9237"],
                       "mysqld": ["172.28.0.10:9104", "172.28.0.11:9104"],
                       "haproxy": ["172.28.0.4:8405", "172.28.0.196:8406"],
                       "prometheus": ["172.28.0.5:9090"]}
    assert config["rule_files"] == [RULES_PATH]
    assert "NdbDataNodeDown" in str(_upload(prometheus, RULES_PATH)["content"])
    for name in ("monitoring-ndbinfo-exporter", "monitoring-ndb-sql-1-exporter",
                 "monitoring-ndb-sql-2-exporter"):
        assert r.by_name(name).urn in prometheus.dependencies
    assert prometheus.inputs["ports"] == [{"internal": 9090, "external": 9090,
                                           "ip": "127.0.0.1"}]
    ndbinfo = r.by_name("monitoring-ndbinfo-exporter")
    assert _upload(ndbinfo, NDBINFO_EXPORTER_CONFIG_PATH)["permissions"] == "0400"
    assert r.by_name("ndb-sql-endpoint-1").urn in ndbinfo.dependencies


def test_grafana_reads_its_password_from_a_file() -> None:
    grafana = run("dev").by_name("monitoring-grafana")
    envs = grafana.inputs["envs"]
    assert "GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana-admin-password" in envs
    assert not any("mock-password" in e for e in envs)


def test_prod_exporters_on_the_hosts_networks_and_the_rest_on_db_c() -> None:
    r = run("prod")
    prometheus = r.by_name("monitoring-prometheus")
    config = yaml.safe_load(str(_upload(prometheus, PROMETHEUS_CONFIG_PATH)["content"]))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    mysqld = [t for c in jobs["mysqld"]["static_configs"] for t in c["targets"]]
    assert all(t.endswith(":9104") for t in mysqld) and len(set(mysqld)) == len(mysqld)
    assert len([t for c in jobs["haproxy"]["static_configs"] for t in c["targets"]]) == 6
    assert prometheus.inputs["networkMode"] == "host"
    assert "ports" not in prometheus.inputs or not prometheus.inputs["ports"]
    exporters = [c for c in r.of_type(CONTAINER) if c.name.endswith("-exporter")
                 and c.name.startswith("monitoring-ndb-sql-")]
    assert exporters and all(e.inputs["networkMode"] == "host" for e in exporters)


def test_without_monitoring_nothing_of_it_is_deployed() -> None:
    config = stack_config("dev")
    raw = modified("dev", "monitoring.enabled", False)
    config = {**config, "openstack-ndb:monitoring": raw["monitoring"]}
    r = run_program(config, "dev")
    assert not [x for x in r.resources if x.name.startswith("monitoring")]
    endpoint = r.by_name("ndb-sql-endpoint-1")
    assert "prometheus-exporter" not in str(endpoint.raw_inputs["uploads"])
