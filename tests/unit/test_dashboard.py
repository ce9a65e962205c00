"""The NDB dashboard's JSON read as Grafana draws it: what its queries and field settings
make a panel show (its queries answering is tests/testbed/test_monitoring.py's)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from components.render.monitoring import dashboard
from testbed.pytest_support import require_tool


def test_stat_panels_show_the_current_series_only() -> None:
    # A range query keeps a series whose labels changed (a data node's status STARTED ->
    # NOT_CONNECTED) as a tile with its last value, next to the new one.
    for panel in dashboard()["panels"]:
        if panel["type"] == "stat":
            assert all(t.get("instant") is True for t in panel["targets"]), panel["title"]


def test_shares_are_drawn_from_0_to_1_with_the_alerts_thresholds() -> None:
    # Without min/max a bar gauge scales to its own data (0.1 % looked full) and Grafana's
    # default thresholds (red at 80) never colour a share of at most 1.
    shares = [p for p in dashboard()["panels"]
              if p["fieldConfig"]["defaults"].get("unit") == "percentunit"]
    assert {p["title"] for p in shares} >= {"DataMemory used", "Redo log used (fullest part)"}
    for panel in shares:
        defaults = panel["fieldConfig"]["defaults"]
        assert (defaults["min"], defaults["max"]) == (0, 1), panel["title"]
        steps = [s["value"] for s in defaults["thresholds"]["steps"]]
        assert steps == [None, 0.8, 0.9], panel["title"]


def test_the_backup_age_is_empty_without_a_dated_backup(tmp_path: Path) -> None:
    # timestamp_seconds is 0 when no backup has an id in the job's form: time() - 0 showed
    # the age as 56 years. Evaluated by promtool as a recording rule.
    promtool = require_tool("promtool")
    (expr,) = [t["expr"] for p in dashboard()["panels"] if p["title"] == "Last backup age"
               for t in p["targets"]]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [
        {"record": "backup_age", "expr": expr}]}]}))
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": [
            {"series": 'sql_ndb_last_backup{col="timestamp_seconds"}', "values": "0x5"}],
         "promql_expr_test": [{"expr": "backup_age", "eval_time": "5m", "exp_samples": []}]},
        {"interval": "1m", "input_series": [
            {"series": 'sql_ndb_last_backup{col="timestamp_seconds"}', "values": "60x5"}],
         "promql_expr_test": [{"expr": "backup_age", "eval_time": "5m", "exp_samples": [
             {"labels": 'backup_age{col="timestamp_seconds"}', "value": 240}]}]}]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
