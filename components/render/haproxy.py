"""haproxy.cfg: one MySQL endpoint in front of every SQL node; one for the OpenStack APIs.

NDB is multi-master (row locks live in the data nodes), so unlike Galera setups that send
writes to one backend, every SQL node is active."""

from __future__ import annotations

from components.render.common import HEADER
from config.addressing import (
    API_ENDPOINT_MONITOR_PORT,
    MONITOR_ADDRESS,
    SQL_ENDPOINT_MONITOR_PORT,
    NetworkMode,
    bind_address,
)
from config.openstack_layout import ControlPlaneLayout
from config.settings import Settings
from config.sql_check import check_port
from config.topology import Topology

HAPROXY_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"


def frontend_bind(network_mode: NetworkMode, address: str, has_vip: bool) -> str:
    """What a frontend binds. With a virtual address, every address of the host (`*`): the
    virtual address comes and goes with keepalived, and binding an address the host does not
    hold needs net.ipv4.ip_nonlocal_bind=1 on the host (Kolla-Ansible sets it there), which a
    container with host networking cannot set. Each host runs one HAProxy per frontend, so the
    port is that frontend's on every address of the host."""
    return "*" if has_vip else bind_address(network_mode, address)


def render_monitor(has_vip: bool, port: int) -> str:
    """A frontend that answers `GET /` with 200 while HAProxy runs (`monitor-uri`, Kolla's
    `frontend status`), on the host's loopback: what keepalived's check asks
    (scripts/haproxy-alive.sh). Only where keepalived runs beside it."""
    if not has_vip:
        return ""
    return f"""
frontend monitor
    mode http
    bind {MONITOR_ADDRESS}:{port}
    monitor-uri /
"""


def render_metrics(port: int | None) -> str:
    """HAProxy's built-in Prometheus exporter (`prometheus-exporter`, built into the
    haproxy images and Debian's) on `port` of every address, when monitoring is on: every
    frontend's and backend's counters and each server's state (docs/monitoring.md). None:
    monitoring is off."""
    if port is None:
        return ""
    return f"""
frontend prometheus
    mode http
    bind *:{port}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    http-request set-log-level silent
"""


def render_haproxy_cfg(settings: Settings, topology: Topology) -> str:
    """The SQL endpoint's haproxy.cfg, the same on every endpoint host."""
    endpoint = topology.endpoints[0]
    has_vip = topology.sql_vip is not None
    bind = frontend_bind(topology.network_mode, endpoint.address, has_vip)
    servers = "\n".join(
        f"    server {sql.name} {sql.endpoint} check port {check_port(settings, topology, sql)}"
        for sql in topology.sql
    )
    # Health check: each SQL node's check agent (components/render/sql_check.py) answers 200
    # while its mysqld can serve NDB tables, 503 otherwise. The MySQL greeting is no such
    # sign: a mysqld cut off from the data nodes still greets (and logs clients in), so the
    # greeting check kept it in rotation. HAProxy's `option mysql-check` cannot log in to
    # MySQL 9 either (caching_sha2_password only; it fails with 1251, seen on the test bed;
    # mysql_native_password is gone in 9.0): the agent logs in with the mysql client.
    # Timing: a check every 500 ms, every 100 ms once one failed (fastinter); two failures
    # take a node out, two successes bring it back. The agent answers at once from its latest
    # probe, which calls a cut-off node unfit within about 1.5 s
    # (components/render/sql_check.py); tests/testbed/test_sql_check.py measures the whole
    # way out of rotation against 3 s. Two failures, not one: a single lost check exchange
    # must not cut every client of a node. `timeout check 1s`: an agent that answers at all
    # answers at once. `on-marked-down shutdown-sessions` cuts the clients still on the node,
    # whose statements on NDB tables would only fail; they reconnect to another node.
    # The SQL nodes run with host_cache_size=0, so connections that drop without a login
    # never get the endpoint blocked by max_connect_errors.
    # Client and server timeouts exceed oslo.db's pool recycle time (3600 s) so that HAProxy
    # never cuts an idle pooled connection that the service still believes is open.
    return f"""{HEADER}global
    log stdout format raw local0
    maxconn 4096

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 2h
    timeout server 2h
    timeout check 5s

listen mysql
    bind {bind}:{endpoint.port}
    balance leastconn
    option httpchk GET /
    http-check expect status 200
    timeout check 1s
    default-server inter 500ms fastinter 100ms fall 2 rise 2 on-marked-down shutdown-sessions
{servers}
{render_monitor(has_vip, SQL_ENDPOINT_MONITOR_PORT)}\
{render_metrics(settings.monitoring.haproxy_metrics_port
                if settings.monitoring.enabled else None)}"""


# What render_api_haproxy_cfg's docstring explains.
API_DEFAULT_SERVER = ("inter 2s fastinter 500ms downinter 2s fall 3 rise 2 "
                      "observe layer4 error-limit 1 on-error mark-down")


def render_api_haproxy_cfg(layout: ControlPlaneLayout) -> str:
    """One HTTP frontend per OpenStack API port, balanced over the containers serving it.

    The check asks each backend for `/` and accepts any 2xx-4xx: the APIs answer their
    version documents (200/300) or ask for a token (401); a backend that answers 5xx or not
    at all leaves rotation.

    An idle client connection is closed after 10 s (`timeout http-keep-alive`, Kolla-Ansible's
    value; without it HAProxy keeps it for `timeout client`). Services that fork workers
    (nova-scheduler, nova-conductor) open keep-alive connections to keystone and placement
    before they fork, and every worker inherits them: two workers writing on one connection
    read each other's responses. Closed once idle, the inherited connection is dropped by each
    worker's client pool, which opens its own (docs/ndb-compatibility.md, "Shared
    connections").

    A backend's host lost: a request HAProxy sent to it is sent to another backend
    (`option redispatch 1`: on every retry, not the last of `retries 3`, Kolla-Ansible's
    count) once the connect fails, refused or unanswered for 2 s (`timeout connect`: a LAN
    answers a SYN in microseconds; 2 s outlasts one lost SYN, retransmitted after 1 s).
    Checks every 2 s (Kolla-Ansible's `inter 2000`), every 500 ms once one has failed: a
    dead backend is out of rotation 1-5 s after its first failed check instead of 15 s; and
    at once when a request's connection to it fails (`observe layer4 error-limit 1 on-error
    mark-down`): else each request sent to it meanwhile waits its connect timeout before it
    is redispatched. Measured by tests/testbed/test_host_loss.py ("API requests resume
    within 10 s")."""
    has_vip = layout.api_vip is not None
    bind = frontend_bind(layout.network_mode, layout.api_endpoints[0].address, has_vip)
    blocks = []
    for s in layout.services:
        for api_name, api in s.spec.apis.items():
            servers = "\n".join(f"    server {c.name} {c.address}:{c.backend_port} check"
                                for c in s.serving(api_name))
            blocks.append(f"""listen {s.name}-{api_name}
    bind {bind}:{api.port}
    balance roundrobin
    option httpchk GET /
    http-check expect rstatus ^[234]
    option forwardfor
{servers}
""")
    return f"""{HEADER}global
    log stdout format raw local0
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    option redispatch 1
    retries 3
    timeout connect 2s
    timeout client 10m
    timeout server 10m
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout check 5s
    default-server {API_DEFAULT_SERVER}

""" + "\n".join(blocks) + render_monitor(has_vip, API_ENDPOINT_MONITOR_PORT) + render_metrics(
        layout.api_metrics_port)
