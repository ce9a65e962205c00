"""The changes a live cluster refuses: the deployed-topology record's check, old inputs
against new, with the real stack files changed the way a person would change them."""

from __future__ import annotations

import base64
import subprocess
import sys
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.ndb.deployed import DeployedTopologyProvider
from config import build_topology, load_settings
from config.topology import deployed_record
from tests.mock_program import ROOT
from tests.stacks import modified, raw_settings

refusals = DeployedTopologyProvider.refusals


def record(raw: dict[str, Any]) -> dict[str, Any]:
    settings = load_settings(raw)
    return deployed_record(settings, build_topology(settings))


def dev(path: str | None = None, value: Any = None, stack: str = "dev") -> dict[str, Any]:
    return record(modified(stack, path, value) if path else raw_settings(stack))


def test_record_shape() -> None:
    assert dev() == {"dataNodes": {"1": "local", "2": "local"},
                     "managementNodes": {"145": "local"},
                     "noOfReplicas": 2, "sqlConnectionPool": 1}


def test_first_deployment_and_unchanged_and_growth_pass() -> None:
    assert refusals({}, dev()) == []
    assert refusals(dev(), dev()) == []
    assert refusals(dev(), dev("dataNodes.count", 4)) == []
    assert refusals(dev("dataNodes.count", 4), dev("dataNodes.count", 6)) == []
    assert refusals(dev(), dev("sqlNodes.connectionPool", 3)) == []
    assert refusals(dev(), dev("sqlNodes.count", 3)) == []


def test_fewer_data_nodes_refused_with_the_way_out() -> None:
    (found,) = refusals(dev("dataNodes.count", 4), dev())
    key, message = found
    assert key == "dataNodes.count"
    assert "openstack-ndb:dataNodes.count: 4 -> 2 refused" in message
    assert "Keep dataNodes.count: 4" in message
    for way in ("START BACKUP", "new stack", "ndb_restore"):
        assert way in message


def test_other_replica_count_refused() -> None:
    old = dev("dataNodes.count", 6)
    new = record(modified("dev", "dataNodes", {**raw_settings("dev")["dataNodes"],
                                               "count": 6, "noOfReplicas": 3}))
    (found,) = refusals(old, new)
    assert found[0] == "dataNodes.noOfReplicas"
    assert "2 -> 3 refused" in found[1] and "initial system restart" in found[1]
    assert "Keep dataNodes.noOfReplicas: 2" in found[1] and "new stack" in found[1]


def test_smaller_connection_pool_refused() -> None:
    (found,) = refusals(dev("sqlNodes.connectionPool", 3), dev())
    assert found[0] == "sqlNodes.connectionPool"
    assert "3 -> 1 refused" in found[1] and "Keep sqlNodes.connectionPool: 3" in found[1]


def test_a_node_moved_to_another_host_refused() -> None:
    """prod: the data node hosts in another order put existing data nodes on other hosts."""
    prod = raw_settings("prod")
    hosts = prod["dataNodes"].get("hosts") or [h["name"] for h in prod["hosts"]]
    old = record(prod)
    moved = record(modified("prod", "dataNodes.hosts", list(reversed(hosts))))
    found = refusals(old, moved)
    assert found and {key for key, _ in found} == {"dataNodes.hosts"}
    assert all("would move to" in m and "Keep the hosts of dataNodes.hosts" in m
               for _, m in found)
    # A management node recorded on another host than the settings now say.
    mgm = {**old, "managementNodes": {k: "elsewhere" for k in old["managementNodes"]}}
    found = refusals(old, mgm)
    assert [key for key, _ in found] == ["management.hosts"] * len(old["managementNodes"])


def test_several_refusals_at_once() -> None:
    old = dev("dataNodes.count", 4)
    new = {**dev(), "noOfReplicas": 1, "sqlConnectionPool": 0}
    assert [k for k, _ in refusals(old, new)] == [
        "dataNodes.count", "dataNodes.noOfReplicas", "sqlNodes.connectionPool"]


def test_check_reports_failures_by_key_and_ignores_the_provider_key() -> None:
    provider = DeployedTopologyProvider()
    old = {**dev("dataNodes.count", 4), "__provider": "old pickle"}
    new = {**dev(), "__provider": "new pickle"}
    result = provider.check(old, new)
    assert [f.property for f in result.failures] == ["dataNodes.count"]
    assert result.inputs == new
    assert provider.check({}, new).failures == []
    assert provider.diff("id", {**new, "__provider": "x"}, new).changes is False
    assert provider.diff("id", old, new).changes is True
    assert provider.update("id", old, new).outs == dev()


def test_provider_rebuilt_in_a_fresh_interpreter_refuses() -> None:
    """What Pulumi's dynamic provider process does: rebuild the provider from the text stored
    in state (serialize_provider), in another interpreter started in the program's directory,
    and run its check."""
    pickled = serialize_provider(DeployedTopologyProvider())
    assert base64.b64decode(pickled)  # the text the resource's __provider input holds
    code = (
        "import base64, json, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.argv[1]))\n"
        "old, new = json.loads(sys.argv[2]), json.loads(sys.argv[3])\n"
        "result = provider.check(old, new)\n"
        "print(json.dumps([[f.property, f.reason] for f in result.failures]))\n"
    )
    import json

    done = subprocess.run(
        [sys.executable, "-c", code, pickled, json.dumps(dev("dataNodes.count", 4)),
         json.dumps(dev())], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    (failure,) = json.loads(done.stdout)
    assert failure[0] == "dataNodes.count" and "4 -> 2 refused" in failure[1]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_record_of_each_stack_passes_against_itself(stack: str) -> None:
    assert refusals(record(raw_settings(stack)), record(raw_settings(stack))) == []
