"""Rules that span several keys. Each returns Problems naming the key path and the reason."""

from __future__ import annotations

import math
from collections import defaultdict

from config import memory_sizing, ndb_parameters, sizing
from config.addressing import DATA_NODES, PortClaim, usable_offsets
from config.monitoring import (
    haproxy_metrics_problems,
    monitoring_port_claims,
    monitoring_problems,
)
from config.openstack_checks import check_openstack, openstack_ports
from config.openstack_layout import build_layout
from config.problems import Problem, unknown_host
from config.settings import MAX_NODES, Settings
from config.sql_check import CHECK_PORT_KEY, check_port_claims, check_port_problem
from config.topology import (
    MAX_BRIDGE_SQL_NODES,
    Topology,
    bridge_offsets_needed,
    published_ports,
)
from config.units import parse_size
from config.virtual_address_checks import check_frontend_hosts, check_virtual_addresses

# What a data node needs besides DataMemory: the other big pools at their configured sizes,
# plus a quarter of DataMemory (transaction memory, job buffers) and 512M for the process.
FIXED_DATA_NODE_OVERHEAD = 512 << 20
# TransactionMemory a data node calculates per operation record above NDB's default
# MaxNoOfConcurrentOperations (measured on the test bed's dev cluster, its "TransactionMemory
# calculated to N MB" log line: 109 MB at 32768, 279 MB at 131072, 507 MB at 262144, about
# 1,820 bytes per record; docs/ndb-compatibility.md, "Runtime"). The quarter of DataMemory
# above covers the default's share.
DEFAULT_CONCURRENT_OPERATIONS = 32_768
TRANSACTION_MEMORY_PER_OPERATION = 1_820


def check_settings(settings: Settings) -> list[Problem]:
    problems: list[Problem] = []
    problems += _check_hosts(settings)
    if problems:
        return problems  # placement and addresses below need a sound host list
    problems += _check_placement(settings)
    problems += check_virtual_addresses(settings)
    problems += _check_data_nodes(settings)
    problems += _check_dictionary_limits(settings)
    problems += check_openstack(settings)
    problems += monitoring_problems(settings)
    if not problems:  # the estimate needs sound data nodes and known services
        problems += _check_expected_scale(settings)
    return problems


def _check_expected_scale(settings: Settings) -> list[Problem]:
    try:
        found = memory_sizing.settings_estimate(settings)
    except memory_sizing.NoMeasurement as missing:
        return [Problem("openstack.expectedScale", f"cannot be checked: {missing}")]
    if found is None or settings.data_nodes.data_memory >= found.data_memory:
        return []
    return [Problem(
        "dataNodes.dataMemory",
        f"DataMemory {_mib(settings.data_nodes.data_memory)} is too small for "
        f"openstack.expectedScale: the cloud needs dataNodes.dataMemory of at least "
        f"{_mib_up(found.data_memory)} per data node ({_mib_up(found.used)} used at "
        f"targetFillPercent {found.target_fill_percent}: {_mib_up(found.base)} the services' "
        f"base, {_mib_up(found.data)} their objects over {found.node_groups} node group(s), "
        f"{_mib_up(found.undo)} UNDO; `make sizing` shows the table); raise dataMemory, add "
        "node groups (dataNodes.count), or lower openstack.expectedScale",
    )]


def _check_dictionary_limits(settings: Settings) -> list[Problem]:
    # Unknown service names are reported by config/openstack_checks.py (with_databases
    # leaves them out); every catalog entry with databases carries its ndbSizing.
    problems: list[Problem] = []
    explicit = {k.lower(): (k, v) for k, v in settings.data_nodes.parameters.items()}
    for name, needed in sizing.dictionary_limits(sizing.with_databases(settings)).items():
        key, value = explicit.get(name.lower(), (None, None))
        if key is None:
            continue
        number, problem = ndb_parameters.check_value("DB", key, value)
        if problem:
            continue  # reported by the parameter check
        if number < needed:
            problems.append(Problem(
                f"dataNodes.parameters.{key}",
                f"{value} is too small for the enabled services "
                f"({', '.join(settings.openstack.services)}): they need {needed} "
                "(each service's measured ndbSizing in config/catalog.yaml, with headroom); "
                "raise it or leave it out",
            ))
    return problems


def check_topology(settings: Settings, topology: Topology) -> list[Problem]:
    problems: list[Problem] = []
    if topology.highest_node_id > MAX_NODES:
        problems.append(Problem(
            "sqlNodes",
            f"the stack needs NDB node ids up to {topology.highest_node_id} but NDB allows at "
            f"most {MAX_NODES} (data nodes 1-{len(topology.data)}, management nodes 145-146, "
            "then one id per pooled SQL connection and per free API slot): lower "
            "sqlNodes.count, sqlNodes.connectionPool or sqlNodes.freeApiSlots",
        ))
    problems += _check_replica_spread(settings, topology)
    problems += _check_redundant_spread(settings, topology)
    problems += _check_ports(settings, topology)
    problems += _check_backup(settings, topology)
    return problems


def _check_backup(settings: Settings, topology: Topology) -> list[Problem]:
    """The backup job reads each data node's backup files through the node's volume, which
    only a container on the same Docker host can mount (components/render/backup.py)."""
    backup = settings.backup
    known = {h.name for h in settings.hosts}
    if backup.host is not None and backup.host not in known:
        return [Problem("backup.host", unknown_host(backup.host, known))]
    if not backup.enabled:
        return []
    host = backup.host or settings.hosts[0].name
    elsewhere = sorted({n.host for n in topology.data if n.host != host})
    if elsewhere:
        return [Problem(
            "backup.enabled",
            f"the backup job on {host} copies each data node's backup files from the node's "
            f"volume, and data nodes run on {', '.join(elsewhere)} too: a job that reaches "
            "other hosts' volumes is not built yet (README \"Backups\"). Set backup.enabled: "
            "false (backup.binlog works without it), or place every data node on backup.host",
        )]
    return []


def _check_hosts(settings: Settings) -> list[Problem]:
    problems = []
    seen: dict[str, int] = {}
    for i, host in enumerate(settings.hosts):
        if host.name in seen:
            first = seen[host.name]
            problems.append(Problem(f"hosts[{i}].name",
                                    f"duplicate host name {host.name!r} (also hosts[{first}])"))
        seen.setdefault(host.name, i)
        twin = next((j for j, other in enumerate(settings.hosts[:i])
                     if host.address is not None and other.address == host.address), None)
        if twin is not None:
            problems.append(Problem(
                f"hosts[{i}].address",
                f"{host.address} is also hosts[{twin}] ({settings.hosts[twin].name}'s) address: "
                "two host entries for one machine would put nodes placed on distinct hosts "
                "(replicas, management nodes, SQL nodes) on the same one; give each host its "
                "own address",
            ))
        if settings.multi_host and host.address is None:
            problems.append(Problem(
                f"hosts[{i}].address",
                "required when the stack has more than one host: the address the other "
                "hosts use to reach this one (nodes use host networking)",
            ))
    if not settings.hosts:
        problems.append(Problem("hosts", "at least one Docker host is required"))
    return problems


def _check_placement(settings: Settings) -> list[Problem]:
    known = {h.name for h in settings.hosts}
    problems = []
    for key, listed in (("management.hosts", settings.management.hosts),
                        ("dataNodes.hosts", settings.data_nodes.hosts),
                        ("sqlNodes.hosts", settings.sql_nodes.hosts)):
        if listed is not None and not listed:
            problems.append(Problem(key, "must name at least one host (or be left out: all hosts)"))
        for i, name in enumerate(listed or ()):
            if name not in known:
                problems.append(Problem(f"{key}[{i}]", unknown_host(name, known)))
    problems += check_frontend_hosts(settings, "endpoint", settings.endpoint.hosts)
    if settings.multi_host:
        for key, value in (("management.publishPort", settings.management.publish_port),
                           ("endpoint.publishPort", settings.endpoint.publish_port)):
            if value is not None:
                problems.append(Problem(key, "only applies on a single host (bridge network); "
                                             "with several hosts every node listens on its "
                                             "host's address: remove it"))
    else:
        subnet = settings.network.subnet
        if usable_offsets(settings) < bridge_offsets_needed(settings):
            problems.append(Problem(
                "network.subnet",
                f"{subnet} is too small: data node {settings.data_nodes.count} takes offset "
                f"{bridge_offsets_needed(settings)} (data nodes start at .{DATA_NODES.first}); "
                "use a /24 or larger",
            ))
        if settings.sql_nodes.count > MAX_BRIDGE_SQL_NODES:
            problems.append(Problem("sqlNodes.count",
                                    f"at most {MAX_BRIDGE_SQL_NODES} SQL nodes on one host"))
    return problems


def _check_data_nodes(settings: Settings) -> list[Problem]:
    data = settings.data_nodes
    problems = []
    if data.count % data.no_of_replicas:
        problems.append(Problem(
            "dataNodes.count",
            f"{data.count} data nodes cannot form node groups of NoOfReplicas="
            f"{data.no_of_replicas}: the count must be a multiple of dataNodes.noOfReplicas",
        ))
    problems += ndb_parameters.data_node_problems(settings)
    needed = data_node_memory_needed(settings)
    if needed > data.memory_limit:
        problems.append(Problem(
            "dataNodes.dataMemory",
            f"DataMemory {_mib(data.data_memory)} does not fit in dataNodes.memoryLimit "
            f"{_mib(data.memory_limit)}: a data node needs about {_mib(needed)} (DataMemory + "
            "SharedGlobalMemory + DiskPageBufferMemory + 25% of DataMemory + 512M + "
            "1,820 bytes per maxNoOfConcurrentOperations above 32768); lower dataMemory or "
            "maxNoOfConcurrentOperations, or raise memoryLimit",
        ))
    return problems


def data_node_memory_needed(settings: Settings) -> int:
    data = settings.data_nodes

    def pool(name: str) -> int:
        value = data.parameters.get(name, ndb_parameters.default("DB", name))
        size, problem = ndb_parameters.check_value("DB", name, value)
        return 0 if problem else parse_size(size)  # a problem is reported by the check

    operations = max(0, data.max_no_of_concurrent_operations - DEFAULT_CONCURRENT_OPERATIONS)
    return (data.data_memory + pool("SharedGlobalMemory") + pool("DiskPageBufferMemory")
            + data.data_memory // 4 + FIXED_DATA_NODE_OVERHEAD
            + operations * TRANSACTION_MEMORY_PER_OPERATION)


def _mib(size: int) -> str:
    return f"{size >> 20}M"


def _mib_up(size: int) -> str:
    return f"{math.ceil(size / (1 << 20))}M"


def _check_replica_spread(settings: Settings, topology: Topology) -> list[Problem]:
    if not settings.multi_host:
        return []  # one host: replicas guard against process failure only, by design
    problems = []
    for group in topology.node_groups:
        by_host: dict[str, list[int]] = defaultdict(list)
        for node in group:
            by_host[node.host].append(node.node_id)
        for host, ids in by_host.items():
            if len(ids) > 1:
                second = next(n for n in group if n.node_id == ids[1])
                problems.append(Problem(
                    second.placement_key,
                    f"node group {second.node_group} would have data nodes {ids} on the same "
                    f"host {host!r}; losing that host loses the group. Data nodes are placed "
                    "round-robin over dataNodes.hosts: list hosts so that each group of "
                    f"{settings.data_nodes.no_of_replicas} consecutive nodes spans distinct hosts",
                ))
    return problems


def _check_redundant_spread(settings: Settings, topology: Topology) -> list[Problem]:
    """With several hosts, two or more management nodes must not share a host (the second
    is there to survive the first one's host), and two or more SQL nodes must not all be on
    one host (losing it would leave no SQL node)."""
    if not settings.multi_host:
        return []
    problems = []
    for key, nodes, rule in (("management.hosts", topology.management, "distinct"),
                             ("sqlNodes.hosts", topology.sql, "not all on one")):
        hosts = [n.host for n in nodes]
        shared = len(set(hosts)) < len(hosts) if rule == "distinct" else len(set(hosts)) == 1
        if len(nodes) >= 2 and shared:
            kind = "management" if key.startswith("management") else "SQL"
            problems.append(Problem(
                key,
                f"the {len(nodes)} {kind} nodes would be placed on hosts {hosts}: losing "
                f"{hosts[0]!r} would lose {'both' if len(nodes) == 2 else 'all of them'}; "
                f"list {'distinct hosts' if rule == 'distinct' else 'at least two hosts'} "
                "(nodes are placed round-robin over the list)",
            ))
    return problems


def _check_ports(settings: Settings, topology: Topology) -> list[Problem]:
    owner: dict[tuple[str, int], PortClaim] = {}
    problems = []
    # Only reached when check_settings found nothing, so the OpenStack keys are sound.
    layout = build_layout(settings)
    taken = (published_ports(topology) + check_port_claims(settings, topology)
             + openstack_ports(settings, layout)
             + monitoring_port_claims(settings, topology, layout))
    if (clash := check_port_problem(settings)) is not None:
        problems.append(Problem(CHECK_PORT_KEY, clash))
    problems += haproxy_metrics_problems(settings, layout)
    for claim in taken:
        first = owner.setdefault((claim.host, claim.port), claim)
        if first is claim:
            continue
        fixed, movable = (first, claim) if first.fixed else (claim, first)
        if fixed.fixed and not movable.fixed:
            problems.append(Problem(
                movable.key,
                f"port {claim.port} on host {claim.host!r} is fixed for {fixed.owner} (no "
                f"key sets it), and {movable} takes it too; give {movable.key} another port "
                "or another host",
            ))
            continue
        problems.append(Problem(
            claim.key,
            f"port {claim.port} on host {claim.host!r} is taken twice: by {first} and "
            f"{claim}; give one of them another port or another host",
        ))
    return problems
