"""The prod stack's control plane on hosts of their own: tests/openstack/cloud.py's containers,
each started in the network namespace of the host the prod stack places it on
(testbed/hosts.py), at its rendered address - nothing localised, as every container of a
several-host stack uses its host's network.

Beside the service containers, what the prod stack runs for them: the RabbitMQ cluster (one
member per `openstack.infrastructureHosts` host, tests/real/rabbitmq_cluster.py), a memcached
on each of those hosts, and the API frontends - HAProxy with the rendered haproxy.cfg and
keepalived holding the API virtual address on every `openstack.api.hosts` host
(testbed/frontends.py). The NDB cluster is the caller's: already running in the same hosts,
reached through the SQL virtual address.

A host lost (`lose_host`) kills every container and RabbitMQ member on it; the caller kills
the rest of the host (its NDB nodes; `NamespaceHosts.lose` kills what was started with
`NamespaceHost.start`: memcached and the frontends) and cuts its link. `rejoin_host` starts
them again once the host is back. Used by tests/testbed/test_host_loss.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from components.database import AdminEndpoint
from components.render.haproxy import render_api_haproxy_cfg
from components.render.infra import memcached_command
from config import Settings
from config.openstack_layout import MEMCACHED_PORT, Placed
from testbed.cluster import TestCluster
from testbed.frontends import WORK_ROOT, start_frontend, wait_for_holder
from testbed.hosts import NamespaceHosts
from tests.openstack.cloud import Cloud, log
from tests.openstack.rendered import secrets_for
from tests.ports import wait_for_port
from tests.real.netns import Lan
from tests.real.rabbitmq_cluster import Cluster as RabbitCluster
from tests.real.rabbitmq_server import rabbitmq_root

VIP_TIMEOUT_S = 30


class NamespaceNdb:
    """The database backend of a ProdPlane: the caller's NDB cluster in the hosts'
    namespaces, reached at `endpoint` (the SQL virtual address, port) as root - the test
    bed's root account of `TestCluster(client_hosts=...)`, without a password."""

    name = "ndb"
    adapt = True

    def __init__(self, cluster: TestCluster, endpoint: tuple[str, int]) -> None:
        self.cluster = cluster
        self.host, self.port = endpoint

    @contextmanager
    def start(self, workdir: Path, services: Sequence[str]) -> Iterator[None]:
        yield  # running already: the caller's

    def localise(self, text: str) -> str:
        return text  # the rendered addresses are served as they are

    def admin_endpoint(self) -> AdminEndpoint:
        return AdminEndpoint(self.host, self.port, "root", "", connect_timeout_seconds=30)

    def sql_command(self) -> str:
        return f"mysql -h {self.host} -P {self.port} -u root"


class ProdPlane(Cloud):
    """The control plane of `settings` (a several-host stack) in `hosts`, on `cluster`."""

    def __init__(self, workdir: Path, settings: Settings, hosts: NamespaceHosts,
                 cluster: TestCluster, sql_endpoint: tuple[str, int], *, haproxy: str,
                 keepalived: str, progress: Callable[[str], None] = log) -> None:
        super().__init__(workdir, settings, progress=progress,
                         database=NamespaceNdb(cluster, sql_endpoint),
                         address=lambda address: address,
                         launcher=lambda placed: hosts.hosts[placed.host].command([]))
        assert settings.multi_host, "a ProdPlane runs a several-host stack"
        self.hosts = hosts
        self.haproxy, self.keepalived = haproxy, keepalived
        self.rabbit: RabbitCluster | None = None

    # --- the infrastructure, one piece per host ------------------------------------------

    def _start_rabbitmq(self) -> None:
        root, _ = rabbitmq_root()
        self.rabbit = RabbitCluster(self.layout, Lan(self.hosts), root,
                                    password=secrets_for("rabbitmq").rabbitmq_password)
        gates = self.rabbit.start_all()
        self.progress("rabbitmq: members passed their checks "
                      + ", ".join(f"{g:.0f}" for g in gates) + " s after their starts")

    def _start_memcached(self) -> None:
        for placed in self.layout.memcached:
            self._start_memcached_on(placed)

    def _start_memcached_on(self, placed: Placed) -> None:
        # As root here: memcached refuses root; the image runs it as its own user.
        argv = [*memcached_command(self.layout, placed), "-u", "nobody"]
        folder = self.workdir / placed.name
        folder.mkdir(parents=True, exist_ok=True)
        proc = self.hosts.hosts[placed.host].start(argv, folder / "output.log")
        wait_for_port(placed.address, MEMCACHED_PORT, timeout=30, what=placed.name,
                      alive=lambda: proc.poll() is None,
                      details=lambda: (folder / "output.log").read_text(errors="replace"))

    def _start_api_haproxy(self) -> None:
        for placed in self.layout.api_endpoints:
            self._start_api_frontend(placed.host)
        vip = self.layout.api_vip
        assert vip is not None, "several API hosts without a virtual address"
        holder, _ = wait_for_holder(self.hosts.live, vip.address, timeout=VIP_TIMEOUT_S)
        self.progress(f"API virtual address {vip.address}: held by {holder}")

    def _start_api_frontend(self, host: str) -> None:
        vip = self.layout.api_vip
        assert vip is not None
        start_frontend(self.hosts.hosts[host], vip, render_api_haproxy_cfg(self.layout),
                       haproxy=self.haproxy, keepalived=self.keepalived,
                       work=WORK_ROOT / "prod-plane" / host)

    # --- a host lost, and back -----------------------------------------------------------

    def on_host(self, host: str) -> list[str]:
        """The service containers placed on `host`."""
        return [art.placed.name for artifacts in self.artifacts.values()
                for art in artifacts.containers
                if art.placed.host == host and art.placed.name in self.containers]

    def lose_host(self, host: str) -> list[str]:
        """Kill every service container and the RabbitMQ member on `host`; the containers'
        names (for `rejoin_host`)."""
        names = self.on_host(host)
        rabbit = self.rabbit
        assert rabbit is not None
        members = [n for n, m in rabbit.members.items()
                   if m.placed.host == host and m.proc is not None]
        # At once, as a host that goes down: one after the other, its RabbitMQ member would
        # outlive its containers by the seconds their ends take.
        with ThreadPoolExecutor(max_workers=1 + len(members)) as pool:
            done = [pool.submit(self.stop_containers, names),
                    *(pool.submit(rabbit.kill, n) for n in members)]
        for future in done:
            future.result()
        return names

    def rejoin_host(self, host: str, names: Sequence[str]) -> float:
        """`host` is back on the network: its RabbitMQ member, memcached, API frontend and
        the containers `names` started again, until their checks pass. Seconds it took.
        Raises RuntimeError if a container is not healthy within the health timeout."""
        began = time.monotonic()
        assert self.rabbit is not None
        for name, member in self.rabbit.members.items():
            if member.placed.host == host:
                self.rabbit.start(name)
                self.rabbit.wait_running(name)
                self.rabbit.await_startup(name)
        for placed in self.layout.memcached:
            if placed.host == host:
                self._start_memcached_on(placed)
        if any(p.host == host for p in self.layout.api_endpoints):
            self._start_api_frontend(host)
        self.restart_containers(names)
        return time.monotonic() - began

    def stop(self) -> None:
        # The members first: Cloud.stop() then proves no process is left in a namespace of
        # its own, and a member started again after a host loss may have a namespace whose
        # inode number a killed container's had.
        try:
            if self.rabbit is not None:
                self.rabbit.stop_all()
                self.rabbit = None
        finally:
            super().stop()
