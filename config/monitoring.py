"""Where the monitoring pieces run and which ports they take (docs/monitoring.md).

- a mysqld_exporter beside each SQL node, in its network namespace, like its check agent
  (config/sql_check.py): `monitoring.mysqldExporterPort`, + k with host networking for the
  k-th SQL node of a host;
- HAProxy's built-in exporter in every HAProxy: `monitoring.haproxyMetricsPort` in the SQL
  endpoint's, that port + 1 in the APIs' (one host may run both);
- on `monitoring.host`: Prometheus, Grafana and the ndbinfo exporter (sql_exporter), each at
  its own address on a bridge network (config/addressing.py MONITORING), at the host's
  address and its own port with host networking.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.addressing import MONITORING, Endpoint, PortClaim, container_address
from config.openstack_layout import ControlPlaneLayout
from config.problems import Problem, unknown_host
from config.settings import Settings
from config.topology import Node, Topology, sidecar_port

PROMETHEUS_OFFSET, GRAFANA_OFFSET, NDBINFO_EXPORTER_OFFSET = range(MONITORING.first,
                                                                  MONITORING.first + 3)
MYSQLD_EXPORTER_PORT_KEY = "monitoring.mysqldExporterPort"
HAPROXY_METRICS_PORT_KEY = "monitoring.haproxyMetricsPort"


@dataclass(frozen=True)
class MonitoringPlaces:
    """Where Prometheus scrapes each exporter, and where the monitoring host's pieces run."""

    host: str
    published: bool  # Prometheus' and Grafana's ports mapped on the host's address (bridge)
    host_address: str  # where a user on the host reaches Prometheus and Grafana
    prometheus: Endpoint
    grafana: Endpoint
    ndbinfo_exporter: Endpoint
    mysqld_exporters: tuple[tuple[Node, Endpoint], ...]  # per SQL node, in topology order
    sql_haproxies: tuple[Endpoint, ...]  # the SQL endpoint's HAProxies' exporters
    api_haproxies: tuple[Endpoint, ...]  # the APIs' HAProxies' exporters


def user_url(places: MonitoringPlaces, where: Endpoint) -> str:
    """Where a user reaches Prometheus or Grafana: the host's address when the port is
    published (bridge network), else the address itself."""
    host = places.host_address if places.published else where.host
    return f"http://{host}:{where.port}"


def monitoring_host(settings: Settings) -> str:
    """`monitoring.host`, default the first host."""
    return settings.monitoring.host or settings.hosts[0].name


def monitoring_places(settings: Settings, topology: Topology,
                      layout: ControlPlaneLayout | None) -> MonitoringPlaces:
    m = settings.monitoring
    host = monitoring_host(settings)

    def at(offset: int, port: int) -> Endpoint:
        return Endpoint(container_address(settings, host, offset), port)

    api = () if layout is None or not layout.services else tuple(
        Endpoint(p.address, m.haproxy_metrics_port + 1) for p in layout.api_endpoints)
    published = m.publish and topology.network_mode == "bridge"
    return MonitoringPlaces(
        host=host, published=published,
        host_address=str(settings.host(host).address or "127.0.0.1"),
        prometheus=at(PROMETHEUS_OFFSET, m.prometheus_port),
        grafana=at(GRAFANA_OFFSET, m.grafana_port),
        ndbinfo_exporter=at(NDBINFO_EXPORTER_OFFSET, m.ndbinfo_exporter_port),
        mysqld_exporters=tuple(
            (n, Endpoint(n.address, sidecar_port(topology, n, m.mysqld_exporter_port)))
            for n in topology.sql),
        sql_haproxies=tuple(Endpoint(e.address, m.haproxy_metrics_port)
                            for e in topology.endpoints),
        api_haproxies=api,
    )


def monitoring_port_claims(settings: Settings, topology: Topology,
                           layout: ControlPlaneLayout | None) -> list[PortClaim]:
    """Every port monitoring takes on a Docker host: with host networking all of them; on a
    bridge network only Prometheus' and Grafana's published ports (each piece has an address
    of its own there, or shares its SQL node's: `monitoring_problems`)."""
    if not settings.monitoring.enabled:
        return []
    places = monitoring_places(settings, topology, layout)
    m = "monitoring."
    if topology.network_mode != "host":
        published = [(places.prometheus.port, "prometheusPort", "Prometheus")]
        if settings.monitoring.grafana:
            published.append((places.grafana.port, "grafanaPort", "Grafana"))
        return [PortClaim(places.host, port, m + key, f"{owner} (published)")
                for port, key, owner in published if places.published]
    claims = [PortClaim(places.host, places.prometheus.port, m + "prometheusPort", "Prometheus"),
              PortClaim(places.host, places.ndbinfo_exporter.port, m + "ndbinfoExporterPort",
                        "the ndbinfo exporter")]
    if settings.monitoring.grafana:
        claims.append(PortClaim(places.host, places.grafana.port, m + "grafanaPort", "Grafana"))
    claims += [PortClaim(n.host, e.port, MYSQLD_EXPORTER_PORT_KEY, f"{n.name} mysqld_exporter")
               for n, e in places.mysqld_exporters]
    claims += [PortClaim(n.host, settings.monitoring.haproxy_metrics_port,
                         HAPROXY_METRICS_PORT_KEY, f"{n.name} HAProxy metrics")
               for n in topology.endpoints]
    if layout is not None and layout.services:
        claims += [PortClaim(p.host, settings.monitoring.haproxy_metrics_port + 1,
                             HAPROXY_METRICS_PORT_KEY, f"{p.name} HAProxy metrics (+1)")
                   for p in layout.api_endpoints]
    return claims


def haproxy_metrics_problems(settings: Settings,
                             layout: ControlPlaneLayout | None) -> list[Problem]:
    """`monitoring.haproxyMetricsPort` where the port claims cannot see it: on a bridge
    network each HAProxy is a container of its own, so its exporter's port must differ from
    that HAProxy's own frontends (the SQL endpoint's `endpoint.port`; the APIs' ports for
    the port + 1). HAProxy would start anyway (it binds with SO_REUSEPORT) and the kernel
    would hand the frontend's clients to the exporter in turn. The APIs' exporter port,
    this port + 1, must also be a port."""
    m = settings.monitoring
    if not m.enabled:
        return []
    problems = []
    port, api_port = m.haproxy_metrics_port, m.haproxy_metrics_port + 1
    services = layout.services if layout is not None else ()
    if services and api_port > 65535:
        problems.append(Problem(HAPROXY_METRICS_PORT_KEY, (
            f"{port} + 1 is no port: the APIs' HAProxy serves its exporter on "
            "monitoring.haproxyMetricsPort + 1; choose at most 65534")))
    if settings.multi_host:
        return problems  # host networking: the port claims see every HAProxy's ports
    if port == settings.endpoint.port:
        problems.append(Problem(HAPROXY_METRICS_PORT_KEY, (
            f"{port} is endpoint.port too: HAProxy's exporter runs in the SQL endpoint's "
            "HAProxy, which already listens there; choose another port")))
    for s in services:
        for name, api in s.spec.apis.items():
            if api.port == api_port:
                problems.append(Problem(HAPROXY_METRICS_PORT_KEY, (
                    f"{port} + 1 = {api_port} is the {s.name} {name} API's port too "
                    f"(catalog {s.name}.apis.{name}.port): the APIs' HAProxy serves its "
                    "exporter on monitoring.haproxyMetricsPort + 1; choose another port")))
    return problems


def monitoring_problems(settings: Settings) -> list[Problem]:
    """Unknown `monitoring.host`; on a bridge network, a mysqld_exporter port that its SQL
    node's mysqld or check agent already takes in the namespace they share."""
    m = settings.monitoring
    if not m.enabled:
        return []
    problems = []
    known = {h.name for h in settings.hosts}
    if m.host is not None and m.host not in known:
        problems.append(Problem("monitoring.host", unknown_host(m.host, known)))
    if not settings.multi_host:
        taken = {settings.sql_nodes.port: "sqlNodes.port",
                 settings.sql_nodes.check_port: "sqlNodes.checkPort"}
        if m.mysqld_exporter_port in taken:
            problems.append(Problem(MYSQLD_EXPORTER_PORT_KEY, (
                f"{m.mysqld_exporter_port} is {taken[m.mysqld_exporter_port]} too: the "
                "exporter shares its SQL node's network namespace; choose another port")))
    return problems
