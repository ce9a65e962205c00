"""A whole prod host lost under a continuous write load and an API load, once for each host
(issue 13, item 5).

Each host of Pulumi.prod.yaml is a network namespace with its rendered address on its
rendered interface (testbed/hosts.py); every process the prod stack's rendered files start on
a host runs in that host's namespace: its management node, data nodes and SQL node (the test
bed's binaries, the rendered config.ini and my.cnf), the SQL endpoint's HAProxy and keepalived
(testbed/frontends.py), and the control plane of tests/openstack/prod_plane.py: its RabbitMQ
member, memcached, API HAProxy and keepalived, and the service containers the stack places
there (keystone, placement and neutron, as the prod stack places them: keystone and
placement on db-a and db-b, neutron on db-b and db-c, so every host's loss takes API
backends with it). The test process is a client on the hosts' network (the bridge holds an
address of its own): it writes through the SQL virtual address, as every service does, and
issues a keystone token and lists placement's resource providers and neutron's networks with
it through the API virtual address, as a user does.

For each host in turn, the host goes down with its processes: every process in it killed (its
peers see their connections closed), then its link cut. The loads go on through the virtual
addresses; then the host comes back (its link up, its nodes, frontends, RabbitMQ member,
memcached and containers started again) and rejoins. Then the first host once more as a power
loss: its link cut first (no FIN, no RST reaches the others), so NDB finds out by its
heartbeats. Printed per round: the longest write stall, writes with an unknown outcome, API
requests failed and the longest time an API was not answering, the time until the host's
nodes and containers were back. Asserted: no committed row lost; writes resume within 5 s and
every API within 10 s (the issue's bounds) when the host goes down with its processes; the
host rejoins every time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings
from testbed.cluster import NodeSpec, TestCluster
from testbed.frontends import WORK_ROOT, start_frontend, wait_for_holder
from testbed.hosts import IP, NamespaceHosts
from testbed.pytest_support import require_testbed, require_tool
from testbed.rendered import cluster_files
from tests.openstack.cluster import require_services
from tests.openstack.prod_plane import ProdPlane
from tests.openstack.rendered import secrets_for
from tests.stacks import raw_settings
from tests.testbed.api_load import ApiLoad, ApiUser, failure_lines, failures, longest_gap
from tests.testbed.load import LoadResult, WriteLoad, read_back

pytestmark = pytest.mark.full

CLIENT_ADDRESS = "10.20.0.1"  # the test process, on the bridge
WRITES_RESUME_BOUND_S = 5.0
API_RESUME_BOUND_S = 10.0
# A token and two list calls; placed by the prod stack as it is (see the docstring).
SERVICES = ("keystone", "placement", "neutron")
# A power loss is detected by NDB's heartbeats only: HeartbeatIntervalDbDb (5 s by default),
# a node declared dead after missing 4, and a host's two data nodes one after the other
# (measured: 48 s). The bound says only that the cluster gets through it.
POWER_LOSS_BOUND_S = 120.0
REJOIN_TIMEOUT_S = 600


def _connect(address: str, port: int, **kwargs: Any) -> Any:
    import pymysql

    return pymysql.connect(host=address, port=port, user="root", password="",
                           autocommit=True, **kwargs)


def prod_settings(services: tuple[str, ...] = SERVICES) -> Settings:
    """Pulumi.prod.yaml with only `services` enabled, each where the file places it."""
    raw = raw_settings("prod")
    openstack = raw["openstack"]
    openstack["services"] = list(services)
    openstack["placement"] = {s: openstack["placement"][s] for s in services}
    return load_settings(raw)


def test_losing_each_prod_host_under_write_and_api_load(tmp_path: Path) -> None:
    require_services()
    testbed = require_testbed()
    haproxy, keepalived = require_tool("haproxy"), require_tool("keepalived")
    settings = prod_settings()
    files, artifacts = cluster_files(settings)
    topo = artifacts.topology
    vip = topo.sql_vip
    assert vip is not None
    # Each host runs its own HAProxy beside keepalived (started below), not the test bed's one.
    files = replace(files, nodes=[n for n in files.nodes if n.kind != "haproxy"],
                    haproxy_cfg=None)
    hosts_config = {h.name: (str(h.address), str(h.interface)) for h in settings.hosts}
    with NamespaceHosts(hosts_config) as hosts:
        hosts.attach_root(CLIENT_ADDRESS)
        host_of = {h.address: h for h in hosts.hosts.values()}

        def launcher(node: NodeSpec) -> list[str]:
            return [IP, "netns", "exec", host_of[node.address].namespace]

        identity = {n.address: n.address for n in files.nodes}
        with TestCluster(files, tmp_path / "cluster", identity, testbed, launcher=launcher,
                         client_hosts="10.%") as cluster:
            cluster.start(timeout=900)

            def start_frontends(name: str) -> None:
                start_frontend(hosts.hosts[name], vip, artifacts.haproxy_cfg,
                               haproxy=haproxy, keepalived=keepalived,
                               work=WORK_ROOT / "host-loss" / name)

            for name in hosts.hosts:
                start_frontends(name)
            wait_for_holder(hosts.live, vip.address, timeout=30)
            with ProdPlane(tmp_path / "plane", settings, hosts, cluster, (vip.address, 3306),
                           haproxy=haproxy, keepalived=keepalived) as plane:
                plane.start()
                print("\n" + plane.report())
                sick = [r.name for r in [*plane.bootstraps.values(), *plane.results.values()]
                        if not r.healthy]
                assert not sick, f"not healthy: {sick}\n{plane.report()}"
                rows = _rounds(Bed(hosts, cluster, plane, start_frontends, vip.address))
            print("\n" + "\n".join(rows))


@dataclass(frozen=True)
class Bed:
    """The prod stack on the namespaces: its hosts, NDB cluster and control plane."""

    hosts: NamespaceHosts
    cluster: TestCluster
    plane: ProdPlane
    start_frontends: Callable[[str], None]  # a host's SQL endpoint HAProxy and keepalived
    sql_vip: str


def _rounds(bed: Bed) -> list[str]:
    """Each host lost and back, then the first as a power loss, under both loads; the
    printed rows. Asserts that no committed row was lost."""
    layout, openstack = bed.plane.layout, bed.plane.settings.openstack
    user = ApiUser(layout.identity_url("public"), openstack.admin_user,
                   secrets_for(layout.identity or "keystone").admin_password,
                   openstack.admin_project)
    calls = [("placement resource providers",
              layout.public_url("placement", "api") + "/resource_providers"),
             ("neutron networks", layout.public_url("neutron", "api") + "/v2.0/networks")]
    # A client that gives up on a connect after 1 s: the SYN it sent to the old holder
    # of the address is not answered, the next one reaches the new holder.
    connect = partial(_connect, bed.sql_vip, 3306, connect_timeout=1,
                      read_timeout=15, write_timeout=15)
    rows: list[str] = []
    broken: list[str] = []
    with WriteLoad(connect, max_seconds=3600, backoff=0.05) as load, \
            ApiLoad(user, calls) as api:
        began = time.monotonic()
        load.wait_for_commits(50, since=began, timeout=60)
        assert api.wait_for_rounds(3, since=began, timeout=60) >= 3, api.snapshot()[-5:]
        names = list(bed.hosts.hosts)
        for name, power_loss in [*((n, False) for n in names), (names[0], True)]:
            row, bounds = _lose_and_rejoin(bed, load, api, name, power_loss=power_loss)
            rows.append(row)
            broken += [f"{name}{' (power loss)' if power_loss else ''}: {b}" for b in bounds]
        result = load.stop()
    # Every API request, for a look at what a round's figures hide (times: monotonic s).
    (bed.plane.workdir / "api-requests.json").write_text(json.dumps(
        [asdict(r) for r in api.snapshot()]))
    _assert_nothing_lost(result, load, bed.cluster, bed.plane.topology.sql)
    assert not broken, "\n".join([*broken, *rows])
    return rows


def _take_down(bed: Bed, name: str, *, power_loss: bool) -> tuple[float, list[int], list[str]]:
    """Host `name` lost: when (monotonic), its NDB nodes' ids, its containers' names.

    Every process of the host is killed at once (its NDB nodes, its control plane, its
    frontends), as a host going down kills them all: one kind after the other, the host died
    piecemeal over 6.5 s on 2 cores, its HAProxy still holding the virtual address and
    sending requests to its killed containers. Then its link is cut; with `power_loss`, the
    link first (no FIN, no RST reaches the others)."""
    host = bed.hosts.hosts[name]
    lost_at = time.monotonic()
    if power_loss:
        bed.hosts.cut(name)
    with ThreadPoolExecutor(max_workers=3) as pool:
        ids = pool.submit(bed.cluster.kill_address, host.address)
        containers = pool.submit(bed.plane.lose_host, name)
        pool.submit(host.kill_all).result()
    bed.hosts.lose(name, power_loss=power_loss)  # the link cut (again, for a power loss)
    return lost_at, ids.result(), containers.result()


def _lose_and_rejoin(bed: Bed, load: WriteLoad, api: ApiLoad, name: str, *,
                     power_loss: bool) -> tuple[str, list[str]]:
    """One host lost and back: its printed row, and the bounds it broke."""
    hosts, cluster, plane = bed.hosts, bed.cluster, bed.plane
    host = hosts.hosts[name]
    nodes = [n for n in cluster.files.nodes if n.address == host.address]
    holder = hosts.holders(bed.sql_vip)
    api_vip = plane.layout.api_vip
    assert api_vip is not None
    api_holder = hosts.holders(api_vip.address)
    lost_at, ids, containers = _take_down(bed, name, power_loss=power_loss)
    resumed = load.wait_for_commits(20, since=lost_at, timeout=120)
    assert resumed >= 20, f"writes did not resume after {name} was lost"
    assert api.wait_for_rounds(3, since=lost_at, timeout=120) >= 3, \
        f"API requests did not resume after {name} was lost: {api.snapshot()[-6:]}"
    time.sleep(5)  # the loads go on without the host for a while
    now = time.monotonic()
    partial_result = load.result()
    stall = partial_result.longest_stall(lost_at, now)
    unknown = [w for w in partial_result.unknown if w.started >= lost_at - 1]
    requests = api.snapshot()
    api_gap = longest_gap(requests, lost_at, now)
    api_failed = failures(requests, lost_at, now)
    api_total = sum(1 for r in requests if lost_at <= r.started <= now)
    back_at = time.monotonic()
    hosts.reconnect(name)
    cluster.start_nodes(ids, timeout=REJOIN_TIMEOUT_S)
    bed.start_frontends(name)
    nodes_back = time.monotonic() - back_at
    plane.rejoin_host(name, containers)
    rejoined = time.monotonic() - back_at
    assert api.wait_for_rounds(3, since=time.monotonic(), timeout=60) >= 3
    after = api.snapshot()
    rejoin_failed = failures(after, back_at, time.monotonic())
    status = cluster.ndb_mgm("all status")
    for node in nodes:
        if node.kind == "data":
            assert f"Node {node.node_id}: started" in status, status
    how = "power loss" if power_loss else "down with its processes"
    kinds = sorted({f"{r.what}: {r.detail}" for r in api_failed})
    row = (f"[host loss] {name}, {how} (held the SQL VIP: {name in holder}, the API VIP: "
           f"{name in api_holder}): longest write stall {stall:.2f} s, writes with unknown "
           f"outcome {len(unknown)}; API requests failed {len(api_failed)} of {api_total}, "
           f"longest API gap {api_gap:.2f} s{f' ({kinds[:4]})' if kinds else ''}; nodes "
           f"{ids} back {nodes_back:.1f} s and containers {len(containers)} back "
           f"{rejoined:.1f} s after the host came back (API requests failed meanwhile: "
           f"{len(rejoin_failed)})")
    print(row)
    for line in failure_lines(api_failed, lost_at):  # what a user saw, and when
        print(f"    {line}")
    bounds = []
    if stall > (POWER_LOSS_BOUND_S if power_loss else WRITES_RESUME_BOUND_S):
        bounds.append(f"write stall {stall:.2f} s")
    if api_gap > (POWER_LOSS_BOUND_S if power_loss else API_RESUME_BOUND_S):
        bounds.append(f"API gap {api_gap:.2f} s")
    return row, bounds


def _assert_nothing_lost(result: LoadResult, load: WriteLoad, cluster: TestCluster,
                         sql_nodes: tuple[Any, ...]) -> None:
    for sql in sql_nodes:
        present = read_back(partial(_connect, *cluster.sql_address(sql.node_id)), load.table)
        check = result.verify(sql.node_id, present)
        print(f"[host loss] SQL node {sql.node_id}: {check.rows} rows, lost {len(check.lost)}, "
              f"unknown present {check.unknown_present}")
        assert not check.lost, f"node {sql.node_id} lacks committed {sorted(check.lost)[:10]}"
        assert not check.unexpected
