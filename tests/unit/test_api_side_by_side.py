"""bench/api_side_by_side.py's pure parts: the existing-cloud spec Rally gets from the
cloud's openrc, the figures read from Rally's JSON report, and the table.

The report is a real one (`rally task report --json`, rally 5.1.1 with rally-openstack
4.1.0, bench/rally/api.yaml at scale 0.1 on the InnoDB arm's cloud), with each workload's
`contexts_results` emptied (the contexts' own timings, which nothing reads): a Rally whose
report changes shape fails here, not in a bench run."""

from __future__ import annotations

import copy
import json
import math
import stat
from pathlib import Path
from typing import Any

import pytest

from bench.api_side_by_side import (
    FIGURES,
    SCENARIOS,
    TASK,
    env_spec,
    errors,
    figures,
    percentile,
    private_file,
    table,
)
from components.render.infra import render_openrc
from config.openstack_layout import build_layout
from tests.openstack.cluster import dev_settings

REPORT = Path(__file__).parent / "fixtures" / "rally-task-report.json"


def report() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(REPORT.read_text())
    return loaded


def workloads(rep: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for t in rep["tasks"] for s in t["subtasks"] for w in s["workloads"]]


def test_every_scenario_of_the_task_gets_its_figures() -> None:
    found = figures(report())
    assert list(found) == list(SCENARIOS)
    for scenario in SCENARIOS:
        assert scenario in TASK.read_text()
        assert set(found[scenario]) == set(FIGURES)
    assert found["NovaServers.boot_and_delete_server"]["iterations"] == 2
    assert found["KeystoneBasic.authenticate_user_and_validate_token"]["iterations"] == 5
    assert all(f["failures"] == 0 for f in found.values())


def test_durations_are_rallys_own_total_row() -> None:
    """Mean, median and 95th percentile as Rally's report computes them (its statistics,
    rounded to milliseconds), over the whole iteration."""
    rep = report()
    found = figures(rep)
    for workload in workloads(rep):
        (name,) = workload["scenario"]
        total = workload["statistics"]["durations"]["total"]
        assert total["name"] == "total"
        stats = total["data"]
        assert found[name]["mean_s"] == pytest.approx(stats["avg"], abs=0.0006)
        assert found[name]["p50_s"] == pytest.approx(stats["median"], abs=0.0006)
        assert found[name]["p95_s"] == pytest.approx(stats["95%ile"], abs=0.0006)
        assert found[name]["load_duration_s"] == workload["load_duration"]
        assert found[name]["iterations"] == workload["total_iteration_count"]


def test_failed_iterations_are_counted_and_left_out_of_the_durations() -> None:
    rep = report()
    ports = next(w for w in workloads(rep)
                 if "NeutronNetworks.create_and_delete_ports" in w["scenario"])
    slowest = max(ports["data"], key=lambda i: i["duration"])
    slowest["error"] = ["Conflict", "port quota exceeded", "Traceback ..."]
    found = figures(rep)["NeutronNetworks.create_and_delete_ports"]
    ok = [i["duration"] + i["idle_duration"] for i in ports["data"] if not i["error"]]
    assert found["failures"] == 1
    assert found["iterations"] == len(ports["data"])
    assert found["mean_s"] == pytest.approx(sum(ok) / len(ok))
    assert errors(rep) == {"NeutronNetworks.create_and_delete_ports":
                           ["Conflict: port quota exceeded"]}
    for iteration in ports["data"]:
        iteration["error"] = ["Conflict", "again", ""]
    assert math.isnan(figures(rep)["NeutronNetworks.create_and_delete_ports"]["p95_s"])


def test_a_report_of_another_format_is_refused() -> None:
    rep = copy.deepcopy(report())
    rep["info"]["format_version"] = "2.0"
    with pytest.raises(ValueError, match="format"):
        figures(rep)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == pytest.approx(4.8)
    assert percentile([7.0], 0.95) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_env_spec_is_the_openrc_admin() -> None:
    settings = dev_settings()
    openrc = render_openrc(settings, build_layout(settings), "pw with 'quotes' $x")
    spec = env_spec(openrc)["existing@openstack"]
    assert spec["admin"] == {
        "username": settings.openstack.admin_user, "password": "pw with 'quotes' $x",
        "project_name": settings.openstack.admin_project,
        "user_domain_name": "Default", "project_domain_name": "Default"}
    assert spec["auth_url"].startswith("http")
    assert spec["region_name"] == settings.openstack.region
    assert spec["endpoint_type"] == "public"


def test_spec_file_is_private_from_the_start(tmp_path: Path) -> None:
    path = private_file(tmp_path / "spec.json", "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        private_file(path, "{}")


def test_table_gives_both_arms_and_the_ratio_of_durations() -> None:
    innodb = figures(report())
    ndb = {s: {k: v * 2 for k, v in f.items()} for s, f in innodb.items()}
    lines = table({"innodb": innodb, "ndb": ndb}).splitlines()
    assert lines[0] == "| scenario | figure | InnoDB | NDB | ratio NDB/InnoDB |"
    assert len(lines) == 2 + len(SCENARIOS) * len(FIGURES)
    mean = next(line for line in lines if "boot_and_delete_server | mean_s" in line)
    assert mean.endswith("| 2.00 |")
    count = next(line for line in lines if "boot_and_delete_server | iterations" in line)
    assert count == "| NovaServers.boot_and_delete_server | iterations | 2 | 4 |  |"
    only_a = table({"innodb": innodb}).splitlines()
    assert all(line.endswith("| - | - |") for line in only_a if "_s |" in line)
