"""One running dev control plane (tests/openstack/cloud.py) for every test of this folder,
with the test-only compute host and volume back end beside it (tests/openstack/stand_ins.py):
started once (about 6 minutes on 2 cores), stopped after the folder's last test, and then
nothing of it may be left: no process in its namespaces, no port still listening.

Needs the NDB test bed (with sid's RabbitMQ 4 in its root), the service and tool venvs,
Kolla's sources, memcached, haproxy, netcat, sudo and Open vSwitch; without them the tests
skip, under CI=true they fail.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from testbed.pytest_support import require_tool, unavailable
from tests.openstack.cloud import Cloud, kolla_docker, loopback
from tests.openstack.cluster import require_services
from tests.ports import port_open


@pytest.fixture(scope="package")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    require_services()
    if not (kolla_docker() / "base" / "set_configs.py").is_file():
        unavailable("no Kolla sources; run tests/kolla/provision_kolla.sh (make kolla-source)")
    for tool in ("rabbitmq-server", "memcached", "haproxy", "nc", "curl", "ss", "nsenter",
                 "setpriv", "unshare", "sudo", "ovs-vswitchd", "ovsdb-server"):
        require_tool(tool)
    workdir = tmp_path_factory.mktemp("cloud")
    started = Cloud(workdir)
    listening = []
    try:
        started.start()
        started.start_stand_ins()
        report = started.report()
        (workdir / "report.txt").write_text(report + "\n")
        print(f"\n{report}\n(report: {workdir / 'report.txt'})", file=sys.stderr)
        listening = [(loopback(c.address), c.backend_port) for s in started.layout.services
                     for c in s.containers
                     if c.backend_port is not None and started.results[c.name].healthy]
        yield started
    finally:
        started.stop()  # raises if a process of any container's namespace is left
    still = [f"{host}:{port}" for host, port in listening if port_open(host, port)]
    assert not still, f"still listening after stop: {still}"


