"""The typed settings of one stack: every key, its type, its default and its allowed range.

Keys are camelCase as written in `Pulumi.<stack>.yaml` under `openstack-ndb:`. Defaults live
here and nowhere else; `config/checks.py` holds the rules that span several keys.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from config import cron
from config.images import require_pinned_image
from config.units import ByteSize

# Limits from mysql-server storage/ndb/include/ndb_limits.h (MAX_NDB_NODES, MAX_NODES) and
# ConfigInfo.cpp (NoOfReplicas 1..4; ndb-cluster-connection-pool 1..63 in ha_ndbcluster).
MAX_DATA_NODES = 144
MAX_NODES = 255
MAX_REPLICAS = 4
MAX_CONNECTION_POOL = 63

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ENDPOINT = re.compile(r"^(unix:///\S+|ssh://[^@\s/]+@[^\s/:]+(:\d+)?|tcp://[^\s/:]+:\d+)$")
_INTERFACE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")  # Linux IFNAMSIZ: 15 characters and NUL


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError("must be a lowercase DNS label (a-z, 0-9, '-'; at most 63 characters)")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Port = Annotated[int, Field(ge=1, le=65535)]
PinnedImage = Annotated[str, AfterValidator(require_pinned_image)]
DatabaseCharset = Literal["utf8mb3", "utf8mb4"]
CronSchedule = Annotated[str, AfterValidator(cron.validate)]


class Model(BaseModel):
    """Strict base: unknown keys are typos, and typos are errors."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True
    )


class DockerHost(Model):
    """One machine with a Docker engine."""

    name: DnsLabel
    endpoint: str = "unix:///var/run/docker.sock"
    address: ipaddress.IPv4Address | None = None
    # The network interface that carries `address`: keepalived sends VRRP on it and adds the
    # virtual addresses to it (Kolla-Ansible's `api_interface`). Required on a host that
    # runs keepalived (a host listed by a frontend with a virtual address).
    interface: str | None = None
    ssh_opts: tuple[str, ...] = ()

    @field_validator("interface")
    @classmethod
    def _interface_name(cls, value: str | None) -> str | None:
        if value is not None and not _INTERFACE.match(value):
            raise ValueError("must be a network interface name (at most 15 characters: "
                             "letters, digits, '_', '.', ':', '-')")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_form(cls, value: str) -> str:
        if not _ENDPOINT.match(value):
            raise ValueError(
                "must be unix:///path/to/docker.sock, ssh://user@host[:port] or tcp://host:port"
            )
        return value


class NetworkSettings(Model):
    """Single host: one user-defined bridge network with static addresses from `subnet`.
    Several hosts: host networking, every node is reached at its host's address."""

    name: DnsLabel = "openstack-ndb"
    subnet: ipaddress.IPv4Network = ipaddress.IPv4Network("172.28.0.0/24")


class ImageSettings(Model):
    ndb: PinnedImage = "container-registry.oracle.com/mysql/community-cluster:9.7.1"
    haproxy: PinnedImage = "haproxy:3.2.7"
    # Kolla's keepalived image (started by kolla_start, as Kolla-Ansible's loadbalancer role
    # runs it); only pulled where a frontend has a virtual address.
    keepalived: PinnedImage = "quay.io/openstack.kolla/keepalived:2026.2-ubuntu-noble"


class ManagementSettings(Model):
    count: int = Field(default=1, ge=1, le=2)
    hosts: tuple[str, ...] | None = None
    port: Port = 1186
    memory_limit: ByteSize = 512 << 20
    publish_port: Port | None = None
    arbitration_rank: int = Field(default=1, ge=0, le=2)


class DataNodeSettings(Model):
    count: int = Field(default=2, ge=1, le=MAX_DATA_NODES)
    no_of_replicas: int = Field(default=2, ge=1, le=MAX_REPLICAS)
    hosts: tuple[str, ...] | None = None
    data_memory: ByteSize = 512 << 20
    memory_limit: ByteSize = 2 << 30
    server_port: Port = 11860
    # How long a transaction waits for a lock (and for a participating node) before NDB
    # aborts it (266, reported as 1205), in ms. NDB has no deadlock detector: this timeout is
    # also how long a deadlock stalls both sides. NDB's default, 1200 ms, fails a waiter
    # whose lock holder is descheduled for a moment on a busy host, where InnoDB would wait
    # 50 s (innodb_lock_wait_timeout); 10 s lets such waits succeed, and resolves a deadlock
    # (and its oslo.db retry) well inside oslo.messaging's 60 s RPC timeout
    # (docs/ndb-compatibility.md, "Runtime").
    transaction_deadlock_detection_timeout: int = Field(default=10_000, ge=50, le=4294967039)
    # The operation records of a data node's transaction coordinator, and (while
    # MaxDMLOperationsPerTransaction is unset) the most rows one transaction may write: a row
    # counts once, plus once per unique index and BLOB/TEXT part (NDB 261, reported as 1296,
    # above it). NDB's default, 32768, stops a single `nova-manage db purge` DELETE of 32,769
    # rows. 131072 holds a 100,000-row DELETE of a table without unique indexes (nova's shadow
    # tables have none), with 31% left for the other transactions meanwhile, for about 1,820
    # bytes of TransactionMemory per record: 279 MB instead of 109 MB per data node; 262144
    # would take 507 MB (measured, docs/ndb-compatibility.md, "Runtime").
    max_no_of_concurrent_operations: int = Field(default=131_072, ge=32, le=4294967039)
    # Further [ndbd default] parameters, by their config.ini names; checked against
    # config/ndb_parameters.yaml (name, type, range) in config/checks.py.
    parameters: dict[str, int | str | bool] = Field(default_factory=dict)


class SqlNodeSettings(Model):
    count: int = Field(default=2, ge=1)
    hosts: tuple[str, ...] | None = None
    port: Port = 3306
    connection_pool: int = Field(default=1, ge=1, le=MAX_CONNECTION_POOL)
    free_api_slots: int = Field(default=4, ge=0)
    memory_limit: ByteSize = 1 << 30
    root_host: str = "%"
    # The port of each SQL node's check agent, which HAProxy asks whether the node can serve
    # NDB tables (components/render/sql_check.py). 4569 is Kolla-Ansible's clustercheck port
    # (mariadb_clustercheck_port), so firewalls written for a Kolla-Ansible database host
    # already let it through; nothing else of this program listens there. With host
    # networking SQL nodes of one host take 4569, 4570, ...; config/sql_check.py.
    check_port: Port = 4569
    # The check agent's container (mysqlsh running a small Python script).
    check_memory_limit: ByteSize = 256 << 20


# Kolla-Ansible's keepalived_virtual_router_id is 51 (ansible/group_vars/all/keepalived.yml);
# the SQL endpoint's VRRP instance takes it, the API endpoint's the next one.
SQL_VIRTUAL_ROUTER_ID = 51
API_VIRTUAL_ROUTER_ID = 52
VirtualRouterId = Annotated[int, Field(ge=1, le=255)]


class EndpointSettings(Model):
    """HAProxy in front of the SQL nodes: the one address clients use.

    Without `virtualAddress`: one HAProxy, on the first of `hosts` (default: the first
    host), and clients use that host's address. With it: one HAProxy on each of `hosts`,
    and keepalived (VRRP) holds the virtual address on one of them at a time, moving it
    when that host or its HAProxy fails; clients use the virtual address."""

    hosts: tuple[str, ...] | None = None
    virtual_address: ipaddress.IPv4Address | None = None
    virtual_router_id: VirtualRouterId = SQL_VIRTUAL_ROUTER_ID
    port: Port = 3306
    publish_port: Port | None = None
    memory_limit: ByteSize = 256 << 20


class OpenStackImageSettings(Model):
    """Kolla images are `<registry>/<service image>:<tag>`; the tag names release and distro.
    2026.2 is the release whose services (keystone 30, nova 34, ...) tests/openstack migrates
    and serves on NDB: a different release needs its schemas measured again."""

    registry: str = "quay.io/openstack.kolla"
    tag: str = "2026.2-ubuntu-noble"
    rabbitmq: PinnedImage = "rabbitmq:4.1.4"
    memcached: PinnedImage = "memcached:1.6.39-alpine"

    @field_validator("tag")
    @classmethod
    def _tag_pinned(cls, tag: str, info: ValidationInfo) -> str:
        require_pinned_image(f"{info.data.get('registry', '')}/keystone:{tag}")
        return tag


class ApiEndpointSettings(Model):
    """HAProxy in front of every OpenStack API (one frontend per API port). `hosts` and
    `virtualAddress` work as for the SQL endpoint (EndpointSettings): one HAProxy, or one
    per host with keepalived holding the virtual address users and services reach."""

    hosts: tuple[str, ...] | None = None  # Docker hosts that run it; default: the first host
    virtual_address: ipaddress.IPv4Address | None = None
    virtual_router_id: VirtualRouterId = API_VIRTUAL_ROUTER_ID
    publish: StrictBool = True  # bridge network: map each API port on the host's address
    memory_limit: ByteSize = 256 << 20


class ExpectedScale(Model):
    """The cloud the cluster must hold, for sizing DataMemory (config/memory_sizing.py,
    README "Sizing"). Counts are objects that exist at once; `...PerDay` are creations per
    day, whose rows nova, cinder and heat keep (soft-deleted) until the operator purges them
    (`nova-manage db purge`, `cinder-manage db purge`, `heat-manage purge_deleted`) every
    `retentionDays`."""

    instances: int = Field(default=0, ge=0)  # servers, each with its port
    instance_creates_per_day: int = Field(default=0, ge=0)
    failed_boots_per_day: int = Field(default=0, ge=0)  # each leaves a fault in cell0
    ports: int = Field(default=0, ge=0)  # besides the instances' own
    networks: int = Field(default=0, ge=0)  # each with one subnet
    security_group_rules: int = Field(default=0, ge=0)
    images: int = Field(default=0, ge=0)
    volumes: int = Field(default=0, ge=0)
    volume_creates_per_day: int = Field(default=0, ge=0)
    stacks: int = Field(default=0, ge=0)  # heat stacks, with their events
    stack_creates_per_day: int = Field(default=0, ge=0)
    retention_days: int = Field(default=90, ge=0)  # days between purges of deleted rows
    # The DataMemory fill the cloud should stay under; NDB refuses rows at 100 % less
    # MinFreePct (5 % by default), and the cluster log warns at 80 % and 90 %.
    target_fill_percent: int = Field(default=70, ge=10, le=90)


class OpenStackSettings(Model):
    # The services to deploy, from config/catalog.yaml; their databases also size NDB's
    # dictionary (config/sizing.py).
    services: tuple[str, ...] = (
        "keystone", "glance", "placement", "nova", "neutron", "heat", "cinder", "horizon",
    )
    # service -> the hosts that run its containers (one of each per host); default: first host
    placement: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # The controllers: one RabbitMQ member and one memcached per host, as Kolla-Ansible puts
    # both on its control hosts; default: the first host. Several hosts form one RabbitMQ
    # cluster (quorum queues on every member) and every service lists every memcached. An
    # odd count: config/openstack_checks.py says why an even one is refused.
    infrastructure_hosts: tuple[str, ...] | None = None
    images: OpenStackImageSettings = OpenStackImageSettings()
    api: ApiEndpointSettings = ApiEndpointSettings()
    region: str = Field(default="RegionOne", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    admin_user: str = Field(default="admin", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    admin_project: str = Field(default="admin", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    memory_limit: ByteSize = 1 << 30  # per OpenStack container
    # Worker processes of each OpenStack server process (uWSGI's processes, nova-conductor's
    # workers, heat-engine's, ...): left unset, the services fork one per core (heat-engine at
    # least 4), far too many for a dev stack's memory. Kolla-Ansible uses min(cores, 5).
    workers: int = Field(default=2, ge=1)
    # Character set of the service databases (CREATE DATABASE ... CHARACTER SET) and of the
    # services' connections (`?charset=` in every rendered database URL). utf8mb3 is what
    # Kolla-Ansible's MariaDB serves and the schemas were written for; utf8mb4 stores every
    # Unicode character but counts 4 bytes per character against NDB's row and key limits
    # (docs/ndb-compatibility.md, "Character sets"). The collation follows from it
    # (components/database.py `collation_for`).
    database_charset: DatabaseCharset = "utf8mb3"
    # The cloud this cluster is for: a dataNodes.dataMemory too small for it is refused
    # (config/memory_sizing.py from the measured config/ndb_memory.yaml). Unset: not checked.
    expected_scale: ExpectedScale | None = None


class VolumeSettings(Model):
    protect: StrictBool = False


class GateSettings(Model):
    timeout_seconds: int = Field(default=600, ge=10)
    poll_seconds: int = Field(default=5, ge=1)


class HealthCheckSettings(Model):
    """Docker health checks of the long-running OpenStack, RabbitMQ and memcached containers
    (Kolla-Ansible's `default_container_healthcheck_*` play the same part)."""

    interval_seconds: int = Field(default=10, ge=1)
    timeout_seconds: int = Field(default=10, ge=1)
    retries: int = Field(default=3, ge=1)
    start_period_seconds: int = Field(default=30, ge=0)  # failures then do not count


class MonitoringImageSettings(Model):
    """The monitoring containers' images. The exporters are the versions Debian 12 packages
    (prometheus-mysqld-exporter 0.14.0, prometheus-sql-exporter 0.4.5, prometheus 2.42.0):
    the tests run Debian's builds of them against the test bed, reading the rendered files."""

    prometheus: PinnedImage = "prom/prometheus:v2.42.0"
    mysqld_exporter: PinnedImage = "prom/mysqld-exporter:v0.14.0"
    sql_exporter: PinnedImage = "justwatch/sql_exporter:v0.4.5"
    grafana: PinnedImage = "grafana/grafana:11.6.0"


class MonitoringSettings(Model):
    """Metrics and alerts (docs/monitoring.md): a mysqld_exporter beside each SQL node, one
    ndbinfo exporter (sql_exporter) per cluster, HAProxy's own exporter on each HAProxy, and,
    on `host`, Prometheus with the shipped alert rules and Grafana with the NDB dashboard."""

    enabled: StrictBool = False
    host: str | None = None  # Prometheus, Grafana and the ndbinfo exporter; default: first host
    grafana: StrictBool = True
    # Bridge network (one host): map Prometheus' and Grafana's ports on the host's address.
    publish: StrictBool = True
    prometheus_port: Port = 9090
    grafana_port: Port = 3000
    # Beside each SQL node, in its network namespace: with host networking the SQL nodes of
    # one host take this port + k, as their check agents do (config/sql_check.py).
    mysqld_exporter_port: Port = 9104
    ndbinfo_exporter_port: Port = 9237
    # HAProxy's built-in exporter: the SQL endpoint's HAProxies on this port, the APIs' on
    # this port + 1 (HAProxy's documentation uses 8405).
    haproxy_metrics_port: Port = 8405
    scrape_interval_seconds: int = Field(default=15, ge=1, le=300)
    evaluation_interval_seconds: int = Field(default=15, ge=1, le=300)
    # ndbinfo.memory_per_fragment reads every fragment of every table: once a minute at most.
    memory_per_database_interval_seconds: int = Field(default=300, ge=60)
    retention_days: int = Field(default=15, ge=1)
    # NdbBackupTooOld fires when the last native backup is older than this.
    backup_max_age_hours: int = Field(default=26, ge=1)
    memory_limit: ByteSize = 512 << 20
    images: MonitoringImageSettings = MonitoringImageSettings()
class BackupRetentionSettings(Model):
    """Which backups the job keeps after each run: the newest `count`, and of those none
    older than `maxAgeDays` (when set). The newest backup is always kept."""

    count: int = Field(default=7, ge=1)
    max_age_days: int | None = Field(default=None, ge=1)


class BinlogSettings(Model):
    """Binary logging of NDB changes on the first SQL node, for point-in-time recovery (the
    manual's "Point-In-Time Recovery Using NDB Cluster Replication", docs/design.md §2.8):
    `ndb-log-bin`, `log-bin`, full row images."""

    enabled: StrictBool = False
    # binlog_expire_logs_seconds: how long binlog files stay; a point in time can be reached
    # from a backup only while every binlog since that backup is kept, so keep it above the
    # backup interval (MySQL's default is 30 days).
    expire_seconds: int = Field(default=7 * 86400, ge=0, le=4294967295)


class BackupSettings(Model):
    """Scheduled native NDB backups (`START BACKUP <id> WAIT COMPLETED`) copied off the data
    nodes' volumes into a backup volume on `host`, pruned by `retention`."""

    enabled: StrictBool = True
    # crontab(5) syntax, five numeric fields, in UTC (the job's clock): 02:30 every day.
    schedule: CronSchedule = "30 2 * * *"
    # START BACKUP ... ENCRYPT with a generated password (pulumi_random), handed to ndb_mgm on
    # standard input (--backup-password-from-stdin) from a 0400 file; never an argument.
    encrypt: StrictBool = True
    # The Docker host of the job and the backup volume; default: the first host.
    host: str | None = None
    retention: BackupRetentionSettings = BackupRetentionSettings()
    binlog: BinlogSettings = BinlogSettings()
    memory_limit: ByteSize = 256 << 20


class Settings(Model):
    """The whole stack config (`openstack-ndb:<key>` for each field)."""

    name_prefix: DnsLabel = "openstack-ndb"
    hosts: tuple[DockerHost, ...] = (DockerHost(name="local"),)
    network: NetworkSettings = NetworkSettings()
    images: ImageSettings = ImageSettings()
    management: ManagementSettings = ManagementSettings()
    data_nodes: DataNodeSettings = DataNodeSettings()
    sql_nodes: SqlNodeSettings = SqlNodeSettings()
    endpoint: EndpointSettings = EndpointSettings()
    openstack: OpenStackSettings = OpenStackSettings()
    volumes: VolumeSettings = VolumeSettings()
    gates: GateSettings = GateSettings()
    health_checks: HealthCheckSettings = HealthCheckSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    backup: BackupSettings = BackupSettings()

    @property
    def multi_host(self) -> bool:
        return len(self.hosts) > 1

    @property
    def network_mode(self) -> Literal["bridge", "host"]:
        return "host" if self.multi_host else "bridge"

    def host(self, name: str) -> DockerHost:
        return next(h for h in self.hosts if h.name == name)


def top_level_keys() -> dict[str, str]:
    """camelCase config key -> field name, for the keys a stack file may set."""
    return {
        (info.alias or to_camel(name)): name for name, info in Settings.model_fields.items()
    }


def field_defaults(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Every leaf key's default as `a.b.c` -> value, for docs and the README reference test."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or to_camel(name))
        default = info.get_default(call_default_factory=True)
        optional = _optional_model(info.annotation)
        if isinstance(default, BaseModel):
            out.update(field_defaults(type(default), key + "."))
        elif default is None and optional is not None:  # unset by default, its keys listed
            out.update(field_defaults(optional, key + "."))
        else:
            out[key] = default
    return out


def _optional_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a `Model | None` field, else None."""
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
