"""The bridge from what the program renders for a stack to what the test bed starts.

Nothing is re-rendered here: the files are exactly `render_cluster(settings)`'s output, and
the node list is the program's own topology. The SQL node check's account and option file are
rendered for a password of the test bed's own (a deployment's comes from pulumi_random)."""

from __future__ import annotations

import secrets

from components.render.artifacts import ClusterArtifacts, render_cluster
from components.render.commands import data_node_command, mgmd_command
from components.render.shell import SCRIPTS_DIR
from components.render.sql_check import (
    AGENT_FILE,
    render_check_account_sql,
    render_check_cnf,
)
from config.settings import Settings
from testbed.cluster import CheckAgent, ClusterFiles, NodeSpec


def cluster_files(settings: Settings) -> tuple[ClusterFiles, ClusterArtifacts]:
    artifacts = render_cluster(settings)
    topo = artifacts.topology
    password = secrets.token_hex(16)
    nodes = [NodeSpec("mgm", n.node_id, n.address, n.port) for n in topo.management]
    nodes += [NodeSpec("data", n.node_id, n.address, n.port) for n in topo.data]
    nodes += [NodeSpec("sql", n.node_id, n.address, n.port) for n in topo.sql]
    # One HAProxy: the test bed's hosts share one network namespace, where the instances of
    # several endpoint hosts would claim one port (tests/testbed/hosts.py runs each host in
    # its own namespace instead).
    endpoint = topo.endpoints[0]
    nodes.append(NodeSpec("haproxy", None, endpoint.address, endpoint.port))
    files = ClusterFiles(
        config_ini=artifacts.config_ini,
        my_cnf={n.node_id: text for n, text in zip(topo.sql, artifacts.my_cnf, strict=True)},
        haproxy_cfg=artifacts.haproxy_cfg,
        nodes=nodes,
        commands={
            **{n.node_id: mgmd_command(n) for n in topo.management},
            **{n.node_id: data_node_command(n, topo) for n in topo.data},
        },
        checks={
            c.node.node_id: CheckAgent(
                command=list(c.command), agent=SCRIPTS_DIR / AGENT_FILE,
                option_file=render_check_cnf(password), account_script=c.account.text,
                account_environment=c.account.environment,
                account_sql=render_check_account_sql(c.node, password))
            for c in artifacts.sql_checks
        },
    )
    return files, artifacts
