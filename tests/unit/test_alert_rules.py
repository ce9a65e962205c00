"""The shipped alert rules under `promtool test rules` (Prometheus' own rule tester, Debian's
prometheus package): every alert fires on the series that should fire it, after its `for`,
and stays silent on a healthy cluster's series."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from components.render.monitoring import render_alert_rules
from testbed.pytest_support import require_tool
from tests.stacks import settings_for

HEALTHY: list[dict[str, str]] = [
    {"series": 'sql_ndb_data_node{node_id="1",status="STARTED",col="started"}',
     "values": "1x20"},
    {"series": 'sql_ndb_data_node{node_id="2",status="STARTED",col="started"}',
     "values": "1x20"},
    {"series": 'sql_ndb_node_group_member{node_id="1",node_group="0",col="member"}',
     "values": "1x20"},
    {"series": 'sql_ndb_node_group_member{node_id="2",node_group="0",col="member"}',
     "values": "1x20"},
    {"series": 'sql_ndb_replicas{col="replicas"}', "values": "2x20"},
    {"series": 'sql_ndb_management_node{node_id="145",col="connected"}', "values": "1x20"},
    {"series": 'sql_ndb_memory{node_id="1",memory_type="Data memory",col="used_bytes"}',
     "values": "100x20"},
    {"series": 'sql_ndb_memory{node_id="1",memory_type="Data memory",col="total_bytes"}',
     "values": "1000x20"},
    {"series": 'sql_ndb_log_space{node_id="1",log_type="REDO",log_part="0",col="used_bytes"}',
     "values": "10x20"},
    {"series": 'sql_ndb_log_space{node_id="1",log_type="REDO",log_part="0",col="total_bytes"}',
     "values": "100x20"},
    {"series": 'mysql_global_status_ndb_number_of_ready_data_nodes{instance="sql1:9104"}',
     "values": "2x20"},
    {"series": 'mysql_up{instance="sql1:9104"}', "values": "1x20"},
    {"series": 'up{job="mysqld",instance="sql1:9104"}', "values": "1x20"},
    {"series": 'up{job="ndbinfo",instance="mon:9237"}', "values": "1x20"},
    {"series": 'sql_exporter_last_scrape_failed{query="ndb_memory"}', "values": "0x20"},
    # The last backup at 1 s on the test's clock (which starts at 0): minutes old.
    {"series": 'sql_ndb_last_backup{col="timestamp_seconds"}', "values": "1x20"},
    {"series": 'haproxy_server_status{proxy="mysql",server="ndb-sql-1",state="UP",'
               'instance="ep:8405"}', "values": "1x20"},
]


def _replace(series: list[dict[str, str]], name: str, values: str) -> list[dict[str, str]]:
    """HEALTHY with the series whose text is `name` given other values."""
    assert any(s["series"] == name for s in series), name
    return [{**s, "values": values} if s["series"] == name else s for s in series]


def _rules() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in yaml.safe_load(render_alert_rules(settings_for("dev")))
            ["groups"] for r in g["rules"]}


def _annotations(alert: str, labels: dict[str, str], value: str) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them for `labels`: its templates use
    only `{{ $labels.<name> }}` and `{{ $value | humanizePercentage }}` (`value` here)."""
    out = {}
    for key, template in _rules()[alert]["annotations"].items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""),
                      template)
        out[key] = text.replace("{{ $value | humanizePercentage }}", value)
    return out


def _case(series: list[dict[str, str]], minute: str, alert: str,
          expected: list[dict[str, Any]], value: str = "") -> dict[str, Any]:
    alerts = [{**e, "exp_annotations": _annotations(alert, e["exp_labels"], value)}
              for e in expected]
    return {"interval": "15s", "input_series": series,
            "alert_rule_test": [{"eval_time": minute, "alertname": alert,
                                 "exp_alerts": alerts}]}


def _cases() -> list[dict[str, Any]]:
    h = HEALTHY
    node2 = 'sql_ndb_data_node{node_id="2",status="STARTED",col="started"}'
    member2 = 'sql_ndb_node_group_member{node_id="2",node_group="0",col="member"}'
    used = 'sql_ndb_memory{node_id="1",memory_type="Data memory",col="used_bytes"}'
    redo = 'sql_ndb_log_space{node_id="1",log_type="REDO",log_part="0",col="used_bytes"}'
    ready = 'mysql_global_status_ndb_number_of_ready_data_nodes{instance="sql1:9104"}'
    backup = 'sql_ndb_last_backup{col="timestamp_seconds"}'
    haproxy = ('haproxy_server_status{proxy="mysql",server="ndb-sql-1",state="UP",'
               'instance="ep:8405"}')
    cases = [_case(h, "4m", name, []) for name in (
        "NdbDataNodeDown", "NdbNodeGroupAtRisk", "NdbManagementNodeDown", "NdbDataMemoryHigh",
        "NdbDataMemoryCritical", "NdbRedoLogFilling", "NdbSqlNodeDisconnected",
        "NdbExporterDown", "NdbInfoQueryFailing", "NdbBackupTooOld", "NdbEndpointBackendDown")]
    down = _replace(h, node2, "1 0x19")
    cases += [
        # `for: 30s`: pending at 15 s and 30 s after the drop, firing from 45 s.
        _case(down, "30s", "NdbDataNodeDown", []),
        _case(down, "1m", "NdbDataNodeDown", [{"exp_labels": {
            "severity": "critical", "node_id": "2", "status": "STARTED", "col": "started"}}]),
        _case(_replace(h, member2, "1 stale"), "2m", "NdbNodeGroupAtRisk", [
            {"exp_labels": {"severity": "critical", "node_group": "0"}}]),
        _case(_replace(h, 'sql_ndb_management_node{node_id="145",col="connected"}', "0x20"),
              "2m", "NdbManagementNodeDown", [{"exp_labels": {
                  "severity": "warning", "node_id": "145", "col": "connected"}}]),
        _case(_replace(h, used, "850x20"), "2m", "NdbDataMemoryHigh", [{"exp_labels": {
            "severity": "warning", "node_id": "1", "memory_type": "Data memory"}}], "85%"),
        _case(_replace(h, used, "850x20"), "2m", "NdbDataMemoryCritical", []),
        _case(_replace(h, used, "950x20"), "2m", "NdbDataMemoryCritical", [{"exp_labels": {
            "severity": "critical", "node_id": "1", "memory_type": "Data memory"}}], "95%"),
        _case(_replace(h, redo, "85x20"), "3m", "NdbRedoLogFilling", [{"exp_labels": {
            "severity": "warning", "node_id": "1", "log_type": "REDO", "log_part": "0"}}],
              "85%"),
        _case(_replace(h, ready, "2 0x19"), "2m", "NdbSqlNodeDisconnected", [{"exp_labels": {
            "severity": "critical", "instance": "sql1:9104"}}]),
        _case(_replace(h, 'mysql_up{instance="sql1:9104"}', "0x20"), "2m",
              "NdbSqlNodeDisconnected", [{"exp_labels": {
                  "severity": "critical", "instance": "sql1:9104"}}]),
        _case(_replace(h, 'up{job="ndbinfo",instance="mon:9237"}', "0x20"), "2m",
              "NdbExporterDown", [{"exp_labels": {
                  "severity": "warning", "job": "ndbinfo", "instance": "mon:9237"}}]),
        _case(_replace(h, 'sql_exporter_last_scrape_failed{query="ndb_memory"}', "1x20"),
              "3m", "NdbInfoQueryFailing", [{"exp_labels": {
                  "severity": "warning", "query": "ndb_memory"}}]),
        # Taken at 1 s: older than 26 h from 26 h 1 s on, firing 5 m later.
        _case(_replace(h, backup, "1x6400"), "26h5m", "NdbBackupTooOld", []),
        _case(_replace(h, backup, "1x6400"), "26h7m", "NdbBackupTooOld", [{"exp_labels": {
            "severity": "warning", "col": "timestamp_seconds"}}]),
        # No backup at all yet (timestamp 0, or an id not in the job's form): no alert.
        _case(_replace(h, backup, "0x40"), "6m", "NdbBackupTooOld", []),
        _case(_replace(h, haproxy, "0x20"), "2m", "NdbEndpointBackendDown", [{"exp_labels": {
            "severity": "warning", "proxy": "mysql", "server": "ndb-sql-1", "state": "UP",
            "instance": "ep:8405"}}]),
    ]
    return cases


def test_every_alert_fires_when_it_should_and_only_then(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    rules = tmp_path / "ndb-alerts.yml"
    rules.write_text(render_alert_rules(settings_for("dev")))
    tests = tmp_path / "ndb-alerts.test.yml"
    tests.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "15s",
                                     "tests": _cases()}, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True,
                            text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_shipped_alert_has_a_firing_case() -> None:
    shipped = {r["alert"] for g in yaml.safe_load(render_alert_rules(settings_for("dev")))
               ["groups"] for r in g["rules"]}
    fired = {c["alert_rule_test"][0]["alertname"] for c in _cases()
             if c["alert_rule_test"][0]["exp_alerts"]}
    assert set(_rules()) == shipped == fired


def test_the_backup_age_follows_the_setting() -> None:
    assert "> 93600 and" in render_alert_rules(settings_for("dev"))
