"""make tempest's bookkeeping (tests/openstack/tempest_run.py): the fixed partition, and which
failures are B-only and which of those are NDB regressions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.openstack.tempest_run import (
    AREAS,
    SELECTIONS,
    b_only_failures,
    class_of,
    compare,
    partition,
    passed,
    per_test,
    summarise,
    worker_file,
)

M = "tempest.api.identity.admin.v3.test_users"


def _ids(cls: str, n: int) -> list[str]:
    return [f"{M}.{cls}.test_{i}[id-{i:04d}]" for i in range(n)]


def _r(status: str, error: str = "") -> dict[str, Any]:
    return {"status": status, "seconds": 1.0, "error": error}


def test_a_test_and_a_class_fixture_name_their_class() -> None:
    assert class_of(f"{M}.Users.test_x[id-1,smoke]") == f"{M}.Users"
    assert class_of(f"setUpClass ({M}.Users)") == f"{M}.Users"


def test_partition_keeps_classes_whole_and_is_the_same_every_time() -> None:
    ids = _ids("Big", 5) + _ids("Mid", 3) + _ids("Small", 2) + _ids("Tiny", 1)
    parts = partition(ids)
    assert parts == [[f"{M}.Big", f"{M}.Tiny"], [f"{M}.Mid", f"{M}.Small"]]
    assert partition(list(reversed(ids))) == parts


def test_worker_file_selects_exactly_its_classes() -> None:
    ids = _ids("Users", 2) + _ids("UsersExtra", 1)
    workers = yaml.safe_load(worker_file([[f"{M}.Users"], [f"{M}.UsersExtra"]]))
    first = [re.compile(r) for r in workers[0]["worker"]]
    assert [i for i in ids if any(r.search(i) for r in first)] == _ids("Users", 2)


def test_b_only_failures_are_failures_on_b_that_passed_on_a() -> None:
    a = {"t.C.test_1": _r("success"), "t.C.test_2": _r("fail"), "t.D.test_1": _r("success")}
    b = {"t.C.test_1": _r("fail", "boom"), "t.C.test_2": _r("fail"), "t.D.test_1": _r("fail")}
    assert b_only_failures(a, b) == ["t.C.test_1", "t.D.test_1"]
    assert summarise(b) == {"passed": 0, "failed": 3, "skipped": 0, "other": 0}


def test_a_class_fixture_stands_for_the_tests_it_kept_from_running() -> None:
    stream = {"t.C.test_1": _r("success"), "setUpClass (t.D)": _r("fail", "403"),
              "setUpClass (t.E)": _r("skip", "no swift")}
    listed = ["t.C.test_1", "t.D.test_1[id-1]", "t.D.test_2", "t.E.test_1", "t.F.test_1"]
    tests = per_test(stream, listed)
    assert list(tests) == listed
    assert [e["status"] for e in tests.values()] == ["success", "fail", "fail", "skip",
                                                     "missing"]
    assert tests["t.D.test_2"]["error"] == "(class fixture) 403"
    assert summarise(tests) == {"passed": 1, "failed": 2, "skipped": 1, "other": 1}


def test_compare_calls_a_regression_only_what_failed_again(tmp_path: Path) -> None:
    import json

    def save(arm: str, results: dict[str, Any], rerun: dict[str, Any]) -> None:
        folder = tmp_path / arm / "identity"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({
            "counts": summarise(results), "wall_seconds": 61, "results": results,
            "rerun": rerun}))

    save("innodb", {"t.C.test_1": _r("success"), "t.C.test_2": _r("success")}, {})
    save("ndb", {"t.C.test_1": _r("fail", "DBDeadlock"), "t.C.test_2": _r("fail", "x")},
         {"t.C.test_1": _r("fail", "DBDeadlock"), "t.C.test_2": _r("success")})
    summary = compare(tmp_path, ["identity"])["areas"]["identity"]
    assert [(f["test"], f["regression"]) for f in summary["b_only"]] == [
        ("t.C.test_1", True), ("t.C.test_2", False)]
    table = (tmp_path / "summary.md").read_text()
    assert "| identity | A (InnoDB) | 2 | 0 | 0 | 1 min 1 s |" in table
    assert "REGRESSION t.C.test_1 (rerun: fail): DBDeadlock" in table


def test_every_area_has_a_selection_and_exclusions_say_why() -> None:
    areas = {p.stem for p in SELECTIONS.glob("*.txt")} - {"exclude"}
    assert areas == {*AREAS, "smoke"}  # make tempest's default areas, and make test's slice
    lines = (SELECTIONS / "exclude.txt").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"exclude.txt:{number + 1} has no reason"


def test_the_smoke_selection_takes_smoke_tests_of_the_api_areas_and_heats_api() -> None:
    """smoke.txt's regexes, as stestr applies them (re.search on the whole test id)."""
    regexes = [re.compile(line) for line in (SELECTIONS / "smoke.txt").read_text().splitlines()
               if line.strip() and not line.startswith("#")]

    def taken(test_id: str) -> bool:
        return any(r.search(test_id) for r in regexes)

    assert taken("tempest.api.compute.servers.test_create_server.ServersTestJSON."
                 "test_list_servers[id-9a438d88-10c6-4bcd-8b5b-5b6e25e1346f,smoke]")
    assert taken("tempest.api.network.test_networks.NetworksTest.test_list_networks"
                 "[id-f7ffdeda-e200-4a7a-bcbe-05716e86bf43,smoke]")
    assert taken("heat_tempest_plugin.tests.api.test_heat_api.stacks_create_stack")
    assert not taken("tempest.api.compute.servers.test_servers.ServersTestJSON."
                     "test_update_server_name[id-5e6ccff8-349d-4852-a8b3-055df7988dd2]")
    assert not taken("tempest.scenario.test_server_basic_ops.TestServerBasicOps."
                     "test_server_basic_ops[compute,id-7fff3fb3-91d8-4fd0-bd7d-0204f1f180ba,"
                     "network,smoke]")
    assert not taken("tempest.api.object_storage.test_account_services.AccountTest."
                     "test_list_containers[id-3499406a-ae53-4f8c-b43a-133d4dc6fe3f,smoke]")


def test_passed_lists_what_passed_sorted() -> None:
    results = {"t.b": _r("success"), "t.a": _r("xfail"), "t.c": _r("fail"),
               "t.d": _r("skip")}
    assert passed(results) == ["t.a", "t.b"]
