"""The whole program under Pulumi mocks, with the real Pulumi.dev.yaml and Pulumi.prod.yaml."""

from __future__ import annotations

import re
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.mock_program import ROOT, SECRET_SIG, Run, run_program, stack_config
from tests.stacks import settings_for

CONTAINER = "docker:index/container:Container"
COMMAND = "command:local:Command"
VOLUME = "docker:index/volume:Volume"


@cache
def run(stack: str) -> Run:
    return run_program(stack_config(stack), stack)


def containers(r: Run, prefix: str) -> list[Any]:
    """The NDB cluster's containers (ndb-*) whose command starts with `prefix`."""
    return [c for c in r.of_type(CONTAINER) if c.name.startswith("ndb-")
            and (c.inputs.get("command") or [None])[0] == prefix]


def test_dev_has_one_mgmd_two_data_nodes_two_sql_nodes_and_haproxy() -> None:
    r = run("dev")
    assert len(containers(r, "ndb_mgmd")) == 1
    assert len(containers(r, "ndbmtd")) == 2
    assert len(containers(r, "mysqld")) == 2
    assert len(containers(r, "haproxy")) == 1
    assert "NoOfReplicas=2" in containers(r, "ndb_mgmd")[0].inputs["uploads"][0]["content"]


def test_prod_has_two_mgmds_and_data_nodes_across_hosts() -> None:
    r = run("prod")
    assert len(containers(r, "ndb_mgmd")) == 2
    data = containers(r, "ndbmtd")
    assert len(data) >= 4
    assert len(r.of_type("pulumi:providers:docker")) >= 3
    nodes = r.outputs["nodes"]
    assert len({nodes[f"ndb-data-{i}"]["host"] for i in range(1, len(data) + 1)}) >= 3
    for group in range(3):
        members = [nodes[f"ndb-data-{2 * group + 1}"], nodes[f"ndb-data-{2 * group + 2}"]]
        assert members[0]["host"] != members[1]["host"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_node_ids_addresses_and_ports(stack: str) -> None:
    r = run(stack)
    nodes = r.outputs["nodes"]
    for c in containers(r, "ndbmtd"):
        match = re.search(r"--ndb-nodeid=(\d+)", " ".join(c.inputs["command"]))
        assert match
        node_id = int(match.group(1))
        assert nodes[f"ndb-data-{node_id}"]["nodeIds"] == [node_id]
        assert f"--ndb-connectstring={r.outputs['managementConnectstring']}" in c.inputs["command"]
    for c in r.of_type(CONTAINER):
        if stack == "dev" and c.name.endswith("-check"):
            # The SQL node's check agent lives in that SQL node's network namespace.
            # (the mocks give a resource the id <name>-id)
            assert c.inputs["networkMode"] == f"container:{c.name.removesuffix('-check')}-id"
            assert "networksAdvanced" not in c.inputs
        elif stack == "dev" and c.name == "ndb-backup-container":
            # The backup job lives in the first management node's network namespace.
            assert c.inputs["networkMode"] == "container:ndb-mgmd-1-container-id"
            assert "networksAdvanced" not in c.inputs
        elif stack == "dev" and c.name.startswith("ndb-"):
            (net,) = c.inputs["networksAdvanced"]
            assert net["ipv4Address"] in {n["address"] for n in nodes.values()}
        elif stack == "prod":
            assert c.inputs["networkMode"] == "host"
    if stack == "dev":
        published = {p["external"] for c in r.of_type(CONTAINER)
                     for p in c.inputs.get("ports", []) if c.name.startswith("ndb-")}
        assert published == {1186, 13306}
        assert r.outputs["sqlEndpoint"] == "127.0.0.1:13306"


def _single(r: Run, name: str) -> Any:
    return r.by_name(name)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_order_mgmd_data_sql_endpoint(stack: str) -> None:
    r = run(stack)
    mgmd_gate = _single(r, "ndb-mgmd-1-gate")
    sql_gate = _single(r, "ndb-sql-gate")
    endpoint = _single(r, "ndb-sql-endpoint-1")
    for c in containers(r, "ndbmtd"):
        assert r.depends_transitively(c, mgmd_gate)
    group_gates = [x for x in r.of_type(COMMAND) if re.fullmatch(r"ndb-group-\d+-gate", x.name)]
    for group_gate in group_gates:
        for c in containers(r, "mysqld"):
            assert r.depends_transitively(c, group_gate)
    assert r.depends_transitively(endpoint, sql_gate)
    assert not r.depends_transitively(mgmd_gate, endpoint)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_replicas_are_chained_so_updates_keep_one_up(stack: str) -> None:
    """Replica r+1 waits (depends_on only) for the gate of replica r, and that gate takes
    replica r's container id as a trigger: replacing r re-runs the gate before r+1 moves."""
    r = run(stack)
    for c in containers(r, "ndbmtd"):
        gate = r.by_name(f"{c.name}-gate")
        assert gate.property_dependencies["triggers"] == [c.urn]
    groups: dict[str, list[Any]] = {}
    for c in containers(r, "ndbmtd"):
        groups.setdefault(c.parent, []).append(c)
    for members in groups.values():
        for earlier, later in pairwise(members):
            gate = r.by_name(f"{earlier.name}-gate")
            assert gate.urn in later.dependencies
            # no property of the later replica depends on the earlier one: the engine will
            # not delete it early when the earlier one is replaced
            assert all(earlier.urn not in deps for deps in later.property_dependencies.values())
        # the two replicas never form the first creation step together
        assert not any(m.urn in members[-1].dependencies for m in members[:-1])
    for c in r.of_type(CONTAINER):
        assert c.delete_before_replace


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_management_nodes_and_sql_nodes_are_chained_too(stack: str) -> None:
    r = run(stack)
    sql = containers(r, "mysqld")
    for earlier, later in pairwise(sql):
        assert r.by_name(f"{earlier.name}-gate").urn in later.dependencies
    mgmds = containers(r, "ndb_mgmd")
    for earlier, later in pairwise(mgmds):
        assert r.by_name(earlier.name.replace("-container", "-gate")).urn in later.dependencies


def test_config_change_runs_a_rolling_restart_not_a_replacement() -> None:
    """A data node parameter changes: the group's restart command sees a new config.ini
    (an update, which runs its `update` script), while no data node container changes (no
    replacement): the manual's rolling restart does the work, one node at a time."""
    before = run("dev")
    config = dict(stack_config("dev"))
    data = dict(config["openstack-ndb:dataNodes"])
    data["parameters"] = {**data["parameters"], "TimeBetweenLocalCheckpoints": 21}
    config["openstack-ndb:dataNodes"] = data
    after = run_program(config, "dev")
    old, new = (r.by_name("ndb-group-0-rolling-restart") for r in (before, after))
    assert old.inputs["environment"]["CONFIG_INI_SHA256"] != \
        new.inputs["environment"]["CONFIG_INI_SHA256"]
    assert {k: v for k, v in old.inputs.items() if k != "environment"} == \
        {k: v for k, v in new.inputs.items() if k != "environment"}
    assert "restart" in new.inputs["update"] and "restart" not in new.inputs["create"]
    assert "triggers" not in new.inputs  # a trigger change would replace, not update
    for c in containers(before, "ndbmtd"):
        assert after.by_name(c.name).inputs == c.inputs, c.name
    mgmd = containers(after, "ndb_mgmd")[0]
    assert "TimeBetweenLocalCheckpoints=21" in mgmd.inputs["uploads"][0]["content"]


@pytest.mark.parametrize("stack,protected", [("dev", False), ("prod", True)])
def test_data_volumes_protection_follows_config(stack: str, protected: bool) -> None:
    volumes = run(stack).of_type(VOLUME)
    assert volumes
    assert all(v.protect is protected and v.retain_on_delete is protected for v in volumes)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_password_in_plain_text(stack: str) -> None:
    r = run(stack)
    password = r.outputs["rootPassword"]
    assert password.startswith("mock-password-")

    def plain_occurrences(value: Any, secret: bool = False) -> int:
        if isinstance(value, dict):
            inside = secret or value.get("4dabf18193072939515e22adb298388d") == SECRET_SIG
            return sum(plain_occurrences(v, inside) for v in value.values())
        if isinstance(value, list):
            return sum(plain_occurrences(v, secret) for v in value)
        return int(isinstance(value, str) and password in value and not secret)

    seen_secret = False
    for res in r.resources:
        if res.type.startswith("random:"):
            continue
        assert plain_occurrences(res.raw_inputs) == 0, res.name
        seen_secret |= password in str(res.inputs)
    assert seen_secret  # the password does reach the SQL nodes, as a secret


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gates_run_docker_exec_against_the_mgmd_host(stack: str) -> None:
    """A management node's gate asks that node; every other NDB gate the first one: in its
    container, on its host."""
    from config import build_topology

    settings = settings_for(stack)
    management = {m.name: m for m in build_topology(settings).management}
    ndb_gates = [g for g in run(stack).of_type(COMMAND)
                 if not g.name.endswith(("-ndb-gate", "-check-account", "-exporter-account"))]
    assert ndb_gates
    for gate in ndb_gates:
        own = gate.name.removesuffix("-gate")
        mgm = management.get(own, next(iter(management.values())))
        env = gate.inputs["environment"]
        assert env["NDB_MGM"] == f"docker exec {mgm.container_name} ndb_mgm", gate.name
        assert env["DOCKER_HOST"] == settings.host(mgm.host).endpoint, gate.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_components_follow_pulumi_guidelines(stack: str) -> None:
    r = run(stack)
    components = [x for x in r.resources if not x.custom]
    tokens = {c.type for c in components}
    assert ("openstack-ndb:ndb:NdbBackupJob" in tokens) == (stack == "dev")
    # prod's backup job is off (Pulumi.prod.yaml says why).
    backup = {"openstack-ndb:ndb:NdbBackupJob"} if stack == "dev" else set()
    assert tokens - backup == {"openstack-ndb:ndb:Cluster", "openstack-ndb:ndb:NdbManagementNode",
                      "openstack-ndb:ndb:NdbDataNodeGroup", "openstack-ndb:ndb:SqlNodePool",
                      "openstack-ndb:openstack:ControlPlane",
                      "openstack-ndb:openstack:OpenStackService",
                      "openstack-ndb:openstack:ControlPlaneInfrastructure",
                      "openstack-ndb:ndb:Monitoring"}
    for child in r.resources:
        parent = next((c for c in components if c.urn == child.parent), None)
        if parent is not None:
            assert child.name.startswith(parent.name + "-"), (child.name, parent.name)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_root_holds_three_components(stack: str) -> None:
    """What `pulumi preview` shows at the top: the NDB cluster, the control plane and
    monitoring; every provider, image, network, password and service sits below one."""
    r = run(stack)
    urns = {x.urn for x in r.resources}
    roots = [(x.type, x.name) for x in r.resources if x.parent not in urns]
    assert sorted(roots) == [("openstack-ndb:ndb:Cluster", "ndb"),
                             ("openstack-ndb:ndb:Monitoring", "monitoring"),
                             ("openstack-ndb:openstack:ControlPlane", "openstack")]


def test_outputs() -> None:
    outputs = run("dev").outputs
    assert set(outputs) == {"sqlEndpoint", "managementConnectstring", "nodes", "rootPassword",
                            "mysqlCommand", "services", "keystoneAuthUrl", "adminPassword",
                            "openrc", "horizonUrl", "prometheusUrl", "grafanaUrl",
                            "grafanaAdminPassword", "lastBackup", "backupJob",
                            "backupPassword"}
    assert outputs["prometheusUrl"] == "http://127.0.0.1:9090"
    assert outputs["grafanaUrl"] == "http://127.0.0.1:3000"
    # Read from the job at every `pulumi up`; the mocks' job has made none yet.
    assert outputs["lastBackup"] == {"id": None, "time": None}
    job = outputs["backupJob"]
    assert {k: job[k] for k in ("container", "dockerHost")} == {
        "container": "osndb-dev-ndb-backup", "dockerHost": "unix:///var/run/docker.sock"}
    # each SQL node's restart after a whole restore, in order, by its own engine
    assert [r["name"] for r in job["sqlRestarts"]] == ["ndb-sql-1", "ndb-sql-2"]
    assert job["sqlRestarts"][1]["environment"]["SQL_RESTART"] == (
        "docker --host unix:///var/run/docker.sock restart --time 60 osndb-dev-ndb-sql-2")
    assert outputs["keystoneAuthUrl"] == "http://127.0.0.1:5000/v3"
    assert outputs["horizonUrl"] == "http://127.0.0.1:8080/"
    assert outputs["mysqlCommand"] == "mysql -h 127.0.0.1 -P 13306 -u root -p"


def test_no_code_branches_on_the_stack_name() -> None:
    pattern = re.compile(r"get_stack\(|\bstack_name\b|['\"](dev|prod)['\"]")
    offenders = []
    for path in [ROOT / "__main__.py", *(ROOT / "components").rglob("*.py"),
                 *(ROOT / "config").rglob("*.py")]:
        for number, line in enumerate(Path(path).read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_same_program_for_any_stack_name() -> None:
    a = run_program(stack_config("dev"), "dev")
    b = run_program(stack_config("dev"), "some-other-name")
    assert {x.name: (x.type, x.inputs) for x in a.resources} == \
        {x.name: (x.type, x.inputs) for x in b.resources}


def test_invalid_config_registers_nothing() -> None:
    from config import SettingsError

    config = dict(stack_config("dev"))
    config["openstack-ndb:dataNodes"] = {"count": 3}
    recorded = Run()
    with pytest.raises(SettingsError, match=r"dataNodes\.count"):
        run_program(config, "dev", record=recorded)
    assert recorded.resources == []
    run_program(stack_config("dev"), "dev", record=recorded)  # the recording itself works
    assert recorded.resources


@pytest.mark.parametrize("frontend", ["ndb-sql-endpoint", "openstack-infra-api-endpoint"])
def test_a_frontends_hosts_are_replaced_one_at_a_time(frontend: str) -> None:
    """HAProxy i+1 waits for HAProxy i to be healthy (Docker's check of its monitor URI,
    the script keepalived runs) and for keepalived i; keepalived i only for HAProxy i. So
    a haproxy.cfg change never takes every HAProxy of a frontend down at once."""
    prod = run("prod")
    proxies = [prod.by_name(f"{frontend}-{i}") for i in (1, 2, 3)]
    keepalived = [prod.by_name(f"{frontend}-keepalived-{i}") for i in (1, 2, 3)]
    for i, proxy in enumerate(proxies):
        test = proxy.inputs["healthcheck"]["tests"]
        assert test[:2] == ["CMD", "bash"] and test[2].endswith("haproxy-alive.sh"), test
        assert proxy.inputs["wait"] is True
        script = next(u for u in proxy.raw_inputs["uploads"] if u["file"] == test[2])
        assert script["permissions"] == "0755" and "/dev/tcp" in script["content"]
        others = {r.urn for r in [*proxies, *keepalived]} - {proxy.urn}
        assert proxy.urn in keepalived[i].dependencies
        assert not others & set(keepalived[i].dependencies)
        if i:
            assert {proxies[i - 1].urn, keepalived[i - 1].urn} <= set(proxy.dependencies)
        later = [*proxies[i + 1:], *keepalived[i + 1:]]
        assert not any(r.urn in proxy.dependencies for r in later)
    dev = run("dev")
    for name in ("ndb-sql-endpoint-1", "openstack-infra-api-endpoint-1"):
        assert "healthcheck" not in dev.by_name(name).inputs  # one HAProxy: no monitor


def test_keepalived_beside_each_frontend_haproxy_only_with_a_virtual_address() -> None:
    prod = run("prod")
    keepalived = [c for c in prod.of_type(CONTAINER) if "-keepalived-" in c.name]
    assert sorted(c.name for c in keepalived) == [
        *(f"ndb-sql-endpoint-keepalived-{i}" for i in (1, 2, 3)),
        *(f"openstack-infra-api-endpoint-keepalived-{i}" for i in (1, 2, 3))]
    for c in keepalived:
        assert c.inputs["networkMode"] == "host"
        assert set(c.inputs["capabilities"]["adds"]) == {"NET_ADMIN", "NET_BROADCAST",
                                                         "NET_RAW"}
        password = next(u for u in c.raw_inputs["uploads"] if u["file"].endswith(
            "vrrp-password.conf"))
        assert SECRET_SIG in password["content"].values() and password["permissions"] == "0600"
    haproxies = [c for c in prod.of_type(CONTAINER) if (c.inputs.get("command") or [""])[0]
                 == "haproxy"]
    assert len(haproxies) == 6  # the SQL and the API endpoint on each of three hosts
    assert not [c for c in run("dev").of_type(CONTAINER) if "keepalived" in c.name]
    assert prod.outputs["sqlEndpoint"] == "10.20.0.20:3306"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_deployed_topology_is_checked_before_any_node(stack: str) -> None:
    """Every NDB node waits for the record whose check refuses what a live cluster cannot
    change (docs/design.md §2.7): a refusal stops the update before any node changes."""
    r = run(stack)
    record = r.by_name("ndb-deployed-topology")
    assert record.type == "pulumi-python:dynamic:Resource"
    assert record.inputs["noOfReplicas"] == settings_for(stack).data_nodes.no_of_replicas
    assert len(record.inputs["dataNodes"]) == settings_for(stack).data_nodes.count
    for c in r.of_type(CONTAINER):
        if c.name.startswith("ndb-"):
            assert r.depends_transitively(c, record), c.name


def scaled(count: int) -> Run:
    config = dict(stack_config("dev"))
    config["openstack-ndb:dataNodes"] = {**config["openstack-ndb:dataNodes"], "count": count}
    return run_program(config, "dev")


def test_scale_out_order_restarts_running_nodes_before_new_ones_start() -> None:
    """2 -> 4 data nodes: NDB's online add-node order (docs/design.md §2.6) - mgmd, the running
    group's rolling restart, each SQL node's restart, then the new group's containers; the
    scale-out after the SQL gate, and the control plane after the scale-out."""
    before, after = run("dev"), scaled(4)
    rolls = [after.by_name(f"ndb-group-{g}-rolling-restart") for g in (0, 1)]
    restarts = [after.by_name(f"ndb-sql-{i}-restart") for i in (1, 2)]
    mgmd_gate = after.by_name("ndb-mgmd-1-gate")
    for roll in rolls:
        assert r_depends(after, roll, mgmd_gate)
    assert all(after.depends_transitively(restarts[0], roll) for roll in rolls)
    assert after.depends_transitively(restarts[1], restarts[0])
    for c in containers(after, "ndbmtd"):
        assert after.depends_transitively(c, restarts[-1]), c.name
    scale_out = after.by_name("ndb-scale-out")
    assert after.depends_transitively(scale_out, after.by_name("ndb-sql-gate"))
    assert after.depends_transitively(after.by_name("ndb-group-1-gate"),
                                      after.by_name("ndb-sql-2-restart"))
    bootstrap = next(c for c in after.of_type(CONTAINER) if c.inputs.get("attach"))
    assert after.depends_transitively(bootstrap, scale_out)
    # What runs on the update: the SQL node restarts and the scale-out see other data nodes,
    # the running group's rolling restart another config.ini; the running data node
    # containers stay as they are, and config.ini declares the new nodes' node group.
    for name in ("ndb-sql-1-restart", "ndb-sql-2-restart", "ndb-scale-out"):
        old, new = before.by_name(name), after.by_name(name)
        assert old.inputs["environment"] != new.inputs["environment"], name
        assert "triggers" not in new.inputs
    assert after.by_name("ndb-sql-1-restart").inputs["environment"]["NDB_DATA_NODE_IDS"] \
        == "1 2 3 4"
    assert "restart" in after.by_name("ndb-sql-1-restart").inputs["update"]
    assert "CREATE NODEGROUP" in after.by_name("ndb-scale-out").inputs["create"]
    assert before.by_name("ndb-group-0-rolling-restart").inputs["environment"] != \
        rolls[0].inputs["environment"]
    for c in containers(before, "ndbmtd"):
        assert after.by_name(c.name).inputs == c.inputs, c.name
    ini = containers(after, "ndb_mgmd")[0].inputs["uploads"][0]["content"]
    assert "NodeId=3\nHostName=172.28.0.52\nNodeGroup=1" in ini
    # Once grown, the next run renders the same: nothing to restart.
    assert scaled(4).by_name("ndb-mgmd-1-container").inputs == \
        after.by_name("ndb-mgmd-1-container").inputs


def test_four_to_six_has_the_same_steps_for_the_third_node_group() -> None:
    """4 -> 6 data nodes (the issue's 2 -> 4 -> 6): the same order as 2 -> 4 - mgmd, both
    running groups' rolling restarts, each SQL node's restart, then node group 2's containers
    (nodes 5 and 6) behind their gates, the scale-out after the SQL gate - and nodes 1-4's
    containers unchanged; config.ini declares 5 and 6 in node group 2, and the scale-out
    knows all six nodes (it creates the node group of those `show` lists without one)."""
    before, after = scaled(4), scaled(6)
    rolls = [after.by_name(f"ndb-group-{g}-rolling-restart") for g in (0, 1, 2)]
    restarts = [after.by_name(f"ndb-sql-{i}-restart") for i in (1, 2)]
    for roll in rolls:
        assert r_depends(after, roll, after.by_name("ndb-mgmd-1-gate"))
    assert all(after.depends_transitively(restarts[0], roll) for roll in rolls)
    assert after.depends_transitively(restarts[1], restarts[0])
    new = [after.by_name(f"ndb-group-2-data-{i}") for i in (5, 6)]
    assert after.depends_transitively(new[1], after.by_name("ndb-group-2-data-5-gate"))
    for c in new:
        assert after.depends_transitively(c, restarts[-1]), c.name
        assert not any(r.name == c.name for r in before.resources), c.name
    scale_out = after.by_name("ndb-scale-out")
    assert after.depends_transitively(scale_out, after.by_name("ndb-sql-gate"))
    assert after.depends_transitively(after.by_name("ndb-sql-gate"),
                                      after.by_name("ndb-group-2-gate"))
    for name in ("ndb-sql-1-restart", "ndb-sql-2-restart", "ndb-scale-out"):
        assert before.by_name(name).inputs["environment"] != \
            after.by_name(name).inputs["environment"], name
    assert scale_out.inputs["environment"]["NDB_NODE_IDS"] == "1 2 3 4 5 6"
    assert restarts[0].inputs["environment"]["NDB_DATA_NODE_IDS"] == "1 2 3 4 5 6"
    for g in (0, 1):
        assert before.by_name(f"ndb-group-{g}-rolling-restart").inputs["environment"] != \
            rolls[g].inputs["environment"]
    for c in containers(before, "ndbmtd"):
        assert after.by_name(c.name).inputs == c.inputs, c.name
    ini = containers(after, "ndb_mgmd")[0].inputs["uploads"][0]["content"]
    for node_id in (5, 6):
        assert re.search(rf"NodeId={node_id}\nHostName=[0-9.]+\nNodeGroup=2\n", ini), ini
    assert scaled(6).by_name("ndb-mgmd-1-container").inputs == \
        after.by_name("ndb-mgmd-1-container").inputs


def r_depends(r: Run, later: Any, earlier: Any) -> bool:
    return r.depends_transitively(later, earlier)
