"""Monitoring's files (docs/monitoring.md): each exporter's configuration, the exporter
account's statements, Prometheus' configuration and the shipped alert rules, Grafana's
provisioning and the NDB dashboard. Pure functions of the settings and the places
(config/monitoring.py); components/ndb/monitoring.py wires the containers.

Exporters, not code of ours (the brief's "a well-kept tool beats our own code"):
- Prometheus' mysqld_exporter beside each SQL node: `mysql_up` and SHOW GLOBAL STATUS, whose
  `Ndb_number_of_ready_data_nodes` says whether that SQL node can serve NDB tables;
- sql_exporter (justwatchcom) for ndbinfo: mysqld_exporter has no ndbinfo collector
  (prometheus/mysqld_exporter issue 411); the queries are data,
  monitoring/ndbinfo-queries.yml. Both are the versions Debian 12 packages, so the tests run
  the real programs on the rendered files;
- HAProxy's built-in exporter (`prometheus-exporter` service) for the backends' states.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from components.render.common import HEADER, generated_password
from components.render.shell import Script
from components.render.sql_check import account_script
from config.addressing import Endpoint, bind_address
from config.monitoring import MonitoringPlaces, monitoring_places
from config.openstack_layout import ControlPlaneLayout
from config.settings import Settings
from config.topology import Node, Topology

MONITORING_DIR = Path(__file__).with_name("monitoring")
QUERIES_FILE = MONITORING_DIR / "ndbinfo-queries.yml"
RULES_FILE = MONITORING_DIR / "ndb-alerts.yml"
DASHBOARD_FILE = MONITORING_DIR / "ndb-dashboard.json"

EXPORTER_USER = "ndb_exporter"
# In the containers.
MYSQLD_EXPORTER_CNF_PATH = "/run/secrets/mysqld-exporter.cnf"
NDBINFO_EXPORTER_CONFIG_PATH = "/run/secrets/ndbinfo-exporter.yml"  # holds the password
PROMETHEUS_CONFIG_PATH = "/etc/prometheus/prometheus.yml"
RULES_PATH = "/etc/prometheus/rules/ndb-alerts.yml"
PROMETHEUS_DATA_DIR = "/prometheus"
GRAFANA_DATASOURCE_PATH = "/etc/grafana/provisioning/datasources/prometheus.yml"
GRAFANA_DASHBOARDS_PROVIDER_PATH = "/etc/grafana/provisioning/dashboards/openstack-ndb.yml"
GRAFANA_DASHBOARD_DIR = "/var/lib/grafana/dashboards"
GRAFANA_ADMIN_PASSWORD_PATH = "/run/secrets/grafana-admin-password"
# What the exporters need, and nothing more: PROCESS and REPLICATION CLIENT for
# mysqld_exporter's default collectors (its README), SELECT on ndbinfo for the queries (a
# view and the ndb$ table under it, both in the ndbinfo schema). MAX_USER_CONNECTIONS as
# mysqld_exporter's README advises, so a hung exporter cannot take a server's connections.
EXPORTER_GRANTS = ("PROCESS, REPLICATION CLIENT ON *.*", "SELECT ON ndbinfo.*")
EXPORTER_MAX_CONNECTIONS = 3
# mysqld_exporter 0.14's replication collector asks `SHOW SLAVE STATUS`, which MySQL 8.4
# removed (1064 at every scrape on the test bed's 9.7); NDB's SQL nodes replicate nothing here.
MYSQLD_EXPORTER_FLAGS = ("--no-collect.slave_status",)


def _checked(password: str) -> str:
    return generated_password(password, "the exporter account")


def render_exporter_account_sql(password: str) -> str:
    """Statements that make `ndb_exporter@'%'` exist as declared on one SQL node: created if
    missing, its password set, its grants. Local to each SQL node (not NDB_STORED_USER): the
    exporter beside a SQL node must log in exactly when that node has lost the cluster, to
    say so. Every statement can run again."""
    account = f"'{EXPORTER_USER}'@'%'"
    secret = _checked(password)
    return (f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{secret}' "
            f"WITH MAX_USER_CONNECTIONS {EXPORTER_MAX_CONNECTIONS};\n"
            f"ALTER USER {account} IDENTIFIED BY '{secret}' "
            f"WITH MAX_USER_CONNECTIONS {EXPORTER_MAX_CONNECTIONS};\n"
            + "".join(f"GRANT {grant} TO {account};\n" for grant in EXPORTER_GRANTS))


def render_mysqld_exporter_cnf(sql_node: Endpoint, password: str) -> str:
    """mysqld_exporter's option file (`--config.my-cnf`, mode 0400): the account, its
    password and the SQL node it asks."""
    return (f"[client]\nuser={EXPORTER_USER}\npassword={_checked(password)}\n"
            f"host={sql_node.host}\nport={sql_node.port}\n")


def mysqld_exporter_command(listen: Endpoint) -> tuple[str, ...]:
    """mysqld_exporter's arguments (the image's entrypoint is the exporter)."""
    return (f"--config.my-cnf={MYSQLD_EXPORTER_CNF_PATH}",
            f"--web.listen-address={listen.host}:{listen.port}", *MYSQLD_EXPORTER_FLAGS)


@cache
def ndbinfo_queries() -> dict[str, list[dict[str, Any]]]:
    """monitoring/ndbinfo-queries.yml: {"fast": [query, ...], "slow": [...]}, each query
    sql_exporter's {name, help, labels, values, query}."""
    loaded: dict[str, list[dict[str, Any]]] = yaml.safe_load(QUERIES_FILE.read_text())
    return loaded


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the queries) as literal blocks, as a person would write them."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def render_ndbinfo_exporter_config(settings: Settings, sql_endpoint: Endpoint,
                                   password: str) -> str:
    """sql_exporter's configuration (a secret: its connection string holds the password):
    the fast queries every scrape interval, ndbinfo.memory_per_fragment every
    `monitoring.memoryPerDatabaseIntervalSeconds`, both through the SQL endpoint, so that
    they follow whichever SQL node is in rotation."""
    m = settings.monitoring
    # The Go driver's default collation (utf8mb4_general_ci) makes the queries' string
    # literals clash with ndbinfo's (1267, "Illegal mix of collations", on the test bed).
    dsn = (f"mysql://{EXPORTER_USER}:{_checked(password)}@tcp({sql_endpoint.host}:"
           f"{sql_endpoint.port})/ndbinfo?collation=utf8mb4_0900_ai_ci")
    queries = ndbinfo_queries()
    jobs = [{"name": "ndbinfo", "interval": f"{m.scrape_interval_seconds}s",
             "connections": [dsn], "queries": queries["fast"]},
            {"name": "ndbinfo-memory", "interval": f"{m.memory_per_database_interval_seconds}s",
             "connections": [dsn], "queries": queries["slow"]}]
    return HEADER + yaml.dump({"jobs": jobs}, Dumper=_Dumper, sort_keys=False, width=100)


def ndbinfo_exporter_command(listen: Endpoint) -> tuple[str, ...]:
    return (f"-config.file={NDBINFO_EXPORTER_CONFIG_PATH}",
            f"-web.listen-address={listen.host}:{listen.port}")


def render_alert_rules(settings: Settings) -> str:
    """monitoring/ndb-alerts.yml with `monitoring.backupMaxAgeHours` in seconds."""
    seconds = settings.monitoring.backup_max_age_hours * 3600
    return RULES_FILE.read_text().replace("BACKUP_MAX_AGE_SECONDS", str(seconds))


def render_prometheus_config(settings: Settings, places: MonitoringPlaces) -> str:
    """prometheus.yml: every exporter of the stack, the shipped rules. Jobs: `ndbinfo`,
    `mysqld` (label sql_node), `haproxy` (label frontend: sql or api), `prometheus`."""
    m = settings.monitoring

    def targets(endpoints: list[tuple[Endpoint, dict[str, str]]]) -> list[dict[str, Any]]:
        return [{"targets": [str(e)], "labels": labels} for e, labels in endpoints]

    scrape = [
        {"job_name": "ndbinfo", "static_configs": targets([(places.ndbinfo_exporter, {})])},
        {"job_name": "mysqld", "static_configs": targets(
            [(e, {"sql_node": n.name}) for n, e in places.mysqld_exporters])},
        {"job_name": "haproxy", "static_configs": targets(
            [(e, {"frontend": "sql"}) for e in places.sql_haproxies]
            + [(e, {"frontend": "api"}) for e in places.api_haproxies])},
        {"job_name": "prometheus", "static_configs": targets([(places.prometheus, {})])},
    ]
    config = {
        "global": {"scrape_interval": f"{m.scrape_interval_seconds}s",
                   "evaluation_interval": f"{m.evaluation_interval_seconds}s",
                   "external_labels": {"stack": settings.name_prefix}},
        "rule_files": [RULES_PATH],
        "scrape_configs": scrape,
    }
    return HEADER + yaml.safe_dump(config, sort_keys=False, width=100)


def prometheus_command(settings: Settings, listen: Endpoint) -> tuple[str, ...]:
    """Prometheus' arguments (the image's entrypoint is /bin/prometheus)."""
    return (f"--config.file={PROMETHEUS_CONFIG_PATH}",
            f"--storage.tsdb.path={PROMETHEUS_DATA_DIR}",
            f"--storage.tsdb.retention.time={settings.monitoring.retention_days}d",
            f"--web.listen-address={listen.host}:{listen.port}")


@cache
def dashboard() -> dict[str, Any]:
    """The NDB dashboard (Grafana's JSON model), monitoring/ndb-dashboard.json."""
    loaded: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return loaded


def dashboard_queries() -> list[tuple[str, str]]:
    """Every panel's (title, PromQL expression), in panel order."""
    return [(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p.get("targets", [])]


@dataclass(frozen=True)
class GrafanaFiles:
    datasource: str
    dashboards_provider: str
    dashboard: str
    envs: tuple[str, ...]  # its environment: where it listens, where its password file is


def render_grafana_files(places: MonitoringPlaces, listen: Endpoint) -> GrafanaFiles:
    """Grafana's provisioning: Prometheus as the default data source, the NDB dashboard.
    Grafana reads `GF_<SECTION>_<KEY>__FILE` from the file it names: the variable holds a
    path, the admin password stays in a 0400 file."""
    datasource = {"apiVersion": 1, "datasources": [{
        "name": "Prometheus", "type": "prometheus", "uid": "prometheus", "access": "proxy",
        "url": f"http://{places.prometheus}", "isDefault": True}]}
    provider = {"apiVersion": 1, "providers": [{
        "name": "openstack-ndb", "type": "file", "allowUiUpdates": False,
        "options": {"path": GRAFANA_DASHBOARD_DIR}}]}
    envs = (f"GF_SECURITY_ADMIN_PASSWORD__FILE={GRAFANA_ADMIN_PASSWORD_PATH}",
            f"GF_SERVER_HTTP_ADDR={listen.host}", f"GF_SERVER_HTTP_PORT={listen.port}")
    return GrafanaFiles(HEADER + yaml.safe_dump(datasource, sort_keys=False),
                        HEADER + yaml.safe_dump(provider, sort_keys=False),
                        json.dumps(dashboard(), indent=1), envs)


@dataclass(frozen=True)
class MysqldExporter:
    node: Node  # the SQL node it sits beside
    endpoint: Endpoint  # where Prometheus scrapes it
    command: tuple[str, ...]
    account: Script  # creates the exporter account on the SQL node; statements on stdin


@dataclass(frozen=True)
class MonitoringArtifacts:
    """Everything monitoring deploys that does not hold a secret; the secret files come from
    the functions above, given the generated passwords."""

    places: MonitoringPlaces
    mysqld_exporters: tuple[MysqldExporter, ...]  # per SQL node, in topology order
    ndbinfo_exporter_command: tuple[str, ...]
    prometheus_config: str
    prometheus_command: tuple[str, ...]
    alert_rules: str
    grafana: GrafanaFiles | None  # None: monitoring.grafana is off


def render_monitoring(settings: Settings, topology: Topology,
                      layout: ControlPlaneLayout | None) -> MonitoringArtifacts | None:
    """Monitoring's artifacts, or None when `monitoring.enabled` is off. The exporter
    account is created on each SQL node by the script that creates its check account
    (scripts/sql-check-account.sh: statements on stdin, as root over the socket)."""
    if not settings.monitoring.enabled:
        return None
    places = monitoring_places(settings, topology, layout)

    def listen(where: Endpoint) -> Endpoint:
        return Endpoint(bind_address(topology.network_mode, where.host), where.port)

    exporters = tuple(
        MysqldExporter(node, where, mysqld_exporter_command(listen(where)),
                       account_script(settings, f"exporter account on {node.name}"))
        for node, where in places.mysqld_exporters)
    return MonitoringArtifacts(
        places=places,
        mysqld_exporters=exporters,
        ndbinfo_exporter_command=ndbinfo_exporter_command(listen(places.ndbinfo_exporter)),
        prometheus_config=render_prometheus_config(settings, places),
        prometheus_command=prometheus_command(settings, listen(places.prometheus)),
        alert_rules=render_alert_rules(settings),
        grafana=(render_grafana_files(places, listen(places.grafana))
                 if settings.monitoring.grafana else None),
    )
