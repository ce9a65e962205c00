"""config.ini for ndb_mgmd, my.cnf and first-start SQL for the SQL nodes.

Pure text renderers of the settings and topology. ndb_mgmd is the only reader of config.ini:
data nodes and SQL nodes fetch their configuration from it at connect time."""

from __future__ import annotations

from components.render.common import HEADER
from config import ndb_parameters, sizing
from config.addressing import bind_address
from config.settings import Settings
from config.topology import Node, Topology, location_domain
from config.units import format_size

# Paths inside the containers (Oracle's mysql-cluster image reads these).
MGM_CONFIG_PATH = "/etc/mysql-cluster.cnf"  # the entrypoint adds `-f /etc/mysql-cluster.cnf`
MY_CNF_PATH = "/etc/my.cnf"
ROOT_PASSWORD_PATH = "/run/secrets/mysql-root-password"
NDB_DATA_DIR = "/var/lib/ndb"  # management and data node volume
SQL_DATA_DIR = "/var/lib/mysql"

# Engine enforcement: SQL nodes share only NDB tables, so a migration's ENGINE=InnoDB must land
# as NDBCLUSTER. With InnoDB in `disabled_storage_engines`, CREATE TABLE ... ENGINE=InnoDB is
# substituted by `default_storage_engine` (warnings 3161 and 1266) - but only while the
# session's sql_mode lacks NO_ENGINE_SUBSTITUTION; with it, the statement fails with 3161.
# (MySQL 9.7 manual: server system variables `disabled_storage_engines`, SQL mode
# NO_ENGINE_SUBSTITUTION; measured on Oracle mysqld 9.7, docs/design.md §4.3.) So the global
# mode keeps the strict flags and drops NO_ENGINE_SUBSTITUTION, and services set the same
# mode per session (`[database] mysql_sql_mode`, SERVICE_SQL_MODE). NDB has no temporary
# tables: CREATE TEMPORARY TABLE uses MyISAM, which is not disabled. `disabled_storage_engines`
# is read-only at runtime, so this can only be set here. Substitution is not proof: the
# post-migration gate (ndb_fit) checks that every table really is ndbcluster.
SERVICE_SQL_MODE = (
    "STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO"
)
ENGINE_ENFORCEMENT: dict[str, object] = {
    "default_storage_engine": "ndbcluster",
    "default_tmp_storage_engine": "MyISAM",
    "disabled_storage_engines": "InnoDB",
    "sql_mode": SERVICE_SQL_MODE,
    # NDB supports READ COMMITTED only; say so rather than let sessions believe otherwise.
    "transaction_isolation": "READ-COMMITTED",
}


def _section(name: str, values: dict[str, object]) -> str:
    lines = [f"[{name}]"] + [f"{key}={value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def data_node_parameters(settings: Settings) -> dict[str, object]:
    """[ndbd default]: the typed settings, the dictionary limits the enabled services need,
    then user parameters in name order (an explicit one wins; the settings check made sure it
    is not smaller than the services need)."""
    data = settings.data_nodes
    values: dict[str, object] = {
        "NoOfReplicas": data.no_of_replicas,
        "DataMemory": format_size(data.data_memory),
        "DataDir": NDB_DATA_DIR,
        "TransactionDeadlockDetectionTimeout": data.transaction_deadlock_detection_timeout,
        "MaxNoOfConcurrentOperations": data.max_no_of_concurrent_operations,
    }
    explicit = {name.lower() for name in data.parameters}
    for name, needed in sizing.dictionary_limits(sizing.with_databases(settings)).items():
        if name.lower() not in explicit:
            values[name] = needed
    for name in sorted(data.parameters):
        value, problem = ndb_parameters.check_value("DB", name, data.parameters[name])
        assert problem is None, problem  # load_settings rejected it already
        values[ndb_parameters.canonical_name("DB", name) or name] = value
    return values


def _location(settings: Settings, node: Node) -> dict[str, object]:
    domain = location_domain(settings, node.host)
    return {} if domain is None else {"LocationDomainId": domain}


def render_config_ini(settings: Settings, topology: Topology) -> str:
    parts = [HEADER, _section("system", {"Name": settings.name_prefix})]
    parts.append(_section("ndbd default", data_node_parameters(settings)))
    parts.append(_section("ndb_mgmd default", {"DataDir": NDB_DATA_DIR}))
    for mgm in topology.management:
        parts.append(_section("ndb_mgmd", {
            "NodeId": mgm.node_id, "HostName": mgm.address, "PortNumber": mgm.port,
            "ArbitrationRank": settings.management.arbitration_rank,
            **_location(settings, mgm),
        }))
    for data in topology.data:
        values: dict[str, object] = {
            "NodeId": data.node_id, "HostName": data.address, "NodeGroup": data.node_group,
        }
        if data.port is not None:
            values["ServerPort"] = data.port
        values.update(_location(settings, data))
        parts.append(_section("ndbd", values))
    for sql in topology.sql:
        for node_id in sql.node_ids:  # one slot per pooled connection, bound to its address
            parts.append(_section("mysqld", {"NodeId": node_id, "HostName": sql.address,
                                             **_location(settings, sql)}))
    for node_id in topology.free_api_ids:  # tools (ndb_restore, backups) from any address
        parts.append(_section("api", {"NodeId": node_id}))
    return "\n".join(parts)


def render_my_cnf(settings: Settings, topology: Topology, sql: Node) -> str:
    bind = bind_address(topology.network_mode, sql.address)
    mysqld = {
        "ndbcluster": None,
        "ndb-connectstring": topology.connectstring,
        "ndb-cluster-connection-pool": len(sql.node_ids),
        "ndb-cluster-connection-pool-nodeids": ",".join(str(i) for i in sql.node_ids),
        **ENGINE_ENFORCEMENT,
        "bind-address": bind,
        "port": sql.port,
        "datadir": SQL_DATA_DIR,
        "socket": f"{SQL_DATA_DIR}/mysql.sock",
        "secure-file-priv": "/var/lib/mysql-files",
        "skip-name-resolve": None,
        # HAProxy's health check opens and drops connections without logging in; with the
        # host cache off they never count towards max_connect_errors (no blocked endpoint).
        "host_cache_size": 0,
    }
    if settings.backup.binlog.enabled and sql == topology.sql[0]:
        # Point-in-time recovery: the first SQL node logs NDB changes (components/render/backup.py).
        mysqld.update(binlog_options(settings, sql))
    lines = [HEADER.rstrip("\n"), "[mysqld]"]
    lines += [key if value is None else f"{key}={value}" for key, value in mysqld.items()]
    lines += ["", "[mysql_cluster]", f"ndb-connectstring={topology.connectstring}", ""]
    return "\n".join(lines)


def binlog_options(settings: Settings, sql: Node) -> dict[str, object]:
    """my.cnf [mysqld] options of the binlogging SQL node (docs/design.md §2.8): NDB changes
    logged (`ndb-log-bin`, off by default since NDB 8.0), in ROW format, with full row images
    and updates as updates, so that replaying them through mysqld (mysqlbinlog | mysql)
    rewrites whole rows; a server id of its own (its NDB node id); binlog files removed after
    `backup.binlog.expireSeconds`."""
    return {
        "server-id": sql.node_id,
        "log-bin": "binlog",
        "binlog-format": "ROW",
        "ndb-log-bin": "ON",
        "ndb-log-updated-only": "OFF",
        "ndb-log-update-as-write": "OFF",
        "binlog_expire_logs_seconds": settings.backup.binlog.expire_seconds,
    }
