"""Every file and script of one stack, rendered up front from the settings.

Components receive these texts and scripts and only wire resources; the test bed starts real
NDB programs from the very same texts and runs the very same scripts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from components.render.backup import BackupArtifacts, render_backup
from components.render.gates import (
    render_deployed_sql_restart,
    render_gate_script,
    render_rolling_restart_script,
    render_scale_out_script,
)
from components.render.haproxy import render_haproxy_cfg
from components.render.ndb import render_config_ini, render_my_cnf
from components.render.shell import Script
from components.render.sql_check import SqlCheck, render_sql_checks
from config.settings import Settings
from config.topology import Topology, build_topology


@dataclass(frozen=True)
class NodeGroupArtifacts:
    member_gates: tuple[Script, ...]  # one per replica, in replica order
    group_gate: Script
    rolling_restart: Script


@dataclass(frozen=True)
class ClusterArtifacts:
    topology: Topology
    config_ini: str
    config_ini_sha256: str
    management_gates: tuple[Script, ...]
    node_groups: tuple[NodeGroupArtifacts, ...]
    my_cnf: tuple[str, ...]  # per SQL node
    sql_node_gates: tuple[Script, ...]  # per SQL node: its pooled connections are up
    sql_gate: Script  # every SQL node connected
    haproxy_cfg: str
    sql_checks: tuple[SqlCheck, ...]  # per SQL node: its check agent and account script
    sql_restarts: tuple[Script, ...]  # per SQL node: restarted when the data nodes change
    scale_out: Script  # node groups for new data nodes, every NDB table spread onto them
    backup: BackupArtifacts  # the backup job's and the restore's scripts


def render_cluster(settings: Settings, topology: Topology | None = None) -> ClusterArtifacts:
    topo = topology or build_topology(settings)
    config_ini = render_config_ini(settings, topo)
    return ClusterArtifacts(
        topology=topo,
        config_ini=config_ini,
        config_ini_sha256=hashlib.sha256(config_ini.encode()).hexdigest(),
        management_gates=tuple(
            render_gate_script(settings, topo, "management", (m,)) for m in topo.management
        ),
        node_groups=tuple(
            NodeGroupArtifacts(
                member_gates=tuple(
                    render_gate_script(settings, topo, "member", (n,)) for n in group
                ),
                group_gate=render_gate_script(settings, topo, "started", group),
                rolling_restart=render_rolling_restart_script(settings, topo, group),
            )
            for group in topo.node_groups
        ),
        my_cnf=tuple(render_my_cnf(settings, topo, sql) for sql in topo.sql),
        sql_node_gates=tuple(render_gate_script(settings, topo, "sql", (s,)) for s in topo.sql),
        sql_gate=render_gate_script(settings, topo, "sql", topo.sql),
        haproxy_cfg=render_haproxy_cfg(settings, topo),
        sql_checks=render_sql_checks(settings, topo),
        sql_restarts=tuple(render_deployed_sql_restart(settings, topo, s) for s in topo.sql),
        scale_out=render_scale_out_script(settings, topo),
        backup=render_backup(settings, topo),
    )


def all_scripts(artifacts: ClusterArtifacts) -> dict[str, Script]:
    """Every script the program runs, by a file name, for shellcheck and the test bed."""
    topo = artifacts.topology
    scripts = {f"gate-{m.name}.sh": text
               for m, text in zip(topo.management, artifacts.management_gates, strict=True)}
    for group, arts in zip(topo.node_groups, artifacts.node_groups, strict=True):
        for node, text in zip(group, arts.member_gates, strict=True):
            scripts[f"gate-{node.name}.sh"] = text
        scripts[f"gate-group-{group[0].node_group}.sh"] = arts.group_gate
        scripts[f"rolling-restart-group-{group[0].node_group}.sh"] = arts.rolling_restart
    for sql, text in zip(topo.sql, artifacts.sql_node_gates, strict=True):
        scripts[f"gate-{sql.name}.sh"] = text
    scripts["gate-sql.sh"] = artifacts.sql_gate
    for check in artifacts.sql_checks:
        scripts[f"sql-check-account-{check.node.name}.sh"] = check.account
    for sql, text in zip(topo.sql, artifacts.sql_restarts, strict=True):
        scripts[f"restart-{sql.name}.sh"] = text
    scripts["scale-out.sh"] = artifacts.scale_out
    scripts["ndb-backup.sh"] = artifacts.backup.job
    scripts["ndb-restore.sh"] = artifacts.backup.restore
    return scripts
