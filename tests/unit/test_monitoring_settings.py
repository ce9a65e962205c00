"""monitoring.* settings: the mistakes refused with their key, the ports monitoring takes,
and the HAProxy configurations with HAProxy's exporter read by a real haproxy."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.render.haproxy import render_api_haproxy_cfg, render_haproxy_cfg
from config import SettingsError, load_settings
from config.openstack_layout import build_layout
from config.topology import build_topology
from testbed.pytest_support import require_tool
from tests.stacks import modified, settings_for


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SettingsError) as info:
        load_settings(raw)
    return {p.path: p.message for p in info.value.problems}


def test_an_unknown_monitoring_host_is_named() -> None:
    found = problems(modified("prod", "monitoring.host", "db-z"))
    assert found == {"monitoring.host": "unknown host 'db-z'; hosts are: db-a, db-b, db-c"}


def test_an_exporter_port_its_sql_node_takes_is_refused_on_one_host() -> None:
    for port, key in ((3306, "sqlNodes.port"), (4569, "sqlNodes.checkPort")):
        found = problems(modified("dev", "monitoring.mysqldExporterPort", port))
        assert list(found) == ["monitoring.mysqldExporterPort"]
        assert f"{port} is {key} too" in found["monitoring.mysqldExporterPort"]


def test_a_port_clash_on_a_host_names_both_keys() -> None:
    found = problems(modified("prod", "monitoring.prometheusPort", 4569))
    message = found["monitoring.prometheusPort"]
    assert "port 4569 on host 'db-c' is taken twice" in message
    assert "sqlNodes.checkPort" in message


def test_a_published_port_clash_on_one_host_is_refused() -> None:
    found = problems(modified("dev", "monitoring.grafanaPort", 5000))  # keystone's API
    assert "port 5000 on host 'local' is taken twice" in found["monitoring.grafanaPort"]


def test_a_haproxy_metrics_port_its_haproxy_listens_on_is_refused_on_one_host() -> None:
    # HAProxy starts with such a file (SO_REUSEPORT) and the kernel hands the frontend's
    # clients to the exporter in turn: 7 of 20 requests to one port reached the exporter.
    key = "monitoring.haproxyMetricsPort"
    found = problems(modified("dev", key, 3306))
    assert list(found) == [key]
    assert found[key].startswith("3306 is endpoint.port too")
    found = problems(modified("dev", key, 4999))
    assert list(found) == [key]
    assert found[key].startswith("4999 + 1 = 5000 is the keystone public API's port too")
    assert load_settings(modified("dev", key, 5000)).monitoring.haproxy_metrics_port == 5000


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_haproxy_metrics_port_without_a_next_port_is_refused(stack: str) -> None:
    found = problems(modified(stack, "monitoring.haproxyMetricsPort", 65535))
    assert found == {"monitoring.haproxyMetricsPort": (
        "65535 + 1 is no port: the APIs' HAProxy serves its exporter on "
        "monitoring.haproxyMetricsPort + 1; choose at most 65534")}


def test_monitoring_off_takes_no_port_and_checks_nothing() -> None:
    raw = modified("prod", "monitoring", {"enabled": False, "host": "db-z"})
    assert not load_settings(raw).monitoring.enabled


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_haproxy_reads_both_configurations_with_its_exporter(stack: str,
                                                            tmp_path: Path) -> None:
    haproxy = require_tool("haproxy")
    settings = settings_for(stack)
    assert settings.monitoring.enabled
    for name, text in (("sql", render_haproxy_cfg(settings, build_topology(settings))),
                       ("api", render_api_haproxy_cfg(build_layout(settings)))):
        assert "use-service prometheus-exporter" in text
        path = tmp_path / f"{name}.cfg"
        path.write_text(text)
        result = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "WARNING" not in result.stdout + result.stderr, result.stderr


@pytest.mark.parametrize(("key", "port", "owner"), [
    ("monitoring.prometheusPort", 61313, "the SQL HAProxy's monitor"),
    ("sqlNodes.checkPort", 61314, "the API HAProxy's monitor"),
])
def test_a_clash_with_a_fixed_port_is_reported_under_the_key_that_can_move(
        key: str, port: int, owner: str) -> None:
    found = problems(modified("prod", key, port))
    assert list(found) == [key]
    assert f"is fixed for {owner}" in found[key] and f"give {key} another port" in found[key]
