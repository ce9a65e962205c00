"""The SQL node check: an agent per SQL node that HAProxy asks whether that node can serve NDB
tables (HTTP 200) or not (503), its account, its option file and its command line.

Why an agent: a mysqld that lost its cluster connection still answers the MySQL greeting and
logins, so HAProxy's own checks (greeting, `mysql-check`) keep it in rotation. The agent asks
mysqld about NDB itself (scripts/ndb_sql_check.py says what and how it decides); HAProxy asks
the agent (`option httpchk`, components/render/haproxy.py), as Kolla-Ansible's HAProxy asks
clustercheck about a Galera member.

Where it runs: a container of the NDB image, the image every SQL node already runs, one per
SQL node on its host. The image has the `mysql` client (its entrypoint uses it) and MySQL
Shell, whose bundled Python 3 runs the agent (`mysqlsh --py --file`); it has no python3, nc or
socat of its own, and HAProxy's image has no mysql client. On a bridge network the agent shares
the SQL node container's network namespace; with host networking it uses the host's
(config/sql_check.py). Either way it reaches mysqld at the SQL node's address and port, the
way HAProxy's clients do, and listens on that address.

Its account: `ndb_sql_check@<SQL node address>`, local to that SQL node (no NDB_STORED_USER:
it must log in exactly when the node has lost the cluster), allowed nothing but SELECT on
ndbinfo.nodes and the table under that view; the status counters need no privilege. It is
created by scripts/sql-check-account.sh on the SQL node itself, as root over the socket,
before HAProxy starts: created through the SQL endpoint, it could not exist before HAProxy had
a node in rotation, and no node is in rotation without it. The agent reads the password from
a 0400 option file, never from an argument or an environment variable.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.render.common import generated_password
from components.render.ndb import ROOT_PASSWORD_PATH, SQL_DATA_DIR
from components.render.shell import SCRIPTS_DIR, Script, script_file
from config.addressing import Endpoint
from config.settings import Settings
from config.sql_check import check_endpoint
from config.topology import Node, Topology

AGENT_FILE = "ndb_sql_check.py"
ACCOUNT_SCRIPT = "sql-check-account.sh"
# In the check container: the agent and its option file (uploaded files).
AGENT_PATH = f"/opt/openstack-ndb/{AGENT_FILE}"
CHECK_CNF_PATH = "/run/secrets/ndb-sql-check.cnf"
CHECK_USER = "ndb_sql_check"
# The only privileges the check needs, measured on MySQL 9.7 (the test bed): SHOW GLOBAL
# STATUS needs none; ndbinfo.nodes is a SQL SECURITY INVOKER view over ndbinfo.ndb$nodes, so
# SELECT on the view alone fails with 1356: the reader needs its table too.
CHECK_GRANTS = ("SELECT ON ndbinfo.nodes", "SELECT ON ndbinfo.`ndb$nodes`")
# A probe every half second; its ndbinfo read killed after half a second (a normal probe takes
# well under 0.1 s on the test bed), then, only after a failed or hung read, TCP connections to
# the management and data nodes for as long again: none answers, the node is cut off. A cut-off
# node is unfit at most about 1.5 s after the cut; HAProxy adds at most one check interval and
# one fast interval (components/render/haproxy.py). docs/design.md §2.4 has the measurements.
PROBE_INTERVAL_S = 0.5
PROBE_TIMEOUT_S = 0.5
# mysqld unreachable this long: the agent exits and its restart policy starts it again. On a
# bridge network Docker leaves a container that joined another's network namespace in the
# old, dead one when that other container restarts (a mysqld crash, say); only its own
# restart joins the new one (not verified here, no Docker engine: docs/design.md §2.4). Longer
# than a mysqld restart takes to listen again.
EXIT_AFTER_S = 30


@dataclass(frozen=True)
class SqlCheck:
    """One SQL node's check: what its container runs and where HAProxy asks it."""

    node: Node
    endpoint: Endpoint  # the agent's address:port
    command: tuple[str, ...]  # the check container's command (the image's entrypoint execs it)
    account: Script  # creates its account on the SQL node; the statements come on stdin


def agent_text() -> str:
    """The agent's source, uploaded to AGENT_PATH."""
    return (SCRIPTS_DIR / AGENT_FILE).read_text()


def cluster_peers(topology: Topology, node: Node) -> list[Endpoint]:
    """What the agent of `node` tries to reach after a failed read: every management node,
    and every data node with a fixed port (host networking; on a bridge network theirs is
    dynamic), except those at the SQL node's own address (with host networking, its own
    host's nodes answer it even when that host is cut off from the others)."""
    nodes = [*topology.management, *(n for n in topology.data if n.port is not None)]
    return [n.endpoint for n in nodes if n.address != node.address]


def agent_arguments(node: Node, endpoint: Endpoint, peers: list[Endpoint], *,
                    defaults_file: str) -> list[str]:
    """The agent's options (scripts/ndb_sql_check.py): listen on the SQL node's address, ask
    its mysqld from that address (the account's host part)."""
    assert node.port is not None, f"{node.name} has no port"
    return [
        "--listen", str(endpoint), "--host", node.address, "--port", str(node.port),
        "--bind-address", node.address, "--user", CHECK_USER, "--defaults-file", defaults_file,
        "--interval", f"{PROBE_INTERVAL_S:g}", "--timeout", f"{PROBE_TIMEOUT_S:g}",
        "--peers", ",".join(str(p) for p in peers), "--exit-after", str(EXIT_AFTER_S),
    ]


def account_script(settings: Settings, title: str) -> Script:
    """scripts/sql-check-account.sh: runs the SQL statements on its standard input as root
    over a SQL node's socket, retrying until mysqld takes them; `title` names it in the log
    ("check account on ndb-sql-1"). The check agent's and the exporter's accounts use it."""
    return Script(script_file(ACCOUNT_SCRIPT), {
        "SQL_CHECK_ACCOUNT_TITLE": title,
        "SQL_ROOT_PASSWORD_FILE": ROOT_PASSWORD_PATH,
        "SQL_SOCKET": f"{SQL_DATA_DIR}/mysql.sock",
        "SQL_CHECK_ACCOUNT_TIMEOUT_SECONDS": str(settings.gates.timeout_seconds),
        "SQL_CHECK_ACCOUNT_POLL_SECONDS": str(settings.gates.poll_seconds),
    })


def render_sql_checks(settings: Settings, topology: Topology) -> tuple[SqlCheck, ...]:
    """Per SQL node, in topology order: its agent's endpoint and command, its account script."""
    checks = []
    for node in topology.sql:
        endpoint = check_endpoint(settings, topology, node)
        command = ("mysqlsh", "--py", "--file", AGENT_PATH,
                   *agent_arguments(node, endpoint, cluster_peers(topology, node),
                                    defaults_file=CHECK_CNF_PATH))
        account = account_script(settings, f"check account on {node.name}")
        checks.append(SqlCheck(node, endpoint, command, account))
    return tuple(checks)


def _checked(password: str) -> str:
    return generated_password(password, "the check account")


def render_check_cnf(password: str) -> str:
    """The agent's MySQL option file (mode 0400): the account's password, alone (a secret
    file holds only secrets; the user name is an argument)."""
    return f"[client]\npassword={_checked(password)}\n"


def render_check_account_sql(node: Node, password: str) -> str:
    """The statements that make the check account of `node` exist as declared: created if
    missing, its password set, its one grant. Every statement can run again."""
    account = f"'{CHECK_USER}'@'{node.address}'"
    secret = _checked(password)
    return (f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{secret}';\n"
            f"ALTER USER {account} IDENTIFIED BY '{secret}';\n"
            + "".join(f"GRANT {grant} TO {account};\n" for grant in CHECK_GRANTS))
