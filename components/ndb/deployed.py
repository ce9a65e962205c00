"""DeployedTopology: the stack's record of what its live cluster cannot change in place, and
the check that refuses such a change before any resource changes.

Why a dynamic resource: Pulumi hands a resource provider's `check` the resource's previous
inputs next to the new ones (the engine's CheckRequest `olds`/`news`), and a check failure
stops `pulumi preview` and `pulumi up` before their first step. So the record is this
resource's inputs (config/topology.py `deployed_record`); it changes only when a deployment
goes through, and a refused change leaves it as it was. The refusals follow the MySQL NDB
Operator's admission webhook (pkg/apis/ndbcontroller/v1/validation.go: no fewer data nodes,
no other redundancy level, no smaller connection pool), plus the moves of a node to another
host that a Docker volume cannot follow (docs/design.md §2.7).

Pulumi's dynamic provider process rebuilds the provider from its pickle (dill), which names
this module: it imports it from the program's directory, as it does components/database.py's
provider (docs/design.md §5.5).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ResourceProvider,
    UpdateResult,
)

RECORD_KEYS = ("dataNodes", "managementNodes", "noOfReplicas", "sqlConnectionPool")


class DeployedTopologyProvider(ResourceProvider):
    @staticmethod
    def refusals(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
        """(config key, message) for each change of `new` over `old` that a live cluster
        refuses; both are `deployed_record` shapes, `old` empty before the first deployment
        (then nothing is refused). A message names the key and what to do instead."""
        if not old or "dataNodes" not in old:
            return []
        out: list[tuple[str, str]] = []
        instead = ("back up the cluster (ndb_mgm -e 'START BACKUP WAIT COMPLETED'), deploy a "
                   "new stack with the new value and restore the backup there (ndb_restore; "
                   "README, Day-2 operations)")
        old_data, new_data = old.get("dataNodes") or {}, new.get("dataNodes") or {}
        if len(new_data) < len(old_data):
            out.append(("dataNodes.count", (
                f"openstack-ndb:dataNodes.count: {len(old_data)} -> {len(new_data)} refused: "
                f"the running cluster keeps data on all {len(old_data)} data nodes, and NDB "
                "drops a node group only while it holds no data, so data nodes cannot be "
                f"removed in place. Keep dataNodes.count: {len(old_data)}; to run on "
                f"{len(new_data)}, {instead}.")))
        old_r, new_r = old.get("noOfReplicas"), new.get("noOfReplicas")
        if old_r != new_r:
            out.append(("dataNodes.noOfReplicas", (
                f"openstack-ndb:dataNodes.noOfReplicas: {old_r} -> {new_r} refused: NDB "
                "changes NoOfReplicas only by an initial system restart, which deletes every "
                f"row. Keep dataNodes.noOfReplicas: {old_r}; to change it, {instead}.")))
        old_p, new_p = old.get("sqlConnectionPool"), new.get("sqlConnectionPool")
        if isinstance(old_p, int) and isinstance(new_p, int) and new_p < old_p:
            out.append(("sqlNodes.connectionPool", (
                f"openstack-ndb:sqlNodes.connectionPool: {old_p} -> {new_p} refused: a "
                "smaller pool takes away [mysqld] node id slots that connected SQL nodes "
                "hold and renumbers the SQL nodes after the first (the MySQL NDB Operator "
                f"refuses it too). Keep sqlNodes.connectionPool: {old_p}; to use fewer "
                f"connections, {instead}.")))
        for kind, key, what in (("dataNodes", "dataNodes.hosts", "data node"),
                                ("managementNodes", "management.hosts", "management node")):
            before, after = old.get(kind) or {}, new.get(kind) or {}
            for node_id in sorted(set(before) & set(after), key=int):
                if before[node_id] != after[node_id]:
                    out.append((key, (
                        f"openstack-ndb:{key}: {what} {node_id} runs on host "
                        f"{before[node_id]!r} and would move to {after[node_id]!r}: its data "
                        "is in a Docker volume on that host, which a container on another "
                        f"host cannot use. Keep the hosts of {key} in their order (new "
                        f"hosts go after those in use; the nodes are placed round-robin); "
                        f"to move nodes, {instead}.")))
        return out

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        old = {k: v for k, v in (_olds or {}).items() if k in RECORD_KEYS}
        new = {k: v for k, v in news.items() if k in RECORD_KEYS}
        return CheckResult(news, [CheckFailure(key, message)
                                  for key, message in self.refusals(old, new)])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        changed = [k for k in RECORD_KEYS if _olds.get(k) != _news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult("deployed-topology",
                            {k: v for k, v in props.items() if k in RECORD_KEYS})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({k: v for k, v in _news.items() if k in RECORD_KEYS})


class DeployedTopology(pulumi.dynamic.Resource):
    """The record (`deployed_record`'s dictionary) as this resource's inputs and outputs."""

    def __init__(self, name: str, record: dict[str, object],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(DeployedTopologyProvider(), name, dict(record), opts)
