"""config.ini for ndb_mgmd, my.cnf and first-start SQL for the SQL nodes.

Pure text renderers of the settings and topology. ndb_mgmd is the only reader of config.ini:
data nodes and SQL nodes fetch their configuration from it at connect time."""

from __future__ import annotations

from config import ndb_parameters
from config.settings import Settings
from config.topology import Node, Topology
from config.units import format_size

HEADER = "# Rendered by openstack-ndb from the stack settings; edit the stack file, not this.\n"

# Paths inside the containers (Oracle's mysql-cluster image reads these).
MGM_CONFIG_PATH = "/etc/mysql-cluster.cnf"  # the entrypoint adds `-f /etc/mysql-cluster.cnf`
MY_CNF_PATH = "/etc/my.cnf"
SQL_INIT_PATH = "/docker-entrypoint-initdb.d/10-openstack-ndb.sql"
ROOT_PASSWORD_PATH = "/run/secrets/mysql-root-password"
NDB_DATA_DIR = "/var/lib/ndb"  # management and data node volume
SQL_DATA_DIR = "/var/lib/mysql"
HEALTHCHECK_USER = "haproxy_check"


def _section(name: str, values: dict[str, object]) -> str:
    lines = [f"[{name}]"] + [f"{key}={value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def data_node_parameters(settings: Settings) -> dict[str, object]:
    """[ndbd default]: the typed settings first, then user parameters in name order."""
    data = settings.data_nodes
    values: dict[str, object] = {
        "NoOfReplicas": data.no_of_replicas,
        "DataMemory": format_size(data.data_memory),
        "DataDir": NDB_DATA_DIR,
    }
    for name in sorted(data.parameters):
        value, problem = ndb_parameters.check_value("DB", name, data.parameters[name])
        assert problem is None, problem  # load_settings rejected it already
        values[ndb_parameters.canonical_name("DB", name) or name] = value
    return values


def render_config_ini(settings: Settings, topology: Topology) -> str:
    parts = [HEADER, _section("system", {"Name": settings.name_prefix})]
    parts.append(_section("ndbd default", data_node_parameters(settings)))
    parts.append(_section("ndb_mgmd default", {"DataDir": NDB_DATA_DIR}))
    for mgm in topology.management:
        parts.append(_section("ndb_mgmd", {
            "NodeId": mgm.node_id, "HostName": mgm.address, "PortNumber": mgm.port,
            "ArbitrationRank": settings.management.arbitration_rank,
        }))
    for data in topology.data:
        values: dict[str, object] = {
            "NodeId": data.node_id, "HostName": data.address, "NodeGroup": data.node_group,
        }
        if data.port is not None:
            values["ServerPort"] = data.port
        parts.append(_section("ndbd", values))
    for sql in topology.sql:
        for node_id in sql.node_ids:  # one slot per pooled connection, bound to its address
            parts.append(_section("mysqld", {"NodeId": node_id, "HostName": sql.address}))
    for node_id in topology.free_api_ids:  # tools (ndb_restore, backups) from any address
        parts.append(_section("api", {"NodeId": node_id}))
    return "\n".join(parts)


def render_my_cnf(settings: Settings, topology: Topology, sql: Node) -> str:
    bind = "0.0.0.0" if topology.network_mode == "bridge" else sql.address
    mysqld = {
        "ndbcluster": None,
        "ndb-connectstring": topology.connectstring,
        "ndb-cluster-connection-pool": len(sql.node_ids),
        "ndb-cluster-connection-pool-nodeids": ",".join(str(i) for i in sql.node_ids),
        "default_storage_engine": "ndbcluster",
        "bind-address": bind,
        "port": sql.port,
        "datadir": SQL_DATA_DIR,
        "socket": f"{SQL_DATA_DIR}/mysql.sock",
        "secure-file-priv": "/var/lib/mysql-files",
        "skip-name-resolve": None,
    }
    lines = [HEADER.rstrip("\n"), "[mysqld]"]
    lines += [key if value is None else f"{key}={value}" for key, value in mysqld.items()]
    lines += ["", "[mysql_cluster]", f"ndb-connectstring={topology.connectstring}", ""]
    return "\n".join(lines)


def render_sql_init(topology: Topology) -> str:
    """Run once by the image's entrypoint on a fresh datadir. The health-check account has
    no password and no privileges; it may log in only from the endpoint's address."""
    endpoint = topology.endpoint.address
    return (
        "-- Rendered by openstack-ndb: accounts every SQL node needs.\n"
        f"CREATE USER IF NOT EXISTS '{HEALTHCHECK_USER}'@'{endpoint}';\n"
    )
