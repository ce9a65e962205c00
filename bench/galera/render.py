"""Pure renderers of the Galera peer's files, from Kolla-Ansible 20.5.0's templates.

Sources (docs/benchmarks.md, "The Galera peer"), all of openstack/kolla-ansible at tag 20.5.0:
- ansible/roles/mariadb/templates/galera.cnf.j2: the [mysqld] settings of `member_cnf`;
- ansible/roles/mariadb/defaults/main.yml: the `mariadb` HAProxy service (tcp, client and
  server keep-alive, 3600 s timeouts, `option httpchk`) and `internal_haproxy_members` (every
  member `check port 4569 inter 2000 rise 2 fall 5`, all but the first `backup`);
- ansible/roles/loadbalancer/templates/haproxy/haproxy_main.cfg.j2 and the loadbalancer
  role's defaults: the `defaults` section's timeouts, retries and redispatch;
- ansible/group_vars/all.yml: ports 3306 (SQL), 4567 (wsrep), 4568 (IST), 4444 (SST) and
  4569 (clustercheck); mariadb_innodb_log_file_size_mb 2048.

What differs, and why: every member shares this one machine, so each listens on its own
loopback address and keeps its files in its own folder; innodb_buffer_pool_size is Kolla's
formula (40 % of the host's memory, at most 8 GiB) over the three members that share the host;
HAProxy's global maxconn is capped by the machine's open-file limit.
"""

from __future__ import annotations

from dataclasses import dataclass

SQL_PORT = 3306
WSREP_PORT = 4567
IST_PORT = 4568
SST_PORT = 4444
CLUSTERCHECK_PORT = 4569
CLUSTER_NAME = "openstack"  # database_cluster_name
WSREP_PROVIDER = "/usr/lib/galera/libgalera_smm.so"  # Kolla's path on Debian and Ubuntu
BUFFER_POOL_CAP_MB = 8192


@dataclass(frozen=True)
class Member:
    """One Galera member: its name (wsrep_node_name), loopback address and folder."""

    name: str
    address: str
    folder: str  # absolute path: datadir, socket, logs and the clustercheck defaults file

    @property
    def datadir(self) -> str:
        return f"{self.folder}/data"

    @property
    def socket(self) -> str:
        return f"{self.folder}/mariadbd.sock"


def buffer_pool_mb(memtotal_mb: int, members_on_host: int) -> int:
    """Kolla's innodb_buffer_pool_size (memtotal_mb * 0.4, rounded, capped at 8192 MB) for
    a host of `memtotal_mb` MB shared by `members_on_host` members."""
    return min(round(memtotal_mb / members_on_host * 0.4), BUFFER_POOL_CAP_MB)


def member_cnf(member: Member, members: list[Member], *, buffer_pool: int,
               sst_user: str = "root") -> str:
    """The option file of one member: Kolla's galera.cnf with this machine's paths.

    `members` is the whole cluster (wsrep_cluster_address lists every member, as Kolla
    does); `buffer_pool` is innodb_buffer_pool_size in MB. SST authenticates over the
    member's own socket as `sst_user` with no password (the bench's loopback-only members).
    """
    cluster = ",".join(f"{m.address}:{WSREP_PORT}" for m in members)
    lines = [
        "# Rendered by bench/galera/render.py from Kolla-Ansible 20.5.0's galera.cnf.j2.",
        "[client]",
        "default-character-set=utf8",
        "",
        "[mysql]",
        "default-character-set=utf8",
        "",
        "[mysqld]",
        "basedir=/usr",
        f"bind-address={member.address}",
        f"port={SQL_PORT}",
        f"log_error={member.folder}/mariadb.log",
        "",
        "log_bin=mysql-bin",
        "binlog_format=ROW",
        "expire_logs_days=14",
        "default-storage-engine=innodb",
        "innodb_autoinc_lock_mode=2",
        "",
        "collation-server = utf8_general_ci",
        "init-connect='SET NAMES utf8'",
        "character-set-server = utf8",
        "",
        f"datadir={member.datadir}/",
        f"socket={member.socket}",
        "user=root",
        "",
        f"wsrep_cluster_address=gcomm://{cluster}",
        f"wsrep_provider_options=gmcast.listen_addr=tcp://{member.address}:{WSREP_PORT};"
        f"ist.recv_addr={member.address}:{IST_PORT};",
        f"wsrep_node_address={member.address}:{WSREP_PORT}",
        f"wsrep_sst_receive_address={member.address}:{SST_PORT}",
        f"wsrep_provider={WSREP_PROVIDER}",
        f'wsrep_cluster_name="{CLUSTER_NAME}"',
        f"wsrep_node_name={member.name}",
        "wsrep_sst_method=mariabackup",
        f"wsrep_sst_auth={sst_user}:",
        "wsrep_slave_threads=4",
        "wsrep_on = ON",
        "",
        "max_connections=10000",
        "",
        "key_buffer_size = '64M'",
        "max_heap_table_size = '64M'",
        "tmp_table_size = '64M'",
        f"innodb_buffer_pool_size = '{buffer_pool}M'",
        "",
        "innodb_log_file_size = '2048M'",
        "",
        "[server]",
        f"pid-file={member.folder}/mariadb.pid",
        "",
        "[sst]",
        "",
    ]
    return "\n".join(lines)


def haproxy_cfg(members: list[Member], frontend: str, *, stats_socket: str,
                maxconn: int = 40000) -> str:
    """Kolla's HAProxy for MariaDB with `enable_proxysql: "no"`: one listen block on
    `frontend` (address), the first member active and the others `backup`, each checked
    through its clustercheck (HTTP 200 while synced) every 2 s, up after 2 passes, down
    after 5 failures. `stats_socket` is a path for `show stat`; `maxconn` is Kolla's
    haproxy_max_connections unless the machine's open-file limit is lower (HAProxy needs
    two descriptors per connection and refuses to start otherwise)."""
    servers = [
        f"    server {m.name} {m.address}:{SQL_PORT} check port {CLUSTERCHECK_PORT} "
        f"inter 2000 rise 2 fall 5{'' if i == 0 else ' backup'}"
        for i, m in enumerate(members)
    ]
    return "\n".join([
        "# Rendered by bench/galera/render.py from Kolla-Ansible 20.5.0's load balancer role.",
        "global",
        f"    maxconn {maxconn}",
        "    nbthread 1",
        f"    stats socket {stats_socket} mode 600 level admin",
        "",
        "defaults",
        "    option redispatch",
        "    retries 3",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 1m",
        "    timeout connect 10s",
        "    timeout client 1m",
        "    timeout server 1m",
        "    timeout check 10s",
        "    balance roundrobin",
        "    maxconn 10000",
        "",
        "frontend mariadb_front",
        "    mode tcp",
        "    option clitcpka",
        "    timeout client 3600s",
        f"    bind {frontend}:{SQL_PORT}",
        "    default_backend mariadb_back",
        "",
        "backend mariadb_back",
        "    mode tcp",
        "    option srvtcpka",
        "    timeout server 3600s",
        "    option httpchk",
        *servers,
        "",
    ])


def clustercheck_cnf(member: Member, user: str) -> str:
    """The client defaults file the member's clustercheck reads: its socket and user
    (no password on the command line or in the environment)."""
    return f"[client]\nsocket={member.socket}\nuser={user}\n"
